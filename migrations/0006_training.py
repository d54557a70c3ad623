"""Training programmes, courses, API tokens, learning records and their rollups."""
from peewee import *

# Timestamp defaults are supplied by the application, not the database.

def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Region(Model):
        class Meta:
            database = db
            table_name = 'region'

    class School(Model):
        class Meta:
            database = db
            table_name = 'school'

    class ApiToken(Model):
        name = CharField(max_length=100)
        token_hash = CharField(unique=True, max_length=64)
        hint = CharField(max_length=8)
        region = ForeignKeyField(Region, null=True, on_delete='RESTRICT')
        created_by = ForeignKeyField(Account, on_delete='RESTRICT')
        created_at = DateTimeField()
        revoked_at = DateTimeField(null=True)
        revoked_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        last_used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class Programme(Model):
        name = CharField(unique=True, max_length=100)
        kind = CharField(max_length=10)
        start_date = DateField()
        end_date = DateField()
        minutes_per_hour = IntegerField(default=45)
        required_hours = IntegerField(default=10)
        audience = CharField(max_length=200, default='')
        region = ForeignKeyField(Region, null=True, on_delete='RESTRICT')
        created_by = ForeignKeyField(Account, on_delete='RESTRICT')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'programme'
    db.create_tables([Programme])

    class Course(Model):
        programme = ForeignKeyField(Programme, on_delete='CASCADE')
        name = CharField(max_length=100)
        minutes = IntegerField()
        max_hours = IntegerField()
        class Meta:
            database = db
            table_name = 'course'
            indexes = ((('programme', 'name'), True),)
    db.create_tables([Course])

    class CourseProgress(Model):
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        account = ForeignKeyField(Account, on_delete='RESTRICT', index=False)
        course = ForeignKeyField(Course, on_delete='CASCADE', index=False)
        minutes = IntegerField(default=0)
        last_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'course_progress'
            indexes = ((('programme', 'account', 'course'), True),)
    db.create_tables([CourseProgress])

    class LearningRecord(Model):
        external_id = CharField(unique=True, max_length=64)
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        programme = ForeignKeyField(Programme, on_delete='RESTRICT', index=False)
        course = ForeignKeyField(Course, on_delete='RESTRICT', index=False)
        minutes = IntegerField()
        occurred_at = DateTimeField()
        source = CharField(max_length=10)
        token = ForeignKeyField(ApiToken, null=True, on_delete='RESTRICT', index=False)
        received_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'learning_record'
            indexes = ((('programme', 'occurred_at'), False),)
    db.create_tables([LearningRecord])

    class RegionProgress(Model):
        region = ForeignKeyField(Region, on_delete='CASCADE')
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        teachers = IntegerField(default=0)
        participants = IntegerField(default=0)
        completed = IntegerField(default=0)
        credited_minutes = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'region_progress'
            indexes = ((('programme', 'region'), True),)
    db.create_tables([RegionProgress])

    class SchoolProgress(Model):
        school = ForeignKeyField(School, on_delete='CASCADE')
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        teachers = IntegerField(default=0)
        participants = IntegerField(default=0)
        completed = IntegerField(default=0)
        credited_minutes = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'school_progress'
            indexes = ((('programme', 'school'), True),)
    db.create_tables([SchoolProgress])

    class TeacherProgress(Model):
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        credited_minutes = IntegerField(default=0)
        completed = BooleanField(default=False)
        last_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'teacher_progress'
            indexes = ((('programme', 'account'), True),)
    db.create_tables([TeacherProgress])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('teacher_progress'))
    migrator.migrate(migrator.drop_table('school_progress'))
    migrator.migrate(migrator.drop_table('region_progress'))
    migrator.migrate(migrator.drop_table('learning_record'))
    migrator.migrate(migrator.drop_table('course_progress'))
    migrator.migrate(migrator.drop_table('course'))
    migrator.migrate(migrator.drop_table('programme'))
    migrator.migrate(migrator.drop_table('api_token'))

"""Per-course minutes move into the teacher rollup: course_progress is folded into
teacher_progress (a JSON column), which is keyed by (programme, account) alone, WITHOUT ROWID
on SQLite. Ingestion then writes one rollup row per teacher instead of one per course plus one
per teacher."""
from peewee import *

# Timestamp defaults are supplied by the application, not the database.


def _models(db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Programme(Model):
        class Meta:
            database = db
            table_name = 'programme'

    class Course(Model):
        class Meta:
            database = db
            table_name = 'course'

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

    class OldTeacherProgress(Model):
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        credited_minutes = IntegerField(default=0)
        completed = BooleanField(default=False)
        last_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'teacher_progress'
            indexes = ((('programme', 'account'), True),)

    class TeacherProgress(Model):
        programme = ForeignKeyField(Programme, on_delete='CASCADE', index=False)
        account = ForeignKeyField(Account, on_delete='RESTRICT', index=False)
        course_minutes = TextField()
        credited_minutes = IntegerField(default=0)
        completed = BooleanField(default=False)
        last_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'teacher_progress_new'
            primary_key = CompositeKey('programme', 'account')
            without_rowid = not isinstance(db, PostgresqlDatabase)

    return CourseProgress, OldTeacherProgress, TeacherProgress


def up(migrator, db):
    CourseProgress, Old, New = _models(db)
    db.create_tables([New])
    if isinstance(db, PostgresqlDatabase):
        per_course = fn.json_object_agg(CourseProgress.course, CourseProgress.minutes).cast('text')
    else:
        per_course = fn.json_group_object(CourseProgress.course, CourseProgress.minutes)
    minutes = (CourseProgress.select(per_course)
               .where((CourseProgress.programme == Old.programme) & (CourseProgress.account == Old.account)))
    New.insert_from(Old.select(Old.programme, Old.account, fn.COALESCE(minutes, '{}'), Old.credited_minutes,
                               Old.completed, Old.last_at),
                    [New.programme, New.account, New.course_minutes, New.credited_minutes, New.completed,
                     New.last_at]).execute()
    db.drop_tables([Old, CourseProgress])
    migrator.migrate(migrator.rename_table('teacher_progress_new', 'teacher_progress'))
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER INDEX teacher_progress_new_pkey RENAME TO teacher_progress_pkey')


def down(migrator, db):
    """Back to a row per course. Each course's last activity becomes the teacher's (the only
    thing the new table kept); `flask --app app rollups rebuild` restores it exactly."""
    CourseProgress, Old, New = _models(db)
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER INDEX teacher_progress_pkey RENAME TO teacher_progress_new_pkey')
    migrator.migrate(migrator.rename_table('teacher_progress', 'teacher_progress_new'))
    db.create_tables([Old, CourseProgress])
    Old.insert_from(New.select(New.programme, New.account, New.credited_minutes, New.completed, New.last_at),
                    [Old.programme, Old.account, Old.credited_minutes, Old.completed, Old.last_at]).execute()
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            'INSERT INTO course_progress (programme_id, account_id, course_id, minutes, last_at) '
            'SELECT t.programme_id, t.account_id, CAST(j.key AS INTEGER), CAST(j.value AS INTEGER), t.last_at '
            'FROM teacher_progress_new t, json_each_text(CAST(t.course_minutes AS json)) j')
    else:
        db.execute_sql(
            'INSERT INTO course_progress (programme_id, account_id, course_id, minutes, last_at) '
            'SELECT t.programme_id, t.account_id, CAST(j.key AS INTEGER), j.value, t.last_at '
            'FROM teacher_progress_new t, json_each(t.course_minutes) j')
    db.drop_tables([New])

"""Initial schema: regions, schools, accounts, bindings, sessions, audit log."""
from peewee import *

# Timestamp defaults are supplied by the application, not the database.

def up(migrator, db):
    class Account(Model):
        username = CharField(unique=True, max_length=32)
        display_name = CharField(max_length=30)
        password_hash = CharField()
        is_active = BooleanField(default=True)
        is_demo = BooleanField(default=False)
        created_at = DateTimeField()
        password_changed_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'account'
    db.create_tables([Account])

    class Region(Model):
        code = CharField(unique=True, max_length=6)
        name = CharField(max_length=64)
        level = CharField(max_length=10)
        parent = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        path = CharField(index=True, max_length=64)
        is_active = BooleanField(default=True)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'region'
    db.create_tables([Region])

    class School(Model):
        code = CharField(unique=True, max_length=10)
        name = CharField(max_length=100)
        kind = CharField(max_length=20, default='school')
        stage = CharField(null=True, max_length=20)
        ownership = CharField(max_length=4, default='公办')
        region = ForeignKeyField(Region, on_delete='RESTRICT')
        region_path = CharField(index=True, max_length=64)
        address = CharField(max_length=200, default='')
        contact_name = CharField(max_length=50, default='')
        contact_phone = CharField(max_length=20, default='')
        status = CharField(max_length=10, default='active')
        version = IntegerField(default=1)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'school'
            indexes = ((('region', 'name'), True),)
    db.create_tables([School])

    class Binding(Model):
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        role = CharField(max_length=10)
        region = ForeignKeyField(Region, null=True, on_delete='RESTRICT')
        school = ForeignKeyField(School, null=True, on_delete='RESTRICT')
        state = CharField(index=True, max_length=10, default='active')
        created_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        ended_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        end_reason = CharField(max_length=200, default='')
        class Meta:
            database = db
            table_name = 'binding'
    db.create_tables([Binding])

    class AuditLog(Model):
        at = DateTimeField(index=True)
        actor = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        binding = ForeignKeyField(Binding, null=True, on_delete='RESTRICT')
        action = CharField(index=True, max_length=40)
        target_type = CharField(max_length=20, default='')
        target_id = CharField(max_length=40, default='')
        scope_path = CharField(index=True, max_length=64, default='')
        before = TextField(default='')
        after = TextField(default='')
        address = CharField(max_length=64, default='')
        result = CharField(max_length=20, default='ok')
        prev_hash = CharField(max_length=64, default='')
        hash = CharField(max_length=64, default='')
        class Meta:
            database = db
            table_name = 'audit_log'
    db.create_tables([AuditLog])

    class LoginFailure(Model):
        username = CharField(index=True, max_length=64)
        address = CharField(index=True, max_length=64)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'login_failure'
    db.create_tables([LoginFailure])

    class UserSession(Model):
        token_hash = CharField(unique=True, max_length=64)
        account = ForeignKeyField(Account, on_delete='CASCADE')
        current_binding = ForeignKeyField(Binding, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        address = CharField(max_length=64, default='')
        class Meta:
            database = db
            table_name = 'user_session'
    db.create_tables([UserSession])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('user_session'))
    migrator.migrate(migrator.drop_table('login_failure'))
    migrator.migrate(migrator.drop_table('audit_log'))
    migrator.migrate(migrator.drop_table('binding'))
    migrator.migrate(migrator.drop_table('school'))
    migrator.migrate(migrator.drop_table('region'))
    migrator.migrate(migrator.drop_table('account'))

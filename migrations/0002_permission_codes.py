"""权限码 (permission codes) and the failed-redemption counter."""
from peewee import *

# Timestamp defaults are supplied by the application, not the database.

def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class Binding(Model):
        class Meta:
            database = db
            table_name = 'binding'

    class Region(Model):
        class Meta:
            database = db
            table_name = 'region'

    class School(Model):
        class Meta:
            database = db
            table_name = 'school'

    class CodeFailure(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        address = CharField(index=True, max_length=64)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'code_failure'
    db.create_tables([CodeFailure])

    class PermissionCode(Model):
        code_hash = CharField(unique=True, max_length=64)
        role = CharField(max_length=10)
        region = ForeignKeyField(Region, null=True, on_delete='RESTRICT')
        school = ForeignKeyField(School, null=True, on_delete='RESTRICT')
        scope_path = CharField(index=True, max_length=64)
        issued_by = ForeignKeyField(Account, on_delete='RESTRICT')
        issued_by_binding = ForeignKeyField(Binding, null=True, on_delete='RESTRICT')
        issued_at = DateTimeField()
        expires_at = DateTimeField(index=True)
        state = CharField(index=True, max_length=10, default='unused')
        used_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        used_at = DateTimeField(null=True)
        binding = ForeignKeyField(Binding, null=True, on_delete='RESTRICT')
        revoked_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        revoked_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'permission_code'
    db.create_tables([PermissionCode])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('permission_code'))
    migrator.migrate(migrator.drop_table('code_failure'))

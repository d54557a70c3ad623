"""Two-factor login (TOTP secrets, recovery codes) and the time a session last authenticated."""
from peewee import *

# Timestamp defaults are supplied by the application, not the database.

def up(migrator, db):
    class Account(Model):
        class Meta:
            database = db
            table_name = 'account'

    class RecoveryCode(Model):
        account = ForeignKeyField(Account, on_delete='CASCADE')
        code_hash = CharField(max_length=64)
        created_at = DateTimeField()
        used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'recovery_code'
    db.create_tables([RecoveryCode])

    class TwoFactor(Model):
        account = ForeignKeyField(Account, unique=True, on_delete='CASCADE')
        secret_cipher = TextField()
        created_at = DateTimeField()
        enabled_at = DateTimeField(null=True)
        last_step = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'two_factor'
    db.create_tables([TwoFactor])

    migrator.migrate(migrator.add_column('user_session', 'authenticated_at', DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('user_session', 'authenticated_at'))
    migrator.migrate(migrator.drop_table('two_factor'))
    migrator.migrate(migrator.drop_table('recovery_code'))

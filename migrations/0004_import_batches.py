"""Batch imports waiting for confirmation."""
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

    class ImportBatch(Model):
        kind = CharField(max_length=20)
        account = ForeignKeyField(Account, on_delete='CASCADE')
        binding = ForeignKeyField(Binding, on_delete='CASCADE')
        filename = CharField(max_length=200, default='')
        total_rows = IntegerField(default=0)
        valid_rows = TextField(default='[]')
        problems = TextField(default='[]')
        state = CharField(index=True, max_length=10, default='pending')
        created_at = DateTimeField()
        done_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'import_batch'
    db.create_tables([ImportBatch])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('import_batch'))

"""Teachers: real-name applications to schools and memberships."""
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

    class School(Model):
        class Meta:
            database = db
            table_name = 'school'

    class Membership(Model):
        account = ForeignKeyField(Account, on_delete='RESTRICT')
        school = ForeignKeyField(School, on_delete='RESTRICT')
        state = CharField(max_length=12, default='pending')
        name = CharField(max_length=30)
        gender = CharField(max_length=2)
        id_cipher = TextField()
        id_index = CharField(index=True, max_length=64)
        id_masked = CharField(max_length=18)
        phone_cipher = TextField()
        phone_index = CharField(index=True, max_length=64)
        phone_masked = CharField(max_length=11)
        stage = CharField(max_length=20)
        subject = CharField(max_length=20)
        title = CharField(max_length=20, default='')
        submitted_at = DateTimeField()
        decided_at = DateTimeField(null=True)
        decided_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        decided_binding = ForeignKeyField(Binding, null=True, on_delete='RESTRICT')
        reason = CharField(max_length=200, default='')
        ended_at = DateTimeField(null=True)
        ended_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        end_reason = CharField(max_length=200, default='')
        version = IntegerField(default=1)
        class Meta:
            database = db
            table_name = 'membership'
            indexes = ((('school', 'state'), False),)
    # One pending and one approved row per account, one approved row per 身份证号.
    Membership.add_index(Membership.account, unique=True, where=(Membership.state == 'pending'),
                         name='membership_one_pending_per_account')
    Membership.add_index(Membership.account, unique=True, where=(Membership.state == 'approved'),
                         name='membership_one_approved_per_account')
    Membership.add_index(Membership.id_index, unique=True, where=(Membership.state == 'approved'),
                         name='membership_one_approved_per_id_number')
    db.create_tables([Membership])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('membership'))

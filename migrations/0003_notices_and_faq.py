"""督促/system notices with their recipients, and the FAQ."""
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

    class FaqTopic(Model):
        name = CharField(unique=True, max_length=40)
        position = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'faq_topic'
    db.create_tables([FaqTopic])

    class FaqEntry(Model):
        topic = ForeignKeyField(FaqTopic, on_delete='RESTRICT')
        question = CharField(max_length=200)
        answer = TextField()
        position = IntegerField(default=0)
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'faq_entry'
    db.create_tables([FaqEntry])

    class Notice(Model):
        kind = CharField(max_length=10, default='urge')
        body = CharField(max_length=300)
        sender = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        sender_binding = ForeignKeyField(Binding, null=True, on_delete='RESTRICT')
        scope_path = CharField(index=True, max_length=64)
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'notice'
    db.create_tables([Notice])

    class NoticeRecipient(Model):
        notice = ForeignKeyField(Notice, on_delete='CASCADE')
        region = ForeignKeyField(Region, null=True, on_delete='RESTRICT')
        school = ForeignKeyField(School, null=True, on_delete='RESTRICT')
        read_at = DateTimeField(null=True)
        read_by = ForeignKeyField(Account, null=True, on_delete='RESTRICT')
        class Meta:
            database = db
            table_name = 'notice_recipient'
    db.create_tables([NoticeRecipient])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('notice_recipient'))
    migrator.migrate(migrator.drop_table('notice'))
    migrator.migrate(migrator.drop_table('faq_entry'))
    migrator.migrate(migrator.drop_table('faq_topic'))

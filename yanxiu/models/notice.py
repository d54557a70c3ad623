"""督促 and system notices (通知), and the FAQ (热点问题答疑)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from yanxiu.models.account import Account, Binding
from yanxiu.models.base import BaseModel, now
from yanxiu.models.region import Region, School


class Notice(BaseModel):
    """A notice sent down the tree: 督促 (urge) from an admin, or a system notice."""
    kind = CharField(max_length=10, default="urge")
    body = CharField(max_length=300)
    sender = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    sender_binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="RESTRICT")
    # The sender's region path: a sender lists its own notices, admins above can audit them.
    scope_path = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=now, index=True)


class NoticeRecipient(BaseModel):
    """One addressee of a notice: a region (its admins) or a school (its admin).

    Addressed to the scope, not to a person, so a notice to a 未激活 school waits for
    whoever binds as its admin; read_at/read_by record the first admin who read it.
    """
    notice = ForeignKeyField(Notice, backref="recipients", on_delete="CASCADE")
    region = ForeignKeyField(Region, null=True, backref="+", on_delete="RESTRICT")
    school = ForeignKeyField(School, null=True, backref="+", on_delete="RESTRICT")
    read_at = DateTimeField(null=True)
    read_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")


class FaqTopic(BaseModel):
    """A group of FAQ entries (绑定与权限码, 教师信息, 学时统计…)."""
    name = CharField(max_length=40, unique=True)
    position = IntegerField(default=0)


class FaqEntry(BaseModel):
    """One question and its answer, edited by the operator."""
    topic = ForeignKeyField(FaqTopic, backref="entries", on_delete="RESTRICT")
    question = CharField(max_length=200)
    answer = TextField()
    position = IntegerField(default=0)
    updated_at = DateTimeField(default=now)
    updated_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")

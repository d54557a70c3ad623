"""Batch imports waiting for confirmation (预览后确认导入)."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from yanxiu.models.account import Account, Binding
from yanxiu.models.base import BaseModel, now


class ImportBatch(BaseModel):
    """An uploaded file, validated: its valid rows wait here until the admin confirms.

    Nothing reaches the target table before confirmation; `state` moves
    pending → done (or → discarded) with a conditional update, so a double submit
    writes once.
    """
    kind = CharField(max_length=20)  # "schools"
    account = ForeignKeyField(Account, backref="+", on_delete="CASCADE")
    binding = ForeignKeyField(Binding, backref="+", on_delete="CASCADE")
    filename = CharField(max_length=200, default="")
    total_rows = IntegerField(default=0)
    valid_rows = TextField(default="[]")   # JSON list of cleaned rows
    problems = TextField(default="[]")     # JSON list of {row, column, value, reason}
    state = CharField(max_length=10, default="pending", index=True)
    created_at = DateTimeField(default=now)
    done_at = DateTimeField(null=True)

"""Base model bound to the shared database proxy."""
import datetime

from peewee import Model

from yanxiu.db import database


def now() -> datetime.datetime:
    """Current time in UTC, naive, as stored in every timestamp column."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False

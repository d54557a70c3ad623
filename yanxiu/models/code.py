"""权限码: one-time codes that bind an account to an admin scope."""
from peewee import CharField, DateTimeField, ForeignKeyField

from yanxiu.models.account import Account, Binding
from yanxiu.models.base import BaseModel, now
from yanxiu.models.region import Region, School

UNUSED, USED, REVOKED = "unused", "used", "revoked"


class PermissionCode(BaseModel):
    """A 权限码 for (scope, role). Only its SHA-256 is stored; the issuer sees it once.

    `state` moves unused → used or unused → revoked, each by a conditional update so
    that of two concurrent redemptions exactly one wins. Expiry is read from expires_at.
    """
    code_hash = CharField(max_length=64, unique=True)
    role = CharField(max_length=10)
    region = ForeignKeyField(Region, null=True, backref="codes", on_delete="RESTRICT")
    school = ForeignKeyField(School, null=True, backref="codes", on_delete="RESTRICT")
    # Region path of the scope, so an issuer lists the codes of its subtree in one range query.
    scope_path = CharField(max_length=64, index=True)
    issued_by = ForeignKeyField(Account, backref="+", on_delete="RESTRICT")
    issued_by_binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="RESTRICT")
    issued_at = DateTimeField(default=now)
    expires_at = DateTimeField(index=True)
    state = CharField(max_length=10, default=UNUSED, index=True)
    used_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    used_at = DateTimeField(null=True)
    binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="RESTRICT")
    revoked_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    revoked_at = DateTimeField(null=True)


class CodeFailure(BaseModel):
    """One mistyped, expired, revoked or used code entered, counted per account and address."""
    account = ForeignKeyField(Account, backref="+", on_delete="CASCADE")
    address = CharField(max_length=64, index=True)
    at = DateTimeField(default=now, index=True)

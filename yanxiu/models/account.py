"""Accounts, admin bindings, server-side sessions, login failures and two-factor login."""
from peewee import (BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField, TextField)

from yanxiu.models.base import BaseModel, now
from yanxiu.models.region import Region, School

OPERATOR, SUPER, TRAINING, SCHOOL_ADMIN = "operator", "super", "training", "school"
ROLE_LABELS = {
    OPERATOR: "平台运维",
    SUPER: "超级管理员",
    TRAINING: "研修专项管理员",
    SCHOOL_ADMIN: "学校管理员",
}
TEACHER_LABEL = "教师"


class Account(BaseModel):
    """A person's platform account (平台账号): 用户名 + password."""
    username = CharField(max_length=32, unique=True)
    display_name = CharField(max_length=30)
    password_hash = CharField(max_length=255)
    is_active = BooleanField(default=True)
    is_demo = BooleanField(default=False)
    created_at = DateTimeField(default=now)
    password_changed_at = DateTimeField(default=now)


class Binding(BaseModel):
    """An admin right: an account bound to a scope with a role (绑定).

    Rows are never deleted: ending a binding sets state and ended_* so the
    history of who held which scope stays readable.
    """
    account = ForeignKeyField(Account, backref="bindings", on_delete="RESTRICT")
    role = CharField(max_length=10)
    region = ForeignKeyField(Region, null=True, backref="bindings", on_delete="RESTRICT")
    school = ForeignKeyField(School, null=True, backref="bindings", on_delete="RESTRICT")
    state = CharField(max_length=10, default="active", index=True)
    created_at = DateTimeField(default=now)
    ended_at = DateTimeField(null=True)
    ended_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    end_reason = CharField(max_length=200, default="")

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @property
    def scope_name(self) -> str:
        if self.role == SCHOOL_ADMIN:
            return self.school.name
        return self.region.name

    @property
    def scope_path(self) -> str:
        """Materialized path of the region this binding covers."""
        if self.role == SCHOOL_ADMIN:
            return self.school.region_path
        return self.region.path


class UserSession(BaseModel):
    """A server-side login session; the cookie carries only its random id.

    Logout, a password change or disabling the account end the row, so a
    replayed cookie finds nothing to resume.
    """
    token_hash = CharField(max_length=64, unique=True)
    account = ForeignKeyField(Account, backref="sessions", on_delete="CASCADE")
    current_binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="SET NULL")
    created_at = DateTimeField(default=now)
    last_seen_at = DateTimeField(default=now)
    ended_at = DateTimeField(null=True)
    address = CharField(max_length=64, default="")
    # When the person last proved who they are (the login, or a re-authentication before
    # revealing personal data or issuing a code; SECURITY.md row 10).
    authenticated_at = DateTimeField(null=True)


class TwoFactor(BaseModel):
    """两步验证: an account's TOTP secret, encrypted like personal data.

    A row with `enabled_at` empty is an enrolment not yet confirmed with a first code.
    `last_step` is the time-step of the last accepted code: a code of that step or an
    earlier one is refused, so a code seen over someone's shoulder cannot be replayed.
    """
    account = ForeignKeyField(Account, unique=True, backref="+", on_delete="CASCADE")
    secret_cipher = TextField()
    created_at = DateTimeField(default=now)
    enabled_at = DateTimeField(null=True)
    last_step = IntegerField(default=0)

    @property
    def enabled(self) -> bool:
        return self.enabled_at is not None


class RecoveryCode(BaseModel):
    """恢复码: one single-use code for a login without the authenticator, stored hashed."""
    account = ForeignKeyField(Account, backref="+", on_delete="CASCADE")
    code_hash = CharField(max_length=64)
    created_at = DateTimeField(default=now)
    used_at = DateTimeField(null=True)


class LoginFailure(BaseModel):
    """One failed login, counted per account name and per client address."""
    username = CharField(max_length=64, index=True)
    address = CharField(max_length=64, index=True)
    at = DateTimeField(default=now, index=True)


class AuditLog(BaseModel):
    """审计日志: one row per write, refusal or reveal; hash-chained for tamper evidence."""
    at = DateTimeField(default=now, index=True)
    actor = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    binding = ForeignKeyField(Binding, null=True, backref="+", on_delete="RESTRICT")
    action = CharField(max_length=40, index=True)
    target_type = CharField(max_length=20, default="")
    target_id = CharField(max_length=40, default="")
    # Path of the region the target lies in, so an admin reads its subtree's log.
    scope_path = CharField(max_length=64, default="", index=True)
    before = TextField(default="")
    after = TextField(default="")
    address = CharField(max_length=64, default="")
    result = CharField(max_length=20, default="ok")
    prev_hash = CharField(max_length=64, default="")
    hash = CharField(max_length=64, default="")

"""The tables of yanxiu. Import models from here."""
from yanxiu.models.account import (Account, AuditLog, Binding, LoginFailure,
                                   UserSession)
from yanxiu.models.code import CodeFailure, PermissionCode
from yanxiu.models.region import Region, School

ALL_MODELS = [Region, School, Account, Binding, UserSession, LoginFailure, AuditLog,
              PermissionCode, CodeFailure]

__all__ = ["Account", "AuditLog", "Binding", "CodeFailure", "LoginFailure", "PermissionCode",
           "Region", "School", "UserSession", "ALL_MODELS"]

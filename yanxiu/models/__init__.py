"""The tables of yanxiu. Import models from here."""
from yanxiu.models.account import (Account, AuditLog, Binding, LoginFailure,
                                   UserSession)
from yanxiu.models.code import CodeFailure, PermissionCode
from yanxiu.models.imports import ImportBatch
from yanxiu.models.notice import FaqEntry, FaqTopic, Notice, NoticeRecipient
from yanxiu.models.region import Region, School
from yanxiu.models.teacher import Membership

ALL_MODELS = [Region, School, Account, Binding, UserSession, LoginFailure, AuditLog,
              PermissionCode, CodeFailure, Notice, NoticeRecipient, FaqTopic, FaqEntry,
              ImportBatch, Membership]

__all__ = ["Account", "AuditLog", "Binding", "CodeFailure", "FaqEntry", "FaqTopic", "ImportBatch",
           "LoginFailure", "Membership", "Notice", "NoticeRecipient", "PermissionCode", "Region", "School",
           "UserSession", "ALL_MODELS"]

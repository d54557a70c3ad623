"""The tables of yanxiu. Import models from here."""
from yanxiu.models.account import (Account, AuditLog, Binding, LoginFailure, RecoveryCode,
                                   TwoFactor, UserSession)
from yanxiu.models.code import CodeFailure, PermissionCode
from yanxiu.models.imports import ImportBatch
from yanxiu.models.notice import FaqEntry, FaqTopic, Notice, NoticeRecipient
from yanxiu.models.region import Region, School
from yanxiu.models.teacher import Membership
from yanxiu.models.training import (ApiToken, Course, LearningRecord, Programme,
                                    RegionProgress, SchoolProgress, TeacherProgress)

ALL_MODELS = [Region, School, Account, Binding, UserSession, LoginFailure, AuditLog,
              TwoFactor, RecoveryCode,
              PermissionCode, CodeFailure, Notice, NoticeRecipient, FaqTopic, FaqEntry,
              ImportBatch, Membership, Programme, Course, ApiToken, LearningRecord,
              TeacherProgress, SchoolProgress, RegionProgress]

__all__ = ["Account", "ApiToken", "AuditLog", "Binding", "CodeFailure", "Course", "FaqEntry",
           "FaqTopic", "ImportBatch", "LearningRecord", "LoginFailure", "Membership",
           "Notice", "NoticeRecipient", "PermissionCode", "Programme", "RecoveryCode", "Region",
           "RegionProgress", "School", "SchoolProgress", "TeacherProgress", "TwoFactor",
           "UserSession", "ALL_MODELS"]

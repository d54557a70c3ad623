"""权限码: issue, list, revoke and redeem the one-time codes that create admin bindings."""
import datetime
import hashlib
import secrets
from dataclasses import dataclass

from yanxiu.db import database
from yanxiu.models import Binding, CodeFailure, PermissionCode, Region, School
from yanxiu.models.account import ROLE_LABELS, SCHOOL_ADMIN, SUPER, TRAINING, Account
from yanxiu.models.base import now
from yanxiu.models.code import REVOKED, UNUSED, USED
from yanxiu.models.region import in_subtree
from yanxiu.scope import may_issue_code
from yanxiu.services import audit

# 31 symbols without 0/O, 1/I/L: 16 of them carry 79 bits, read aloud in groups of four.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
GROUP = 4
DEFAULT_DAYS, MAX_DAYS = 30, 180
# Failed redemptions: 5 a minute per address, 10 an hour per account.
ADDRESS_LIMIT, ADDRESS_WINDOW = 5, datetime.timedelta(minutes=1)
ACCOUNT_LIMIT, ACCOUNT_WINDOW = 10, datetime.timedelta(hours=1)

STATE_LABELS = {UNUSED: "未使用", USED: "已使用", REVOKED: "已作废", "expired": "已过期"}


class CodeError(ValueError):
    """A code could not be issued, revoked or redeemed; the message is Chinese."""


class CodeThrottled(CodeError):
    """Too many failed redemptions from this account or address."""


class ReplacementNeeded(CodeError):
    """Redeeming would replace the scope's current admin; ask the user to confirm first."""

    def __init__(self, code: PermissionCode, replaced: Binding):
        super().__init__(f"{scope_name(code)}已有{ROLE_LABELS[code.role]}"
                         f"（{replaced.account.display_name}），绑定后将替换该管理员")
        self.code = code
        self.replaced = replaced


def format_code(raw: str) -> str:
    """ABCDEFGHJKMNPQRS → ABCD-EFGH-JKMN-PQRS."""
    return "-".join(raw[i:i + GROUP] for i in range(0, len(raw), GROUP))


def normalize_code(text: str) -> str:
    """What the user typed, without separators and spaces, upper-case."""
    return "".join(ch for ch in text.upper() if ch.isalnum())[:64]


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


def code_state(code: PermissionCode, at: datetime.datetime | None = None) -> str:
    """unused / used / revoked, or expired for an unused code past its date."""
    if code.state == UNUSED and code.expires_at <= (at or now()):
        return "expired"
    return code.state


def scope_name(code: PermissionCode) -> str:
    return code.school.name if code.school_id else code.region.name


@dataclass
class IssuedCode:
    """A freshly issued code: the only moment its plain text exists."""
    code: PermissionCode
    plain: str


def issue_permission_code(binding: Binding, role: str, *, region: Region | None = None,
                          school: School | None = None, days: int = DEFAULT_DAYS,
                          address: str = "") -> IssuedCode:
    """Issue a 权限码 for (scope, role) if the binding may; audited."""
    if role not in ROLE_LABELS or not may_issue_code(binding, role, region, school):
        raise CodeError("您无权为该范围发放此类权限码")
    if not 1 <= days <= MAX_DAYS:
        raise CodeError(f"有效期须为 1–{MAX_DAYS} 天")
    plain = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    path = school.region_path if school else region.path
    with database.atomic():
        code = PermissionCode.create(
            code_hash=_hash(plain), role=role, region=region, school=school, scope_path=path,
            issued_by=binding.account_id, issued_by_binding=binding,
            expires_at=now() + datetime.timedelta(days=days))
        audit.record("code.issued", actor=binding.account_id, binding=binding,
                     target_type="permission_code", target_id=code.id, scope_path=path,
                     after={"role": role, "scope": (school or region).code, "days": days},
                     address=address)
    return IssuedCode(code, format_code(plain))


def revoke_code(binding: Binding, code: PermissionCode, *, address: str = "") -> None:
    """Revoke an unused code that this binding issued (or may issue)."""
    if not may_issue_code(binding, code.role, code.region, code.school):
        raise CodeError("您无权作废该权限码")
    changed = (PermissionCode.update(state=REVOKED, revoked_by=binding.account_id, revoked_at=now())
               .where((PermissionCode.id == code.id) & (PermissionCode.state == UNUSED)).execute())
    if not changed:
        raise CodeError("该权限码已使用或已作废，无法作废")
    audit.record("code.revoked", actor=binding.account_id, binding=binding,
                 target_type="permission_code", target_id=code.id, scope_path=code.scope_path,
                 address=address)


def _refuse_if_throttled(account: Account, address: str) -> None:
    t = now()
    by_address = CodeFailure.select().where((CodeFailure.address == address)
                                            & (CodeFailure.at > t - ADDRESS_WINDOW)).count()
    by_account = CodeFailure.select().where((CodeFailure.account == account)
                                            & (CodeFailure.at > t - ACCOUNT_WINDOW)).count()
    if by_address >= ADDRESS_LIMIT or by_account >= ACCOUNT_LIMIT:
        audit.record("code.throttled", actor=account, target_type="account", target_id=account.id,
                     address=address, result="refused")
        raise CodeThrottled("权限码输错次数过多，请稍后再试（每分钟最多 5 次，每小时最多 10 次）")


def _fail(account: Account, address: str, message: str, code: PermissionCode | None = None):
    CodeFailure.create(account=account, address=address)
    audit.record("code.redeem_failed", actor=account, target_type="permission_code",
                 target_id=code.id if code else "", scope_path=code.scope_path if code else "",
                 address=address, result="refused")
    raise CodeError(message)


def find_redeemable(account: Account, text: str, *, address: str = "") -> PermissionCode:
    """The unused, unexpired code the account typed; each miss counts towards the throttle."""
    _refuse_if_throttled(account, address)
    raw = normalize_code(text)
    if len(raw) != CODE_LENGTH or any(ch not in ALPHABET for ch in raw):
        _fail(account, address, f"权限码格式不正确：应为 {CODE_LENGTH} 位字母和数字（如 ABCD-EFGH-JKMN-PQRS）")
    code = PermissionCode.get_or_none(PermissionCode.code_hash == _hash(raw))
    if code is None:
        _fail(account, address, "权限码不存在，请核对后重新输入")
    state = code_state(code)
    if state != UNUSED:
        message = {"expired": "该权限码已过期，请联系发放人重新发放",
                   REVOKED: "该权限码已作废，请联系发放人重新发放",
                   USED: "该权限码已被使用，每个权限码只能使用一次"}[state]
        _fail(account, address, message, code)
    held = Binding.select().where((Binding.account == account) & (Binding.state == "active")
                                  & (Binding.role == code.role) & (Binding.region == code.region_id)
                                  & (Binding.school == code.school_id)).exists()
    if held:
        raise CodeError(f"您已是{scope_name(code)}的{ROLE_LABELS[code.role]}，无需重复绑定")
    return code


def holder_to_replace(code: PermissionCode) -> Binding | None:
    """The binding a redemption would end: the school's admin, or the region's super admin."""
    if code.role == SCHOOL_ADMIN:
        cond = (Binding.school == code.school_id)
    elif code.role == SUPER:
        cond = (Binding.region == code.region_id)
    else:
        return None
    return (Binding.select().where(cond & (Binding.role == code.role) & (Binding.state == "active"))
            .first())


def redeem_code(account: Account, text: str, *, address: str = "",
                confirm_replace: bool = False) -> Binding:
    """登录绑定: turn a code into an active binding for `account`, exactly once.

    Where the scope already has its one school admin (or super admin), the caller must
    confirm the replacement (更换学校管理员); the old binding ends, its history kept.
    """
    code = find_redeemable(account, text, address=address)
    replaced = holder_to_replace(code)
    if replaced is not None and not confirm_replace:
        raise ReplacementNeeded(code, replaced)
    with database.atomic():
        stamp = now()
        won = (PermissionCode.update(state=USED, used_by=account, used_at=stamp)
               .where((PermissionCode.id == code.id) & (PermissionCode.state == UNUSED)
                      & (PermissionCode.expires_at > stamp)).execute())
        if not won:
            raise CodeError("该权限码已被使用，每个权限码只能使用一次")
        if replaced is not None:
            end_binding(replaced, ended_by=account, reason="更换管理员：新管理员已使用权限码绑定",
                        address=address, binding=None)
        binding = Binding.create(account=account, role=code.role, region=code.region_id,
                                 school=code.school_id)
        PermissionCode.update(binding=binding).where(PermissionCode.id == code.id).execute()
        audit.record("code.redeemed", actor=account, binding=binding,
                     target_type="permission_code", target_id=code.id,
                     scope_path=code.scope_path, address=address,
                     after={"binding": binding.id, "replaced": replaced.id if replaced else None})
    return binding


def end_binding(target: Binding, *, ended_by: Account, reason: str, address: str = "",
                binding: Binding | None = None) -> None:
    """End a binding (解绑): the account stays, the row stays as history."""
    changed = (Binding.update(state="ended", ended_at=now(), ended_by=ended_by, end_reason=reason[:200])
               .where((Binding.id == target.id) & (Binding.state == "active")).execute())
    if not changed:
        raise CodeError("该绑定已结束")
    path = target.school.region_path if target.school_id else target.region.path
    audit.record("binding.ended", actor=ended_by, binding=binding, target_type="binding",
                 target_id=target.id, scope_path=path, before={"state": "active"},
                 after={"state": "ended", "reason": reason[:200]}, address=address)


@dataclass
class CodeTarget:
    """Something a binding may issue a code for: (role, region or school), with its label."""
    role: str
    region: Region | None
    school: School | None

    @property
    def key(self) -> str:
        return f"{self.role}:{(self.school or self.region).code}"

    @property
    def label(self) -> str:
        return f"{(self.school or self.region).name} · {ROLE_LABELS[self.role]}"


def issuable_targets(binding: Binding) -> list[CodeTarget]:
    """Every (role, scope) the binding may issue a code for, by the rule in yanxiu.scope."""
    region = binding.region
    candidates = [CodeTarget(TRAINING, region, None)] if region else []
    if region is not None:
        candidates += [CodeTarget(SUPER, child, None)
                       for child in Region.select().where(Region.parent == region).order_by(Region.code)]
        candidates += [CodeTarget(SCHOOL_ADMIN, None, school)
                       for school in School.select().where((School.region == region)
                                                           & (School.status == "active"))
                       .order_by(School.code)]
    return [t for t in candidates if may_issue_code(binding, t.role, t.region, t.school)]


def target_by_key(binding: Binding, key: str) -> CodeTarget | None:
    """The issuable target named by a form value such as `school:3301060001`."""
    return next((t for t in issuable_targets(binding) if t.key == key), None)


def codes_issued_in_scope(path: str, state: str = ""):
    """Codes whose scope lies inside the subtree at `path`, newest first, optionally by state."""
    query = (PermissionCode.select().where(in_subtree(PermissionCode.scope_path, path))
             .order_by(PermissionCode.id.desc()))
    stamp = now()
    if state == UNUSED:
        return query.where((PermissionCode.state == UNUSED) & (PermissionCode.expires_at > stamp))
    if state == "expired":
        return query.where((PermissionCode.state == UNUSED) & (PermissionCode.expires_at <= stamp))
    if state in (USED, REVOKED):
        return query.where(PermissionCode.state == state)
    return query


def reissue_code(binding: Binding, code: PermissionCode, *, address: str = "") -> IssuedCode:
    """重新发放: revoke the code if still unused and issue a fresh one for the same scope."""
    if code_state(code) == UNUSED:
        revoke_code(binding, code, address=address)
    return issue_permission_code(binding, code.role, region=code.region, school=code.school,
                                 address=address)


def subordinate_bindings(binding: Binding):
    """Active bindings this binding may end: those whose (role, scope) it may issue codes for."""
    keys = issuable_targets(binding)
    region_roles = [(t.role, t.region.id) for t in keys if t.region is not None]
    school_ids = [t.school.id for t in keys if t.school is not None]
    cond = Binding.id.is_null()
    for role, region_id in region_roles:
        cond = cond | ((Binding.role == role) & (Binding.region == region_id))
    if school_ids:
        cond = cond | ((Binding.role == SCHOOL_ADMIN) & Binding.school.in_(school_ids))
    return (Binding.select().where((Binding.state == "active") & cond
                                   & (Binding.account != binding.account_id))
            .order_by(Binding.id))

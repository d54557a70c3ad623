"""两步验证: a six-digit code from an authenticator app (TOTP, RFC 6238) after the password,
with single-use recovery codes for a lost phone (SECURITY.md rows 8 and 10).

The secret is encrypted like personal data. A code is accepted in its 30-second step and
one step either side (clock drift), and only for a step later than the last one accepted,
so a code cannot be used twice. Wrong codes count as failed logins (the same throttle).
"""
import datetime
import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from pyotp.utils import strings_equal
from peewee import IntegrityError

from yanxiu.crypto import personal_data_cipher
from yanxiu.db import database
from yanxiu.models import Account, RecoveryCode, TwoFactor, UserSession
from yanxiu.models.base import now
from yanxiu.services import accounts, audit
from yanxiu.services.accounts import AccountError

ISSUER = "研修管理"
VALID_WINDOW = 1  # steps accepted either side of the current one
# A password step passed waits this long for its second factor.
PENDING_LOGIN_SECONDS = 300
RECOVERY_COUNT = 10
# 16 characters of a 32-letter alphabet (no 0/o, 1/l/i): 80 bits each, so sha256 is enough.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 16
CODE_RE = re.compile(r"^[0-9]{6}$")


def clock() -> float:
    """Seconds since the epoch; tests pin it."""
    return time.time()


def _row(account_id: int) -> TwoFactor | None:
    return TwoFactor.get_or_none(TwoFactor.account == account_id)


def is_enabled(account_id: int) -> bool:
    """Whether the account logs in with a second factor."""
    return TwoFactor.select().where((TwoFactor.account == account_id)
                                    & TwoFactor.enabled_at.is_null(False)).exists()


def enrolment_required(account_id: int, is_admin: bool, required_by_setting: bool) -> bool:
    """YANXIU_REQUIRE_ADMIN_2FA: an admin without two-factor login must set it up first."""
    return required_by_setting and is_admin and not is_enabled(account_id)


@dataclass
class Enrolment:
    """A secret waiting for its first code: as text and as the otpauth URI a QR code carries."""
    secret: str
    uri: str

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))

    @property
    def qr_data_uri(self) -> str:
        """The QR code as an SVG data: URI (the CSP allows data: images; no markup to trust)."""
        return segno.make(self.uri, error="m").svg_data_uri(scale=5, border=2)


@dataclass
class Status:
    """What 账号安全 shows about two-factor login."""
    enabled: bool
    enabled_at: datetime.datetime | None
    recovery_left: int


def status(account_id: int) -> Status:
    row = _row(account_id)
    enabled = row is not None and row.enabled
    return Status(enabled, row.enabled_at if enabled else None,
                  recovery_codes_left(account_id) if enabled else 0)


def recovery_codes_left(account_id: int) -> int:
    return RecoveryCode.select().where((RecoveryCode.account == account_id)
                                       & RecoveryCode.used_at.is_null()).count()


def begin_enrolment(account: Account, *, address: str, binding=None) -> None:
    """开启两步验证, step 1: a new secret (replacing an unconfirmed one); refused while on."""
    secret_cipher = personal_data_cipher().encrypt(pyotp.random_base32())
    with database.atomic():
        row = _row(account.id)
        if row is not None and row.enabled:
            raise AccountError("两步验证已开启")
        try:
            if row is None:
                TwoFactor.create(account=account, secret_cipher=secret_cipher)
            else:
                (TwoFactor.update(secret_cipher=secret_cipher, created_at=now(), last_step=0)
                 .where((TwoFactor.id == row.id) & TwoFactor.enabled_at.is_null()).execute())
        except IntegrityError:
            raise AccountError("请重试") from None
        audit.record("two_factor.enrolment_started", actor=account, binding=binding,
                     target_type="account", target_id=account.id, address=address)


def pending_enrolment(account: Account) -> Enrolment | None:
    """The unconfirmed secret of the account, if enrolment has begun."""
    row = _row(account.id)
    if row is None or row.enabled:
        return None
    secret = personal_data_cipher().decrypt(row.secret_cipher)
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.username, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def _matching_step(row: TwoFactor, code: str) -> int | None:
    """The time-step a correct code belongs to, if later than the last accepted one."""
    totp = pyotp.TOTP(personal_data_cipher().decrypt(row.secret_cipher))
    current = totp.timecode(clock())
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > row.last_step and strings_equal(code, totp.generate_otp(step)):
            return step
    return None


def _accept_code(row: TwoFactor, code: str) -> bool:
    """Whether `code` is a fresh TOTP code of the row; the accepted step is recorded under a
    condition, so of two requests with one code only one wins."""
    code = re.sub(r"\s", "", code)
    if not CODE_RE.match(code):
        return False
    step = _matching_step(row, code)
    if step is None:
        return False
    won = (TwoFactor.update(last_step=step)
           .where((TwoFactor.id == row.id) & (TwoFactor.last_step < step)).execute())
    return won == 1


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode("utf-8")).hexdigest()


def _new_recovery_codes(account: Account) -> list[str]:
    """Replace every recovery code of the account with RECOVERY_COUNT new ones, shown once."""
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_COUNT)]
    RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
    RecoveryCode.insert_many([{"account": account.id, "code_hash": _recovery_hash(c),
                               "created_at": now()} for c in codes]).execute()
    return ["-".join(c[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in codes]


def use_recovery_code(account: Account, code: str, *, address: str, binding=None) -> bool:
    """Spend one recovery code of the account; each works once, whoever races for it."""
    normalised = _normalise_recovery(code)
    if len(normalised) != RECOVERY_LENGTH or set(normalised) - set(RECOVERY_ALPHABET):
        return False
    spent = (RecoveryCode.update(used_at=now())
             .where((RecoveryCode.account == account.id)
                    & (RecoveryCode.code_hash == _recovery_hash(normalised))
                    & RecoveryCode.used_at.is_null()).execute())
    if spent != 1:
        return False
    audit.record("two_factor.recovery_used", actor=account, binding=binding,
                 target_type="account", target_id=account.id,
                 after={"left": recovery_codes_left(account.id)}, address=address)
    return True


def _refuse(account: Account, act: str, *, address: str, binding=None, field: str = "code",
            message: str = "验证码不正确或已使用过") -> AccountError:
    """Count a wrong code as a failed login and audit the refusal; the error to raise."""
    accounts.count_failure(account.username, address)
    audit.record("two_factor.refused", actor=account, binding=binding, target_type="account",
                 target_id=account.id, after={"act": act}, address=address, result="refused")
    return AccountError(message, field)


def confirm_enrolment(account: Account, code: str, *, address: str, binding=None) -> list[str]:
    """开启两步验证, step 2: the first valid code turns it on; returns the recovery codes,
    which are shown this once."""
    accounts.refuse_if_throttled(account.username, address)
    row = _row(account.id)
    if row is None or row.enabled:
        raise AccountError("请先开始设置两步验证")
    if not _accept_code(row, code):
        raise _refuse(account, "enrol", address=address, binding=binding,
                      message="验证码不正确，请核对手机时间后输入验证器中当前显示的 6 位数字")
    with database.atomic():
        turned_on = (TwoFactor.update(enabled_at=now())
                     .where((TwoFactor.id == row.id) & TwoFactor.enabled_at.is_null()).execute())
        if turned_on != 1:
            raise AccountError("两步验证已开启")
        codes = _new_recovery_codes(account)
        audit.record("two_factor.enabled", actor=account, binding=binding, target_type="account",
                     target_id=account.id, address=address)
    return codes


@dataclass
class SecondFactor:
    """A login's second step that passed: whose, and whether a recovery code was spent."""
    account: Account
    recovery_used: bool
    recovery_left: int


def pending_login(account: Account, *, address: str) -> float:
    """The password was right and the account has two-factor login: audit it; the time (per
    `clock`) until which the second step may follow."""
    audit.record("login.second_factor_required", actor=account, target_type="account",
                 target_id=account.id, address=address)
    return clock() + PENDING_LOGIN_SECONDS


def complete_login(account_id: int, code: str, *, address: str) -> SecondFactor:
    """The login's second step: a TOTP code or a recovery code, under the login throttle."""
    account = Account.get_or_none(Account.id == account_id)
    row = _row(account_id) if account is not None else None
    if account is None or not account.is_active or row is None or not row.enabled:
        raise AccountError("登录已失效，请重新登录")
    accounts.refuse_if_throttled(account.username, address)
    if CODE_RE.match(re.sub(r"\s", "", code)):
        if _accept_code(row, code):
            return SecondFactor(account, False, recovery_codes_left(account.id))
    elif use_recovery_code(account, code, address=address):
        return SecondFactor(account, True, recovery_codes_left(account.id))
    raise _refuse(account, "login", address=address)


def _check_code_or_recovery(account: Account, row: TwoFactor, code: str, *, address: str,
                            binding) -> bool:
    if CODE_RE.match(re.sub(r"\s", "", code)):
        return _accept_code(row, code)
    return use_recovery_code(account, code, address=address, binding=binding)


def disable(account: Account, password: str, code: str, *, address: str, binding=None) -> None:
    """关闭两步验证: needs the password and a current code (or a recovery code)."""
    accounts.refuse_if_throttled(account.username, address)
    row = _row(account.id)
    if row is None or not row.enabled:
        raise AccountError("两步验证未开启")
    if not accounts.password_matches(account, password):
        raise _refuse(account, "disable", address=address, binding=binding, field="password",
                      message="密码不正确")
    if not _check_code_or_recovery(account, row, code, address=address, binding=binding):
        raise _refuse(account, "disable", address=address, binding=binding)
    with database.atomic():
        RecoveryCode.delete().where(RecoveryCode.account == account.id).execute()
        TwoFactor.delete().where(TwoFactor.id == row.id).execute()
        audit.record("two_factor.disabled", actor=account, binding=binding,
                     target_type="account", target_id=account.id, address=address)


def regenerate_recovery_codes(account: Account, code: str, *, address: str,
                              binding=None) -> list[str]:
    """重新生成恢复码: a current TOTP code replaces every recovery code; the new ones are
    shown this once."""
    accounts.refuse_if_throttled(account.username, address)
    row = _row(account.id)
    if row is None or not row.enabled:
        raise AccountError("两步验证未开启")
    if not _accept_code(row, code):
        raise _refuse(account, "recovery_codes", address=address, binding=binding)
    with database.atomic():
        codes = _new_recovery_codes(account)
        audit.record("two_factor.recovery_regenerated", actor=account, binding=binding,
                     target_type="account", target_id=account.id, address=address)
    return codes


def reauthenticate(account: Account, secret: str, *, session: UserSession, address: str,
                   binding=None) -> None:
    """Re-authentication before a sensitive act: the password, or with two-factor login on,
    a current code; the session records the time (SECURITY.md row 10)."""
    accounts.refuse_if_throttled(account.username, address)
    row = _row(account.id)
    if row is not None and row.enabled and CODE_RE.match(re.sub(r"\s", "", secret)):
        ok = _accept_code(row, secret)
    else:
        ok = accounts.password_matches(account, secret)
    if not ok:
        accounts.count_failure(account.username, address)
        audit.record("account.reauth_failed", actor=account, binding=binding,
                     target_type="account", target_id=account.id, address=address,
                     result="refused")
        raise AccountError("密码或验证码不正确" if row is not None and row.enabled
                           else "密码不正确", "reauth_secret")
    accounts.mark_authenticated(session)
    audit.record("account.reauthenticated", actor=account, binding=binding,
                 target_type="account", target_id=account.id, address=address)

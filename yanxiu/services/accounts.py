"""Accounts, passwords, login throttling, server-side sessions and re-authentication."""
import datetime
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError, fn

from yanxiu.db import Prepared, database, slot
from yanxiu.models import Account, Binding, LoginFailure, UserSession
from yanxiu.models.base import now
from yanxiu.services import audit

# SECURITY.md row 7: 5 failures a minute per address, 10 per 15 minutes per account.
ADDRESS_LIMIT, ADDRESS_WINDOW = 5, datetime.timedelta(minutes=1)
ACCOUNT_LIMIT, ACCOUNT_WINDOW = 10, datetime.timedelta(minutes=15)
# SECURITY.md row 10: revealing personal data or issuing a code needs a password (or a
# two-factor code) entered this recently, at login or since.
REAUTH_WINDOW = datetime.timedelta(minutes=5)

USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
NAME_RE = re.compile(r"^[\u4e00-\u9fffA-Za-z·]{2,30}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 128


class AccountError(ValueError):
    """A rule of accounts was broken; `field` names the form field, message is Chinese."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class LoginThrottled(AccountError):
    """Too many failed logins from this address or for this account."""


_hasher: PasswordHasher | None = None


def configure_hasher(time_cost: int, memory_cost: int) -> None:
    """Set the argon2id cost (called once by the app factory)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def hasher() -> PasswordHasher:
    if _hasher is None:
        configure_hasher(3, 65536)
    return _hasher


def hash_password(password: str) -> str:
    return hasher().hash(password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("yanxiu.data").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_password_rules(password: str, username: str = "") -> None:
    """Refuse short, over-long, all-one-kind or commonly used passwords."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"密码至少 {PASSWORD_MIN} 位", "password")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"密码不能超过 {PASSWORD_MAX} 位", "password")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"[0-9]", password)):
        raise AccountError("密码须同时包含字母和数字", "password")
    if password.lower() in common_passwords() or (username and username.lower() in password.lower()):
        raise AccountError("该密码过于常见或包含用户名，请换一个更难猜的密码", "password")


def register(username: str, display_name: str, password: str, *, address: str = "") -> Account:
    """注册: create a platform account after checking name and password rules."""
    username = username.strip()
    display_name = display_name.strip()
    if not USERNAME_RE.match(username):
        raise AccountError("用户名须以字母开头，3–32 位字母、数字或下划线", "username")
    if not NAME_RE.match(display_name):
        raise AccountError("姓名须为 2–30 个汉字或字母（可含 ·）", "display_name")
    check_password_rules(password, username)
    # Names differing only in case would let one person pass for another.
    if Account.select().where(fn.LOWER(Account.username) == username.lower()).exists():
        raise AccountError("该用户名已被注册", "username")
    try:
        with database.atomic():
            account = Account.create(username=username, display_name=display_name,
                                     password_hash=hash_password(password))
            audit.record("account.register", actor=account, target_type="account",
                         target_id=account.id, after={"username": username}, address=address)
    except IntegrityError:
        raise AccountError("该用户名已被注册", "username") from None
    return account


def _recent_failures(address: str, username: str) -> tuple[int, int]:
    t = now()
    by_address = LoginFailure.select().where(
        (LoginFailure.address == address) & (LoginFailure.at > t - ADDRESS_WINDOW)).count()
    by_account = LoginFailure.select().where(
        (LoginFailure.username == username) & (LoginFailure.at > t - ACCOUNT_WINDOW)).count()
    return by_address, by_account


def refuse_if_throttled(username: str, address: str) -> None:
    """Raise LoginThrottled (and audit the refusal) once either failure counter is full."""
    by_address, by_account = _recent_failures(address, username)
    if by_address >= ADDRESS_LIMIT or by_account >= ACCOUNT_LIMIT:
        audit.record("login.throttled", target_type="account", target_id=username[:40],
                     address=address, result="refused")
        raise LoginThrottled("登录失败次数过多，请稍后再试（每分钟最多 5 次，每个账号 15 分钟内最多 10 次）")


def authenticate(username: str, password: str, *, address: str) -> Account:
    """Check credentials under the throttle; record failures and refusals."""
    username = username.strip()[:64]
    refuse_if_throttled(username, address)
    account = Account.get_or_none(Account.username == username)
    ok = False
    if account is not None and account.is_active:
        try:
            ok = hasher().verify(account.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time as a real check so timing doesn't reveal which names exist.
        try:
            hasher().verify(_dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            pass
    if not ok:
        count_failure(username, address)
        audit.record("login.failed", actor=account, target_type="account",
                     target_id=username[:40], address=address, result="refused")
        raise AccountError("用户名或密码错误", "password")
    if hasher().check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        account.save(only=[Account.password_hash])
    return account


def count_failure(username: str, address: str) -> None:
    """One more failed proof of identity (password, two-factor code) for the throttle."""
    LoginFailure.create(username=username[:64], address=address)


def password_matches(account: Account, password: str) -> bool:
    """Whether `password` is the account's, without side effects."""
    try:
        return hasher().verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def start_session(account: Account, *, address: str,
                  replaces: UserSession | None = None) -> tuple[str, UserSession]:
    """Open a server-side session; returns the token the cookie carries, and the session.

    `replaces` is the session the browser held before (signing in again, or as another
    account): it ends, so its token is worthless even if it was copied.
    """
    if replaces is not None:
        end_sessions(UserSession.id == replaces.id)
    token = secrets.token_urlsafe(32)
    first = (Binding.select().where((Binding.account == account) & (Binding.state == "active"))
             .order_by(Binding.id).first())
    session = UserSession.create(token_hash=_token_hash(token), account=account,
                                 current_binding=first, address=address, authenticated_at=now())
    audit.record("login.ok", actor=account, binding=first, target_type="account",
                 target_id=account.id, address=address)
    return token, session


@dataclass
class SessionLimits:
    idle: datetime.timedelta
    absolute: datetime.timedelta


_LIVE_SESSION = Prepared(lambda: UserSession.select(UserSession, Account).join(Account)
                         .where((UserSession.token_hash == slot("token_hash"))
                                & UserSession.ended_at.is_null()).limit(1))


def resume_session(token: str, limits: SessionLimits) -> UserSession | None:
    """The live session for a cookie token, touching its idle clock; None when ended or timed out."""
    if not token:
        return None
    session = _LIVE_SESSION.first(token_hash=_token_hash(token))
    if session is None:
        return None
    if not session.account.is_active:
        # Ended for good: enabling the account again must not bring a copied cookie back.
        end_sessions(UserSession.id == session.id)
        return None
    t = now()
    if t - session.last_seen_at > limits.idle or t - session.created_at > limits.absolute:
        end_sessions(UserSession.id == session.id)
        return None
    # Writing on every request would serialize readers; a minute's precision is enough.
    if t - session.last_seen_at > datetime.timedelta(minutes=1):
        UserSession.update(last_seen_at=t).where(UserSession.id == session.id).execute()
    return session


def end_sessions(condition) -> int:
    """End every open session matching the condition."""
    return (UserSession.update(ended_at=now())
            .where(condition & UserSession.ended_at.is_null()).execute())


def logout(session: UserSession, *, address: str) -> None:
    """登出: end this session on the server."""
    end_sessions(UserSession.id == session.id)
    audit.record("logout", actor=session.account_id, binding=session.current_binding_id,
                 target_type="account", target_id=session.account_id, address=address)


def change_password(account: Account, old: str, new: str, *, session: UserSession,
                    address: str) -> None:
    """修改密码: check the old one, apply rules, end every other session of the account.

    Wrong old passwords count as failed logins, so a borrowed session cannot guess it freely.
    """
    refuse_if_throttled(account.username, address)
    if not password_matches(account, old):
        count_failure(account.username, address)
        audit.record("account.password_change_failed", actor=account,
                     binding=session.current_binding_id, target_type="account",
                     target_id=account.id, address=address, result="refused")
        raise AccountError("原密码不正确", "old_password")
    if old == new:
        raise AccountError("新密码不能与原密码相同", "new_password")
    try:
        check_password_rules(new, account.username)
    except AccountError as err:
        raise AccountError(str(err), "new_password") from None
    with database.atomic():
        account.password_hash = hash_password(new)
        account.password_changed_at = now()
        account.save(only=[Account.password_hash, Account.password_changed_at])
        end_sessions((UserSession.account == account) & (UserSession.id != session.id))
        audit.record("account.password_changed", actor=account, binding=session.current_binding_id,
                     target_type="account", target_id=account.id, address=address)


def recently_authenticated(session: UserSession) -> bool:
    """Whether the session's person proved who they are within REAUTH_WINDOW."""
    return (session.authenticated_at is not None
            and now() - session.authenticated_at <= REAUTH_WINDOW)


def mark_authenticated(session: UserSession) -> None:
    """Record that the session's person has just proved who they are again."""
    session.authenticated_at = now()
    UserSession.update(authenticated_at=session.authenticated_at).where(
        UserSession.id == session.id).execute()


def active_bindings(account_id: int) -> list[Binding]:
    """The account's active bindings, with their scopes loaded."""
    return list(Binding.select().where((Binding.account == account_id) & (Binding.state == "active"))
                .order_by(Binding.id))


def switch_binding(session: UserSession, binding_id: int, *, address: str) -> Binding:
    """切换身份: make another of the account's active bindings the current one."""
    binding = Binding.get_or_none((Binding.id == binding_id) & (Binding.account == session.account_id)
                                  & (Binding.state == "active"))
    if binding is None:
        audit.record("binding.switch", actor=session.account_id,
                     binding=session.current_binding_id, target_type="binding",
                     target_id=binding_id, address=address, result="refused")
        raise AccountError("无法切换到该身份")
    UserSession.update(current_binding=binding).where(UserSession.id == session.id).execute()
    audit.record("binding.switch", actor=session.account_id, binding=binding,
                 target_type="binding", target_id=binding.id, address=address)
    return binding

"""两步验证 service (SECURITY.md rows 8 and 10): enrolment, TOTP codes on a pinned clock, reuse
and time shifts refused, single-use recovery codes, throttling, disabling, re-authentication."""
import ast
import datetime
import inspect
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from tests.conftest import PASSWORD
from yanxiu.db import database
from yanxiu.models import AuditLog, LoginFailure, RecoveryCode, TwoFactor, UserSession
from yanxiu.models.base import now
from yanxiu.services import accounts, two_factor
from yanxiu.services.accounts import AccountError, LoginThrottled

# The middle of a 30-second step, so a step either side is exactly ±30 s away.
T = 30 * 56_666_667 + 15
ADDRESS = "10.0.0.1"


@pytest.fixture
def clock(monkeypatch):
    """The service's clock, pinned to T; `clock.at(t)` moves it."""
    class Clock:
        now = T

        def at(self, t):
            self.now = t

    pinned = Clock()
    monkeypatch.setattr(two_factor, "clock", lambda: pinned.now)
    return pinned


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)


def enable(account, clock) -> tuple[str, list[str]]:
    """Turn two-factor login on for `account` at the pinned time; its secret and recovery codes.
    The clock moves on a step so that the next code is not the one just used."""
    two_factor.begin_enrolment(account, address=ADDRESS)
    secret = two_factor.pending_enrolment(account).secret
    codes = two_factor.confirm_enrolment(account, code_at(secret, clock.now), address=ADDRESS)
    clock.at(clock.now + 30)
    return secret, codes


def refusals() -> list[str]:
    return [a for (a,) in AuditLog.select(AuditLog.action).where(AuditLog.result == "refused")
            .order_by(AuditLog.id).tuples()]


def actions() -> list[str]:
    return [a for (a,) in AuditLog.select(AuditLog.action).order_by(AuditLog.id).tuples()]


def test_service_does_not_touch_the_request():
    tree = ast.parse(inspect.getsource(two_factor))
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert not {m for m in modules | imported if m.split(".")[0] in ("flask", "flask_login")}


def test_sec08_enrolment_keeps_the_secret_encrypted_until_the_first_code(tree, clock):
    account = tree["accounts"]["xh_admin"]
    two_factor.begin_enrolment(account, address=ADDRESS)
    enrolment = two_factor.pending_enrolment(account)
    assert len(enrolment.secret) == 32
    uri = urlsplit(enrolment.uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/研修管理:xh_admin"
    assert parse_qs(uri.query)["issuer"] == ["研修管理"]
    assert parse_qs(uri.query)["secret"] == [enrolment.secret]
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")
    raw = database.execute_sql("SELECT secret_cipher FROM two_factor").fetchone()[0]
    assert enrolment.secret not in raw
    assert not two_factor.is_enabled(account.id)
    # Starting again replaces the unconfirmed secret.
    two_factor.begin_enrolment(account, address=ADDRESS)
    assert two_factor.pending_enrolment(account).secret != enrolment.secret
    assert TwoFactor.select().count() == 1


def test_sec08_a_wrong_first_code_leaves_it_off(tree, clock):
    account = tree["accounts"]["xh_admin"]
    two_factor.begin_enrolment(account, address=ADDRESS)
    secret = two_factor.pending_enrolment(account).secret
    wrong = f"{(int(code_at(secret, T)) + 1) % 1_000_000:06d}"
    with pytest.raises(AccountError, match="验证码不正确") as err:
        two_factor.confirm_enrolment(account, wrong, address=ADDRESS)
    assert err.value.field == "code"
    assert not two_factor.is_enabled(account.id)
    assert refusals() == ["two_factor.refused"]
    assert LoginFailure.select().where(LoginFailure.username == "xh_admin").count() == 1
    assert RecoveryCode.select().count() == 0


def test_sec08_the_first_code_turns_it_on_with_ten_hashed_recovery_codes(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, codes = enable(account, clock)
    assert two_factor.is_enabled(account.id)
    assert two_factor.pending_enrolment(account) is None
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    stored = {h for (h,) in RecoveryCode.select(RecoveryCode.code_hash).tuples()}
    assert len(stored) == 10
    assert not {c for c in codes for h in stored if c.replace("-", "") in h}
    assert actions()[-2:] == ["two_factor.enrolment_started", "two_factor.enabled"]
    assert two_factor.status(account.id).recovery_left == 10
    with pytest.raises(AccountError, match="已开启"):
        two_factor.begin_enrolment(account, address=ADDRESS)


def test_sec08_time_shifted_code_is_refused(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, _ = enable(account, clock)
    t = clock.now + 300
    clock.at(t)
    for shift in (-90, -60, 60, 90, 3600):
        with pytest.raises(AccountError):
            two_factor.complete_login(account.id, code_at(secret, t + shift), address=ADDRESS)
    assert refusals() == ["two_factor.refused"] * 5
    # One step of drift either way is allowed (valid_window=1).
    assert two_factor.complete_login(account.id, code_at(secret, t - 30),
                                     address="10.0.0.2").account.id == account.id
    assert two_factor.complete_login(account.id, code_at(secret, t + 30),
                                     address="10.0.0.2").account.id == account.id


def test_sec08_code_reused_in_its_window_is_refused(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, _ = enable(account, clock)
    t = clock.now
    code = code_at(secret, t)
    two_factor.complete_login(account.id, code, address=ADDRESS)
    for later in (t, t + 5, t + 29):
        clock.at(later)
        with pytest.raises(AccountError, match="已使用过"):
            two_factor.complete_login(account.id, code, address=ADDRESS)
    # An earlier step is no use either once a later one was accepted.
    with pytest.raises(AccountError):
        two_factor.complete_login(account.id, code_at(secret, t - 30), address=ADDRESS)
    clock.at(t + 30)
    two_factor.complete_login(account.id, code_at(secret, t + 30), address="10.0.0.2")


def test_sec08_the_enrolment_code_cannot_log_in(tree, clock):
    account = tree["accounts"]["xh_admin"]
    two_factor.begin_enrolment(account, address=ADDRESS)
    secret = two_factor.pending_enrolment(account).secret
    code = code_at(secret, T)
    two_factor.confirm_enrolment(account, code, address=ADDRESS)
    with pytest.raises(AccountError):
        two_factor.complete_login(account.id, code, address=ADDRESS)


def test_sec08_recovery_code_works_once(tree, clock):
    account = tree["accounts"]["xh_admin"]
    _, codes = enable(account, clock)
    passed = two_factor.complete_login(account.id, codes[3], address=ADDRESS)
    assert passed.recovery_used and passed.recovery_left == 9
    assert "two_factor.recovery_used" in actions()
    with pytest.raises(AccountError):
        two_factor.complete_login(account.id, codes[3], address=ADDRESS)
    # Typed in capitals and without the dashes, another one works.
    passed = two_factor.complete_login(account.id, codes[4].replace("-", "").upper(),
                                       address=ADDRESS)
    assert passed.recovery_left == 8
    assert RecoveryCode.select().where(RecoveryCode.used_at.is_null(False)).count() == 2


def test_sec08_another_accounts_recovery_code_is_refused(tree, clock):
    _, codes = enable(tree["accounts"]["xh_admin"], clock)
    enable(tree["accounts"]["hz_admin"], clock)
    with pytest.raises(AccountError):
        two_factor.complete_login(tree["accounts"]["hz_admin"].id, codes[0], address=ADDRESS)
    assert two_factor.recovery_codes_left(tree["accounts"]["xh_admin"].id) == 10


def test_sec08_wrong_codes_are_throttled_like_passwords(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, _ = enable(account, clock)
    for _ in range(accounts.ADDRESS_LIMIT):
        with pytest.raises(AccountError):
            two_factor.complete_login(account.id, "000000", address="10.9.9.9")
    with pytest.raises(LoginThrottled):
        two_factor.complete_login(account.id, code_at(secret, clock.now), address="10.9.9.9")
    assert "login.throttled" in refusals()
    # The failures count for the account as a password's would.
    assert LoginFailure.select().where(LoginFailure.username == "xh_admin").count() == 5


def test_sec08_login_of_a_disabled_account_or_without_two_factor_is_refused(tree, clock):
    account = tree["accounts"]["xh_admin"]
    with pytest.raises(AccountError, match="重新登录"):
        two_factor.complete_login(account.id, "123456", address=ADDRESS)
    secret, _ = enable(account, clock)
    account.is_active = False
    account.save()
    with pytest.raises(AccountError, match="重新登录"):
        two_factor.complete_login(account.id, code_at(secret, clock.now), address=ADDRESS)


def test_sec08_disable_needs_the_password_and_a_code(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, _ = enable(account, clock)
    with pytest.raises(AccountError) as err:
        two_factor.disable(account, "Wrong-pass-123", code_at(secret, clock.now), address=ADDRESS)
    assert err.value.field == "password"
    with pytest.raises(AccountError) as err:
        two_factor.disable(account, PASSWORD, "000000", address=ADDRESS)
    assert err.value.field == "code"
    assert two_factor.is_enabled(account.id)
    assert refusals() == ["two_factor.refused", "two_factor.refused"]
    two_factor.disable(account, PASSWORD, code_at(secret, clock.now), address=ADDRESS)
    assert not two_factor.is_enabled(account.id)
    assert TwoFactor.select().count() == 0 and RecoveryCode.select().count() == 0
    assert actions()[-1] == "two_factor.disabled"
    with pytest.raises(AccountError, match="未开启"):
        two_factor.disable(account, PASSWORD, code_at(secret, clock.now + 30), address=ADDRESS)


def test_sec08_disable_with_a_recovery_code_when_the_phone_is_lost(tree, clock):
    account = tree["accounts"]["xh_admin"]
    _, codes = enable(account, clock)
    two_factor.disable(account, PASSWORD, codes[0], address=ADDRESS)
    assert not two_factor.is_enabled(account.id)


def test_sec08_new_recovery_codes_replace_the_old(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, old = enable(account, clock)
    with pytest.raises(AccountError):
        two_factor.regenerate_recovery_codes(account, old[0], address=ADDRESS)
    new = two_factor.regenerate_recovery_codes(account, code_at(secret, clock.now),
                                               address=ADDRESS)
    assert len(new) == 10 and not set(new) & set(old)
    assert "two_factor.recovery_regenerated" in actions()
    with pytest.raises(AccountError):
        two_factor.complete_login(account.id, old[1], address=ADDRESS)
    assert two_factor.complete_login(account.id, new[1], address=ADDRESS).recovery_used


def test_sec08_enrolment_is_required_only_for_admins_under_the_setting(tree, clock):
    admin, teacher = tree["accounts"]["xh_admin"], tree["accounts"]["teacher"]
    assert not two_factor.enrolment_required(admin.id, True, False)
    assert two_factor.enrolment_required(admin.id, True, True)
    assert not two_factor.enrolment_required(teacher.id, False, True)
    enable(admin, clock)
    assert not two_factor.enrolment_required(admin.id, True, True)


def _age_session(session, minutes: int) -> UserSession:
    UserSession.update(authenticated_at=now() - datetime.timedelta(minutes=minutes)).where(
        UserSession.id == session.id).execute()
    return UserSession.get_by_id(session.id)


def test_sec10_login_counts_as_authentication_for_five_minutes(tree):
    _, session = accounts.start_session(tree["accounts"]["xh_admin"], address=ADDRESS)
    assert accounts.recently_authenticated(session)
    assert accounts.recently_authenticated(_age_session(session, 4))
    assert not accounts.recently_authenticated(_age_session(session, 6))


def test_sec10_reauthentication_with_the_password(tree):
    account = tree["accounts"]["xh_admin"]
    _, session = accounts.start_session(account, address=ADDRESS)
    session = _age_session(session, 6)
    with pytest.raises(AccountError, match="密码不正确") as err:
        two_factor.reauthenticate(account, "Wrong-pass-123", session=session, address=ADDRESS)
    assert err.value.field == "reauth_secret"
    assert not accounts.recently_authenticated(UserSession.get_by_id(session.id))
    assert refusals() == ["account.reauth_failed"]
    two_factor.reauthenticate(account, PASSWORD, session=session, address=ADDRESS)
    assert accounts.recently_authenticated(UserSession.get_by_id(session.id))
    assert actions()[-1] == "account.reauthenticated"


def test_sec10_reauthentication_with_a_fresh_code_when_two_factor_is_on(tree, clock):
    account = tree["accounts"]["xh_admin"]
    secret, _ = enable(account, clock)
    _, session = accounts.start_session(account, address=ADDRESS)
    session = _age_session(session, 6)
    code = code_at(secret, clock.now)
    two_factor.reauthenticate(account, code, session=session, address=ADDRESS)
    session = _age_session(session, 6)
    with pytest.raises(AccountError, match="密码或验证码不正确"):
        two_factor.reauthenticate(account, code, session=session, address=ADDRESS)
    two_factor.reauthenticate(account, PASSWORD, session=session, address=ADDRESS)
    assert accounts.recently_authenticated(UserSession.get_by_id(session.id))


def test_sec10_reauthentication_guesses_are_throttled(tree):
    account = tree["accounts"]["xh_admin"]
    _, session = accounts.start_session(account, address=ADDRESS)
    for _ in range(accounts.ADDRESS_LIMIT):
        with pytest.raises(AccountError):
            two_factor.reauthenticate(account, "Wrong-pass-123", session=session,
                                      address="10.8.8.8")
    with pytest.raises(LoginThrottled):
        two_factor.reauthenticate(account, PASSWORD, session=session, address="10.8.8.8")

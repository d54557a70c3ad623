"""Accounts service: password rules, the bundled common-password list, throttling, sessions."""
import ast
import datetime
import hashlib
import inspect
import re

import pytest

from tests.conftest import PASSWORD
from yanxiu.models import Account, AuditLog, Binding, LoginFailure, UserSession
from yanxiu.models.base import now
from yanxiu.services import accounts, audit
from yanxiu.services.accounts import AccountError, LoginThrottled, SessionLimits

LIMITS = SessionLimits(idle=datetime.timedelta(minutes=30), absolute=datetime.timedelta(hours=12))


def actions() -> list[str]:
    return [a for (a,) in AuditLog.select(AuditLog.action).order_by(AuditLog.id).tuples()]


def test_services_do_not_touch_the_request():
    tree = ast.parse(inspect.getsource(accounts))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names}
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in modules | imported if m and m.split(".")[0] in ("flask", "flask_login")}
    assert "request" not in imported


def test_bundled_list_is_large_lowercase_and_holds_the_usual_suspects():
    common = accounts.common_passwords()
    assert len(common) >= 1000
    assert all(p == p.lower() and p.strip() == p and p for p in common)
    for password in ("123456", "password", "qwerty", "iloveyou", "111111", "abc123", "woaini1314",
                     "5201314", "a123456", "qq123456", "aa123456", "123456aa", "zxcvbnm",
                     "1qaz2wsx", "woaini2020", "password1", "qwer1234", "abcd1234"):
        assert password in common, password
    assert PASSWORD.lower() not in common


def test_sec06_every_bundled_common_password_is_refused():
    mixed = [p for p in accounts.common_passwords()
             if len(p) >= 8 and re.search(r"[a-z]", p) and re.search(r"[0-9]", p)]
    assert len(mixed) >= 1000
    for password in mixed:
        with pytest.raises(AccountError):
            accounts.check_password_rules(password)
        # Capitalising a common password doesn't make it uncommon.
        with pytest.raises(AccountError):
            accounts.check_password_rules(password.capitalize())


@pytest.mark.parametrize("password, message", [
    ("Ab1cd9x", "至少 8 位"),
    ("abcdefghijk", "字母和数字"),
    ("1234567890123", "字母和数字"),
    ("Aa1" + "x9" * 63, "不能超过 128 位"),
    ("Woaini2020", "过于常见"),
    ("zhangsan-Q7x9k", "包含用户名"),
])
def test_password_rules_refuse_with_a_chinese_message(app, password, message):
    with pytest.raises(AccountError) as err:
        accounts.check_password_rules(password, "zhangsan")
    assert message in str(err.value) and err.value.field == "password"


def test_sec06_long_and_unusual_passwords_are_accepted(app):
    accounts.check_password_rules("Kx7" + "pq9z" * 31 + "a")  # 128 characters
    accounts.check_password_rules("长城Great9wall慢慢走")


def test_sec06_register_stores_an_argon2id_hash_and_audits(app):
    account = accounts.register("  liming ", " 李明 ", "Mu7-tide-Harbour")
    assert account.username == "liming" and account.display_name == "李明"
    assert account.password_hash.startswith("$argon2id$")
    assert "Mu7-tide-Harbour" not in account.password_hash
    assert actions() == ["account.register"]


def test_register_refuses_a_duplicate_name_in_any_case(app):
    accounts.register("liming", "李明", "Mu7-tide-Harbour")
    for name in ("liming", "LiMing"):
        with pytest.raises(AccountError, match="该用户名已被注册"):
            accounts.register(name, "李明", "Other-9-password")
    assert Account.select().count() == 1


@pytest.mark.parametrize("username, display_name, field", [
    ("1abc", "李明", "username"),
    ("ab", "李明", "username"),
    ("li ming", "李明", "username"),
    ("li-ming", "李明", "username"),
    ("a" * 33, "李明", "username"),
    ("李明abc", "李明", "username"),
    ("liming", "李", "display_name"),
    ("liming", "李明2", "display_name"),
    ("liming", "<b>李明</b>", "display_name"),
])
def test_register_refuses_malformed_names(app, username, display_name, field):
    with pytest.raises(AccountError) as err:
        accounts.register(username, display_name, "Mu7-tide-Harbour")
    assert err.value.field == field
    assert Account.select().count() == 0


def test_authenticate_counts_failures_and_gives_one_message(tree):
    with pytest.raises(AccountError) as wrong:
        accounts.authenticate("xh_admin", "Wrong-pass-1", address="10.0.0.1")
    with pytest.raises(AccountError) as unknown:
        accounts.authenticate("nobody", "Wrong-pass-1", address="10.0.0.1")
    assert str(wrong.value) == str(unknown.value) == "用户名或密码错误"
    assert LoginFailure.select().count() == 2
    assert accounts.authenticate("xh_admin", PASSWORD, address="10.0.0.1").username == "xh_admin"


def test_sec09_disabled_account_cannot_log_in(tree):
    Account.update(is_active=False).where(Account.username == "xh_admin").execute()
    with pytest.raises(AccountError, match="用户名或密码错误"):
        accounts.authenticate("xh_admin", PASSWORD, address="10.0.0.1")


def test_sec07_address_throttle_after_five_failures_a_minute(tree):
    for _ in range(5):
        with pytest.raises(AccountError):
            accounts.authenticate("xh_admin", "Wrong-pass-1", address="10.0.0.1")
    with pytest.raises(LoginThrottled):
        accounts.authenticate("xh_admin", PASSWORD, address="10.0.0.1")
    # Another account from that address is refused too; the address is the key.
    with pytest.raises(LoginThrottled):
        accounts.authenticate("hz_admin", PASSWORD, address="10.0.0.1")
    # A minute later the address may try again.
    LoginFailure.update(at=now() - datetime.timedelta(seconds=61)).execute()
    assert accounts.authenticate("xh_admin", PASSWORD, address="10.0.0.1")


def test_sec07_account_throttle_after_ten_failures_in_fifteen_minutes(tree):
    for i in range(10):
        with pytest.raises(AccountError):
            accounts.authenticate("xh_admin", "Wrong-pass-1", address=f"10.0.1.{i}")
    with pytest.raises(LoginThrottled):
        accounts.authenticate("xh_admin", PASSWORD, address="10.0.2.1")
    assert accounts.authenticate("hz_admin", PASSWORD, address="10.0.2.1")
    LoginFailure.update(at=now() - datetime.timedelta(minutes=16)).execute()
    assert accounts.authenticate("xh_admin", PASSWORD, address="10.0.2.1")
    assert actions().count("login.throttled") == 1


def test_sec09_sessions_store_only_a_hash_of_the_token(tree):
    account = tree["accounts"]["multi"]
    token, session = accounts.start_session(account, address="10.0.0.1")
    assert len(token) >= 43  # 256 bits, URL-safe
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert UserSession.select().where(UserSession.token_hash == token).count() == 0
    # The first active binding is current.
    assert session.current_binding_id == min(b.id for b in accounts.active_bindings(account.id))
    assert accounts.resume_session(token, LIMITS).id == session.id
    assert accounts.resume_session("forged", LIMITS) is None
    assert accounts.resume_session("", LIMITS) is None


def test_sec09_two_logins_get_different_tokens_and_replacing_ends_the_old(tree):
    account = tree["accounts"]["xh_admin"]
    first, first_session = accounts.start_session(account, address="10.0.0.1")
    second, _ = accounts.start_session(account, address="10.0.0.1", replaces=first_session)
    assert first != second
    assert accounts.resume_session(first, LIMITS) is None
    assert accounts.resume_session(second, LIMITS) is not None


@pytest.mark.parametrize("field, age, alive", [
    ("last_seen_at", datetime.timedelta(minutes=29), True),
    ("last_seen_at", datetime.timedelta(minutes=31), False),
    ("created_at", datetime.timedelta(hours=11), True),
    ("created_at", datetime.timedelta(hours=13), False),
])
def test_sec10_idle_and_absolute_timeouts(tree, field, age, alive):
    token, session = accounts.start_session(tree["accounts"]["xh_admin"], address="10.0.0.1")
    UserSession.update({getattr(UserSession, field): now() - age}).where(
        UserSession.id == session.id).execute()
    assert (accounts.resume_session(token, LIMITS) is not None) is alive
    ended = UserSession.get_by_id(session.id).ended_at
    assert (ended is None) is alive


def test_resuming_touches_the_idle_clock(tree):
    token, session = accounts.start_session(tree["accounts"]["xh_admin"], address="10.0.0.1")
    UserSession.update(last_seen_at=now() - datetime.timedelta(minutes=20)).where(
        UserSession.id == session.id).execute()
    accounts.resume_session(token, LIMITS)
    assert now() - UserSession.get_by_id(session.id).last_seen_at < datetime.timedelta(minutes=1)


def test_sec09_logout_ends_the_session(tree):
    token, session = accounts.start_session(tree["accounts"]["xh_admin"], address="10.0.0.1")
    accounts.logout(session, address="10.0.0.1")
    assert accounts.resume_session(token, LIMITS) is None
    assert actions()[-1] == "logout"


def test_sec09_password_change_ends_other_sessions_only(tree):
    account = tree["accounts"]["xh_admin"]
    mine, my_session = accounts.start_session(account, address="10.0.0.1")
    other, _ = accounts.start_session(account, address="10.0.0.2")
    stranger, _ = accounts.start_session(tree["accounts"]["hz_admin"], address="10.0.0.3")
    accounts.change_password(account, PASSWORD, "New-Harbour-42", session=my_session,
                             address="10.0.0.1")
    assert accounts.resume_session(mine, LIMITS) is not None
    assert accounts.resume_session(other, LIMITS) is None
    assert accounts.resume_session(stranger, LIMITS) is not None
    assert accounts.authenticate("xh_admin", "New-Harbour-42", address="10.0.0.1")
    assert actions()[-1] == "account.password_changed"


@pytest.mark.parametrize("old, new, field, message", [
    ("Wrong-pass-1", "New-Harbour-42", "old_password", "原密码不正确"),
    (PASSWORD, PASSWORD, "new_password", "不能与原密码相同"),
    (PASSWORD, "woaini1314", "new_password", "过于常见"),
    (PASSWORD, "short1", "new_password", "至少 8 位"),
])
def test_password_change_refusals(tree, old, new, field, message):
    account = tree["accounts"]["xh_admin"]
    _, session = accounts.start_session(account, address="10.0.0.1")
    before = account.password_hash
    with pytest.raises(AccountError) as err:
        accounts.change_password(account, old, new, session=session, address="10.0.0.1")
    assert err.value.field == field and message in str(err.value)
    assert Account.get_by_id(account.id).password_hash == before


def test_guessing_the_old_password_is_throttled(tree):
    account = tree["accounts"]["xh_admin"]
    _, session = accounts.start_session(account, address="10.0.0.1")
    for _ in range(5):
        with pytest.raises(AccountError, match="原密码不正确"):
            accounts.change_password(account, "Wrong-pass-1", "New-Harbour-42", session=session,
                                     address="10.0.0.1")
    with pytest.raises(LoginThrottled):
        accounts.change_password(account, PASSWORD, "New-Harbour-42", session=session,
                                 address="10.0.0.1")
    assert actions().count("account.password_change_failed") == 5


def test_switch_binding_only_to_own_active_bindings(tree):
    multi = tree["accounts"]["multi"]
    _, session = accounts.start_session(multi, address="10.0.0.1")
    own = accounts.active_bindings(multi.id)
    assert len(own) == 2
    switched = accounts.switch_binding(session, own[1].id, address="10.0.0.1")
    assert UserSession.get_by_id(session.id).current_binding_id == switched.id == own[1].id

    foreign = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    with pytest.raises(AccountError):
        accounts.switch_binding(session, foreign.id, address="10.0.0.1")
    Binding.update(state="ended").where(Binding.id == own[0].id).execute()
    with pytest.raises(AccountError):
        accounts.switch_binding(session, own[0].id, address="10.0.0.1")
    assert UserSession.get_by_id(session.id).current_binding_id == own[1].id
    results = [(e.action, e.result) for e in AuditLog.select().where(AuditLog.action == "binding.switch")]
    assert results == [("binding.switch", "ok"), ("binding.switch", "refused"),
                       ("binding.switch", "refused")]


def test_sec19_audit_chain_covers_account_acts_and_detects_tampering(tree):
    account = tree["accounts"]["xh_admin"]
    with pytest.raises(AccountError):
        accounts.authenticate("xh_admin", "Wrong-pass-1", address="10.0.0.1")
    _, session = accounts.start_session(account, address="10.0.0.1")
    accounts.change_password(account, PASSWORD, "New-Harbour-42", session=session,
                             address="10.0.0.1")
    accounts.logout(session, address="10.0.0.1")
    assert {"account.register", "login.failed", "login.ok", "account.password_changed",
            "logout"} <= set(actions())
    assert audit.verify_chain() == []
    row = AuditLog.get(AuditLog.action == "login.ok")
    AuditLog.update(after='{"forged": true}').where(AuditLog.id == row.id).execute()
    assert audit.verify_chain() == [row.id]

"""登录、注册、登出、修改密码、切换身份 over HTTP: throttling, sessions, CSRF, cookies, audit."""
import datetime
import hashlib
import json
import re
from html import unescape

import pytest

from tests.conftest import PASSWORD, TEST_CONFIG, csrf_token, form_post, log_in
from yanxiu import create_app
from yanxiu.models import Account, AuditLog, Binding, UserSession
from yanxiu.models.base import now
from yanxiu.services import audit

COOKIE = "yanxiu_session"
THROTTLED = "登录失败次数过多"


def open_sessions(username: str):
    return (UserSession.select().join(Account)
            .where((Account.username == username) & UserSession.ended_at.is_null()))


def user_id_in_cookie(app, client) -> str | None:
    """The server-session token the signed cookie carries (Flask-Login's `_user_id`)."""
    cookie = client.get_cookie(COOKIE)
    if cookie is None:
        return None
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    return data.get("_user_id")


def is_logged_out(response) -> bool:
    return response.status_code in (302, 303) and response.location.startswith("/login")


def hx_csrf_token(html: str) -> str:
    """The token htmx sends, read from the page's `hx-headers` like htmx itself does."""
    match = re.search(r"hx-headers='([^']+)'", html)
    assert match, "no hx-headers on the page"
    return json.loads(unescape(match.group(1)))["X-CSRFToken"]


def client_at(app, address: str):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def identity(page) -> tuple[str, str]:
    """The header's identity badge and scope trail."""
    badge = re.search(r'<span class="badge">([^<]*)</span>', page.text)
    scope = re.search(r'<span class="scope"[^>]*>([^<]*)</span>', page.text)
    return badge.group(1), scope.group(1) if scope else ""


def actions() -> list[str]:
    return [a for (a,) in AuditLog.select(AuditLog.action).order_by(AuditLog.id).tuples()]


def register(client, username="liming", display_name="李明", password="Mu7-tide-Harbour",
             confirm=None):
    return form_post(client, "/register", {
        "username": username, "display_name": display_name, "password": password,
        "confirm": password if confirm is None else confirm})


# ---- login -------------------------------------------------------------------------------

def test_login_page_is_a_plain_form(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert '<form method="post" action="/login"' in page.text
    assert 'name="csrf_token"' in page.text and "管理员登录" in page.text


def test_login_redirects_to_workbench_with_name_and_binding(tree, client):
    response = log_in(client, "xh_admin")
    assert response.status_code == 303
    assert response.location == "/workbench"
    page = client.get("/workbench")
    assert page.status_code == 200
    assert "西湖专管" in page.text and "研修专项管理员" in page.text
    assert "浙江省 › 杭州市 › 西湖区" in page.text


def test_login_follows_a_local_next_only(tree, app):
    for target, expected in [("/regions", "/regions"), ("//evil.example/x", "/workbench"),
                             ("/\\evil.example", "/workbench"), ("https://evil.example/", "/workbench")]:
        client = app.test_client()
        response = form_post(client, "/login", {"username": "xh_admin", "password": PASSWORD,
                                                "next": target})
        assert response.status_code == 303 and response.location == expected, target


def test_login_prompt_carries_next(tree, client):
    response = client.get("/regions?page=2")
    assert is_logged_out(response)
    assert "next=" in response.location
    page = client.get(response.location)
    assert 'name="next" type="hidden" value="/regions?page=2"' in page.text


def test_wrong_password_keeps_the_username(tree, client):
    response = log_in(client, "xh_admin", "Wrong-pass-1")
    assert response.status_code == 422
    assert "用户名或密码错误" in response.text
    assert 'value="xh_admin"' in response.text
    assert "Wrong-pass-1" not in response.text
    assert is_logged_out(client.get("/workbench"))


def test_unknown_user_gets_the_same_answer(tree, client):
    wrong = log_in(client, "xh_admin", "Wrong-pass-1")
    unknown = log_in(client, "no_such_user", "Wrong-pass-1")
    assert unknown.status_code == wrong.status_code == 422

    def without(text: str, name: str) -> str:
        return re.sub(r'name="csrf_token"[^>]*>', "", text).replace(name, "")

    assert without(unknown.text, "no_such_user") == without(wrong.text, "xh_admin")


def test_long_unknown_username_is_an_ordinary_failure(tree, client):
    response = log_in(client, "u" * 64, "Wrong-pass-1")
    assert response.status_code == 422 and "用户名或密码错误" in response.text
    assert log_in(client, "u" * 65, "Wrong-pass-1").status_code == 422


def test_empty_login_form_is_422_in_chinese(client):
    response = form_post(client, "/login", {"username": "", "password": ""})
    assert response.status_code == 422
    assert "请输入用户名" in response.text and "请输入密码" in response.text


def test_signed_in_user_visiting_login_goes_to_workbench(login_as):
    response = login_as("xh_admin").get("/login")
    assert response.status_code == 302 and response.location == "/workbench"


# ---- throttling --------------------------------------------------------------------------

def test_sec07_sixth_failed_login_in_a_minute_is_429_in_chinese(tree, client):
    for _ in range(5):
        assert log_in(client, "xh_admin", "Wrong-pass-1").status_code == 422
    response = log_in(client, "xh_admin")  # even the right password
    assert response.status_code == 429
    assert THROTTLED in response.text
    assert response.headers["Retry-After"] == "60"
    assert 'value="xh_admin"' in response.text
    assert is_logged_out(client.get("/workbench"))


def test_sec07_ten_failures_for_one_account_from_many_addresses_lock_it(tree, app):
    for i in range(10):
        client = client_at(app, f"10.9.0.{i}")
        assert log_in(client, "xh_admin", "Wrong-pass-1").status_code == 422
    fresh = client_at(app, "10.9.1.1")
    response = log_in(fresh, "xh_admin")
    assert response.status_code == 429 and THROTTLED in response.text
    # Other accounts from that address are unaffected.
    assert log_in(fresh, "hz_admin").status_code == 303


def test_sec21_spoofed_forwarded_for_does_not_move_the_rate_limit_key(tree, client):
    for i in range(5):
        response = form_post(client, "/login", {"username": "xh_admin", "password": "Wrong-pass-1"},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert response.status_code == 422
    response = form_post(client, "/login", {"username": "xh_admin", "password": PASSWORD},
                         headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 429
    assert {e.address for e in AuditLog.select().where(AuditLog.action == "login.failed")} == {"127.0.0.1"}


def test_sec21_a_trusted_proxy_supplies_the_address(tree, database_url):
    proxied = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, "TRUSTED_PROXIES": 1})
    for i in range(6):
        client = proxied.test_client()
        response = form_post(client, "/login", {"username": f"user{i}", "password": "Wrong-pass-1"},
                             headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert response.status_code == 422
    assert AuditLog.get(AuditLog.action == "login.failed").address == "203.0.113.0"


def test_sec07_a_fresh_database_has_no_accounts_until_create_operator(app, runner, tmp_path,
                                                                     monkeypatch):
    """No default account: the migrated database is empty, the usual default credentials get the
    ordinary refusal, and the first account is the operator `flask create-operator` makes."""
    assert Account.select().count() == 0 and Binding.select().count() == 0
    for i, (username, password) in enumerate([
            ("admin", "admin"), ("admin", "Admin@123"), ("operator", "Demo@2025"), ("root", "123456"),
            ("operator", "operator"), ("yanxiu", "yanxiu")]):
        response = log_in(client_at(app, f"10.70.0.{i}"), username, password)
        assert response.status_code == 422 and "用户名或密码错误" in response.text, username
    from tests.fixture_tree import REGIONS, write_region_csv
    assert runner.invoke(args=["regions", "load", str(write_region_csv(REGIONS, tmp_path))]).exit_code == 0
    assert Account.select().count() == 0
    monkeypatch.setenv("YANXIU_OPERATOR_PASSWORD", "First-Operator-9")
    result = runner.invoke(args=["create-operator", "chief"])
    assert result.exit_code == 0, result.output
    assert [a.username for a in Account.select()] == ["chief"]
    binding = Binding.get()
    assert (binding.role, binding.region.code, binding.state) == ("operator", "000000", "active")
    client = client_at(app, "10.70.1.1")
    assert log_in(client, "chief", "First-Operator-9").status_code == 303
    assert "平台运维" in client.get("/workbench").text
    # a second run does not make a second operator with the same name
    assert runner.invoke(args=["create-operator", "chief"]).exit_code == 1
    assert Account.select().count() == 1


# ---- sessions ----------------------------------------------------------------------------

def test_sec09_login_issues_a_new_session_id(tree, app, client):
    client.get("/login")
    before = client.get_cookie(COOKIE).value
    assert user_id_in_cookie(app, client) is None
    assert log_in(client, "xh_admin").status_code == 303
    assert client.get_cookie(COOKIE).value != before
    token = user_id_in_cookie(app, client)
    assert token
    # The pre-login cookie (one an attacker could have planted) does not carry the login.
    planted = app.test_client()
    planted.set_cookie(COOKIE, before)
    assert is_logged_out(planted.get("/workbench"))
    # A second login gets another token and ends the first server session.
    assert log_in(client, "xh_admin").status_code == 303
    assert user_id_in_cookie(app, client) != token
    assert open_sessions("xh_admin").count() == 1


def test_sec09_logging_in_as_another_account_ends_the_previous_session(login_as):
    client = login_as("xh_admin")
    assert log_in(client, "hz_admin").status_code == 303
    assert open_sessions("xh_admin").count() == 0
    assert "杭州专管" in client.get("/workbench").text


def test_sec09_old_cookie_replayed_after_logout_is_not_logged_in(login_as, app):
    client = login_as("xh_admin")
    old_cookie = client.get_cookie(COOKIE).value
    response = form_post(client, "/logout")
    assert response.status_code == 303 and response.location == "/login"
    assert is_logged_out(client.get("/workbench"))
    assert open_sessions("xh_admin").count() == 0
    replay = app.test_client()
    replay.set_cookie(COOKIE, old_cookie)
    assert is_logged_out(replay.get("/workbench"))


@pytest.mark.parametrize("end", ["logout", "disable", "password change"])
def test_sec09_an_old_cookie_replayed_after_its_session_ended_is_not_logged_in(login_as, app, end):
    """A copied cookie of a session that logout, disabling the account or a password change
    (made from another session) ended signs nobody in — not even after the account is enabled
    again — and the server-side session is ended, not just refused."""
    victim = login_as("xh_admin")
    stolen = victim.get_cookie(COOKIE).value
    assert victim.get("/workbench").status_code == 200
    if end == "logout":
        form_post(victim, "/logout")
    elif end == "disable":
        Account.update(is_active=False).where(Account.username == "xh_admin").execute()
    else:
        owner = login_as("xh_admin")
        assert form_post(owner, "/account/password", {
            "old_password": PASSWORD, "new_password": "New-Harbour-42",
            "confirm": "New-Harbour-42"}).status_code == 303
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    for url in ("/workbench", "/teachers", "/me"):
        assert is_logged_out(replay.get(url)), url
        assert is_logged_out(replay.get(url, headers={"HX-Request": "true"})), url
    Account.update(is_active=True).where(Account.username == "xh_admin").execute()
    assert is_logged_out(replay.get("/workbench"))
    token = app.session_interface.get_signing_serializer(app).loads(stolen)["_user_id"]
    ended = UserSession.get(UserSession.token_hash == hashlib.sha256(token.encode()).hexdigest())
    assert ended.ended_at is not None


def test_logout_by_get_is_not_allowed(login_as):
    client = login_as("xh_admin")
    assert client.get("/logout").status_code == 405
    assert client.get("/workbench").status_code == 200


def test_sec09_password_change_ends_other_sessions_but_keeps_this_one(login_as):
    laptop, phone = login_as("xh_admin"), login_as("xh_admin")
    page = laptop.get("/account/password")
    assert page.status_code == 200 and '<form method="post" action="/account/password"' in page.text
    response = form_post(laptop, "/account/password", {
        "old_password": PASSWORD, "new_password": "New-Harbour-42", "confirm": "New-Harbour-42"})
    assert response.status_code == 303 and response.location == "/workbench"
    assert "密码已修改" in laptop.get("/workbench").text
    assert is_logged_out(phone.get("/workbench"))
    assert laptop.get("/workbench").status_code == 200
    assert log_in(phone, "xh_admin", "New-Harbour-42").status_code == 303


@pytest.mark.parametrize("data, message", [
    ({"old_password": "Wrong-pass-1", "new_password": "New-Harbour-42", "confirm": "New-Harbour-42"},
     "原密码不正确"),
    ({"old_password": PASSWORD, "new_password": "woaini2020", "confirm": "woaini2020"}, "过于常见"),
    ({"old_password": PASSWORD, "new_password": "New-Harbour-42", "confirm": "New-Harbour-43"},
     "两次输入的密码不一致"),
])
def test_password_change_refusals_are_422(login_as, data, message):
    client = login_as("xh_admin")
    other = login_as("xh_admin")
    response = form_post(client, "/account/password", data)
    assert response.status_code == 422 and message in response.text
    assert other.get("/workbench").status_code == 200


def test_guessing_the_old_password_is_throttled(login_as):
    client = login_as("xh_admin")
    wrong = {"old_password": "Wrong-pass-1", "new_password": "New-Harbour-42",
             "confirm": "New-Harbour-42"}
    for _ in range(5):
        assert form_post(client, "/account/password", wrong).status_code == 422
    response = form_post(client, "/account/password", {**wrong, "old_password": PASSWORD})
    assert response.status_code == 429 and THROTTLED in response.text


@pytest.mark.parametrize("field, age, alive", [
    ("last_seen_at", datetime.timedelta(minutes=29), True),
    ("last_seen_at", datetime.timedelta(minutes=31), False),
    ("created_at", datetime.timedelta(hours=11, minutes=59), True),
    ("created_at", datetime.timedelta(hours=13), False),
])
def test_sec10_idle_and_absolute_timeouts(login_as, field, age, alive):
    client = login_as("xh_admin")
    UserSession.update({getattr(UserSession, field): now() - age}).execute()
    response = client.get("/workbench")
    if alive:
        assert response.status_code == 200
    else:
        assert is_logged_out(response)
        assert open_sessions("xh_admin").count() == 0


def test_sec09_disabled_account_is_signed_out(login_as):
    client = login_as("xh_admin")
    Account.update(is_active=False).where(Account.username == "xh_admin").execute()
    assert is_logged_out(client.get("/workbench"))


# ---- CSRF and cookies --------------------------------------------------------------------

def test_sec12_login_post_without_token_is_400(tree, client):
    client.get("/login")
    response = client.post("/login", data={"username": "xh_admin", "password": PASSWORD})
    assert response.status_code == 400 and "页面已过期" in response.text
    assert is_logged_out(client.get("/workbench"))


def test_sec12_logout_without_token_is_400_and_changes_nothing(login_as):
    client = login_as("xh_admin")
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/workbench").status_code == 200
    assert open_sessions("xh_admin").count() == 1


def test_sec12_csrf_token_of_another_session_is_refused(login_as):
    mine, theirs = login_as("multi"), login_as("xh_admin")
    binding = Binding.select().join(Account).where(Account.username == "multi").order_by(Binding.id.desc()).first()
    response = mine.post("/account/binding", data={"binding_id": binding.id,
                                                   "csrf_token": csrf_token(theirs)})
    assert response.status_code == 400


def test_sec12_htmx_post_needs_the_header_token(login_as):
    client = login_as("multi")
    page = client.get("/workbench")
    school_binding = Binding.select().join(Account).where(
        (Account.username == "multi") & (Binding.role == "school")).get()
    hx = {"HX-Request": "true"}
    refused = client.post("/account/binding", data={"binding_id": school_binding.id}, headers=hx)
    assert refused.status_code == 400
    assert identity(client.get("/workbench"))[0] == "研修专项管理员"
    accepted = client.post("/account/binding", data={"binding_id": school_binding.id},
                           headers={**hx, "X-CSRFToken": hx_csrf_token(page.text)})
    assert accepted.status_code == 303
    assert identity(client.get("/workbench"))[0] == "学校管理员"


def test_sec11_session_cookie_is_httponly_and_samesite_lax(tree, app, client):
    response = log_in(client, "xh_admin")
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "=")]
    assert len(cookies) == 1
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookies[0].split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax"
    assert "secure" not in attributes  # plain http in tests; see the next test


def test_sec11_session_cookie_is_secure_when_configured(tree, app):
    app.config["SESSION_COOKIE_SECURE"] = True
    client = app.test_client()
    response = log_in(client, "xh_admin")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("secure", [True, False], ids=["https", "http"])
def test_sec11_every_cookie_the_app_sets_is_httponly_and_lax_and_secure_over_https(
        tree, app, monkeypatch, secure):
    """Every Set-Cookie of a round of register, login (with and without the two-factor step),
    切换身份, password change, a refused CSRF post and logout: HttpOnly, SameSite=Lax, and Secure
    exactly when YANXIU_SECURE_COOKIES=1 says the site is served over https."""
    import pyotp

    from yanxiu.config import load_config
    from yanxiu.services import two_factor
    monkeypatch.setenv("YANXIU_SECURE_COOKIES", "1" if secure else "0")
    app.config["SESSION_COOKIE_SECURE"] = load_config(str(app.instance_path))["SESSION_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    seen = []

    def watch(response):
        seen.extend(response.headers.getlist("Set-Cookie"))
        return response

    client = app.test_client()
    watch(client.get("/login"))
    watch(register(client))
    watch(form_post(client, "/logout"))
    multi = app.test_client()
    watch(log_in(multi, "multi"))
    school = Binding.select().join(Account).where((Account.username == "multi") & (Binding.role == "school")).get()
    watch(form_post(multi, "/account/binding", {"binding_id": school.id}))
    watch(multi.post("/account/binding", data={"binding_id": school.id}))  # no token: 400
    watch(form_post(multi, "/account/password", {"old_password": PASSWORD, "new_password": "New-Harbour-42",
                                                 "confirm": "New-Harbour-42"}))
    watch(form_post(multi, "/logout"))
    moment = 30 * 56_666_667 + 15
    monkeypatch.setattr(two_factor, "clock", lambda: moment)
    account = tree["accounts"]["zj_admin"]
    two_factor.begin_enrolment(account, address="127.0.0.1")
    secret = two_factor.pending_enrolment(account).secret
    two_factor.confirm_enrolment(account, pyotp.TOTP(secret).at(moment), address="127.0.0.1")
    moment += 30
    second = app.test_client()
    first_step = watch(log_in(second, "zj_admin"))
    assert first_step.location.startswith("/login/two-factor")
    watch(form_post(second, "/login/two-factor", {"code": pyotp.TOTP(secret).at(moment)}))
    assert second.get("/workbench").status_code == 200
    watch(form_post(second, "/logout"))
    assert len(seen) >= 8
    for header in seen:
        name, _, rest = header.partition("=")
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in rest.split(";")[1:]}
        assert name == COOKIE, header
        assert "httponly" in attributes, header
        assert attributes.get("samesite") == "SameSite=Lax", header
        assert ("secure" in attributes) is secure, header
        assert attributes.get("path") == "Path=/", header
    hsts = client.get("/login").headers.get("Strict-Transport-Security")
    assert (hsts == "max-age=31536000") is secure


def test_sec14_auth_pages_are_not_cached(login_as):
    client = login_as("xh_admin")
    for url in ("/workbench", "/account/password"):
        assert client.get(url).headers["Cache-Control"] == "no-store"


# ---- register ----------------------------------------------------------------------------

def test_sec06_register_creates_an_argon2id_account_and_signs_in(client):
    page = client.get("/register")
    assert page.status_code == 200 and '<form method="post" action="/register"' in page.text
    response = register(client)
    assert response.status_code == 303 and response.location == "/workbench"
    account = Account.get(Account.username == "liming")
    assert account.display_name == "李明"
    assert account.password_hash.startswith("$argon2id$")
    page = client.get("/workbench")
    assert "注册成功" in page.text and "李明" in page.text and "教师" in page.text
    assert "account.register" in actions() and "login.ok" in actions()


def test_sec06_a_64_character_password_works(app):
    password = "Kx7-" + "pa55age-of-a-long-river-" * 2 + "0123456789ab"
    assert len(password) == 64
    client = app.test_client()
    assert register(client, password=password).status_code == 303
    form_post(client, "/logout")
    assert log_in(client, "liming", password).status_code == 303
    assert log_in(app.test_client(), "liming", password[:-1]).status_code == 422


@pytest.mark.parametrize("password", ["woaini2020", "qq123456789", "1qaz2wsx3edc", "Password123"])
def test_sec06_common_password_is_refused_and_the_form_keeps_the_names(client, password):
    response = register(client, password=password)
    assert response.status_code == 422
    assert "该密码过于常见" in response.text
    assert 'value="liming"' in response.text and 'value="李明"' in response.text
    assert password not in response.text
    assert Account.select().count() == 0


def test_duplicate_username_is_422(tree, client):
    for name in ("xh_admin", "XH_Admin"):
        response = register(client, username=name)
        assert response.status_code == 422 and "该用户名已被注册" in response.text
    assert Account.select().where(Account.display_name == "李明").count() == 0


@pytest.mark.parametrize("username, display_name, message", [
    ("1abc", "李明", "用户名须以字母开头"),
    ("ab", "李明", "用户名须以字母开头"),
    ("li ming", "李明", "用户名须以字母开头"),
    ("a" * 33, "李明", "用户名不能超过 32 位"),
    ("liming", "李", "姓名须为"),
    ("liming", "李明123", "姓名须为"),
    ("liming", "", "请输入姓名"),
    ("", "李明", "请输入用户名"),
])
def test_malformed_names_are_422(client, username, display_name, message):
    response = register(client, username=username, display_name=display_name)
    assert response.status_code == 422 and message in response.text
    assert Account.select().count() == 0


def test_mismatched_confirmation_is_422(client):
    response = register(client, confirm="Mu7-tide-Harbour!")
    assert response.status_code == 422 and "两次输入的密码不一致" in response.text


def test_sec16_escaped_names_in_the_form(client):
    response = register(client, username="<script>x", display_name='"><img src=x>')
    assert response.status_code == 422
    assert "<script>x" not in response.text and "<img src=x>" not in response.text


# ---- 切换身份 ------------------------------------------------------------------------------

def test_switching_identity_changes_header_and_workbench(login_as):
    client = login_as("multi")
    page = client.get("/workbench")
    assert identity(page) == ("研修专项管理员", "浙江省 › 杭州市 › 西湖区")
    assert '<form class="switch" method="post" action="/account/binding"' in page.text
    school_binding = Binding.select().join(Account).where(
        (Account.username == "multi") & (Binding.role == "school")).get()
    response = form_post(client, "/account/binding", {"binding_id": school_binding.id})
    assert response.status_code == 303 and response.location == "/workbench"
    page = client.get("/workbench")
    assert identity(page) == ("学校管理员", "浙江省 › 杭州市 › 西湖区 › 西湖区文新中学")
    assert "已切换为：西湖区文新中学 学校管理员" in page.text
    assert "学校标识码" in page.text and "3301060002" in page.text
    # The choice lives in the server session: a fresh page still shows it.
    assert identity(client.get("/workbench"))[0] == "学校管理员"


@pytest.mark.parametrize("binding_id", ["foreign", "ended", "abc", "9" * 30, "-1", ""])
def test_sec04_switching_to_a_binding_not_ones_own_is_refused(login_as, binding_id):
    client = login_as("multi")
    foreign = Binding.select().join(Account).where(Account.username == "xh_admin").get()
    own = Binding.select().join(Account).where(
        (Account.username == "multi") & (Binding.role == "school")).get()
    if binding_id == "foreign":
        binding_id = foreign.id
    elif binding_id == "ended":
        Binding.update(state="ended").where(Binding.id == own.id).execute()
        binding_id = own.id
    response = form_post(client, "/account/binding", {"binding_id": binding_id})
    assert response.status_code == 303
    page = client.get("/workbench")
    assert "无法切换到该身份" in page.text
    assert identity(page) == ("研修专项管理员", "浙江省 › 杭州市 › 西湖区")


def test_single_binding_accounts_have_no_switcher(login_as):
    assert 'action="/account/binding"' not in login_as("xh_admin").get("/workbench").text


# ---- audit -------------------------------------------------------------------------------

def test_sec19_every_account_act_is_audited_and_chained(tree, app):
    client = client_at(app, "10.7.0.1")
    for _ in range(5):
        log_in(client, "multi", "Wrong-pass-1")
    assert log_in(client, "multi").status_code == 429
    client = client_at(app, "10.7.0.2")
    assert log_in(client, "multi").status_code == 303
    school_binding = Binding.select().join(Account).where(
        (Account.username == "multi") & (Binding.role == "school")).get()
    form_post(client, "/account/binding", {"binding_id": school_binding.id})
    form_post(client, "/account/password", {
        "old_password": PASSWORD, "new_password": "New-Harbour-42", "confirm": "New-Harbour-42"})
    form_post(client, "/logout")

    rows = list(AuditLog.select().where(AuditLog.action != "account.register").order_by(AuditLog.id))
    assert [(r.action, r.result) for r in rows] == [
        *[("login.failed", "refused")] * 5, ("login.throttled", "refused"), ("login.ok", "ok"),
        ("binding.switch", "ok"), ("account.password_changed", "ok"), ("logout", "ok")]
    multi = Account.get(Account.username == "multi")
    assert all(r.actor_id == multi.id for r in rows if r.action != "login.throttled")
    assert [r.address for r in rows] == ["10.7.0.1"] * 6 + ["10.7.0.2"] * 4
    assert rows[-3].binding_id == school_binding.id
    assert audit.verify_chain() == []

    target = rows[3]
    AuditLog.update(after='{"forged": true}').where(AuditLog.id == target.id).execute()
    assert audit.verify_chain() == [target.id]


def test_sec19_audit_rows_hold_no_passwords(tree, client):
    log_in(client, "xh_admin", "Wrong-pass-1")
    log_in(client, "xh_admin")
    for row in AuditLog.select():
        assert PASSWORD not in f"{row.before}{row.after}{row.target_id}"
        assert "Wrong-pass-1" not in f"{row.before}{row.after}{row.target_id}"

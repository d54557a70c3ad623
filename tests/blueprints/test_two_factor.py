"""两步验证 and re-authentication over HTTP (SECURITY.md rows 8 and 10): the login's second step
before any session, the set-up page with its QR code, the setting that forces admins to enrol,
and the password asked again before revealing personal data or issuing 权限码."""
import datetime
import re
from html import unescape
from pathlib import Path

import pyotp
import pytest

from tests.conftest import PASSWORD, form_post, log_in
from yanxiu.models import Account, AuditLog, PermissionCode, TwoFactor, UserSession
from yanxiu.models.base import now
from yanxiu.services import two_factor

COOKIE = "yanxiu_session"
HX = {"HX-Request": "true"}
T = 30 * 56_666_667 + 15  # the middle of a time-step
RECOVERY_RE = re.compile(r"<code>([a-z2-9]{4}(?:-[a-z2-9]{4}){3})</code>")


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = T

        def at(self, t):
            self.now = t

    pinned = Clock()
    monkeypatch.setattr(two_factor, "clock", lambda: pinned.now)
    return pinned


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)


def enable(tree, username: str, clock) -> tuple[str, list[str]]:
    """Two-factor login on for a fixture account (through the service); secret, recovery codes.
    The clock moves on a step, past the code just used."""
    account = tree["accounts"][username]
    two_factor.begin_enrolment(account, address="127.0.0.1")
    secret = two_factor.pending_enrolment(account).secret
    codes = two_factor.confirm_enrolment(account, code_at(secret, clock.now), address="127.0.0.1")
    clock.at(clock.now + 30)
    return secret, codes


def sessions_of(username: str):
    return (UserSession.select().join(Account)
            .where((Account.username == username) & UserSession.ended_at.is_null()))


def is_logged_out(response) -> bool:
    return response.status_code in (302, 303) and response.location.startswith("/login")


def actions() -> list[str]:
    return [a for (a,) in AuditLog.select(AuditLog.action).order_by(AuditLog.id).tuples()]


def second_step(client, code: str, next_url: str = ""):
    url = "/login/two-factor" + (f"?next={next_url}" if next_url else "")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(url).text)
    return client.post(url, data={"code": code, "next": next_url, "csrf_token": token.group(1)})


# ---------------------------------------------------------------- login (row 8)

def test_sec08_login_without_the_second_step_gives_no_session(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    client = app.test_client()
    response = log_in(client, "xh_admin")
    assert response.status_code == 303 and response.location == "/login/two-factor"
    assert sessions_of("xh_admin").count() == 0
    assert is_logged_out(client.get("/workbench"))
    assert "login.second_factor_required" in actions() and "login.ok" not in actions()
    page = client.get("/login/two-factor")
    assert page.status_code == 200 and "两步验证" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    response = second_step(client, code_at(secret, clock.now))
    assert response.status_code == 303 and response.location == "/workbench"
    assert sessions_of("xh_admin").count() == 1
    assert "西湖专管" in client.get("/workbench").text
    assert actions()[-1] == "login.ok"


def test_sec08_the_old_cookie_is_not_logged_in_after_a_password_step(tree, app, login_as, clock):
    enable(tree, "xh_admin", clock)
    client = login_as("hz_admin")
    old_cookie = client.get_cookie(COOKIE).value
    assert log_in(client, "xh_admin").status_code == 303
    assert is_logged_out(client.get("/workbench"))
    assert sessions_of("hz_admin").count() == 0
    replay = app.test_client()
    replay.set_cookie(COOKIE, old_cookie)
    assert is_logged_out(replay.get("/workbench"))


def test_sec08_the_second_step_follows_a_local_next_only(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    client = app.test_client()
    response = form_post(client, "/login", {"username": "xh_admin", "password": PASSWORD,
                                            "next": "/codes"})
    assert response.location == "/login/two-factor?next=/codes"
    assert second_step(client, code_at(secret, clock.now), "/codes").location == "/codes"
    other = app.test_client()
    form_post(other, "/login", {"username": "xh_admin", "password": PASSWORD,
                                "next": "//evil.example"})
    assert second_step(other, code_at(secret, clock.now + 30),
                       "//evil.example").location == "/workbench"


def test_sec08_the_second_step_needs_the_password_step_first(tree, client):
    response = client.get("/login/two-factor")
    assert response.status_code == 303 and response.location == "/login"
    assert "请重新登录" in client.get("/login").text
    response = form_post(client, "/login/two-factor", {"code": "123456"})
    assert response.status_code == 303 and response.location == "/login"
    assert UserSession.select().count() == 0


def test_sec08_the_second_step_expires_after_five_minutes(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    client = app.test_client()
    log_in(client, "xh_admin")
    page = client.get("/login/two-factor")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    clock.at(clock.now + two_factor.PENDING_LOGIN_SECONDS + 1)
    response = client.post("/login/two-factor",
                           data={"code": code_at(secret, clock.now), "csrf_token": token})
    assert response.status_code == 303 and response.location == "/login"
    assert sessions_of("xh_admin").count() == 0


def test_sec08_time_shifted_code_is_refused(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    client = app.test_client()
    log_in(client, "xh_admin")
    response = second_step(client, code_at(secret, clock.now + 90))
    assert response.status_code == 422 and "验证码不正确或已使用过" in response.text
    assert 'aria-invalid="true"' in response.text
    assert sessions_of("xh_admin").count() == 0
    assert AuditLog.get(AuditLog.action == "two_factor.refused").result == "refused"


def test_sec08_code_reused_in_its_window_is_refused(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    code = code_at(secret, clock.now)
    first = app.test_client()
    log_in(first, "xh_admin")
    assert second_step(first, code).status_code == 303
    clock.at(clock.now + 10)
    second = app.test_client()
    log_in(second, "xh_admin")
    response = second_step(second, code)
    assert response.status_code == 422 and "已使用过" in response.text
    assert is_logged_out(second.get("/workbench"))
    assert sessions_of("xh_admin").count() == 1


def test_sec08_recovery_code_works_once(tree, app, clock):
    _, codes = enable(tree, "xh_admin", clock)
    client = app.test_client()
    log_in(client, "xh_admin")
    response = second_step(client, codes[0].upper())
    assert response.status_code == 303
    assert "还剩 9 个" in client.get("/workbench").text
    assert "two_factor.recovery_used" in actions()
    again = app.test_client()
    log_in(again, "xh_admin")
    assert second_step(again, codes[0]).status_code == 422
    assert sessions_of("xh_admin").count() == 1


def test_sec08_wrong_codes_are_throttled_with_429(tree, app, clock):
    secret, _ = enable(tree, "xh_admin", clock)
    client = app.test_client()
    log_in(client, "xh_admin")
    for _ in range(5):
        assert second_step(client, "000000").status_code == 422
    response = second_step(client, code_at(secret, clock.now))
    assert response.status_code == 429 and "登录失败次数过多" in response.text
    assert response.headers["Retry-After"] == "60"
    assert sessions_of("xh_admin").count() == 0


def test_sec08_an_account_without_two_factor_logs_in_as_before(tree, login_as):
    client = login_as("xh_admin")
    assert client.get("/workbench").status_code == 200
    assert "login.second_factor_required" not in actions()


# ---------------------------------------------------------------- set-up page (row 8)

def test_sec08_setup_shows_the_secret_and_a_qr_image_then_the_recovery_codes_once(
        tree, login_as, clock):
    client = login_as("xh_admin")
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "两步验证未开启" in page.text
    assert TwoFactor.select().count() == 0  # a GET writes nothing
    response = form_post(client, "/account/two-factor/begin")
    assert response.status_code == 303 and response.location == "/account/two-factor"
    page = client.get("/account/two-factor")
    secret = two_factor.pending_enrolment(tree["accounts"]["xh_admin"]).secret
    grouped = " ".join(secret[i:i + 4] for i in range(0, 32, 4))
    assert grouped in page.text
    img = re.search(r'<img class="qr" src="([^"]+)"', page.text)
    assert img and unescape(img.group(1)).startswith("data:image/svg+xml")
    assert "<svg" not in page.text  # an image, not markup in the page
    assert client.get("/account/two-factor").text.count(grouped) == 1  # GET shows, not renews

    wrong = form_post(client, "/account/two-factor/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "验证码不正确" in wrong.text
    assert grouped in wrong.text  # still the same secret to scan
    done = form_post(client, "/account/two-factor/confirm", {"code": code_at(secret, clock.now)})
    assert done.status_code == 200 and "两步验证已开启" in done.text
    shown = RECOVERY_RE.findall(done.text)
    assert len(shown) == 10 and "只显示这一次" in done.text
    page = client.get("/account/two-factor")
    assert "剩余恢复码" in page.text and "10 个" in page.text
    assert not any(code in page.text for code in shown)
    assert secret not in page.text and grouped not in page.text


def test_sec08_new_recovery_codes_and_disabling_from_the_page(tree, login_as, clock):
    client = login_as("xh_admin")
    secret, old = enable(tree, "xh_admin", clock)
    refused = form_post(client, "/account/two-factor/recovery-codes", {"recovery-code": "000000"})
    assert refused.status_code == 422 and "验证码不正确" in refused.text
    fresh = form_post(client, "/account/two-factor/recovery-codes",
                      {"recovery-code": code_at(secret, clock.now)})
    assert fresh.status_code == 200
    new = RECOVERY_RE.findall(fresh.text)
    assert len(new) == 10 and not set(new) & set(old)

    wrong = form_post(client, "/account/two-factor/disable",
                      {"password": "Wrong-pass-123", "code": new[0]})
    assert wrong.status_code == 422 and "密码不正确" in wrong.text
    assert two_factor.is_enabled(tree["accounts"]["xh_admin"].id)
    off = form_post(client, "/account/two-factor/disable", {"password": PASSWORD, "code": new[0]})
    assert off.status_code == 303
    assert "两步验证已关闭" in client.get("/account/two-factor").text
    assert not two_factor.is_enabled(tree["accounts"]["xh_admin"].id)
    assert actions()[-1] == "two_factor.disabled"


def setup_post(client, url: str, data: dict | None = None):
    """POST with the CSRF token of the set-up page: the only page an admin still to enrol sees."""
    page = client.get("/account/two-factor").text
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def test_sec08_setting_forces_admin_enrolment(tree, app, login_as, clock):
    app.config["REQUIRE_ADMIN_2FA"] = True
    client = login_as("xh_admin")
    for url in ("/workbench", "/teachers", "/codes", "/bind", "/account/password"):
        response = client.get(url)
        assert response.status_code == 303 and response.location == "/account/two-factor", url
    fragment = client.get("/teachers", headers=HX)
    assert fragment.headers["HX-Redirect"] == "/account/two-factor" and fragment.text == ""
    refused = setup_post(client, "/codes", {"grant": "school:3301060001", "days": "30"})
    assert refused.status_code == 303 and PermissionCode.select().count() == 0
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "要求管理员开启两步验证" in page.text

    assert setup_post(client, "/account/two-factor/begin").status_code == 303
    secret = two_factor.pending_enrolment(tree["accounts"]["xh_admin"]).secret
    done = setup_post(client, "/account/two-factor/confirm",
                      {"code": code_at(secret, clock.now)})
    assert done.status_code == 200 and len(RECOVERY_RE.findall(done.text)) == 10
    assert client.get("/workbench").status_code == 200
    # A teacher (no admin binding) is not asked; logout stays reachable for everyone.
    assert login_as("teacher").get("/workbench").status_code == 200
    pending = login_as("hz_admin")
    assert setup_post(pending, "/logout").status_code == 303
    assert is_logged_out(pending.get("/workbench"))


def test_sec08_without_the_setting_nobody_is_forced(tree, login_as):
    assert login_as("xh_admin").get("/workbench").status_code == 200


def test_sec08_auth_templates_trust_no_markup():
    folder = Path(__file__).resolve().parents[2] / "yanxiu/templates/auth"
    templates = sorted(folder.glob("*.html"))
    assert len(templates) >= 6
    for path in templates:
        assert "|safe" not in path.read_text(encoding="utf-8").replace(" ", ""), path


# ---------------------------------------------------------------- re-authentication (row 10)

def age_authentication(username: str, minutes: int = 6) -> None:
    """Move the time the account's open sessions last authenticated back by `minutes`."""
    ids = [s.id for s in sessions_of(username)]
    UserSession.update(authenticated_at=now() - datetime.timedelta(minutes=minutes)).where(
        UserSession.id.in_(ids)).execute()


def reveals():
    return AuditLog.select().where(AuditLog.action == "teacher.revealed")


def test_sec10_reveal_requires_recent_reauthentication(login_as, teachers):
    client = login_as("school_admin")
    url = f"/teachers/{teachers['memberships']['t_pending'].id}/reveal"
    value = teachers["data"]["t_pending"]["id_number"]
    age_authentication("school_admin")

    prompt = form_post(client, url, {"field": "id_number"}, headers=HX)
    assert prompt.status_code == 200 and value not in prompt.text and "<html" not in prompt.text
    assert f'hx-post="{url}"' in prompt.text and 'hx-target="this"' in prompt.text
    assert '<input type="hidden" name="field" value="id_number">' in prompt.text
    assert 'autocomplete="current-password"' in prompt.text
    assert not reveals().exists()

    wrong = form_post(client, url, {"field": "id_number", "reauth_secret": "Wrong-pass-123"},
                      headers=HX)
    assert wrong.status_code == 422 and "密码不正确" in wrong.text and value not in wrong.text
    assert not reveals().exists()
    assert AuditLog.get(AuditLog.action == "account.reauth_failed").result == "refused"

    shown = form_post(client, url, {"field": "id_number", "reauth_secret": PASSWORD}, headers=HX)
    assert shown.status_code == 200 and value in shown.text
    assert reveals().count() == 1 and "account.reauthenticated" in actions()
    # Within five minutes the next reveal needs nothing more.
    again = form_post(client, url, {"field": "phone"}, headers=HX)
    assert teachers["data"]["t_pending"]["phone"] in again.text and reveals().count() == 2


def test_sec10_reveal_reauthentication_works_without_javascript(login_as, teachers):
    client = login_as("xh_admin")
    url = f"/teachers/{teachers['memberships']['t_pending'].id}/reveal"
    value = teachers["data"]["t_pending"]["phone"]
    age_authentication("xh_admin")
    page = form_post(client, url, {"field": "phone"})
    assert page.status_code == 200 and "<html" in page.text and "验证身份" in page.text
    assert f'action="{url}"' in page.text and "hx-post" not in re.search(
        r'<form class="reauth"[^>]*>', page.text).group(0)
    assert value not in page.text and not reveals().exists()
    shown = form_post(client, url, {"field": "phone", "reauth_secret": PASSWORD})
    assert shown.status_code == 200 and value in shown.text and "已记入审计日志" in shown.text


def test_sec10_reauthentication_is_not_a_way_around_the_scope(login_as, teachers):
    client = login_as("nb_admin")
    url = f"/teachers/{teachers['memberships']['t_pending'].id}/reveal"
    age_authentication("nb_admin")
    answer = form_post(client, url, {"field": "phone", "reauth_secret": PASSWORD}, headers=HX)
    assert answer.status_code == 404 and not reveals().exists()


def test_sec10_out_of_scope_objects_get_404_before_any_reauthentication_form(login_as, teachers):
    """The form would tell an object out of scope (no such thing for me) from one in it."""
    xh = login_as("xh_admin")
    form_post(xh, "/codes", {"grant": "school:3301060001", "days": "7"})
    code = PermissionCode.get()
    ningbo = login_as("nb_admin")
    age_authentication("nb_admin")
    reveal = f"/teachers/{teachers['memberships']['t_pending'].id}/reveal"
    for headers in ({}, HX):
        answer = form_post(ningbo, reveal, {"field": "phone"}, headers=headers)
        assert answer.status_code == 404 and "验证身份" not in answer.text
        answer = form_post(ningbo, f"/codes/{code.id}/reissue", headers=headers)
        assert answer.status_code == 404 and "验证身份" not in answer.text
    assert not reveals().exists() and PermissionCode.select().count() == 1


def test_sec10_code_issue_requires_recent_reauthentication(login_as):
    client = login_as("xh_admin")
    age_authentication("xh_admin")
    data = {"grant": "school:3301060001", "days": "7"}
    prompt = form_post(client, "/codes", data)
    assert prompt.status_code == 200 and "验证身份" in prompt.text
    assert '<input type="hidden" name="grant" value="school:3301060001">' in prompt.text
    assert '<input type="hidden" name="days" value="7">' in prompt.text
    assert PermissionCode.select().count() == 0
    assert form_post(client, "/codes", {**data, "reauth_secret": "nope"}).status_code == 422
    assert PermissionCode.select().count() == 0
    slip = form_post(client, "/codes", {**data, "reauth_secret": PASSWORD})
    assert slip.status_code == 200 and "只显示这一次" in slip.text
    assert PermissionCode.select().count() == 1


def test_sec10_code_reissue_requires_recent_reauthentication(login_as):
    client = login_as("xh_admin")
    form_post(client, "/codes", {"grant": "school:3301060001", "days": "7"})
    code = PermissionCode.get()
    age_authentication("xh_admin")
    assert client.get(f"/codes/{code.id}/reissue").status_code == 200  # the confirmation page
    prompt = form_post(client, f"/codes/{code.id}/reissue")
    assert prompt.status_code == 200 and "验证身份" in prompt.text
    assert PermissionCode.select().count() == 1
    slip = form_post(client, f"/codes/{code.id}/reissue", {"reauth_secret": PASSWORD})
    assert slip.status_code == 200 and PermissionCode.select().count() == 2


def test_sec10_a_two_factor_code_also_reauthenticates(tree, app, clock, teachers):
    secret, _ = enable(tree, "school_admin", clock)
    client = app.test_client()
    log_in(client, "school_admin")
    assert second_step(client, code_at(secret, clock.now)).status_code == 303
    age_authentication("school_admin")
    url = f"/teachers/{teachers['memberships']['t_pending'].id}/reveal"
    prompt = form_post(client, url, {"field": "phone"}, headers=HX)
    assert "登录密码或两步验证码" in prompt.text
    clock.at(clock.now + 30)
    shown = form_post(client, url, {"field": "phone", "reauth_secret": code_at(secret, clock.now)},
                      headers=HX)
    assert teachers["data"]["t_pending"]["phone"] in shown.text

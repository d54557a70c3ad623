"""接口令牌 over HTTP: the operator issues a token and sees it once, lists, revokes with
confirmation (the token then gets 401); bad input keeps the form; everyone else gets 404."""
import hashlib
import html
import re

import pytest

from tests.conftest import csrf_token, form_post
from tests.fixture_tree import ACCOUNTS
from yanxiu.models import ApiToken, AuditLog

TOKEN_RE = re.compile(r"yx_[A-Za-z0-9_-]{43}")
HX = {"HX-Request": "true"}


def issue(client, name="国家研修平台", region=""):
    return form_post(client, "/tokens", {"name": name, "region": region})


def clear_token(response) -> str:
    found = set(TOKEN_RE.findall(response.text))
    assert len(found) == 1, "the clear token should be on the page"
    return found.pop()


def cells(text: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", text, re.S)
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S) if body else []
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]


def test_the_operator_sees_the_list_and_the_form(login_as):
    page = login_as("operator").get("/tokens")
    assert page.status_code == 200 and "接口令牌" in page.text
    options = re.findall(r'<option (?:selected )?value="([^"]*)"', page.text)
    assert options == ["", "110000", "320000", "330000"]
    assert "尚未发放接口令牌" in page.text and "/api/v1/openapi.json" in page.text


def test_issued_token_is_shown_once_and_works(login_as, client):
    operator = login_as("operator")
    shown = issue(operator, "国家研修平台")
    assert shown.status_code == 200 and "只显示这一次" in shown.text
    assert "no-store" in shown.headers["Cache-Control"]
    clear = clear_token(shown)
    stored = ApiToken.get()
    assert stored.token_hash == hashlib.sha256(clear.encode()).hexdigest() and stored.name == "国家研修平台"
    listing = operator.get("/tokens")
    assert clear not in listing.text and clear[8:] not in listing.text
    assert cells(listing.text)[0][:3] == ["国家研修平台", f"{clear[:8]}…", "全国"]
    assert "有效" in cells(listing.text)[0][5]
    assert clear not in operator.get("/tokens", headers=HX).text
    answer = client.get("/api/v1/programmes", headers={"Authorization": f"Bearer {clear}"})
    assert answer.status_code == 200


def test_a_provincial_token(login_as):
    operator = login_as("operator")
    issue(operator, "浙江省平台", "330000")
    token = ApiToken.get()
    assert token.region.code == "330000"
    assert cells(operator.get("/tokens").text)[0][2] == "浙江省"


def test_revoke_asks_then_the_token_gets_401(login_as, client):
    operator = login_as("operator")
    clear = clear_token(issue(operator))
    token = ApiToken.get()
    confirm = operator.get(f"/tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and "确认吊销" in confirm.text and token.hint in confirm.text
    assert ApiToken.get().revoked_at is None  # asking changed nothing
    done = form_post(operator, f"/tokens/{token.id}/revoke")
    assert done.status_code == 303 and done.headers["Location"].endswith("/tokens")
    listing = operator.get("/tokens")
    assert "已吊销" in listing.text and "令牌“国家研修平台”已吊销" in listing.text
    assert f"/tokens/{token.id}/revoke" not in listing.text
    assert client.get("/api/v1/programmes", headers={"Authorization": f"Bearer {clear}"}).status_code == 401
    again = form_post(operator, f"/tokens/{token.id}/revoke", follow_redirects=True)
    assert "该令牌已被吊销" in again.text
    actions = [a for (a,) in AuditLog.select(AuditLog.action).where(AuditLog.action.startswith("api_token."))
               .order_by(AuditLog.id).tuples()]
    assert actions == ["api_token.issued", "api_token.revoked"]
    assert not any(clear in str(r.__data__) for r in AuditLog.select())


@pytest.mark.parametrize("name,region,message", [
    ("", "", "请填写令牌名称"), ("长" * 101, "", "不能超过 100 字"),
    ("杭州平台", "330100", "请选择有效的适用范围"), ("平台", "999999", "请选择有效的适用范围"),
])
def test_bad_input_keeps_the_form_and_writes_nothing(login_as, name, region, message):
    response = issue(login_as("operator"), name, region)
    assert response.status_code == 422 and message in response.text
    if name:
        assert f'value="{name}"' in response.text
    assert ApiToken.select().count() == 0 and not TOKEN_RE.search(response.text)


def test_issue_without_csrf_is_refused(login_as):
    response = login_as("operator").post("/tokens", data={"name": "x", "region": ""})
    assert response.status_code == 400 and ApiToken.select().count() == 0


def test_revoke_without_csrf_is_refused(login_as):
    operator = login_as("operator")
    issue(operator)
    response = operator.post(f"/tokens/{ApiToken.get().id}/revoke", data={})
    assert response.status_code == 400 and ApiToken.get().revoked_at is None


def test_unknown_token_is_404(login_as):
    operator = login_as("operator")
    assert operator.get("/tokens/999/revoke").status_code == 404
    assert form_post(operator, "/tokens/999/revoke").status_code == 404


@pytest.mark.parametrize("username", [u for u in ACCOUNTS if u != "operator"])
def test_everyone_but_the_operator_gets_404(login_as, username):
    operator = login_as("operator")
    issue(operator)
    token = ApiToken.get()
    client = login_as(username)
    token_value = csrf_token(client)
    assert client.get("/tokens").status_code == 404
    assert client.get("/tokens", headers=HX).status_code == 404
    assert client.get(f"/tokens/{token.id}/revoke").status_code == 404
    assert client.post("/tokens", data={"csrf_token": token_value, "name": "x", "region": ""}).status_code == 404
    assert client.post(f"/tokens/{token.id}/revoke", data={"csrf_token": token_value}).status_code == 404
    assert ApiToken.select().count() == 1 and ApiToken.get().revoked_at is None


def test_anonymous_goes_to_login(client, tree):
    response = client.get("/tokens")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_the_list_fragment_and_its_pages(login_as, tree):
    from yanxiu.models import Binding
    from yanxiu.services import api_tokens
    operator_binding = Binding.get(Binding.account == tree["accounts"]["operator"])
    for n in range(55):
        api_tokens.issue_token(operator_binding, f"平台{n:02d}")
    operator = login_as("operator")
    first = operator.get("/tokens")
    assert len(cells(first.text)) == 50 and "第 1 / 2 页" in first.text
    second = operator.get("/tokens?page=2", headers=HX)
    assert second.status_code == 200 and "<html" not in second.text
    assert [row[0] for row in cells(second.text)] == ["平台04", "平台03", "平台02", "平台01", "平台00"]

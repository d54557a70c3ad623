"""权限码管理 and 登录绑定 over HTTP: issue, slip, list, revoke, re-issue, bind, replace, unbind."""
import re

import pytest

from tests.conftest import form_post
from yanxiu.models import Binding, PermissionCode

CODE_RE = re.compile(r"[A-HJ-NP-Z2-9]{4}(?:-[A-HJ-NP-Z2-9]{4}){3}")
HX = {"HX-Request": "true"}


def issue(client, target, days=30):
    return form_post(client, "/codes", {"grant": target, "days": str(days)})


def plain_code(response) -> str:
    match = CODE_RE.search(response.text)
    assert match, "no code on the slip"
    return match.group(0)


def test_issue_form_offers_only_what_the_binding_may_issue(login_as):
    page = login_as("xh_admin").get("/codes")
    assert page.status_code == 200
    options = re.findall(r'<option value="([^"]+)"', page.text)
    assert options == ["school:3301060001", "school:3301060002"]
    options = re.findall(r'<option value="([^"]+)"', login_as("zj_super").get("/codes").text)
    assert options == ["training:330000", "super:330100", "super:330200", "school:3300000001"]


def test_issued_code_is_shown_once_on_a_printable_slip(login_as):
    client = login_as("xh_admin")
    slip = issue(client, "school:3301060001", days=7)
    assert slip.status_code == 200
    code = plain_code(slip)
    assert "西湖区第一小学" in slip.text and "学校管理员" in slip.text and "只显示这一次" in slip.text
    assert "no-store" in slip.headers["Cache-Control"]
    listing = client.get("/codes")
    assert code not in listing.text and "未使用" in listing.text and "西湖区第一小学" in listing.text
    stored = PermissionCode.get()
    assert code.replace("-", "") not in stored.code_hash and stored.issued_by.username == "xh_admin"


@pytest.mark.parametrize("target", ["school:3301020001", "super:330100", "training:330106", "bogus", ""])
def test_issuing_outside_the_rules_is_refused_and_writes_nothing(login_as, target):
    response = issue(login_as("xh_admin"), target)
    assert response.status_code == 422
    assert "请选择" in response.text
    assert PermissionCode.select().count() == 0


def test_bad_expiry_keeps_the_form(login_as):
    response = issue(login_as("xh_admin"), "school:3301060001", days=500)
    assert response.status_code == 422 and "有效期须为 1–180 天" in response.text
    assert re.search(r'<option selected value="school:3301060001">', response.text)


def test_issue_without_csrf_token_is_refused(login_as):
    response = login_as("xh_admin").post("/codes", data={"grant": "school:3301060001", "days": "30"})
    assert response.status_code == 400 and PermissionCode.select().count() == 0


def test_new_training_admin_binds_with_a_code(login_as, client):
    code = plain_code(issue(login_as("zj_super"), "training:330000"))
    form_post(client, "/register", {"username": "lin", "display_name": "林老师",
                                    "password": "Xk29#pq8vz", "confirm": "Xk29#pq8vz"})
    bound = form_post(client, "/bind", {"code": code.lower()})
    assert bound.status_code == 303
    page = client.get("/workbench")
    assert "研修专项管理员" in page.text and "浙江省" in page.text
    assert "/codes" in page.text  # the new identity's navigation
    listing = login_as("zj_super").get("/codes?state=used")
    assert "林老师" in listing.text and "已使用" in listing.text


def test_replacing_a_school_admin_needs_confirmation(login_as, tree):
    code = plain_code(issue(login_as("xh_admin"), "school:3301060001"))
    newcomer = login_as("teacher")
    first = form_post(newcomer, "/bind", {"code": code})
    assert first.status_code == 409
    assert "西湖校管" in first.text and "我确认替换现任管理员" in first.text
    assert Binding.get(Binding.account == tree["accounts"]["school_admin"]).state == "active"
    second = form_post(newcomer, "/bind", {"code": code, "confirm_replace": "y"})
    assert second.status_code == 303
    assert Binding.get(Binding.account == tree["accounts"]["school_admin"]).state == "ended"
    assert "学校管理员" in newcomer.get("/workbench").text


def test_wrong_code_is_told_and_counted(login_as):
    client = login_as("teacher")
    response = form_post(client, "/bind", {"code": "ABCD-EFGH-JKMN-PQRS"})
    assert response.status_code == 422 and "权限码不存在" in response.text
    assert 'value="ABCD-EFGH-JKMN-PQRS"' in response.text
    for _ in range(4):
        form_post(client, "/bind", {"code": "ABCD-EFGH-JKMN-PQRS"})
    throttled = form_post(client, "/bind", {"code": "ABCD-EFGH-JKMN-PQRS"})
    assert throttled.status_code == 429 and "输错次数过多" in throttled.text


def test_revoke_asks_first_then_revokes(login_as):
    client = login_as("xh_admin")
    code = plain_code(issue(client, "school:3301060002"))
    code_id = PermissionCode.get().id
    confirm = client.get(f"/codes/{code_id}/revoke")
    assert confirm.status_code == 200 and "确认作废" in confirm.text
    assert PermissionCode.get().state == "unused"
    done = form_post(client, f"/codes/{code_id}/revoke")
    assert done.status_code == 303 and PermissionCode.get().state == "revoked"
    assert "已作废" in client.get("/codes?state=revoked").text
    refused = form_post(login_as("multi"), "/bind", {"code": code})
    assert "已作废" in refused.text


def test_reissue_revokes_the_old_code_and_shows_a_new_one(login_as):
    client = login_as("xh_admin")
    old = plain_code(issue(client, "school:3301060002"))
    old_id = PermissionCode.get().id
    slip = form_post(client, f"/codes/{old_id}/reissue")
    assert slip.status_code == 200
    new = plain_code(slip)
    assert new != old
    assert PermissionCode.get_by_id(old_id).state == "revoked"
    assert PermissionCode.select().where(PermissionCode.state == "unused").count() == 1


def test_code_list_is_scoped(login_as):
    issue(login_as("xh_admin"), "school:3301060001")
    code_id = PermissionCode.get().id
    assert "西湖区第一小学" in login_as("hz_admin").get("/codes").text
    other = login_as("nb_admin")
    assert "西湖区第一小学" not in other.get("/codes").text
    assert other.get(f"/codes/{code_id}/revoke").status_code == 404
    assert form_post(other, f"/codes/{code_id}/revoke").status_code == 404
    assert PermissionCode.get().state == "unused"


def test_code_list_fragment_for_htmx(login_as):
    client = login_as("xh_admin")
    issue(client, "school:3301060001")
    fragment = client.get("/codes", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "<table>" in fragment.text


@pytest.mark.parametrize("username", ["school_admin", "teacher"])
def test_code_pages_are_for_region_admins(login_as, username):
    client = login_as(username)
    assert client.get("/codes").status_code == 404
    assert client.get("/admins").status_code == 404
    assert client.get("/bind").status_code == 200


def test_unbinding_a_subordinate(login_as, tree):
    client = login_as("xh_admin")
    listing = client.get("/admins")
    assert "西湖校管" in listing.text and "多身份" in listing.text and "杭州专管" not in listing.text
    target = Binding.get(Binding.account == tree["accounts"]["school_admin"])
    assert client.get(f"/admins/{target.id}/end").status_code == 200
    missing_reason = form_post(client, f"/admins/{target.id}/end", {"reason": ""})
    assert missing_reason.status_code == 422 and "请填写解绑原因" in missing_reason.text
    assert Binding.get_by_id(target.id).state == "active"
    done = form_post(client, f"/admins/{target.id}/end", {"reason": "调离本校"})
    assert done.status_code == 303
    ended = Binding.get_by_id(target.id)
    assert ended.state == "ended" and ended.end_reason == "调离本校"
    # Its only binding ended, the account signs in as a plain teacher.
    assert "您目前以<strong>教师</strong>身份登录" in login_as("school_admin").get("/workbench").text


@pytest.mark.parametrize("username", ["nb_admin", "hz_admin", "zj_admin"])
def test_others_cannot_unbind(login_as, tree, username):
    target = Binding.get(Binding.account == tree["accounts"]["school_admin"])
    client = login_as(username)
    assert form_post(client, f"/admins/{target.id}/end", {"reason": "x"}).status_code == 404
    assert Binding.get_by_id(target.id).state == "active"


def test_an_admin_cannot_end_its_own_binding(login_as, tree):
    own = Binding.get(Binding.account == tree["accounts"]["zj_super"])
    client = login_as("zj_super")
    assert client.get(f"/admins/{own.id}/end").status_code == 404
    assert form_post(client, f"/admins/{own.id}/end", {"reason": "辞职"}).status_code == 404
    assert Binding.get_by_id(own.id).state == "active"

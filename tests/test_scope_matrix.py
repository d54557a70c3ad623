"""Role × route × object: every scoped page, fragment and export against an independent oracle.

The oracle knows only the fixture tree's parent links and the SPEC §2 table; it never asks
yanxiu.scope, so a mistake there shows up as a difference here.
"""
import pytest

from tests.conftest import form_post
from tests.fixture_tree import ACCOUNTS, REGIONS, SCHOOLS
from yanxiu.models import Binding, Notice, NoticeRecipient, PermissionCode
from yanxiu.models.account import SCHOOL_ADMIN, SUPER
from yanxiu.services import codes

PARENT = {code: parent or "000000" for code, _, _, parent in REGIONS}
REGION_CODES = [code for code, *_ in REGIONS]
REGION_ROLES = {"operator", "super", "training"}

REGION_ROUTES = ["/regions/{c}", "/regions/{c}/schools", "/progress/{c}", "/progress/{c}/schools",
                 "/progress/{c}/export.csv", "/progress/{c}/export.xlsx", "/notices/urge/{c}"]


def ancestors(code: str) -> set[str]:
    seen = {code}
    while code in PARENT:
        code = PARENT[code]
        seen.add(code)
    return seen


def region_of_account(username: str) -> tuple[str | None, str | None]:
    """(role, region code) of the account's first binding, from the fixture table."""
    bindings = ACCOUNTS[username][1]
    if not bindings:
        return None, None
    role, scope = bindings[0]
    if role == SCHOOL_ADMIN:
        return role, next(region for code, _, region, _ in SCHOOLS if code == scope)
    return role, scope


def may_read_region(username: str, code: str) -> bool:
    role, scope = region_of_account(username)
    return role in REGION_ROLES and scope in ancestors(code)


@pytest.mark.parametrize("username", list(ACCOUNTS))
@pytest.mark.parametrize("route", REGION_ROUTES)
def test_region_routes_follow_the_oracle(login_as, username, route):
    client = login_as(username)
    for code in REGION_CODES:
        expected = 200 if may_read_region(username, code) else 404
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(route.format(c=code), headers=headers)
            assert response.status_code == expected, (username, route, code, headers)


def _issued_codes(tree) -> list[PermissionCode]:
    """One code of each kind, issued by whoever may."""
    binding = {u: Binding.get(Binding.account == tree["accounts"][u]) for u in ("operator", "zj_super", "xh_admin")}
    codes.issue_permission_code(binding["operator"], SUPER, region=tree["regions"]["320000"])
    codes.issue_permission_code(binding["zj_super"], SUPER, region=tree["regions"]["330200"])
    codes.issue_permission_code(binding["xh_admin"], SCHOOL_ADMIN, school=tree["schools"]["3301060001"])
    return list(PermissionCode.select())


def _code_region(code: PermissionCode) -> str:
    return code.school.region.code if code.school_id else code.region.code


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_code_pages_follow_the_oracle(login_as, tree, username):
    issued = _issued_codes(tree)
    client = login_as(username)
    for code in issued:
        expected = 200 if may_read_region(username, _code_region(code)) else 404
        for action in ("revoke", "reissue"):
            assert client.get(f"/codes/{code.id}/{action}").status_code == expected, (username, code.id)
    listing = client.get("/codes")
    if region_of_account(username)[0] in REGION_ROLES:
        for code in issued:
            name = code.school.name if code.school_id else code.region.name
            visible = may_read_region(username, _code_region(code))
            assert (f"<td>{name}</td>" in listing.text) == visible, (username, name)
    else:
        assert listing.status_code == 404


def may_end(username: str, target: Binding) -> bool:
    """SPEC §2: a super admin ends its region's training admins and its children's super admins;
    the county (or 直属 level) ends its schools' admins; the operator ends province super admins."""
    role, scope = region_of_account(username)
    if target.role == SCHOOL_ADMIN:
        return role in ("super", "training") and target.school.region.code == scope
    if role == "operator":
        return target.role == "super" and target.region.level == "province"
    if role == "super":
        return (target.role == "training" and target.region.code == scope) or \
            (target.role == "super" and PARENT.get(target.region.code) == scope)
    return False


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_unbinding_follows_the_oracle(login_as, tree, username):
    client = login_as(username)
    me = tree["accounts"][username]
    for target in list(Binding.select().where(Binding.account != me)):
        expected = 200 if may_end(username, target) else 404
        assert client.get(f"/admins/{target.id}/end").status_code == expected, (username, target.id)


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_notices_follow_the_oracle(login_as, tree, username):
    sender = Binding.get(Binding.account == tree["accounts"]["zj_admin"])
    from yanxiu.services.notices import Addressee, send_urge
    send_urge(sender, [Addressee(region=tree["regions"]["330100"]),
                       Addressee(school=tree["schools"]["3301060001"])], "矩阵测试")
    notice = Notice.get()
    client = login_as(username)
    expected = 200 if may_read_region(username, "330000") else 404
    assert client.get(f"/notices/sent/{notice.id}").status_code == expected
    role, scope = region_of_account(username)
    for recipient in list(NoticeRecipient.select()):
        addressed = (recipient.region_id and role in REGION_ROLES and recipient.region.code == scope) or \
            (recipient.school_id and role == SCHOOL_ADMIN
             and ACCOUNTS[username][1][0][1] == recipient.school.code)
        response = form_post(client, f"/notices/{recipient.id}/read")
        assert response.status_code == (303 if addressed else 404), (username, recipient.id)

"""No mass assignment (SECURITY.md row 4): a field a form does not offer — `region_id`, `role`,
`state`, a sibling school's id, anything a client could add through hidden fields or htmx's
`hx-vals` — changes nothing. Each form is posted tampered, as a page form and as an htmx request
(which carries the same fields plus HX-Request): the server takes the scope from the session's
binding and the target from the URL, stores only the fields the form offers, and answers 404 or
422 to a target outside the scope with the database unchanged."""
import pytest

from tests.conftest import PASSWORD, form_post
from tests.fixture_teachers import teacher_data
from tests.test_routes_policy import database_snapshot
from yanxiu.models import Account, Binding, Membership, Notice, NoticeRecipient, PermissionCode, School
from yanxiu.models.account import OPERATOR, SUPER, TRAINING
from yanxiu.models.teacher import APPROVED, PENDING, REJECTED
from yanxiu.services import accounts

HX = {"HX-Request": "true"}
AS_PAGE_AND_AS_HTMX = pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
XIHU_FIRST, XIHU_SECOND, SHANGCHENG, HAISHU = "3301060001", "3301060002", "3301020001", "3302030001"


def tampering(tree, **more) -> dict:
    """Fields no form of the app offers, pointing at objects outside the actor's scope."""
    sibling = tree["schools"][SHANGCHENG]
    return {"region_id": tree["regions"]["330102"].id, "region": "330102",
            "region_path": tree["regions"]["330102"].path, "school_id": sibling.id,
            "school": sibling.id, "role": OPERATOR, "state": APPROVED, "status": "archived",
            "account_id": tree["accounts"]["operator"].id, "binding_id": 1, "is_active": "0",
            "is_demo": "1", "id": sibling.id, **more}


def school_row(code: str) -> tuple:
    s = School.get(School.code == code)
    return (s.code, s.kind, s.region_id, s.region_path, s.status)


# ---------------------------------------------------------------- schools

@AS_PAGE_AND_AS_HTMX
def test_sec04_a_school_edit_stores_the_form_fields_only(login_as, tree, headers):
    school = tree["schools"][XIHU_FIRST]
    kept, sibling = school_row(XIHU_FIRST), school_row(SHANGCHENG)
    client = login_as("xh_admin")
    fields = {"code": XIHU_FIRST, "name": "西湖区第一小学（改）", "kind": "school", "stage": "小学",
              "ownership": "公办", "address": "文三路 9 号", "contact_name": "李老师",
              "contact_phone": "", "version": School.get_by_id(school.id).version}
    response = form_post(client, f"/schools/{school.id}", {**tampering(tree), **fields}, headers=headers)
    assert response.status_code == (200 if headers else 303), response.text
    saved = School.get_by_id(school.id)
    assert (saved.name, saved.address) == ("西湖区第一小学（改）", "文三路 9 号")
    assert school_row(XIHU_FIRST) == kept and school_row(SHANGCHENG) == sibling


@AS_PAGE_AND_AS_HTMX
def test_sec04_a_school_admin_changes_no_code_type_or_region_of_its_school(login_as, tree, headers):
    kept = school_row(XIHU_FIRST)
    client = login_as("school_admin")
    response = form_post(client, "/schools/mine", {
        **tampering(tree), "code": "3301069999", "kind": "jiaoyan", "name": "西湖区第一小学（本校改）",
        "stage": "小学", "ownership": "公办", "address": "", "contact_name": "", "contact_phone": "",
        "version": School.get(School.code == XIHU_FIRST).version}, headers=headers)
    assert response.status_code == 303, response.text
    assert School.get(School.code == XIHU_FIRST).name == "西湖区第一小学（本校改）"
    assert school_row(XIHU_FIRST) == kept


@AS_PAGE_AND_AS_HTMX
def test_sec04_a_new_school_lands_in_the_admins_own_region(login_as, tree, headers):
    client = login_as("xh_admin")
    response = form_post(client, "/schools/new", {
        **tampering(tree), "code": "3301069101", "name": "西湖区篡改小学", "kind": "school",
        "stage": "小学", "ownership": "公办"}, headers=headers)
    assert response.status_code == 303, response.text
    created = School.get(School.code == "3301069101")
    assert (created.region_id, created.region_path, created.status) == \
        (tree["regions"]["330106"].id, tree["regions"]["330106"].path, "active")


@AS_PAGE_AND_AS_HTMX
def test_sec04_a_transfer_to_a_region_outside_the_scope_is_refused(login_as, tree, headers):
    """杭州市 may move a school between its counties, not to 宁波市's 海曙区."""
    school = tree["schools"][XIHU_FIRST]
    client = login_as("hz_admin")
    before = database_snapshot()
    response = form_post(client, f"/schools/{school.id}/transfer",
                         {**tampering(tree), "target": "330203", "reason": "篡改"}, headers=headers)
    assert response.status_code == 422
    assert database_snapshot() == before


# ---------------------------------------------------------------- accounts and bindings

@AS_PAGE_AND_AS_HTMX
def test_sec04_registering_takes_no_role_binding_or_flag(client, tree, headers):
    response = form_post(client, "/register", {
        **tampering(tree), "username": "mallory", "display_name": "马洛里",
        "password": "Mu7-tide-Harbour", "confirm": "Mu7-tide-Harbour"}, headers=headers)
    assert response.status_code == 303
    account = Account.get(Account.username == "mallory")
    assert (account.is_active, account.is_demo) == (True, False)
    assert Binding.select().where(Binding.account == account).count() == 0
    assert tree["accounts"]["operator"].id != account.id


@AS_PAGE_AND_AS_HTMX
def test_sec04_a_code_grant_is_resolved_on_the_server(login_as, tree, headers):
    """The grant is one of the issuable targets the page listed; role, region and school fields
    beside it are not read, and a grant outside the list is refused."""
    client = login_as("zj_super")
    extra = tampering(tree, role=SUPER, region_id=tree["regions"]["320000"].id,
                      school_id=tree["schools"][XIHU_FIRST].id, scope_path="")
    response = form_post(client, "/codes", {**extra, "grant": "training:330000", "days": "30"},
                         headers=headers)
    assert response.status_code == 200 and "权限码" in response.text
    issued = PermissionCode.get()
    assert (issued.role, issued.region_id, issued.school_id, issued.scope_path) == \
        (TRAINING, tree["regions"]["330000"].id, None, tree["regions"]["330000"].path)
    before = database_snapshot()
    for grant in ("super:320000", "super:330106", "school:3301060001", "operator:000000"):
        refused = form_post(client, "/codes", {**extra, "grant": grant, "days": "30"}, headers=headers)
        assert refused.status_code == 422, grant
    assert database_snapshot() == before


# ---------------------------------------------------------------- teachers

@AS_PAGE_AND_AS_HTMX
def test_sec04_an_application_is_pending_and_the_applicants_own(login_as, tree, headers):
    accounts.register("newteacher", "新老师", PASSWORD)
    client = login_as("newteacher")
    data = teacher_data(77)
    response = form_post(client, "/me", {
        **tampering(tree, account_id=tree["accounts"]["teacher"].id, version="99", reason="伪造"),
        **data, "school_id": tree["schools"][XIHU_FIRST].id}, headers=headers)
    assert response.status_code == 303, response.text
    row = Membership.get()
    assert (row.account.username, row.school_id, row.state, row.reason) == \
        ("newteacher", tree["schools"][XIHU_FIRST].id, PENDING, "")


@AS_PAGE_AND_AS_HTMX
def test_sec04_a_decision_takes_its_state_from_the_url_and_its_school_from_the_row(
        login_as, tree, teachers, headers):
    client = login_as("school_admin")
    pending = teachers["memberships"]["t_pending"]
    response = form_post(client, f"/teachers/{pending.id}/reject", {
        **tampering(tree, school_id=tree["schools"][XIHU_SECOND].id), "preset": "非本校（机构）教师",
        "reason": ""}, headers=headers)
    assert response.status_code in (200, 303), response.text
    row = Membership.get_by_id(pending.id)
    assert (row.state, row.school_id) == (REJECTED, tree["schools"][XIHU_FIRST].id)
    # another county's applicant stays out of reach whatever the body names
    far = teachers["memberships"]["t_far"]
    before = database_snapshot()
    for action in ("approve", "reject", "remove"):
        answer = form_post(client, f"/teachers/{far.id}/{action}",
                           {"school_id": tree["schools"][XIHU_FIRST].id, "reason": "篡改"}, headers=headers)
        assert answer.status_code == 404, action
    assert database_snapshot() == before


@AS_PAGE_AND_AS_HTMX
def test_sec04_bulk_approval_of_ids_outside_the_school_changes_nothing(login_as, teachers, headers):
    client = login_as("school_admin")
    foreign = [teachers["memberships"][u].id for u in ("t_far", "t_other", "t_mover_old")]
    before = database_snapshot()
    response = form_post(client, "/teachers/approve-many", {"ids": foreign}, headers=headers)
    assert response.status_code in (200, 303)
    assert database_snapshot() == before


# ---------------------------------------------------------------- notices

@AS_PAGE_AND_AS_HTMX
def test_sec04_urge_targets_outside_the_list_are_dropped(login_as, tree, headers):
    client = login_as("xh_admin")
    response = form_post(client, "/notices/urge/330106", {
        **tampering(tree), "body": "请尽快激活",
        "targets": [f"school:{XIHU_FIRST}", f"school:{SHANGCHENG}", f"school:{HAISHU}", "region:330102",
                    "region:330000"]}, headers=headers)
    assert response.status_code == 303, response.text
    notice = Notice.get()
    addressed = [(r.school.code if r.school_id else r.region.code) for r in
                 NoticeRecipient.select().where(NoticeRecipient.notice == notice)]
    assert addressed == [XIHU_FIRST]
    assert notice.scope_path == tree["regions"]["330106"].path

"""Teacher rules: submission checks, review decisions, transfer, removal, reveal, lists, counts."""
import datetime

import pytest

from tests.fixture_teachers import teacher_data
from yanxiu.models import AuditLog, Binding, Membership, School
from yanxiu.models.region import ARCHIVED
from yanxiu.models.teacher import (APPROVED, PENDING, REJECTED, REMOVED, SUPERSEDED, TRANSFERRED,
                                   WITHDRAWN)
from yanxiu.scope import Scope
from yanxiu.services import accounts, schools
from yanxiu.services import teachers as service
from yanxiu.services.teachers import DecisionConflict, TeacherError, TeacherFilters

PASSWORD = "Test@2025pw"


def binding_of(tree, username, school_code=None):
    query = Binding.select().where(Binding.account == tree["accounts"][username])
    if school_code:
        query = query.where(Binding.school == tree["schools"][school_code])
    return query.get()


def new_teacher(username="newbie", display="新来老师"):
    return accounts.register(username, display, PASSWORD)


def school_id(tree, code="3301060001"):
    return tree["schools"][code].id


@pytest.mark.parametrize("field,value,message", [
    ("id_number", "11010519491231002", "18 位"),
    ("id_number", "1101051949123100AX", "格式不正确"),
    ("id_number", "110105194913310021", "出生日期"),
    ("id_number", "110105194912310022", "校验位"),
    ("phone", "1381234567", "手机号"),
    ("phone", "23812345678", "手机号"),
    ("name", "李", "姓名"),
    ("name", "李·", "姓名"),
    ("gender", "未知", "性别"),
    ("stage", "大学", "任教学段"),
    ("subject", "炼金术", "任教学科"),
    ("title", "教授", "职称"),
])
def test_each_field_is_checked(tree, field, value, message):
    with pytest.raises(TeacherError) as err:
        service.submit_application(new_teacher(), school_id(tree), teacher_data(1, **{field: value}))
    assert message in err.value.errors[field]
    assert not Membership.select().exists()


def test_a_future_birth_date_is_refused(tree):
    body = "330106" + (datetime.date.today() + datetime.timedelta(days=30)).strftime("%Y%m%d") + "123"
    from stdnum.cn import ric
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(TeacherError) as err:
        service.submit_application(new_teacher(), school_id(tree), teacher_data(1, id_number=number))
    assert "晚于今天" in err.value.errors["id_number"]


def test_names_with_the_middle_dot_and_optional_title_are_accepted(tree):
    row = service.submit_application(new_teacher(), school_id(tree),
                                      teacher_data(1, name="阿依古丽·买买提", title=""))
    assert row.state == PENDING and row.name == "阿依古丽·买买提" and row.title == ""


@pytest.mark.parametrize("bad_school", ["", "abc", "999999"])
def test_a_school_outside_the_list_is_refused(tree, bad_school):
    with pytest.raises(TeacherError) as err:
        service.submit_application(new_teacher(), bad_school, teacher_data(1))
    assert "请从列表中选择学校" in err.value.errors["school"]


def test_an_archived_school_takes_no_applications(tree):
    school = tree["schools"]["3301060001"]
    School.update(status=ARCHIVED).where(School.id == school.id).execute()
    with pytest.raises(TeacherError):
        service.submit_application(new_teacher(), school.id, teacher_data(1))


def test_submission_is_pending_stored_masked_and_audited(tree):
    data = teacher_data(11)
    row = service.submit_application(new_teacher(), school_id(tree), data, address="10.0.0.9")
    assert row.state == PENDING
    assert row.id_masked == data["id_number"][:6] + "********" + data["id_number"][-4:]
    assert row.phone_masked == data["phone"][:3] + "****" + data["phone"][-4:]
    assert data["id_number"] not in row.id_cipher and data["phone"] not in row.phone_cipher
    entry = AuditLog.get(AuditLog.action == "teacher.applied")
    assert entry.target_id == str(row.id) and entry.address == "10.0.0.9"
    assert data["id_number"] not in entry.after and data["phone"] not in entry.after


def test_resubmitting_while_pending_is_refused(teachers):
    account = teachers["accounts"]["t_pending"]
    with pytest.raises(TeacherError) as err:
        service.submit_application(account, teachers["memberships"]["t_pending"].school_id,
                                teachers["data"]["t_pending"])
    assert "正在审核中" in str(err.value)
    assert Membership.select().where(Membership.account == account).count() == 1


def test_the_same_id_number_cannot_belong_to_two_approved_accounts(tree, teachers):
    taken = teachers["data"]["teacher"]["id_number"]
    with pytest.raises(TeacherError) as err:
        service.submit_application(new_teacher(), school_id(tree), teacher_data(20, id_number=taken))
    assert "另一账号完成实名认证" in err.value.errors["id_number"]
    assert "请使用该账号登录" in err.value.errors["id_number"]


def test_a_duplicate_pending_number_cannot_be_approved_second(tree, teachers):
    pending_number = teachers["data"]["t_pending"]["id_number"]
    other = service.submit_application(new_teacher(), school_id(tree), teacher_data(21, id_number=pending_number))
    admin = binding_of(tree, "school_admin")
    service.approve(admin, teachers["memberships"]["t_pending"].id)
    with pytest.raises(TeacherError) as err:
        service.approve(admin, other.id)
    assert "另一账号通过实名认证" in str(err.value)
    assert Membership.get_by_id(other.id).state == PENDING


def test_approval_makes_the_teacher_a_member(tree, teachers):
    row = teachers["memberships"]["t_pending"]
    approved = service.approve(binding_of(tree, "school_admin"), row.id, address="10.1.1.1")
    assert approved.state == APPROVED and approved.decided_by_id == tree["accounts"]["school_admin"].id
    assert service.teacher_status(teachers["accounts"]["t_pending"]).label == "已通过"
    assert AuditLog.select().where((AuditLog.action == "teacher.approved")
                                   & (AuditLog.target_id == str(row.id))).count() == 1


def test_a_second_decision_is_told_who_decided_first(tree, teachers):
    row = teachers["memberships"]["t_pending"]
    admin = binding_of(tree, "school_admin")
    service.reject(admin, row.id, "非本校（机构）教师")
    with pytest.raises(DecisionConflict) as err:
        service.approve(admin, row.id)
    assert "已由西湖校管处理（未通过）" in str(err.value)
    assert Membership.get_by_id(row.id).state == REJECTED


def test_rejection_needs_a_reason_and_the_teacher_reads_it(tree, teachers):
    row = teachers["memberships"]["t_pending"]
    admin = binding_of(tree, "school_admin")
    with pytest.raises(TeacherError) as err:
        service.reject(admin, row.id, "  ")
    assert "原因" in err.value.errors["reason"]
    assert Membership.get_by_id(row.id).state == PENDING
    service.reject(admin, row.id, "任教学段或学科填写有误")
    status = service.teacher_status(teachers["accounts"]["t_pending"])
    assert status.label == "未通过" and status.open_rejection.reason == "任教学段或学科填写有误"


def test_a_rejected_teacher_corrects_and_resubmits_keeping_the_stored_id(tree, teachers):
    account = teachers["accounts"]["t_rejected"]
    data = teachers["data"]["t_rejected"] | {"id_number": "", "phone": "", "subject": "语文"}
    row = service.submit_application(account, school_id(tree), data)
    assert row.state == PENDING and row.subject == "语文"
    assert row.id_index == teachers["memberships"]["t_rejected"].id_index
    assert Membership.get_by_id(teachers["memberships"]["t_rejected"].id).state == SUPERSEDED
    assert service.teacher_status(account).label == "待审核"


def test_a_first_submission_needs_the_id_number(tree):
    with pytest.raises(TeacherError) as err:
        service.submit_application(new_teacher(), school_id(tree), teacher_data(1, id_number="", phone=""))
    assert err.value.errors["id_number"] == "请填写身份证号" and err.value.errors["phone"] == "请填写手机号"


def test_an_unchanged_resubmission_by_a_member_is_refused(tree, teachers):
    with pytest.raises(TeacherError) as err:
        service.submit_application(teachers["accounts"]["teacher"], school_id(tree), teachers["data"]["teacher"])
    assert "信息没有变化" in str(err.value)


def test_a_member_correcting_information_stays_a_member_until_approved(tree, teachers):
    account = teachers["accounts"]["teacher"]
    old = teachers["memberships"]["teacher"]
    update = service.submit_application(account, school_id(tree), teachers["data"]["teacher"] | {"title": "高级教师"})
    status = service.teacher_status(account)
    assert status.member.id == old.id and status.pending.id == update.id
    service.approve(binding_of(tree, "school_admin"), update.id)
    assert Membership.get_by_id(old.id).state == SUPERSEDED
    assert service.teacher_status(account).member.title == "高级教师"


def test_transfer_moves_the_membership_when_the_new_school_approves(tree, teachers):
    old, new = teachers["memberships"]["t_mover_old"], teachers["memberships"]["t_mover"]
    assert service.teacher_status(teachers["accounts"]["t_mover"]).member.id == old.id
    service.approve(binding_of(tree, "school_admin"), new.id)
    old = Membership.get_by_id(old.id)
    assert old.state == TRANSFERRED and old.end_reason == "调入西湖区第一小学"
    old_school = Scope.of(binding_of(tree, "multi", "3301060002"))
    assert [r.name for r in service.teacher_list(old_school, TeacherFilters(state=TRANSFERRED))] == [
        teachers["data"]["t_mover"]["name"]]
    assert service.state_counts(old_school)[APPROVED] == 0
    assert AuditLog.get(AuditLog.action == "teacher.transferred").target_id == str(old.id)


def test_another_schools_application_is_out_of_reach(tree, teachers):
    admin = binding_of(tree, "school_admin")
    for name in ("t_far", "t_other"):
        row = teachers["memberships"][name]
        with pytest.raises(LookupError):
            service.approve(admin, row.id)
        with pytest.raises(LookupError):
            service.reject(admin, row.id, "x")
        with pytest.raises(LookupError):
            service.remove_teacher(admin, row.id, "x")
        assert Membership.get_by_id(row.id).state == row.state


def test_region_admins_read_but_do_not_decide(tree, teachers):
    with pytest.raises(LookupError):
        service.approve(binding_of(tree, "xh_admin"), teachers["memberships"]["t_pending"].id)


def test_bulk_approval_approves_each_and_reports_the_rest(tree, teachers):
    m = teachers["memberships"]
    outcome = service.approve_many(binding_of(tree, "school_admin"),
                                    [m["t_pending"].id, m["t_mover"].id, m["t_far"].id, m["teacher"].id])
    assert sorted(outcome.approved) == sorted([teachers["data"][u]["name"] for u in ("t_pending", "t_mover")])
    assert len(outcome.refused) == 2
    assert Membership.get_by_id(m["t_far"].id).state == PENDING


def test_removal_needs_a_reason_and_only_applies_to_members(tree, teachers):
    admin = binding_of(tree, "school_admin")
    row = teachers["memberships"]["teacher"]
    with pytest.raises(TeacherError):
        service.remove_teacher(admin, row.id, "")
    removed = service.remove_teacher(admin, row.id, "调离教学岗位")
    assert removed.state == REMOVED and removed.end_reason == "调离教学岗位"
    assert service.teacher_status(teachers["accounts"]["teacher"]).label == "已移出"
    with pytest.raises(DecisionConflict):
        service.remove_teacher(admin, row.id, "again")


def test_withdraw_then_resubmit(tree, teachers):
    account = teachers["accounts"]["t_pending"]
    service.withdraw_application(account)
    assert Membership.get_by_id(teachers["memberships"]["t_pending"].id).state == WITHDRAWN
    with pytest.raises(TeacherError):
        service.withdraw_application(account)
    row = service.submit_application(account, school_id(tree), teachers["data"]["t_pending"] | {"id_number": ""})
    assert row.state == PENDING


def test_reveal_is_scoped_and_audited(tree, teachers):
    row = teachers["memberships"]["teacher"]
    data = teachers["data"]["teacher"]
    assert service.reveal(binding_of(tree, "xh_admin"), row.id, "id_number") == data["id_number"]
    assert service.reveal(binding_of(tree, "school_admin"), row.id, "phone") == data["phone"]
    reveals = list(AuditLog.select().where(AuditLog.action == "teacher.revealed"))
    assert len(reveals) == 2 and all(data["id_number"] not in r.after for r in reveals)
    for outsider in ("nb_admin", "js_admin"):
        with pytest.raises(LookupError):
            service.reveal(binding_of(tree, outsider), row.id, "id_number")
    with pytest.raises(LookupError):
        service.reveal(binding_of(tree, "xh_admin"), row.id, "password_hash")
    assert AuditLog.select().where(AuditLog.action == "teacher.revealed").count() == 2


def test_search_by_name_phone_tail_full_phone_and_id(tree, teachers):
    scope = Scope.of(binding_of(tree, "xh_admin"))
    data = teachers["data"]["teacher"]

    def names(q, state=APPROVED):
        return [r.account_id for r in service.teacher_list(scope, TeacherFilters(state=state, q=q))]

    me = teachers["accounts"]["teacher"].id
    assert me in names(data["phone"][-4:])
    assert names(data["phone"]) == [me]
    assert names(data["id_number"]) == [me]
    assert names(data["id_number"].lower()) == [me]
    assert names("nobody") == []
    assert names(data["name"][:1])


def test_lists_are_scoped_and_filtered(tree, teachers):
    def rows(username, **kw):
        return {r.account.username for r in
                service.teacher_list(Scope.of(binding_of(tree, username)), TeacherFilters(**kw))}

    assert rows("school_admin", state=PENDING) == {"t_pending", "t_mover"}
    assert rows("xh_admin", state=APPROVED) == {"teacher", "t_mover"}
    assert rows("hz_admin", state=APPROVED) == {"teacher", "t_mover"}
    assert rows("zj_admin", state=APPROVED) == {"teacher", "t_mover", "t_other"}
    assert rows("js_admin", state=PENDING) == {"t_far"}
    assert rows("nb_admin", state=PENDING) == set()
    assert rows("xh_admin", state=APPROVED, school=school_id(tree, "3301060002")) == {"t_mover"}
    assert rows("xh_admin", state=APPROVED, subject="语文") == set()
    assert rows("xh_admin", state="bogus") == {"t_pending", "t_mover"}


def test_state_counts_per_tab(tree, teachers):
    counts = service.state_counts(Scope.of(binding_of(tree, "school_admin")))
    assert counts == {PENDING: 2, APPROVED: 1, REJECTED: 1, REMOVED: 1, TRANSFERRED: 0}
    assert service.pending_count(Scope.of(binding_of(tree, "zj_admin"))) == 2
    assert service.pending_count(Scope.of(binding_of(tree, "operator"))) == 3


def test_counts_by_sub_region_and_by_school(tree, teachers):
    by_code = {r.code: r for r in service.teacher_counts_by_child(tree["regions"]["330000"])}
    assert (by_code["330100"].approved, by_code["330100"].pending) == (2, 2)
    assert (by_code["330200"].approved, by_code["330200"].pending) == (1, 0)
    assert by_code["3300000001"].school_id == tree["schools"]["3300000001"].id
    county = {r.code: r for r in service.teacher_counts_by_child(tree["regions"]["330106"])}
    assert (county["3301060001"].approved, county["3301060001"].pending) == (1, 2)
    assert (county["3301060002"].approved, county["3301060002"].pending) == (1, 0)


def test_a_school_with_teachers_is_archived_not_deleted(tree, teachers):
    school = tree["schools"]["3302030001"]
    assert schools.remove_school(binding_of(tree, "zj_admin"), school) == "archived"
    assert School.get_by_id(school.id).status == ARCHIVED


def test_teachers_follow_their_school_when_it_is_transferred(tree, teachers):
    school = tree["schools"]["3301060002"]
    schools.transfer_school(binding_of(tree, "hz_admin"), school, tree["regions"]["330102"], reason="区划调整")
    scope = Scope.of(binding_of(tree, "xh_admin"))
    assert service.state_counts(scope)[APPROVED] == 1
    shangcheng = Scope.of(Binding.create(account=tree["accounts"]["zj_admin"], role="training",
                                         region=tree["regions"]["330102"]))
    assert [r.account.username for r in service.teacher_list(shangcheng, TeacherFilters(state=APPROVED))] == ["t_mover"]

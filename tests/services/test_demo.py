"""The demo dataset (SPEC §11): accounts that log in, 浙江省's schools, idempotence, refusal, CLI."""
import re
from collections import Counter

import pytest
from peewee import fn

from tests.conftest import log_in
from yanxiu.crypto import personal_data_cipher
from yanxiu.models import Account, AuditLog, Binding, Membership, PermissionCode, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.region import COUNTY, INSTITUTION_KINDS, SCHOOL, STAGES
from yanxiu.models.teacher import (APPROVED, PENDING, REJECTED, REMOVED, SUBJECTS, TEACHING_STAGES,
                                   TITLES, TRANSFERRED)
from yanxiu.scope import Scope
from yanxiu.services import accounts, codes, teachers
from yanxiu.services.identity import check_id_number, check_mobile, check_person_name
from yanxiu.masking import mask_id_number, mask_phone
from yanxiu.services.demo import DEMO_PASSWORD, DEMO_SCHOOL_NAME, DemoRefused, build_demo

# SPEC §11: account → (role label, scope name) shown on its workbench.
SPEC_ACCOUNTS = {
    "operator": ("平台运维", "全国"),
    "zj_super": ("超级管理员", "浙江省"),
    "zj_admin": ("研修专项管理员", "浙江省"),
    "hz_admin": ("研修专项管理员", "杭州市"),
    "xh_admin": ("研修专项管理员", "西湖区"),
    "nb_admin": ("研修专项管理员", "宁波市"),
    "school_admin": ("学校管理员", DEMO_SCHOOL_NAME),
    "teacher": ("教师", "王丽"),
}


@pytest.fixture
def demo(app):
    return build_demo(scale=1)


def _counts() -> dict:
    return {model.__name__: model.select().count()
            for model in (Region, School, Account, Binding, AuditLog)}


def _zhejiang_counties() -> list[Region]:
    zhejiang = Region.get(Region.code == "330000")
    return list(Region.select().where(Region.in_subtree(zhejiang.path) & (Region.level == COUNTY)))


@pytest.mark.parametrize("username", SPEC_ACCOUNTS)
def test_spec_account_logs_in_and_workbench_shows_its_binding(demo, app, username):
    client = app.test_client()
    response = log_in(client, username, DEMO_PASSWORD)
    assert response.status_code == 303, response.text
    page = client.get("/workbench")
    assert page.status_code == 200
    role_label, scope_name = SPEC_ACCOUNTS[username]
    assert role_label in page.text and scope_name in page.text


def test_spec_bindings(demo):
    account = Account.get(Account.username == "xh_admin")
    assert account.is_demo
    [binding] = account.bindings
    assert binding.region.code == "330106" and binding.state == "active"
    assert Account.get(Account.username == "operator").bindings[0].region.code == "000000"
    assert not list(Account.get(Account.username == "teacher").bindings)
    [school_binding] = Account.get(Account.username == "school_admin").bindings
    assert school_binding.school.name == DEMO_SCHOOL_NAME
    assert school_binding.school.region.code == "330106"
    assert DEMO_SCHOOL_NAME in demo
    # Exactly one school admin per school.
    per_school = (Binding.select(Binding.school, fn.COUNT(Binding.id)).where(Binding.role == SCHOOL_ADMIN)
                  .group_by(Binding.school).having(fn.COUNT(Binding.id) > 1))
    assert not list(per_school)
    # Every account is a demo account and shares the demo password.
    assert not Account.select().where(Account.is_demo == False).exists()  # noqa: E712
    bulk = Account.select().where(Account.username.startswith("sa_")).first()
    assert accounts.hasher().verify(bulk.password_hash, DEMO_PASSWORD)


def test_every_zhejiang_county_has_schools_named_after_it(demo):
    counties = _zhejiang_counties()
    assert len(counties) >= 80
    for county in counties:
        schools = list(School.select().where(School.region == county))
        real_schools = [s for s in schools if s.kind == SCHOOL]
        assert len(real_schools) >= 30, county.name
        assert {s.kind for s in schools} >= set(INSTITUTION_KINDS) - {"other_institution"}
        for school in schools:
            assert school.name.startswith(county.name), school.name
            assert school.region_path == county.path
            assert (school.stage in STAGES) if school.kind == SCHOOL else school.stage is None
            assert school.ownership in ("公办", "民办")
            assert school.address.startswith("浙江省") and county.name in school.address
            assert school.contact_name and re.fullmatch(r"1\d{10}|0\d{3}-\d{8}", school.contact_phone)
    # Some county lists page at 50 rows; 西湖区 always does.
    xihu = Region.get(Region.code == "330106")
    assert School.select().where(School.region == xihu).count() > 50


def test_province_and_cities_have_direct_schools(demo):
    for code in ("330000", "330100", "330200"):
        region = Region.get(Region.code == code)
        schools = list(School.select().where(School.region == region))
        assert len(schools) >= 3
        assert all(s.name.startswith(region.name) and s.region_path == region.path for s in schools)


def test_school_codes_are_ten_digits_and_unique(demo):
    codes = [code for (code,) in School.select(School.code).tuples()]
    assert len(codes) > 3000
    assert all(len(c) == 10 and c.isdigit() for c in codes)
    assert len(set(codes)) == len(codes)
    # Names are unique within a region (the table's unique index would refuse otherwise).
    pairs = [(r, n) for r, n in School.select(School.region, School.name).tuples()]
    assert len(set(pairs)) == len(pairs)


def _snapshot() -> list[tuple]:
    return list(School.select(School.code, School.name, School.stage, School.ownership,
                              School.address, School.contact_phone).order_by(School.code).tuples())


def test_seeded_rebuild_gives_the_same_dataset(demo):
    first = _snapshot()
    admins = sorted(Account.select(Account.username, Account.display_name).tuples())
    # 西湖区's list opens with the demo school.
    assert [row for row in first if row[0].startswith("330106")][0][1] == DEMO_SCHOOL_NAME
    build_demo(scale=2)
    assert _snapshot() != first
    build_demo(scale=1)
    assert _snapshot() == first
    assert sorted(Account.select(Account.username, Account.display_name).tuples()) == admins


def test_second_run_changes_nothing(demo):
    before = _counts()
    codes_before = list(School.select(School.code, School.name).order_by(School.code).tuples())
    summary = build_demo(scale=1)
    assert "already built" in summary
    assert _counts() == before
    assert list(School.select(School.code, School.name).order_by(School.code).tuples()) == codes_before


def test_another_scale_rebuilds_without_duplicates(demo):
    schools_at_1 = School.select().count()
    build_demo(scale=2)
    assert School.select().count() > schools_at_1 * 1.8
    assert Account.select().where(Account.username == "xh_admin").count() == 1
    assert AuditLog.select().where(AuditLog.action == "demo.built").count() == 1
    assert Binding.select().where(Binding.role == SCHOOL_ADMIN).join(Account).where(
        Account.username == "school_admin").count() == 1


def test_one_audit_row_with_counts(demo):
    rows = list(AuditLog.select().where(AuditLog.action == "demo.built"))
    assert len(rows) == 1
    assert '"schools": %d' % School.select().count() in rows[0].after
    assert AuditLog.select().count() == 1


def test_refuses_when_a_real_account_exists(app):
    accounts.register("real_user", "真实用户", "Xy7!realpass")
    with pytest.raises(DemoRefused) as refused:
        build_demo(scale=1)
    assert "非演示" in str(refused.value)
    assert School.select().count() == 0 and Region.select().count() == 0


def test_refuses_after_demo_when_a_real_account_is_added(demo):
    accounts.register("real_user", "真实用户", "Xy7!realpass")
    before = _counts()
    with pytest.raises(DemoRefused):
        build_demo(scale=1)
    assert _counts() == before


def test_refuses_a_bad_scale(app):
    with pytest.raises(DemoRefused):
        build_demo(scale=0)


def test_cli_demo(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert DEMO_SCHOOL_NAME in result.output
    assert Account.select().where(Account.username == "operator").exists()
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already built" in again.output


def test_cli_demo_refuses_real_data(runner):
    accounts.register("real_user", "真实用户", "Xy7!realpass")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "非演示" in result.output


def test_xihu_school_list_pages_for_xh_admin(demo, app):
    client = app.test_client()
    assert log_in(client, "xh_admin", DEMO_PASSWORD).status_code == 303
    page = client.get("/regions/330106/schools")
    assert page.status_code == 200
    assert "第 1 / 2 页" in page.text and "下一页" in page.text


def test_every_binding_has_the_used_code_behind_it(demo):
    bindings = Binding.select().where(Binding.role != "operator").count()
    used = PermissionCode.select().where(PermissionCode.state == "used")
    assert used.count() == bindings
    assert all(c.binding.account_id == c.used_by_id for c in used)


def test_demo_has_unused_expiring_expired_and_revoked_codes(demo):
    states = {codes.code_state(c) for c in PermissionCode.select()}
    assert {"unused", "used", "expired"} <= states


def test_school_admin_sees_the_demo_urge_on_the_workbench(demo, app):
    client = app.test_client()
    assert log_in(client, "school_admin", DEMO_PASSWORD).status_code == 303
    assert "请学校管理员登录平台审核本校教师的实名信息" in client.get("/workbench").text


def test_activation_progress_differs_between_regions(demo, app):
    client = app.test_client()
    log_in(client, "zj_admin", DEMO_PASSWORD)
    page = client.get("/progress").text
    rates = set(re.findall(r'<td class="num">(\d+\.\d)%</td>', page))
    assert len(rates) > 2


# ---- teachers ------------------------------------------------------------------------------

def _school_admin_binding() -> Binding:
    return Binding.select().join(Account).where(Account.username == "school_admin").get()


def test_teachers_in_every_state(demo):
    counts = dict(Membership.select(Membership.state, fn.COUNT(Membership.id))
                  .group_by(Membership.state).tuples())
    assert all(counts.get(state, 0) > 0 for state in (APPROVED, PENDING, REJECTED, REMOVED,
                                                      TRANSFERRED)), counts
    assert 3000 <= counts[APPROVED] <= 6000 and 100 <= counts[PENDING] < 1000
    assert 3000 <= Account.select().where(Account.username.startswith("t3")).count() <= 6000
    # Rejections carry a reason the teacher can act on; removals and moves say why.
    assert {r for (r,) in Membership.select(Membership.reason).where(Membership.state == REJECTED)
            .tuples()} <= set(teachers.REJECT_REASONS)
    assert not Membership.select().where(Membership.state.in_([REMOVED, TRANSFERRED])
                                         & (Membership.end_reason == "")).exists()
    # Only a school whose admin is activated has decided anything, and that admin did.
    decided = Membership.select().where(Membership.decided_by.is_null(False))
    admins = dict(Binding.select(Binding.school, Binding.account).where(Binding.role == SCHOOL_ADMIN)
                  .tuples())
    assert all(admins[row.school_id] == row.decided_by_id for row in decided)
    # Teachers across the province, many more in some counties than in others.
    per_county = Counter(code[:6] for (code,) in Membership.select(School.code).join(School).tuples())
    assert len(per_county) >= 30 and max(per_county.values()) > 10 * min(per_county.values())


def test_teacher_fields_are_realistic(demo):
    cipher = personal_data_cipher()
    stage_of = dict(School.select(School.id, School.stage).tuples())
    rows = list(Membership.select().order_by(Membership.id))
    for row in rows[::23]:
        id_number, phone = cipher.decrypt(row.id_cipher), cipher.decrypt(row.phone_cipher)
        assert check_id_number(id_number) == id_number and check_mobile(phone) == phone
        assert row.id_masked == mask_id_number(id_number) and row.phone_masked == mask_phone(phone)
        assert row.id_index == cipher.blind_index(id_number)
        # The 17th digit of a 身份证号 is odd for men, even for women.
        assert (int(id_number[16]) % 2 == 1) == (row.gender == "男")
        assert 1965 <= int(id_number[6:10]) <= 2000
        assert check_person_name(row.name) == row.name
        assert row.stage in TEACHING_STAGES and row.subject in SUBJECTS
        assert row.title in TITLES or row.title == ""
        if stage_of[row.school_id] == "小学":
            assert row.stage == "小学"
    assert {r.gender for r in rows} == {"男", "女"}


def test_demo_teacher_is_approved_at_school_admins_school(demo):
    binding = _school_admin_binding()
    account = Account.get(Account.username == "teacher")
    status = teachers.teacher_status(account)
    assert status.label == "已通过" and status.member.school_id == binding.school_id
    assert status.member.name == "王丽" and status.member.decided_by_id == binding.account_id
    # school_admin's review page has work, and its lists every other tab too.
    counts = teachers.state_counts(Scope.of(binding))
    assert counts[PENDING] >= 5 and all(counts.values()), counts


def test_pending_transfers_and_done_ones(demo):
    county = {s: code[:6] for s, code in School.select(School.id, School.code).tuples()}
    approved = dict(Membership.select(Membership.account, Membership.school)
                    .where(Membership.state == APPROVED).tuples())
    moving = [(account, approved[account], school) for account, school in
              Membership.select(Membership.account, Membership.school)
              .where(Membership.state == PENDING).tuples() if account in approved]
    assert moving and all(old != new and county[old] == county[new] for _, old, new in moving)
    demo_school = _school_admin_binding().school_id
    assert any(new == demo_school for _, _, new in moving)
    moved = list(Membership.select().where(Membership.state == TRANSFERRED))
    assert any(row.school_id == demo_school for row in moved)
    for row in moved:
        now_at = Membership.get((Membership.account == row.account_id) & (Membership.state == APPROVED))
        assert row.end_reason == f"调入{now_at.school.name}"
        assert county[now_at.school_id] == county[row.school_id] != ""
        assert now_at.id_index == row.id_index


def test_id_numbers_are_unique_among_approved_teachers(demo):
    approved = [i for (i,) in Membership.select(Membership.id_index)
                .where(Membership.state == APPROVED).tuples()]
    assert len(set(approved)) == len(approved)
    people = Membership.select(Membership.account, Membership.id_index).distinct().tuples()
    assert len({i for _, i in people}) == len({a for a, _ in people})


def test_no_clear_personal_data_in_the_membership_table(demo):
    cipher = personal_data_cipher()
    raw = list(Membership.select(*Membership._meta.sorted_fields).tuples())
    columns = [f.column_name for f in Membership._meta.sorted_fields]
    index_of = columns.index
    for values in raw[::7]:
        clear = {cipher.decrypt(values[index_of("id_cipher")]),
                 cipher.decrypt(values[index_of("phone_cipher")])}
        stored = " ".join(str(v) for v in values)
        assert not any(value in stored for value in clear)
    shown = [v for values in raw for c, v in zip(columns, values)
             if isinstance(v, str) and not c.endswith(("_cipher", "_index"))]
    assert not any(re.search(r"\d{17}[\dX]|(?<!\d)1[3-9]\d{9}(?!\d)", v) for v in shown)


def test_workbench_to_do_of_school_admin_and_xh_admin(demo, app):
    expected = {"school_admin": teachers.pending_count(Scope.of(_school_admin_binding())),
                "xh_admin": teachers.pending_count(Scope.of(
                    Binding.select().join(Account).where(Account.username == "xh_admin").get()))}
    assert expected["xh_admin"] > expected["school_admin"] >= 5
    for username, pending in expected.items():
        client = app.test_client()
        assert log_in(client, username, DEMO_PASSWORD).status_code == 303
        page = client.get("/workbench").text
        assert f'<a href="/teachers?state=pending">待审核教师 {pending} 人</a>' in page
    client = app.test_client()
    log_in(client, "teacher", DEMO_PASSWORD)
    page = client.get("/workbench").text
    assert "<strong>已通过</strong>" in page and DEMO_SCHOOL_NAME in page


def test_the_summer_programme_has_records_and_exact_rollups(demo):
    from yanxiu.models import LearningRecord, Programme, RegionProgress, TeacherProgress
    from yanxiu.services import rollups
    programme = Programme.get(Programme.name == "2025年暑期教师研修")
    assert (programme.minutes_per_hour, programme.required_hours) == (45, 10)
    assert LearningRecord.select().count() > 10_000
    teacher = Account.get(Account.username == "teacher")
    mine = TeacherProgress.get((TeacherProgress.account == teacher) & (TeacherProgress.programme == programme))
    assert 0 < mine.credited_minutes < programme.required_minutes
    counties = [r for r in RegionProgress.select().join(Region, on=(RegionProgress.region == Region.id))
                .where((Region.level == "county") & (RegionProgress.teachers > 0))]
    rates = {round(r.completed / r.teachers, 2) for r in counties}
    assert len(counties) >= 5 and len(rates) >= 4  # rates differ between regions
    assert rollups.rebuild_all(write=False).clean

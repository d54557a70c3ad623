"""Rollups against an independent recomputation from raw records, through every kind of change."""
import datetime
import random

import pytest

from tests.fixture_teachers import valid_id_number
from yanxiu.models import (Binding, Course, LearningRecord, Membership, Programme, Region, RegionProgress,
                           School, SchoolProgress)
from yanxiu.models.teacher import APPROVED
from yanxiu.services import accounts, programmes, records, rollups, schools
from yanxiu.services import teachers as teacher_service

PASSWORD = "Test@2025pw"
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def binding_of(tree, username, school_code=None):
    query = Binding.select().where(Binding.account == tree["accounts"][username])
    if school_code:
        query = query.where(Binding.school == tree["schools"][school_code])
    return query.get()


def make_programme(tree, **overrides):
    data = {"name": "2025年暑期教师研修", "kind": "summer", "start_date": "2025-07-01",
            "end_date": "2025-08-31", "minutes_per_hour": 45, "required_hours": 3, "audience": []}
    courses = [{"name": "师德修养", "minutes": 120, "max_hours": 1},
               {"name": "数字素养", "minutes": 300, "max_hours": 3}]
    return programmes.create_programme(binding_of(tree, "operator"), data | overrides, courses)


def oracle(programme: Programme) -> tuple[dict, dict]:
    """Figures per school id and per region code, computed from raw records in plain Python
    from the rules of SPEC §8 alone."""
    start = datetime.date.fromisoformat(str(programme.start_date))
    end = datetime.date.fromisoformat(str(programme.end_date))
    caps = {c.id: c.max_hours * programme.minutes_per_hour for c in programme.courses}
    minutes: dict = {}
    for r in LearningRecord.select().where(LearningRecord.programme == programme.id):
        local_day = (r.occurred_at + datetime.timedelta(hours=8)).date()
        if start <= local_day <= end:
            minutes[(r.account_id, r.course_id)] = minutes.get((r.account_id, r.course_id), 0) + r.minutes
    credited: dict = {}
    for (account, course), m in minutes.items():
        credited[account] = credited.get(account, 0) + min(m, caps[course])
    audience = programme.audience_stages
    schools_: dict = {}
    regions_: dict = {}
    for m in Membership.select().where(Membership.state == APPROVED):
        school = School.get_by_id(m.school_id)
        if audience and m.stage not in audience:
            continue
        if programme.region_id and not school.region_path.startswith(programme.region.path):
            continue
        c = credited.get(m.account_id, 0)
        figures = (1, int(c > 0), int(c >= programme.required_minutes), c)
        codes = [school.region_path[i:i + 6] for i in range(0, len(school.region_path), 6)] + ["000000"]
        for key, table in [(school.id, schools_)] + [(code, regions_) for code in codes]:
            table[key] = tuple(a + b for a, b in zip(table.get(key, (0, 0, 0, 0)), figures))
    return schools_, regions_


def stored(programme: Programme) -> tuple[dict, dict]:
    def figures(row):
        return (row.teachers, row.participants, row.completed, row.credited_minutes)
    by_school = {r.school_id: figures(r) for r in SchoolProgress.select()
                 .where(SchoolProgress.programme == programme.id) if any(figures(r))}
    by_region = {Region.get_by_id(r.region_id).code: figures(r) for r in RegionProgress.select()
                 .where(RegionProgress.programme == programme.id) if any(figures(r))}
    return by_school, by_region


def assert_rollups_exact(programme: Programme):
    programme = Programme.get_by_id(programme.id)
    assert stored(programme) == oracle(programme)
    assert rollups.rebuild_programme(programme).clean


def random_batch(rng, programme, usernames, size, prefix):
    course_ids = [c.id for c in programme.courses]
    batch = []
    for n in range(size):
        day = datetime.datetime(2025, 6, 28, tzinfo=SHANGHAI) + datetime.timedelta(
            days=rng.randint(0, 68), minutes=rng.randint(0, 1439))
        batch.append({"external_id": f"{prefix}-{n}", "teacher": {"account": rng.choice(usernames)},
                      "programme": programme.id, "course": rng.choice(course_ids),
                      "minutes": rng.choice([5, 30, 45, 60, 90, 200]), "occurred_at": day.isoformat()})
    return batch


@pytest.fixture
def programme(tree, teachers):
    return make_programme(tree)


def usernames(teachers):
    return list(teachers["accounts"]) + ["xh_admin"]


def test_new_programme_counts_the_approved_teachers(tree, teachers, programme):
    by_school, by_region = stored(programme)
    assert by_region["330106"] == (2, 0, 0, 0) and by_region["000000"] == (3, 0, 0, 0)
    assert_rollups_exact(programme)


@pytest.mark.parametrize("seed", range(4))
def test_random_ingestion_keeps_rollups_exact(tree, teachers, programme, seed):
    rng = random.Random(seed)
    for batch_no in range(3):
        results = records.ingest(random_batch(rng, programme, usernames(teachers), 40, f"{seed}-{batch_no}"))
        assert {r.status for r in results} == {"accepted"}
    assert_rollups_exact(programme)
    assert stored(programme)[1]["000000"][3] > 0


def test_membership_changes_move_the_figures(tree, teachers, programme):
    rng = random.Random(7)
    records.ingest(random_batch(rng, programme, usernames(teachers), 120, "m"))
    admin = binding_of(tree, "school_admin")
    m = teachers["memberships"]
    teacher_service.approve(admin, m["t_pending"].id)
    assert_rollups_exact(programme)
    teacher_service.approve(admin, m["t_mover"].id)  # transfer from 文新中学
    assert_rollups_exact(programme)
    teacher_service.remove_teacher(admin, m["teacher"].id, "调离")
    assert_rollups_exact(programme)
    schools.transfer_school(binding_of(tree, "hz_admin"), tree["schools"]["3301060001"],
                            tree["regions"]["330102"], reason="区划调整")
    assert_rollups_exact(programme)
    records.ingest(random_batch(rng, programme, usernames(teachers), 60, "m2"))
    assert_rollups_exact(programme)


@pytest.mark.parametrize("change", [
    {"required_hours": 4}, {"minutes_per_hour": 30}, {"start_date": "2025-07-10"},
    {"end_date": "2025-07-20"}, {"audience": ["初中"]},
])
def test_a_rule_change_recomputes_the_figures(tree, teachers, programme, change):
    records.ingest(random_batch(random.Random(3), programme, usernames(teachers), 14, "r"))
    data = {"name": programme.name, "kind": programme.kind, "start_date": "2025-07-01",
            "end_date": "2025-08-31", "minutes_per_hour": 45, "required_hours": 3, "audience": []}
    before = stored(programme)
    programmes.update_programme(binding_of(tree, "operator"), programme, data | change, programme.version)
    assert stored(programme) != before
    assert_rollups_exact(programme)


def test_a_course_cap_change_recomputes(tree, teachers, programme):
    records.ingest(random_batch(random.Random(4), programme, usernames(teachers), 150, "c"))
    course = programme.courses.order_by(Course.id).first()
    programmes.save_course(binding_of(tree, "operator"), programme,
                           {"name": course.name, "minutes": 120, "max_hours": 3}, course)
    assert_rollups_exact(programme)


def test_a_provincial_programme_counts_its_province_only(tree, teachers):
    programme = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31", "required_hours": 1},
        [{"name": "专题一", "minutes": 90, "max_hours": 2}])
    far = teachers["accounts"]["t_far"]
    teacher_service.approve(Binding.create(account=accounts.register("xw_admin", "玄武校管", PASSWORD),
                                           role="school", school=tree["schools"]["3201020001"]),
                            teachers["memberships"]["t_far"].id)
    results = records.ingest(random_batch(random.Random(5), programme, ["teacher", far.username], 30, "p"))
    assert all(r.status == "accepted" for r in results)
    assert "320000" not in stored(programme)[1]
    assert_rollups_exact(programme)


def record(programme, external_id="e1", **overrides):
    item = {"external_id": external_id, "teacher": {"account": "teacher"}, "programme": programme.id,
            "course": programme.courses.order_by(Course.id).first().id, "minutes": 45,
            "occurred_at": "2025-07-15T20:30:00+08:00"}
    return item | overrides


@pytest.mark.parametrize("overrides,reason", [
    ({"minutes": -5}, "minutes 须在"), ({"minutes": 0}, "minutes 须在"), ({"minutes": 100000}, "minutes 须在"),
    ({"minutes": "45"}, "minutes 须为整数"), ({"minutes": True}, "minutes 须为整数"),
    ({"programme": 99999}, "未找到该研修项目"), ({"course": 99999}, "该课程不属于"),
    ({"teacher": {"account": "nobody"}}, "未找到该平台账号"), ({"teacher": {}}, "teacher 须给出"),
    ({"teacher": {"id_number": "110105194912310022"}}, "id_number 无效"),
    ({"teacher": {"id_number": valid_id_number(999)}}, "未找到该身份证号"),
    ({"occurred_at": "yesterday"}, "occurred_at"), ({"occurred_at": "2999-01-01T00:00:00"}, "晚于当前时间"),
    ({"external_id": ""}, "external_id"), ({"external_id": "x" * 65}, "external_id"),
    ({"programme": 10**30}, "未找到该研修项目"), ({"course": -1}, "该课程不属于"),
    ({"occurred_at": "0001-01-01T00:00:00"}, "occurred_at"),
    ({"occurred_at": "9999-12-31T23:59:00-05:00"}, "occurred_at"),
])
def test_bad_items_are_refused_and_the_good_kept(tree, teachers, programme, overrides, reason):
    results = records.ingest([record(programme, "good"), record(programme, "bad") | overrides])
    assert results[0].status == "accepted"
    assert results[1].status == "rejected" and reason in results[1].reason
    assert LearningRecord.select().count() == 1


def test_a_teacher_found_by_id_number(tree, teachers, programme):
    number = teachers["data"]["teacher"]["id_number"]
    results = records.ingest([record(programme, teacher={"id_number": number})])
    assert results[0].status == "accepted"
    assert LearningRecord.get().account_id == teachers["accounts"]["teacher"].id


def test_external_ids_are_idempotent_within_and_across_batches(tree, teachers, programme):
    first = records.ingest([record(programme, "a"), record(programme, "a"), record(programme, "b")])
    assert [r.status for r in first] == ["accepted", "duplicate", "accepted"]
    again = records.ingest([record(programme, "a", minutes=300), record(programme, "c")])
    assert [r.status for r in again] == ["duplicate", "accepted"]
    assert LearningRecord.select().count() == 3
    assert_rollups_exact(programme)


def test_batch_level_refusals(tree, teachers, programme):
    with pytest.raises(records.BatchError):
        records.ingest({"records": []})
    with pytest.raises(records.BatchError):
        records.ingest([record(programme, f"x{i}") for i in range(records.MAX_BATCH + 1)])
    assert LearningRecord.select().count() == 0
    assert records.ingest([]) == []


def test_a_provincial_token_sends_for_its_province_only(tree, teachers, programme):
    from yanxiu.models import ApiToken
    token = ApiToken.create(name="浙江平台", token_hash="x" * 64, hint="x", region=tree["regions"]["330000"],
                            created_by=tree["accounts"]["operator"])
    results = records.ingest([record(programme, "in"), record(programme, "out", teacher={"account": "t_far"})],
                             token=token)
    assert [r.status for r in results] == ["accepted", "rejected"]
    assert "范围" in results[1].reason


def test_minutes_outside_the_dates_or_above_the_cap_do_not_count(tree, teachers, programme):
    first = programme.courses.order_by(Course.id).first()  # capped at 1 学时 = 45 minutes
    records.ingest([record(programme, "early", occurred_at="2025-06-30T23:59:00+08:00"),
                    record(programme, "late", occurred_at="2025-09-01T00:00:00+08:00"),
                    record(programme, "edge", occurred_at="2025-07-01T00:00:00+08:00", minutes=30),
                    record(programme, "more", minutes=60, course=first.id)])
    by_school, _ = stored(programme)
    assert by_school[tree["schools"]["3301060001"].id] == (1, 1, 0, 45)
    assert_rollups_exact(programme)


def test_an_empty_programme_has_figures_without_division(tree, teachers, programme):
    assert stored(programme)[1]["330000"] == (3, 0, 0, 0)
    assert rollups.rebuild_all().clean


def test_rebuild_reports_a_damaged_rollup(tree, teachers, programme):
    records.ingest([record(programme, "r1")])
    (SchoolProgress.update(participants=SchoolProgress.participants + 5)
     .where(SchoolProgress.programme == programme.id).execute())
    report = rollups.rebuild_all()
    assert report.differences["school"] >= 1 and not report.clean
    assert rollups.rebuild_all().clean


def test_the_rebuild_command_checks_then_repairs(runner, tree, teachers, programme):
    records.ingest([record(programme, "r1")])
    assert runner.invoke(args=["rollups", "rebuild", "--check"]).exit_code == 0
    (RegionProgress.update(completed=RegionProgress.completed + 1)
     .where(RegionProgress.programme == programme.id).execute())
    checked = runner.invoke(args=["rollups", "rebuild", "--check"])
    assert checked.exit_code == 1 and "区域 " in checked.output and "区域 0" not in checked.output
    assert "区域 0" not in runner.invoke(args=["rollups", "rebuild"]).output
    assert runner.invoke(args=["rollups", "rebuild", "--check"]).output.endswith("区域 0\n")

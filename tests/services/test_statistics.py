"""研修统计 service: region and school figures against an independent recomputation from the raw
learning records, exact rounding, visibility of programmes, the chart, and query plans that
never touch the raw records."""
import datetime
import logging
import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from flask import render_template

from tests.conftest import is_sqlite_db
from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.fixture_tree import REGIONS, SCHOOLS
from tests.services.test_rollups import (binding_of, make_programme, oracle, random_batch,
                                         usernames)
from yanxiu.db import database
from yanxiu.models import Binding, Course, LearningRecord, Membership, Programme, Region, School
from yanxiu.models.teacher import APPROVED
from yanxiu.scope import Scope
from yanxiu.services import accounts, programmes, records, statistics
from yanxiu.services import teachers as teacher_service

PASSWORD = "Test@2025pw"
# Extra approved teachers, so that every level has several rows with different figures.
EXTRA_TEACHERS = [
    ("t_sc1", "3301020001", "小学", "周一鸣"), ("t_sc2", "3301020001", "初中", "吴桐"),
    ("t_zs1", "3300000001", "高中", "郑好"), ("t_zs2", "3300000001", "高中", "冯媛"),
    ("t_xh1", "3301060001", "小学", "陈晨"), ("t_xh2", "3301060001", "初中", "褚楚"),
    ("t_wx1", "3301060002", "初中", "卫蓝"), ("t_hs1", "3302030001", "小学", "蒋捷"),
    ("t_js1", "3201020001", "小学", "沈括"), ("t_js2", "3201020001", "初中", "韩梅"),
]
FIGURE_HEADERS = ["教师数", "参训人数", "参训率", "完成人数", "完成率", "总学时", "人均学时"]
NAMES = {code: name for code, name, *_ in REGIONS} | {"000000": "全国"}


def school_admin_binding(school: School) -> Binding:
    """The school's admin binding, made when the fixture has none."""
    found = Binding.select().where((Binding.school == school) & (Binding.role == "school")).first()
    if found:
        return found
    account = accounts.register(f"adm{school.code}", "校管", PASSWORD)
    return Binding.create(account=account, role="school", school=school)


def add_teachers(tree) -> list[str]:
    """Approve EXTRA_TEACHERS at their schools; returns every username that may learn."""
    for seed, (username, code, stage, name) in enumerate(EXTRA_TEACHERS, start=100):
        account = accounts.register(username, name, PASSWORD)
        data = {"name": name, "gender": "女", "id_number": valid_id_number(seed),
                "phone": valid_mobile(seed), "stage": stage, "subject": "语文", "title": ""}
        school = tree["schools"][code]
        row = teacher_service.submit_application(account, school.id, data)
        teacher_service.approve(school_admin_binding(school), row.id)
    return [u for u, *_ in EXTRA_TEACHERS]


def populate(tree, teachers, seed: int = 1, size: int = 160, **programme_fields) -> Programme:
    """A programme with random learning records of every fixture and extra teacher."""
    names = usernames(teachers) + add_teachers(tree)
    programme = make_programme(tree, **programme_fields)
    results = records.ingest(random_batch(random.Random(seed), programme, names, size, f"s{seed}"))
    assert all(r.status == "accepted" for r in results)
    return Programme.get_by_id(programme.id)


# ---------------------------------------------------------------- the independent oracle

def half_up(numerator, denominator) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def pct(numerator: int, denominator: int) -> str:
    return "—" if not denominator else f"{half_up(100 * numerator, denominator)}%"


def hours(minutes: int, per_hour: int) -> str:
    return "—" if not per_hour else str(half_up(minutes, per_hour))


def figure_cells(figures: tuple, programme: Programme) -> list:
    teachers, participants, completed, minutes = figures
    mph = programme.minutes_per_hour
    return [teachers, participants, pct(participants, teachers), completed, pct(completed, teachers),
            hours(minutes, mph), hours(minutes, mph * participants)]


def children_of(code: str) -> list[tuple[str, str, str]]:
    """(kind, code, name) of a region's rows from the fixture table alone: sub-regions by code,
    then its own schools by code."""
    parent = "" if code == "000000" else code
    regions = sorted((c, n) for c, n, _, p in REGIONS if p == parent)
    schools = sorted((c, n) for c, n, r, _ in SCHOOLS if r == code)
    return [("region", c, n) for c, n in regions] + [("school", c, n) for c, n in schools]


def expected_region(programme: Programme, code: str) -> tuple[list[list], list]:
    """The rows and totals a region's table must show, recomputed from raw records."""
    by_school, by_region = oracle(programme)
    zero = (0, 0, 0, 0)
    rows = []
    for kind, child, name in children_of(code):
        figures = by_region.get(child, zero) if kind == "region" else \
            by_school.get(School.get(School.code == child).id, zero)
        rows.append([name] + figure_cells(figures, programme))
    return rows, ["合计"] + figure_cells(by_region.get(code, zero), programme)


def learning_by_account(programme: Programme) -> dict[int, tuple[int, datetime.datetime]]:
    """account id → (credited minutes, last in-date activity) from raw records."""
    start = datetime.date.fromisoformat(str(programme.start_date))
    end = datetime.date.fromisoformat(str(programme.end_date))
    caps = {c.id: c.max_hours * programme.minutes_per_hour for c in programme.courses}
    minutes, last = {}, {}
    for r in LearningRecord.select().where(LearningRecord.programme == programme.id):
        if start <= (r.occurred_at + datetime.timedelta(hours=8)).date() <= end:
            key = (r.account_id, r.course_id)
            minutes[key] = minutes.get(key, 0) + r.minutes
            last[r.account_id] = max(last.get(r.account_id, r.occurred_at), r.occurred_at)
    credited = {}
    for (account, course), m in minutes.items():
        credited[account] = credited.get(account, 0) + min(m, caps[course])
    return {a: (credited.get(a, 0), last[a]) for a in last}


def expected_teachers(programme: Programme, school_code: str, status: str = "") -> list[list]:
    """The teacher rows of a school's page, recomputed from raw records and memberships."""
    school = School.get(School.code == school_code)
    learning = learning_by_account(programme)
    rows = []
    members = Membership.select().where((Membership.school == school.id) & (Membership.state == APPROVED))
    for m in sorted(members, key=lambda m: (m.name, m.id)):
        if programme.audience_stages and m.stage not in programme.audience_stages:
            continue
        if programme.region_id and not school.region_path.startswith(programme.region.path):
            continue
        credited, last = learning.get(m.account_id, (0, None))
        done = credited >= programme.required_hours * programme.minutes_per_hour
        keep = {"": True, "done": done, "undone": not done, "absent": credited == 0}[status]
        if keep:
            rows.append([m.name, m.stage, m.subject, hours(credited, programme.minutes_per_hour),
                         "是" if done else "否",
                         (last + datetime.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") if last else "—"])
    return rows


def region(code: str) -> Region:
    return Region.get(Region.code == code)


# ---------------------------------------------------------------- figures

@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("code", ["000000", "330000", "330100", "330106", "330200", "320000", "110000"])
def test_region_figures_equal_the_raw_records(tree, teachers, seed, code):
    programme = populate(tree, teachers, seed)
    table = statistics.region_statistics(programme, region(code)).table()
    rows, totals = expected_region(programme, code)
    assert table.rows == rows and table.totals == totals
    assert table.headers[1:] == FIGURE_HEADERS


def test_rows_add_up_to_the_totals(tree, teachers):
    programme = populate(tree, teachers, 5)
    for code in NAMES:
        stats = statistics.region_statistics(programme, region(code))
        for field in ("teachers", "participants", "completed", "credited_minutes"):
            assert sum(getattr(r, field) for r in stats.rows) == getattr(stats.totals, field), (code, field)


@pytest.mark.parametrize("status", ["", "done", "undone", "absent"])
@pytest.mark.parametrize("code", ["3301060001", "3301060002", "3301020001", "3300000001", "3201020001"])
def test_school_teachers_equal_the_raw_records(tree, teachers, code, status):
    programme = populate(tree, teachers, 2, 220)
    school = tree["schools"][code]
    stats = statistics.school_statistics(programme, school, status)
    table = stats.table()
    assert table.rows == expected_teachers(programme, code, status)
    by_school, _ = oracle(programme)
    assert table.totals == [school.name] + figure_cells(by_school.get(school.id, (0, 0, 0, 0)), programme)


def test_filters_split_the_teachers(tree, teachers):
    programme = populate(tree, teachers, 3, 220)
    school = tree["schools"]["3301060001"]
    every = statistics.school_statistics(programme, school).teachers
    done = statistics.school_statistics(programme, school, "done").teachers
    undone = statistics.school_statistics(programme, school, "undone").teachers
    absent = statistics.school_statistics(programme, school, "absent").teachers
    assert len(done) + len(undone) == len(every) == 3
    assert all(not t.participated for t in absent) and {t.name for t in absent} <= {t.name for t in undone}
    assert statistics.school_statistics(programme, school, "bogus").status == ""


def test_an_audience_by_stage_counts_and_lists_those_stages_only(tree, teachers):
    programme = populate(tree, teachers, 4, 200, audience=["初中"])
    assert statistics.region_statistics(programme, region("330106")).table().rows == \
        expected_region(programme, "330106")[0]
    table = statistics.school_statistics(programme, tree["schools"]["3301060001"]).table()
    assert [r[1] for r in table.rows] == ["初中"]
    assert table.rows == expected_teachers(programme, "3301060001")


def test_a_provincial_programme_counts_nothing_outside_its_province(tree, teachers):
    add_teachers(tree)
    programme = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31", "required_hours": 1},
        [{"name": "专题一", "minutes": 90, "max_hours": 2}])
    records.ingest(random_batch(random.Random(9), programme, ["t_js1", "t_sc1", "teacher"], 30, "p"))
    assert statistics.region_statistics(programme, region("320000")).totals.teachers == 0
    assert statistics.school_statistics(programme, tree["schools"]["3201020001"]).teachers == []
    rows, totals = expected_region(programme, "000000")
    assert statistics.region_statistics(programme, region("000000")).table().rows == rows


def test_a_programme_without_records_shows_zeros_and_dashes(tree, teachers):
    programme = make_programme(tree)
    table = statistics.region_statistics(programme, region("330100")).table()
    assert table.rows == [["上城区", 0, 0, "—", 0, "—", "0.0", "—"],
                          ["西湖区", 2, 0, "0.0%", 0, "0.0%", "0.0", "—"]]
    assert table.totals == ["合计", 2, 0, "0.0%", 0, "0.0%", "0.0", "—"]
    teachers_table = statistics.school_statistics(programme, tree["schools"]["3301060001"]).table()
    assert teachers_table.rows == [[teachers["data"]["teacher"]["name"], "小学", "数学", "0.0", "否", "—"]]


def test_an_archived_school_shows_while_it_counts_teachers(tree, teachers):
    programme = make_programme(tree)
    School.update(status="archived").where(School.code.in_(["3301060001", "3301020001"])).execute()
    names = [r.name for r in statistics.region_statistics(programme, region("330106")).rows]
    assert names == ["西湖区第一小学", "西湖区文新中学"]
    assert statistics.region_statistics(programme, region("330102")).rows == []


# ---------------------------------------------------------------- rounding and sorting

@pytest.mark.parametrize("figures,mph,cells", [
    ((16, 1, 1, 45), 45, [16, 1, "6.3%", 1, "6.3%", "1.0", "1.0"]),  # 6.25% rounds up
    ((3, 2, 1, 100), 45, [3, 2, "66.7%", 1, "33.3%", "2.2", "1.1"]),
    ((8, 3, 1, 50), 40, [8, 3, "37.5%", 1, "12.5%", "1.3", "0.4"]),  # 1.25 学时 rounds up
    ((0, 0, 0, 0), 45, [0, 0, "—", 0, "—", "0.0", "—"]),
    ((200000, 199999, 1, 10 ** 9), 45, [200000, 199999, "100.0%", 1, "0.0%", "22222222.2", "111.1"]),
])
def test_rates_and_hours_round_half_up_exactly(figures, mph, cells):
    row = statistics.StatsRow("某区", "region", "330106", mph, *figures)
    assert row.cells() == cells
    assert row.participation_rate is None or isinstance(row.participation_rate, Decimal)


@pytest.mark.parametrize("sort", list(statistics.SORT_KEYS))
@pytest.mark.parametrize("descending", [False, True])
def test_sorting_orders_rows_and_keeps_rows_without_a_value_last(tree, teachers, sort, descending):
    programme = populate(tree, teachers, 6)
    rows = statistics.region_statistics(programme, region("330000"), sort, descending).rows
    key = {"name": lambda r: r.name, "teachers": lambda r: r.teachers,
           "participants": lambda r: r.participants, "completed": lambda r: r.completed,
           "total_hours": lambda r: r.credited_minutes,
           "participation_rate": lambda r: Fraction(r.participants, r.teachers) if r.teachers else None,
           "completion_rate": lambda r: Fraction(r.completed, r.teachers) if r.teachers else None,
           "average_hours": lambda r: Fraction(r.credited_minutes, r.participants) if r.participants else None,
           }[sort]
    values = [key(r) for r in rows]
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present))
    assert present == sorted(present, reverse=descending)
    assert sorted(r.code for r in rows) == sorted(c for _, c, _ in children_of("330000"))


def test_an_unknown_sort_keeps_the_natural_order(tree, teachers):
    programme = make_programme(tree)
    rows = statistics.region_statistics(programme, region("330000"), "id; drop", True).rows
    assert [r.code for r in rows] == [c for _, c, _ in children_of("330000")]


# ---------------------------------------------------------------- visibility

def test_visible_programmes(tree, teachers):
    national = make_programme(tree)
    zhejiang = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31"}, [])

    def visible(username, school_code=None):
        scope = Scope.of(binding_of(tree, username, school_code))
        return {p.id for p in programmes.visible_programmes(scope)}

    assert visible("operator") == {national.id, zhejiang.id}
    for username in ("zj_super", "zj_admin", "hz_admin", "xh_admin", "nb_admin", "school_admin"):
        assert visible(username) == {national.id, zhejiang.id}, username
    assert visible("js_admin") == {national.id}
    assert visible("multi", "3301060002") == {national.id, zhejiang.id}


# ---------------------------------------------------------------- chart

def test_the_chart_draws_completion_per_row_in_under_2kb(app):
    rows = [statistics.StatsRow(f"某某县第{i}实验学校附属小学", "school", f"33010600{i:02d}", 45,
                                100, 90, i * 7, 1000) for i in range(15)]
    chart = statistics.completion_chart(rows)
    assert len(chart.bars) == 15 and chart.bars[0].text == "0.0%" and chart.bars[14].text == "98.0%"
    assert chart.bars_path.count("M") == 14  # no bar for 0 %
    assert all(len(b.label) <= statistics.LABEL_CHARS for b in chart.bars)
    with app.test_request_context():
        svg = render_template("statistics/_chart.html", chart=chart)
    assert svg.count("<text") == 30 and "<script" not in svg and "style=" not in svg
    assert len(svg.encode("utf-8")) <= 2048


def test_no_chart_without_rows_or_with_too_many():
    assert statistics.completion_chart([]) is None
    many = [statistics.StatsRow("校", "school", str(i), 45, 1) for i in range(statistics.CHART_MAX_ROWS + 1)]
    assert statistics.completion_chart(many) is None


# ---------------------------------------------------------------- query plans

class CapturedSQL(logging.Handler):
    """Collects the (sql, params) peewee logs for every statement it runs."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        if isinstance(record.msg, tuple):
            self.statements.append(record.msg)


def test_statistics_queries_never_touch_raw_records_or_like(tree, teachers):
    programme = populate(tree, teachers, 7, 60)
    logger = logging.getLogger("peewee")
    handler, level = CapturedSQL(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for code in ("000000", "330000", "330100", "330106"):
            statistics.region_statistics(Programme.get_by_id(programme.id), region(code), "completion_rate")
        for code in ("3301060001", "3300000001"):
            statistics.school_statistics(Programme.get_by_id(programme.id), tree["schools"][code], "undone")
        scope = Scope.of(binding_of(tree, "xh_admin"))
        statistics.programme_summaries(scope, list(programmes.visible_programmes(scope)))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    selects = [(sql, params) for sql, params in handler.statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 10
    explain = "EXPLAIN QUERY PLAN " if is_sqlite_db() else "EXPLAIN "
    for sql, params in selects:
        assert " LIKE " not in sql.upper(), sql
        assert "learning_record" not in sql, sql
        plan = " ".join(str(cell) for row in database.execute_sql(explain + sql, params).fetchall()
                        for cell in row)
        assert "learning_record" not in plan, (sql, plan)
        assert "like" not in plan.lower(), (sql, plan)


def test_a_teacher_sees_own_hours_per_programme_and_course(tree, teachers):
    from tests.services.test_rollups import make_programme, record
    from yanxiu.models import Account
    programme = make_programme(tree)  # 45 min per 学时, 3 学时 to complete; caps 1 and 3 学时
    first, second = list(programme.courses.order_by(Course.id))
    records.ingest([record(programme, "a", minutes=60, course=first.id),
                    record(programme, "b", minutes=50, course=second.id),
                    record(programme, "c", minutes=600, course=second.id,
                           occurred_at="2025-09-10T10:00:00+08:00")])  # after the end: not counted
    teacher = Account.get(Account.username == "teacher")
    [mine] = statistics.teacher_programmes(teacher.id)
    assert mine.programme.id == programme.id and mine.counted and not mine.completed
    assert [(c.name, str(c.hours), c.max_hours) for c in mine.courses] == [
        (first.name, "1.0", 1), (second.name, "1.1", 3)]
    assert str(mine.hours) == "2.1"  # (45 + 50) / 45
    outsider = Account.get(Account.username == "t_far")  # pending elsewhere, no minutes
    assert statistics.teacher_programmes(outsider.id) == []

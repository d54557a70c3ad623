"""工作台 研修进度 service: which programmes show (current first, then the latest ended, at most
three, never one not yet started or of another province), today in Asia/Shanghai, and reads
that stay on the rollups."""
import datetime
import logging

from tests.services.test_rollups import binding_of, make_programme
from tests.services.test_statistics import CapturedSQL
from yanxiu.scope import Scope
from yanxiu.services import programmes, workbench

D = datetime.date


def scope_of(tree, username: str) -> Scope:
    return Scope.of(binding_of(tree, username))


def make_dated(tree, name: str, start: str, end: str):
    return make_programme(tree, name=name, start_date=start, end_date=end)


def shown(tree, username: str, today: datetime.date) -> list[tuple[str, bool]]:
    return [(item.programme.name, item.current)
            for item in workbench.programme_progress(scope_of(tree, username), today)]


def test_current_programmes_first_then_the_latest_ended_at_most_three(tree):
    make_dated(tree, "当前一", "2025-07-01", "2025-08-31")
    make_dated(tree, "当前二", "2025-07-15", "2025-09-30")
    make_dated(tree, "早已结束", "2025-03-01", "2025-04-30")
    make_dated(tree, "刚结束", "2025-05-01", "2025-06-30")
    make_dated(tree, "未开始", "2025-09-01", "2025-10-31")
    assert shown(tree, "xh_admin", D(2025, 8, 1)) == [("当前二", True), ("当前一", True), ("刚结束", False)]
    assert shown(tree, "xh_admin", D(2025, 10, 1)) == [("未开始", True), ("当前二", False), ("当前一", False)]
    assert shown(tree, "school_admin", D(2025, 6, 30)) == [("刚结束", True), ("早已结束", False)]
    assert shown(tree, "xh_admin", D(2026, 1, 1)) == [("未开始", False), ("当前二", False), ("当前一", False)]
    assert shown(tree, "xh_admin", D(2025, 2, 1)) == []  # nothing has started yet


def test_no_programme_no_progress(tree):
    assert workbench.programme_progress(scope_of(tree, "operator"), D(2025, 8, 1)) == []


def test_another_provinces_programme_is_not_shown(tree):
    make_dated(tree, "全国暑期研修", "2025-07-01", "2025-08-31")
    programmes.create_programme(binding_of(tree, "js_admin"), {
        "name": "江苏省专题研修", "kind": "topic", "start_date": "2025-07-10", "end_date": "2025-08-20",
        "minutes_per_hour": 45, "required_hours": 3, "audience": []})
    today = D(2025, 8, 1)
    assert shown(tree, "xh_admin", today) == [("全国暑期研修", True)]
    assert shown(tree, "school_admin", today) == [("全国暑期研修", True)]
    assert shown(tree, "js_admin", today) == [("江苏省专题研修", True), ("全国暑期研修", True)]
    assert shown(tree, "operator", today) == [("江苏省专题研修", True), ("全国暑期研修", True)]


def test_today_is_the_date_in_shanghai(tree, monkeypatch):
    make_dated(tree, "暑期研修", "2025-07-01", "2025-08-31")
    scope = scope_of(tree, "xh_admin")
    # 2025-08-31 23:59 in Shanghai is still the last day; 2025-09-01 00:00 there is after it.
    monkeypatch.setattr(workbench, "now", lambda: datetime.datetime(2025, 8, 31, 15, 59))
    assert workbench.local_today() == D(2025, 8, 31)
    assert [p.current for p in workbench.programme_progress(scope)] == [True]
    monkeypatch.setattr(workbench, "now", lambda: datetime.datetime(2025, 8, 31, 16, 0))
    assert workbench.local_today() == D(2025, 9, 1)
    assert [p.current for p in workbench.programme_progress(scope)] == [False]


def test_a_programme_without_records_shows_zeros_and_dashes(tree, teachers):
    make_dated(tree, "暑期研修", "2025-07-01", "2025-08-31")
    today = D(2025, 8, 1)
    [xihu] = workbench.programme_progress(scope_of(tree, "xh_admin"), today)
    assert xihu.cells() == [2, 0, "0.0%", 0, "0.0%", "—"]
    [jiangsu] = workbench.programme_progress(scope_of(tree, "js_admin"), today)
    assert jiangsu.cells() == [0, 0, "—", 0, "—", "—"]


def test_progress_reads_one_summary_query_and_no_raw_records(tree, teachers):
    for n in range(4):
        make_dated(tree, f"研修{n}", f"2025-0{n + 3}-01", f"2025-0{n + 3}-28")
    region_scope, school_scope = scope_of(tree, "xh_admin"), scope_of(tree, "school_admin")
    logger = logging.getLogger("peewee")
    handler, level = CapturedSQL(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        region_items = workbench.programme_progress(region_scope, D(2025, 8, 1))
        school_items = workbench.programme_progress(school_scope, D(2025, 8, 1))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert len(region_items) == len(school_items) == 3
    sql = [s for s, _ in handler.statements]
    assert len(sql) <= 6  # per scope: current programmes, ended programmes, summaries
    assert sum('"region_progress"' in s for s in sql) == 1
    assert sum('"school_progress"' in s for s in sql) == 1
    assert not any("learning_record" in s or "teacher_progress" in s for s in sql)

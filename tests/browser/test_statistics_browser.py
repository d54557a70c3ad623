"""研修统计 in a real browser: zj_admin (浙江省 研修专项管理员) picks a programme, sorts the
province's table by 完成率 and drills down 杭州市 → 西湖区 → 西湖区第一小学 to its teachers
without a page load (htmx, pushed URLs), filters them, goes back up by the breadcrumb and by the
browser's back button; every level shows the figures of the rollups. The printable forms of the
school and of the province are saved as A4 PDFs; the same drill-down and sort work with
JavaScript off.

The figures are planned, not random: every region and school differs, 完成率 sorts the province
in an order of its own either way, and 西湖区第一小学 has enough teachers for a two-page print.
"""
import datetime
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_browser import log_in, same_page, set_marker
from tests.browser.test_teachers_browser import settled_after, shoot, watched
from tests.conftest import PASSWORD
from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.services.test_rollups import make_programme
from tests.services.test_statistics import (add_teachers, expected_region, expected_teachers,
                                            school_admin_binding)
from yanxiu.models import Programme, Region, School
from yanxiu.services import accounts, records, statistics
from yanxiu.services import teachers as teacher_service

pytestmark = pytest.mark.browser

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
SCHOOL = "3301060001"  # 西湖区第一小学
# Courses of make_programme: 师德修养 credits at most 45 minutes, 数字素养 135; 135 complete it.
LEARNING = {
    "teacher": [("数字素养", 150)],  # 西湖区第一小学: complete
    "t_xh1": [("师德修养", 60)],  # 西湖区第一小学: 1.0 学时
    "t_mover": [("数字素养", 90)],  # 西湖区文新中学
    "t_sc1": [("师德修养", 45), ("数字素养", 90)],  # 上城区: complete
    "t_sc2": [("数字素养", 30)],
    "t_other": [("数字素养", 200)],  # 海曙区: complete
    "t_zs1": [("师德修养", 30)],  # 浙江省直属实验学校: nobody completes
    "t_js1": [("数字素养", 150)],  # 江苏省: never in 浙江省's figures
}
# More teachers at 西湖区第一小学, a third each complete, partial and absent.
SURNAMES, GIVEN = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨", ["晓明", "思琪", "子涵"]
BULK = [(f"t_bulk{n:02d}", SURNAMES[n // 3] + GIVEN[n % 3]) for n in range(48)]
# Ascending 完成率: 直属 0%, 杭州市 18/55, 宁波市 1/2; natural order 杭州市, 宁波市, 直属.
PROVINCE_BY_RATE = ["浙江省直属实验学校", "杭州市", "宁波市"]
FILTERS = {"已完成": "done", "未完成": "undone", "未参训": "absent"}
A4_CONTENT_PX = 703  # 210 mm less the stylesheet's 12 mm margins, at 96 px per inch


@pytest.fixture
def programme(tree, teachers):
    """A national programme with planned records of teachers all over the fixture tree."""
    add_teachers(tree)
    school = tree["schools"][SCHOOL]
    for seed, (username, name) in enumerate(BULK, start=300):
        account = accounts.register(username, name, PASSWORD)
        data = {"name": name, "gender": "男" if seed % 2 else "女", "id_number": valid_id_number(seed),
                "phone": valid_mobile(seed), "stage": ["小学", "初中"][seed % 2],
                "subject": ["语文", "数学", "英语", "科学"][seed % 4], "title": ""}
        row = teacher_service.submit_application(account, school.id, data)
        teacher_service.approve(school_admin_binding(school), row.id)
    learning = dict(LEARNING)
    for n, (username, _) in enumerate(BULK):
        learning[username] = [[("数字素养", 140)], [("师德修养", 15 + n)], []][n % 3]
    made = make_programme(tree)
    courses = {c.name: c.id for c in made.courses}
    batch = []
    for username, items in learning.items():
        for course, minutes in items:
            n = len(batch)
            at = datetime.datetime(2025, 7, 1, 8, tzinfo=SHANGHAI) + datetime.timedelta(days=n % 60,
                                                                                       minutes=37 * n)
            batch.append({"external_id": f"b-{n}", "teacher": {"account": username}, "programme": made.id,
                          "course": courses[course], "minutes": minutes, "occurred_at": at.isoformat()})
    assert {r.status for r in records.ingest(batch)} == {"accepted"}
    return Programme.get_by_id(made.id)


# ---------------------------------------------------------------- what the rollups say

def texts(cells) -> list[str]:
    return [str(c) for c in cells]


def region_figures(programme, code: str, sort: str = "", descending: bool = False) -> dict:
    """The region table as the rollups give it (statistics.region_statistics)."""
    table = statistics.region_statistics(programme, Region.get(Region.code == code), sort, descending).table()
    return {"headers": table.headers, "rows": [texts(r) for r in table.rows], "totals": texts(table.totals)}


def school_figures(programme, status: str = "") -> dict:
    table = statistics.school_statistics(programme, School.get(School.code == SCHOOL), status).table()
    return {"headers": table.headers, "rows": [texts(r) for r in table.rows], "totals": texts(table.totals)}


# ---------------------------------------------------------------- what the page shows

def cells(locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def shown_region(page) -> dict:
    """Headers (sort arrows dropped), rows and totals of the region table on the page."""
    table = page.locator("table.stats-table")
    return {"headers": [h.rstrip(" ▲▼") for h in cells(table.locator("thead th"))],
            "rows": [cells(tr.locator("td")) for tr in table.locator("tbody tr").all()],
            "totals": cells(table.locator("tfoot th"))}


def shown_school(page) -> dict:
    """The teacher table and the school's own figures (its totals) on the page."""
    teachers = page.locator("table.stats-table:not(.stats-totals)")
    return {"headers": cells(teachers.locator("thead th")),
            "rows": [cells(tr.locator("td")) for tr in teachers.locator("tbody tr").all()],
            "totals": cells(page.locator("table.stats-totals tbody tr").locator("th, td"))}


def crumbs(page) -> str:
    return page.locator("nav.crumbs").inner_text().strip()


def region_url(live_server, programme, code: str, query: str = "") -> str:
    return live_server(f"/statistics/{programme.id}/{code}{query}")


def school_url(live_server, programme, query: str = "") -> str:
    return live_server(f"/statistics/{programme.id}/school/{School.get(School.code == SCHOOL).id}{query}")


def assert_province(page, programme, sort: str = "", descending: bool = False) -> None:
    expected = region_figures(programme, "330000", sort, descending)
    assert shown_region(page) == expected
    assert expected["headers"] == ["区域/学校(机构)", "教师数", "参训人数", "参训率", "完成人数", "完成率",
                                   "总学时", "人均学时"]  # no rank column (不排名)


def drill(page, name: str, url: str, fragments: list) -> None:
    """Click a name in the table (or breadcrumb) and see its level arrive by htmx at `url`."""
    settled_after(page, page.locator("#stats").get_by_role("link", name=name, exact=True).click)
    assert page.url == url and same_page(page)
    assert fragments[-1] == url


# ---------------------------------------------------------------- the drill-down

def test_zj_admin_drills_from_the_province_to_a_teacher(page, live_server, programme):
    log_in(page, live_server, "zj_admin")
    fragments = []
    page.on("request", lambda r: fragments.append(r.url) if r.headers.get("hx-request") == "true" else None)
    page.click("nav.main-nav >> text=研修统计")
    page.wait_for_url(re.compile(r"/statistics$"))
    totals = region_figures(programme, "330000")["totals"]
    row = page.locator("main tbody tr", has_text=programme.name)
    assert cells(row.locator("td"))[5:] == [totals[1], totals[3], totals[5]]  # 教师数, 参训率, 完成率

    row.get_by_role("link", name=programme.name).click()
    page.wait_for_url(region_url(live_server, programme, "330000"))
    assert crumbs(page) == "浙江省"
    assert programme.name in page.locator(".stats-note").inner_text()
    assert_province(page, programme)
    assert [r[0] for r in shown_region(page)["rows"]] == ["杭州市", "宁波市", "浙江省直属实验学校"]
    assert "排名" not in page.content() and "名次" not in page.content()
    # Independently of the rollups: the raw records recomputed.
    rows, oracle_totals = expected_region(programme, "330000")
    assert shown_region(page)["rows"] == [texts(r) for r in rows]
    assert shown_region(page)["totals"] == texts(oracle_totals)

    chart = page.locator("figure.stats-chart svg")
    assert chart.is_visible()
    shown = shown_region(page)["rows"]
    assert chart.locator("g.labels text").all_text_contents() == [r[0] for r in shown]
    assert chart.locator("g.values text").all_text_contents() == [r[5] for r in shown]
    bars = chart.locator("path.bars").get_attribute("d")
    assert bars.count("M") == sum(r[5] != "0.0%" for r in shown) == 2
    shoot(page, "statistics_province.png", full_page=True)

    # Sort by 完成率: the table reorders in place, the URL says so; no numbers appear.
    set_marker(page)
    header = page.locator("table.stats-table thead").get_by_role("link", name=re.compile("^完成率"))
    settled_after(page, header.click)
    assert page.url == region_url(live_server, programme, "330000", "?sort=completion_rate&dir=asc")
    assert same_page(page)
    assert_province(page, programme, "completion_rate")
    assert [r[0] for r in shown_region(page)["rows"]] == PROVINCE_BY_RATE
    assert page.locator("th[aria-sort=ascending]").inner_text().strip() == "完成率 ▲"
    settled_after(page, header.click)
    assert page.url == region_url(live_server, programme, "330000", "?sort=completion_rate&dir=desc")
    assert_province(page, programme, "completion_rate", descending=True)
    assert [r[0] for r in shown_region(page)["rows"]] == PROVINCE_BY_RATE[::-1]
    assert same_page(page)
    # The JSON link of the same view gives the same rows, in the same order.
    href = page.locator("#stats .tools").get_by_role("link", name="JSON").get_attribute("href")
    document = page.request.get(live_server(href)).json()
    keys = [c["key"] for c in document["columns"]]
    assert [[str(row[k]) for k in keys] for row in document["rows"]] == shown_region(page)["rows"]
    assert [str(document["totals"][k]) for k in keys] == shown_region(page)["totals"]

    # Down: 杭州市 → 西湖区 → 西湖区第一小学, each lazily, each with its own URL.
    drill(page, "杭州市", region_url(live_server, programme, "330100"), fragments)
    assert crumbs(page) == "浙江省 › 杭州市"
    assert shown_region(page) == region_figures(programme, "330100")
    assert [r[0] for r in shown_region(page)["rows"]] == ["上城区", "西湖区"]
    drill(page, "西湖区", region_url(live_server, programme, "330106"), fragments)
    assert crumbs(page) == "浙江省 › 杭州市 › 西湖区"
    assert shown_region(page) == region_figures(programme, "330106")
    assert [r[0] for r in shown_region(page)["rows"]] == ["西湖区第一小学", "西湖区文新中学"]
    drill(page, "西湖区第一小学", school_url(live_server, programme), fragments)
    assert crumbs(page) == "浙江省 › 杭州市 › 西湖区 › 西湖区第一小学"
    every = school_figures(programme)
    assert shown_school(page) == every
    assert every["headers"] == ["姓名", "学段", "学科", "学时", "完成", "最近学习"]
    assert len(every["rows"]) == 51 and every["totals"][:2] == ["西湖区第一小学", "51"]
    assert every["rows"] == expected_teachers(programme, SCHOOL)
    assert page.locator("p.count").inner_text() == "计入本项目的教师 51 人"
    assert page.problems == [], page.problems
    shoot(page, "statistics_school.png", full_page=True)

    # The filters: 已完成 / 未完成 / 未参训, each a pushed URL.
    for label, status in FILTERS.items():
        tab = page.locator("#stats nav.tabs").get_by_role("link", name=label)
        settled_after(page, tab.click)
        assert page.url == school_url(live_server, programme, f"?status={status}") and same_page(page)
        assert page.locator("#stats nav.tabs a[aria-current=page]").inner_text() == label
        figures = school_figures(programme, status)
        assert shown_school(page) == figures and figures["totals"] == every["totals"]
        assert figures["rows"] == expected_teachers(programme, SCHOOL, status)
        assert page.locator("p.count").inner_text() == f"{label}教师 {len(figures['rows'])} 人"
    done = {r[0] for r in school_figures(programme, "done")["rows"]}
    undone = {r[0] for r in school_figures(programme, "undone")["rows"]}
    absent = {r[0] for r in school_figures(programme, "absent")["rows"]}
    assert len(done) == 17 and len(undone) == 34 and len(absent) == 17 and absent < undone
    assert all(r[4] == "否" and r[3] == "0.0" and r[5] == "—" for r in shown_school(page)["rows"])

    # Up by the breadcrumb, then back with the browser: the previous levels, whole.
    drill(page, "杭州市", region_url(live_server, programme, "330100"), fragments)
    assert crumbs(page) == "浙江省 › 杭州市"
    assert shown_region(page) == region_figures(programme, "330100")
    assert page.problems == [], page.problems
    page.go_back()
    page.locator("#stats nav.tabs a[aria-current=page]", has_text="未参训").wait_for()
    assert page.url == school_url(live_server, programme, "?status=absent")
    assert crumbs(page) == "浙江省 › 杭州市 › 西湖区 › 西湖区第一小学"
    assert shown_school(page) == school_figures(programme, "absent")
    page.go_back()
    page.locator("#stats nav.tabs a[aria-current=page]", has_text="未完成").wait_for()
    assert page.url == school_url(live_server, programme, "?status=undone")
    assert shown_school(page) == school_figures(programme, "undone")
    page.go_forward()
    page.locator("#stats nav.tabs a[aria-current=page]", has_text="未参训").wait_for()
    assert shown_school(page) == school_figures(programme, "absent")

    school = school_url(live_server, programme)
    assert fragments == [region_url(live_server, programme, "330000", f"?sort=completion_rate&dir={d}")
                         for d in ("asc", "desc")] + [
        region_url(live_server, programme, "330100"), region_url(live_server, programme, "330106"), school,
        *[f"{school}?status={s}" for s in FILTERS.values()], region_url(live_server, programme, "330100")]
    assert page.problems == [], page.problems


# ---------------------------------------------------------------- print

def facts(page) -> dict[str, str]:
    terms = cells(page.locator("dl.facts dt"))
    return dict(zip(terms, cells(page.locator("dl.facts dd"))))


def computed(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def assert_prints_well(page, title: str, scope: str, programme, name: str) -> Path:
    """The print form under print media: the sheet's heading and facts, no navigation, a table
    header that repeats on every page, rows kept whole, nothing wider than A4. Saved under
    tests/screenshots/ as `name`.pdf (A4, returned) and `name`_print.png (as on paper)."""
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_CONTENT_PX, "height": 1000})
    try:
        assert page.locator("header.top, nav.main-nav, footer.foot").count() == 0
        assert page.locator(".no-print").is_hidden()  # 打印 / 返回
        assert page.locator("h1").inner_text() == title
        sheet = facts(page)
        assert sheet["统计范围"] == scope
        assert sheet["研修项目"] == f"{programme.name}（{programme.kind_label}，2025-07-01 至 2025-08-31）"
        assert "1 学时＝45 分钟；完成要求 3 学时" in sheet["统计口径"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", sheet["生成时间"]), sheet["生成时间"]
        for table in page.locator("table.stats-table").all():
            assert computed(table.locator("thead"), "display") == "table-header-group"
            assert computed(table.locator("tbody tr").first, "break-inside") == "avoid"
        for wrap in page.locator(".table-wrap").all():
            assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth"), "a table is wider than A4"
        assert page.evaluate("document.documentElement.scrollWidth") <= A4_CONTENT_PX
        shoot(page, f"{name}_print.png", full_page=True)
        path = SCREENSHOTS / f"{name}.pdf"
        path.unlink(missing_ok=True)
        page.pdf(path=str(path), format="A4", print_background=True)  # print media, always
    finally:
        page.emulate_media(media="null")
        page.set_viewport_size({"width": 1280, "height": 800})
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    return path


def pdf_page_count(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def pdf_lines(path: Path) -> list[list[str]] | None:
    """Each page's text lines (blanks dropped, spaces collapsed) as poppler's pdftotext lays
    them out; None where poppler-utils is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [[" ".join(line.split()) for line in page.splitlines() if line.strip()]
            for page in text.split("\f") if page.strip()]


def test_print_forms_of_the_school_and_the_province(page, live_server, programme):
    log_in(page, live_server, "zj_admin")

    # Printing the screen page itself leaves the navigation and the tools off the paper.
    page.goto(region_url(live_server, programme, "330000"))
    page.emulate_media(media="print")
    for hidden in ("header.top", "nav.main-nav", "#stats .toolbar", "footer.foot"):
        assert page.locator(hidden).is_hidden(), hidden
    assert page.locator("table.stats-table").is_visible()
    assert computed(page.locator("table.stats-table thead"), "display") == "table-header-group"
    page.emulate_media(media="null")

    # The school's print form, reached by its 打印 link.
    page.goto(school_url(live_server, programme))
    page.locator("#stats .tools").get_by_role("link", name="打印").click()
    page.wait_for_url(school_url(live_server, programme, "?print=1"))
    every = school_figures(programme)
    assert shown_school(page) == every
    assert page.locator("p.count").inner_text() == "计入本项目的教师 51 人"
    pdf = assert_prints_well(page, "西湖区第一小学研修统计", "浙江省 › 杭州市 › 西湖区 › 西湖区第一小学",
                             programme, "statistics_school")
    assert pdf_page_count(pdf) >= 2  # 51 teachers: the header must repeat on the next page
    pages = pdf_lines(pdf)
    if pages is not None:  # read the paper itself: header on every page, each row on one line
        header = " ".join(every["headers"])
        assert len(pages) == pdf_page_count(pdf) and header in pages[0]
        assert all(lines[0] == header for lines in pages[1:]), [lines[0] for lines in pages]
        printed = [line for lines in pages for line in lines]
        assert " ".join(every["totals"]) in printed
        for row in every["rows"]:
            assert printed.count(" ".join(row)) == 1, row

    page.goto(school_url(live_server, programme, "?status=undone&print=1"))
    assert facts(page)["统计范围"].endswith("西湖区第一小学（未完成的教师）")
    assert shown_school(page) == school_figures(programme, "undone")

    # The province's print form keeps the sort of the screen.
    page.goto(region_url(live_server, programme, "330000", "?sort=completion_rate&dir=desc"))
    page.locator("#stats .tools").get_by_role("link", name="打印").click()
    page.wait_for_url(region_url(live_server, programme, "330000", "?print=1&sort=completion_rate&dir=desc"))
    figures = region_figures(programme, "330000", "completion_rate", descending=True)
    assert shown_region(page) == figures
    assert [r[0] for r in figures["rows"]] == PROVINCE_BY_RATE[::-1]
    assert page.locator("table.stats-table a").count() == 0  # names are text on paper
    assert page.locator("figure.stats-chart svg").is_visible()
    pdf = assert_prints_well(page, "浙江省研修统计", "浙江省", programme, "statistics_province")
    assert pdf_page_count(pdf) == 1
    pages = pdf_lines(pdf)
    if pages is not None:
        for row in figures["rows"] + [figures["totals"], figures["headers"]]:
            assert " ".join(row) in pages[0], row
    assert page.problems == [], page.problems


# ---------------------------------------------------------------- without JavaScript

def test_drill_down_and_sort_without_javascript(browser, live_server, programme):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                  java_script_enabled=False)
    context.set_default_timeout(5000)
    try:
        page = watched(context.new_page())
        log_in(page, live_server, "zj_admin")
        page.click("nav.main-nav >> text=研修统计")
        page.wait_for_url(re.compile(r"/statistics$"))
        page.locator("main").get_by_role("link", name=programme.name).click()
        page.wait_for_url(region_url(live_server, programme, "330000"))
        assert_province(page, programme)

        page.locator("table.stats-table thead").get_by_role("link", name=re.compile("^完成率")).click()
        page.wait_for_url(region_url(live_server, programme, "330000", "?sort=completion_rate&dir=asc"))
        assert_province(page, programme, "completion_rate")
        assert [r[0] for r in shown_region(page)["rows"]] == PROVINCE_BY_RATE

        for name, code in (("杭州市", "330100"), ("西湖区", "330106")):
            page.locator("table.stats-table").get_by_role("link", name=name, exact=True).click()
            page.wait_for_url(region_url(live_server, programme, code))
            assert shown_region(page) == region_figures(programme, code)
        page.locator("table.stats-table").get_by_role("link", name="西湖区第一小学").click()
        page.wait_for_url(school_url(live_server, programme))
        assert shown_school(page) == school_figures(programme)

        page.locator("nav.tabs").get_by_role("link", name="未参训").click()
        page.wait_for_url(school_url(live_server, programme, "?status=absent"))
        assert shown_school(page) == school_figures(programme, "absent")

        page.locator("nav.crumbs").get_by_role("link", name="杭州市").click()
        page.wait_for_url(region_url(live_server, programme, "330100"))
        assert crumbs(page) == "浙江省 › 杭州市"
        assert shown_region(page) == region_figures(programme, "330100")
        page.go_back()
        assert page.url == school_url(live_server, programme, "?status=absent")
        assert shown_school(page) == school_figures(programme, "absent")
        assert page.problems == [], page.problems
        shoot(page, "statistics_school_nojs.png", full_page=True)
    finally:
        context.close()

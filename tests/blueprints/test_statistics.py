"""研修统计 pages: the figures on screen equal a recomputation from raw records at every level,
and the print, xlsx, csv and JSON forms equal the screen; sorting without ranks; drill-down as
page and fragment; scoping (404); a programme without records."""
import csv
import gzip
import html
import io
import random
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.conftest import form_post
from tests.services.test_rollups import binding_of, make_programme, random_batch
from tests.services.test_statistics import (FIGURE_HEADERS, children_of, expected_region,
                                            expected_teachers, populate)
from yanxiu.models import Region, School
from yanxiu.services import programmes, records

HX = {"HX-Request": "true"}
SORT_COLUMNS = ["name", "teachers", "participants", "participation_rate", "completed",
                "completion_rate", "total_hours", "average_hours"]


def cell_text(raw: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", raw)).strip()


def number(text: str):
    return int(text) if re.fullmatch(r"\d+", text) else text


def tables(page: str) -> list[dict]:
    """Every statistics table of a page: header texts (sort arrows dropped), body rows, footer."""
    found = []
    for body in re.findall(r'<table class="stats-table[^"]*"[^>]*>(.*?)</table>', page, re.S):
        head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
        rows = re.search(r"<tbody>(.*?)</tbody>", body, re.S).group(1)
        foot = re.search(r"<tfoot>(.*?)</tfoot>", body, re.S)
        found.append({
            "headers": [cell_text(c).rstrip(" ▲▼") for c in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)],
            "rows": [[number(cell_text(c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)]
                     for tr in re.findall(r"<tr>(.*?)</tr>", rows, re.S)],
            "totals": [number(cell_text(c)) for c in re.findall(r"<th[^>]*>(.*?)</th>", foot.group(1), re.S)]
            if foot else None})
    return found


def sheet_rows(data: bytes) -> list[list]:
    """The sheet's rows, each without the empty cells a wider row elsewhere pads it with."""
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    return rows


def csv_rows(data: bytes) -> list[list]:
    return [[number(c) for c in row] for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))]


@pytest.fixture
def programme(tree, teachers):
    return populate(tree, teachers, seed=11, size=200)


def region_url(programme, code, suffix=""):
    return f"/statistics/{programme.id}/{code}{suffix}"


def school_url(programme, code, suffix=""):
    return f"/statistics/{programme.id}/school/{School.get(School.code == code).id}{suffix}"


# ---------------------------------------------------------------- figures at every level

@pytest.mark.parametrize("username,code", [
    ("operator", "000000"), ("operator", "320000"), ("zj_admin", "330000"), ("zj_super", "330100"),
    ("hz_admin", "330100"), ("hz_admin", "330102"), ("xh_admin", "330106"), ("nb_admin", "330200"),
    ("js_admin", "320000"),
])
def test_region_page_equals_the_raw_records(login_as, programme, username, code):
    page = login_as(username).get(region_url(programme, code))
    assert page.status_code == 200 and "<html" in page.text
    [table] = tables(page.text)
    rows, totals = expected_region(programme, code)
    assert table["rows"] == rows and table["totals"] == totals
    assert table["headers"][1:] == FIGURE_HEADERS  # no rank column (不排名)
    assert "排名" not in page.text and "名次" not in page.text


@pytest.mark.parametrize("username,code", [
    ("school_admin", "3301060001"), ("xh_admin", "3301060002"), ("hz_admin", "3301020001"),
    ("zj_admin", "3300000001"), ("operator", "3201020001"), ("multi", "3301060002"),
])
@pytest.mark.parametrize("status", ["", "done", "undone", "absent"])
def test_school_page_equals_the_raw_records(login_as, tree, programme, username, code, status):
    client = login_as(username)
    page = client.get(school_url(programme, code, f"?status={status}" if status else ""))
    assert page.status_code == 200
    totals, *teacher_table = tables(page.text)
    school = School.get(School.code == code)
    expected_totals = [r for r in expected_region(programme, school.region.code)[0] if r[0] == school.name][0]
    assert totals["rows"] == [expected_totals]
    assert totals["headers"] == ["学校(机构)"] + FIGURE_HEADERS
    expected = expected_teachers(programme, code, status)
    if expected:
        assert teacher_table[0]["rows"] == expected
        assert teacher_table[0]["headers"] == ["姓名", "学段", "学科", "学时", "完成", "最近学习"]
    else:
        assert teacher_table == [] and ("没有" in page.text or "暂无" in page.text)
    assert f"教师 {len(expected)} 人" in page.text


def test_drill_down_from_the_nation_to_a_teacher(login_as, programme):
    """Follow the links on screen (as htmx would) from 全国 to 西湖区第一小学's teachers."""
    client = login_as("operator")
    url = region_url(programme, "000000")
    for name in ["浙江省", "杭州市", "西湖区", "西湖区第一小学"]:
        page = client.get(url, headers=HX)
        assert page.status_code == 200 and "<html" not in page.text
        match = re.search(r'<a href="([^"]+)" hx-get="\1">' + name + "</a>", page.text)
        assert match, name
        url = html.unescape(match.group(1))
    page = client.get(url, headers=HX)
    assert "<html" not in page.text and "最近学习" in page.text
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page.text, re.S).group(0)
    assert [cell_text(a) for a in re.findall(r"<a [^>]*>.*?</a>", crumbs)] == ["全国", "浙江省", "杭州市", "西湖区"]
    assert 'hx-target="#stats"' in crumbs and 'hx-push-url="true"' in crumbs
    full = client.get(url)  # the pushed URL renders a full page
    assert "<html" in full.text and 'id="stats"' in full.text


def test_breadcrumb_stops_at_the_admins_own_region(login_as, programme):
    page = login_as("hz_admin").get(region_url(programme, "330106"))
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', page.text, re.S).group(0)
    assert cell_text(crumbs) == "杭州市 › 西湖区"
    school_page = login_as("school_admin").get(school_url(programme, "3301060001"))
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', school_page.text, re.S).group(0)
    assert cell_text(crumbs) == "西湖区第一小学" and "<a " not in crumbs


# ---------------------------------------------------------------- one table in every form

@pytest.mark.parametrize("query", ["", "?sort=completion_rate&dir=desc", "?sort=name&dir=asc"])
def test_region_print_exports_and_json_equal_the_screen(login_as, programme, query):
    client = login_as("zj_admin")
    url = region_url(programme, "330000")
    [screen] = tables(client.get(url + query).text)
    rows, totals = screen["rows"], screen["totals"]
    sep = "&" if query else "?"

    printed = client.get(url + query + sep + "print=1")
    assert printed.status_code == 200
    assert tables(printed.text) == [screen]
    for fact in ("浙江省研修统计", "统计范围", "浙江省", programme.name, "生成时间", "合计"):
        assert fact in printed.text
    assert "<nav" not in printed.text and 'class="stats-chart"' in printed.text

    xlsx = client.get(url + "/export.xlsx" + query)
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    assert sheet_rows(xlsx.data) == [screen["headers"]] + rows + [totals]

    csv_data = client.get(url + "/export.csv" + query)
    assert csv_rows(csv_data.data) == [screen["headers"]] + rows + [totals]

    document = client.get(url + "/stats.json" + query)
    assert document.status_code == 200 and document.mimetype == "application/json"
    data = document.get_json()
    keys = [c["key"] for c in data["columns"]]
    assert [c["label"] for c in data["columns"]] == screen["headers"]
    assert [[row[k] for k in keys] for row in data["rows"]] == rows
    assert [data["totals"][k] for k in keys] == totals
    assert data["programme"]["name"] == programme.name and data["region"]["code"] == "330000"
    assert [r["code"] for r in data["rows"]] == [
        next(c for _, c, n in children_of("330000") if n == row[0]) for row in rows]


@pytest.mark.parametrize("status", ["", "undone"])
def test_school_print_exports_and_json_equal_the_screen(login_as, programme, status):
    client = login_as("school_admin")
    url = school_url(programme, "3301060001")
    query = f"?status={status}" if status else ""
    totals, teacher_table = tables(client.get(url + query).text)

    printed = client.get(url + (query + "&" if query else "?") + "print=1")
    assert tables(printed.text) == [totals, teacher_table]
    for fact in ("西湖区第一小学研修统计", "统计范围", programme.name, "生成时间"):
        assert fact in printed.text
    assert "<nav" not in printed.text

    expected = ([teacher_table["headers"]] + teacher_table["rows"]
                + [[], totals["headers"], totals["rows"][0]])
    assert sheet_rows(client.get(url + "/export.xlsx" + query).data) == expected
    assert csv_rows(client.get(url + "/export.csv" + query).data) == expected

    data = client.get(url + "/stats.json" + query).get_json()
    keys = [c["key"] for c in data["columns"]]
    assert [[row[k] for k in keys] for row in data["rows"]] == teacher_table["rows"]
    total_keys = [c["key"] for c in data["total_columns"]]
    assert [data["totals"][k] for k in total_keys] == totals["rows"][0]
    assert data["status"] == status


def test_the_print_stylesheet_repeats_headers_keeps_rows_whole_on_a4(client):
    css = client.get("/static/style.css").text
    block = css[css.index("/* 研修统计 */"):]
    assert "@media print" in block and "size:A4" in block
    assert "thead{display:table-header-group}" in block and "break-inside:avoid" in block


# ---------------------------------------------------------------- sorting, fragments, no JS

@pytest.mark.parametrize("column", SORT_COLUMNS)
def test_sort_links_reorder_the_rows_and_show_no_rank(login_as, programme, column):
    client = login_as("operator")
    page = client.get(region_url(programme, "330000"))
    link = re.search(rf'<a class="sort" href="([^"]*sort={column}[^"]*)" hx-get="\1"', page.text)
    assert link, column
    ascending = client.get(html.unescape(link.group(1)))
    [table] = tables(ascending.text)
    assert 'aria-sort="ascending"' in ascending.text
    down = re.search(rf'<a class="sort" href="([^"]*sort={column}&amp;dir=desc)"', ascending.text)
    descending = tables(client.get(html.unescape(down.group(1)), headers=HX).text)[0]
    index = SORT_COLUMNS.index(column)

    def key(row):
        value = row[index]
        return Decimal(value.rstrip("%")) if index and isinstance(value, str) else value

    for rows, reverse in ((table["rows"], False), (descending["rows"], True)):
        present = [key(r) for r in rows if r[index] != "—"]
        assert present == sorted(present, reverse=reverse)
        assert all(r[index] == "—" for r in rows[len(present):])
        assert len(rows) == 3 and table["headers"][1:] == FIGURE_HEADERS


def test_fragment_for_htmx_and_page_otherwise(login_as, programme):
    client = login_as("hz_admin")
    fragment = client.get(region_url(programme, "330100"), headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert '<section class="card stats">' in fragment.text and "<table" in fragment.text
    assert len(gzip.compress(fragment.data)) <= 10 * 1024
    page = client.get(region_url(programme, "330100"))
    assert "<html" in page.text and tables(page.text) == tables(fragment.text)
    boosted = client.get(region_url(programme, "330100"), headers={**HX, "HX-Boosted": "true"})
    assert "<html" in boosted.text
    school = client.get(school_url(programme, "3301020001", "?status=done"), headers=HX)
    assert "<html" not in school.text and 'aria-current="page">已完成' in school.text


def test_a_county_with_many_schools_stays_within_the_fragment_budget(login_as, tree, programme):
    county = tree["regions"]["330102"]
    for i in range(300):
        School.create(code=f"3301029{i:03d}", name=f"上城区第{i}号实验学校附属小学", region=county, region_path=county.path)
    fragment = login_as("hz_admin").get(region_url(programme, "330102"), headers=HX)
    assert len(tables(fragment.text)[0]["rows"]) == 301
    assert len(gzip.compress(fragment.data)) <= 10 * 1024
    assert 'class="stats-chart"' not in fragment.text  # too many rows to chart


def test_the_chart_is_plain_svg_with_a_bar_per_completing_row(login_as, programme):
    page = login_as("zj_admin").get(region_url(programme, "330000"))
    svg = re.search(r"<svg.*?</svg>", page.text, re.S).group(0)
    assert "<script" not in svg and "style=" not in svg
    [table] = tables(page.text)
    completing = [r for r in table["rows"] if r[5] not in ("—", "0.0%")]
    assert svg.count("h-") == len(completing)
    assert [cell_text(t) for t in re.findall(r'<text x="400"[^>]*>.*?</text>', svg)] == [r[5] for r in table["rows"]]


def test_every_link_on_the_pages_works_without_javascript(login_as, programme):
    client = login_as("zj_admin")
    seen = set()
    for url in [region_url(programme, "330000"), school_url(programme, "3300000001")]:
        page = client.get(url).text
        body = page[page.index('<div id="stats">'):]
        for href in re.findall(r'href="(/statistics[^"]*)"', body):
            href = html.unescape(href)
            if href not in seen:
                seen.add(href)
                assert client.get(href).status_code == 200, href
    assert len(seen) > 15


# ---------------------------------------------------------------- picker, scope, empty state

def test_the_picker_lists_visible_programmes_with_my_figures(login_as, tree, programme):
    provincial = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31"}, [])
    zj = login_as("zj_admin").get("/statistics").text
    assert programme.name in zj and provincial.name in zj
    assert f'href="/statistics/{programme.id}/330000"' in zj
    js = login_as("js_admin").get("/statistics").text
    assert programme.name in js and provincial.name not in js
    school = login_as("school_admin").get("/statistics").text
    assert f'href="/statistics/{programme.id}/school/{tree["schools"]["3301060001"].id}"' in school


def test_the_picker_without_programmes(login_as):
    page = login_as("xh_admin").get("/statistics")
    assert page.status_code == 200 and "暂无研修项目" in page.text


@pytest.mark.parametrize("username,code", [("js_admin", "330106"), ("xh_admin", "330102"),
                                           ("hz_admin", "330000"), ("nb_admin", "330106"),
                                           ("zj_admin", "000000"), ("xh_admin", "nope")])
@pytest.mark.parametrize("suffix", ["", "?print=1", "/export.csv", "/export.xlsx", "/stats.json"])
def test_a_region_outside_the_scope_is_404(login_as, programme, username, code, suffix):
    client = login_as(username)
    assert client.get(region_url(programme, code, suffix)).status_code == 404
    assert client.get(region_url(programme, code, suffix), headers=HX).status_code == 404


@pytest.mark.parametrize("username,code", [("school_admin", "3301060002"), ("xh_admin", "3301020001"),
                                           ("js_admin", "3301060001"), ("nb_admin", "3300000001")])
@pytest.mark.parametrize("suffix", ["", "?print=1", "/export.csv", "/stats.json"])
def test_a_school_outside_the_scope_is_404(login_as, programme, username, code, suffix):
    assert login_as(username).get(school_url(programme, code, suffix)).status_code == 404


def test_a_school_admin_binding_sees_its_own_school_only(login_as, tree, programme):
    client = login_as("multi")
    assert client.get(school_url(programme, "3301060001")).status_code == 200  # as 西湖 training admin
    school_binding = binding_of(tree, "multi", "3301060002")
    assert form_post(client, "/account/binding", {"binding_id": school_binding.id}).status_code == 303
    assert client.get(school_url(programme, "3301060001")).status_code == 404
    assert client.get(school_url(programme, "3301060001", "/stats.json")).status_code == 404
    assert client.get(school_url(programme, "3301060002")).status_code == 200
    assert client.get(region_url(programme, "330106")).status_code == 404


@pytest.mark.parametrize("username", ["school_admin", "teacher"])
def test_region_pages_are_not_for_school_admins_or_teachers(login_as, programme, username):
    assert login_as(username).get(region_url(programme, "330106")).status_code == 404


def test_teachers_see_no_statistics(login_as, programme):
    client = login_as("teacher")
    assert client.get("/statistics").status_code == 404
    assert client.get(school_url(programme, "3301060001")).status_code == 404


def test_a_provincial_programme_is_invisible_to_another_province(login_as, tree, teachers):
    provincial = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31", "required_hours": 1},
        [{"name": "专题一", "minutes": 90, "max_hours": 2}])
    records.ingest(random_batch(random.Random(2), provincial, ["teacher"], 5, "pv"))
    js = login_as("js_admin")
    assert js.get(f"/statistics/{provincial.id}/320000").status_code == 404
    assert js.get(f"/statistics/{provincial.id}/320000/stats.json").status_code == 404
    far = School.get(School.code == "3201020001")
    assert login_as("operator").get(f"/statistics/{provincial.id}/school/{far.id}").status_code == 200
    assert login_as("zj_admin").get(f"/statistics/{provincial.id}/330000").status_code == 200
    assert login_as("xh_admin").get("/statistics/999999/330106").status_code == 404


def test_a_programme_without_records_shows_zeros_and_dashes(login_as, tree, teachers):
    programme = make_programme(tree)
    client = login_as("operator")
    for code in ("000000", "330000", "330100", "330106", "320000", "110000"):
        page = client.get(region_url(programme, code))
        assert page.status_code == 200
        [table] = tables(page.text)
        assert (table["rows"], table["totals"]) == expected_region(programme, code)
        assert all(r[2] == 0 and r[6] == "0.0" and r[7] == "—" for r in table["rows"])
    [table] = tables(client.get(region_url(programme, "320000")).text)
    assert table["totals"] == ["合计", 0, 0, "—", 0, "—", "0.0", "—"]
    school = client.get(school_url(programme, "3302030001", "?status=done"))
    assert school.status_code == 200 and "没有已完成的教师" in school.text
    assert client.get(region_url(programme, "110000", "/export.xlsx")).status_code == 200


def test_unknown_export_format_is_404(login_as, programme):
    client = login_as("zj_admin")
    assert client.get(region_url(programme, "330000", "/export.pdf")).status_code == 404
    assert client.get(school_url(programme, "3300000001", "/export.pdf")).status_code == 404


def test_awkward_programme_names_export(login_as, tree, teachers):
    programme = make_programme(tree, name="=2025/暑期:研修[一]")
    response = login_as("operator").get(region_url(programme, "330000", "/export.xlsx"))
    assert response.status_code == 200
    assert sheet_rows(response.data)[0][0] == "区域/学校(机构)"
    assert Region.get(Region.code == "330000").name == "浙江省"

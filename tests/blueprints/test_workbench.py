"""工作台 (SPEC §4): teacher figures and the 待审核教师 to-do per role, the 个人中心 state of a
plain teacher, the navigation each role sees, and 研修进度 (the current programmes' figures for
the admin's region or school, equal to the statistics pages)."""
import datetime
import html as html_lib
import re

import pytest

from tests.blueprints.test_statistics import cell_text, number, tables
from tests.conftest import form_post
from tests.services.test_rollups import binding_of, make_programme
from tests.services.test_statistics import FIGURE_HEADERS, expected_region, populate
from yanxiu.models import Account, Binding
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.services import accounts, programmes
from yanxiu.services import workbench as workbench_service

HX = {"HX-Request": "true"}
PENDING_LINK = 'href="/teachers?state=pending"'
CLEAR_ID = re.compile(r"\d{17}[\dX]")
CLEAR_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def figure(html: str, label: str) -> int:
    """The number shown on the figure card with this label."""
    match = re.search(r'<span class="num">(\d+)</span><span class="label">' + label + "</span>", html)
    assert match, f"no figure {label}"
    return int(match.group(1))


def pending_todo(html: str) -> int:
    """The 待审核教师 count of the to-do list, which must link to the pending list."""
    match = re.search(re.escape(PENDING_LINK) + r">待审核教师 (\d+) 人</a>", html)
    assert match, "no 待审核教师 to-do linking to the pending list"
    return int(match.group(1))


def nav(html: str) -> str:
    return re.search(r'<nav class="main-nav".*?</nav>', html, re.S).group(0)


def card(html: str, heading: str) -> str:
    return re.search(r'<section class="card">\s*<h2>' + heading + r"</h2>.*?</section>", html,
                     re.S).group(0)


def assert_no_clear_personal_data(html: str, teachers: dict) -> None:
    for data in teachers["data"].values():
        assert data["id_number"] not in html and data["phone"] not in html
    assert not CLEAR_ID.search(html) and not CLEAR_MOBILE.search(html)


def test_school_admin_sees_its_pending_reviews_and_members(teachers, login_as):
    page = login_as("school_admin").get("/workbench")
    assert page.status_code == 200
    # 西湖区第一小学: t_pending and t_mover wait; only 王老师 is a member (t_removed left).
    assert pending_todo(page.text) == 2
    assert figure(page.text, "在册教师") == 1
    assert 'href="/teachers?state=approved"' in page.text
    assert_no_clear_personal_data(page.text, teachers)


def test_the_to_do_link_opens_the_pending_list(teachers, login_as):
    client = login_as("school_admin")
    target = re.search(r'href="(/teachers\?state=pending)"', client.get("/workbench").text).group(1)
    assert client.get(target).status_code == 200


def test_other_school_admin_counts_only_its_school(teachers, login_as):
    client = login_as("multi")
    school_binding = (Binding.select().join(Account)
                      .where((Account.username == "multi") & (Binding.role == SCHOOL_ADMIN)).get())
    assert form_post(client, "/account/binding", {"binding_id": school_binding.id}).status_code == 303
    page = client.get("/workbench").text
    # 西湖区文新中学: t_mover is still its member until the move is approved; nothing waits there.
    assert "西湖区文新中学" in page
    assert pending_todo(page) == 0 and figure(page, "在册教师") == 1


@pytest.mark.parametrize("username, pending, members", [
    ("xh_admin", 2, 2), ("hz_admin", 2, 2), ("zj_admin", 2, 3), ("nb_admin", 0, 1),
    ("js_admin", 1, 0), ("operator", 3, 3),
])
def test_region_admin_to_do_counts_pending_reviews_in_its_subtree(teachers, login_as, username,
                                                                   pending, members):
    page = login_as(username).get("/workbench")
    assert page.status_code == 200
    assert pending_todo(page.text) == pending
    assert figure(page.text, "在册教师") == members
    assert 'href="/teachers/overview"' in page.text
    assert_no_clear_personal_data(page.text, teachers)


def test_workbench_without_teachers_shows_zero(login_as):
    page = login_as("xh_admin").get("/workbench").text
    assert pending_todo(page) == 0 and figure(page, "在册教师") == 0
    assert pending_todo(login_as("school_admin").get("/workbench").text) == 0


@pytest.mark.parametrize("username, label, shown", [
    ("teacher", "已通过", ["西湖区第一小学"]),
    ("t_pending", "待审核", ["西湖区第一小学", "等待学校审核"]),
    ("t_rejected", "未通过", ["非本校（机构）教师", "修改后重新提交"]),
    ("t_removed", "已移出", ["西湖区第一小学"]),
    ("t_mover", "待审核", ["西湖区文新中学", "西湖区第一小学"]),
])
def test_teacher_sees_its_state_on_the_workbench(teachers, login_as, username, label, shown):
    page = login_as(username).get("/workbench")
    assert page.status_code == 200
    state = card(page.text, "个人中心")
    assert f"<strong>{label}</strong>" in state
    assert all(text in state for text in shown)
    assert 'href="/me"' in state
    assert PENDING_LINK not in page.text and "在册教师" not in page.text
    assert_no_clear_personal_data(page.text, teachers)


def test_teacher_without_application_is_asked_to_submit(app, login_as, tree):
    accounts.register("newcomer", "新来的老师", "Test@2025pw")
    page = login_as("newcomer").get("/workbench")
    state = card(page.text, "个人中心")
    assert "<strong>未提交</strong>" in state and "申请加入学校" in state and 'href="/me"' in state


def test_htmx_request_still_gets_the_page(teachers, login_as):
    page = login_as("school_admin").get("/workbench", headers=HX)
    assert page.status_code == 200 and pending_todo(page.text) == 2


REGION_ADMINS = ["operator", "zj_super", "zj_admin", "hz_admin", "xh_admin"]


@pytest.mark.parametrize("username", [*REGION_ADMINS, "school_admin", "teacher"])
def test_navigation_per_role(login_as, username):
    links = nav(login_as(username).get("/workbench").text)
    assert 'href="/me"' in links and "个人中心" in links
    is_admin = username != "teacher"
    assert ('href="/teachers"' in links and "教师管理" in links) == is_admin
    assert ('href="/teachers/overview"' in links and "教师数据" in links) == (username in REGION_ADMINS)


# ---------------------------------------------------------------- 研修进度

TODAY = datetime.date(2025, 8, 1)  # inside the fixture programmes' 2025-07-01 – 2025-08-31


@pytest.fixture
def summer_day(monkeypatch):
    """The workbench's today (Asia/Shanghai) on a day of the summer programme."""
    monkeypatch.setattr(workbench_service, "local_today", lambda: TODAY)


def progress_rows(html: str) -> list[dict]:
    """The 研修进度 rows: programme name, state tag, link, and the figures after the dates."""
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", card(html, "研修进度"), re.S):
        if "<td" not in tr:
            continue
        link = re.search(r'<a href="([^"]+)">(.*?)</a>', tr)
        cells = [number(cell_text(c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        rows.append({"name": html_lib.unescape(link.group(2)), "link": link.group(1),
                     "state": re.search(r'<span class="tag">(.*?)</span>', tr).group(1),
                     "figures": cells[2:]})
    return rows


def without_total_hours(figures: list) -> list:
    """教师数 … 人均学时 of a statistics row, without its 总学时 (the workbench leaves it out)."""
    assert len(figures) == len(FIGURE_HEADERS)
    return figures[:5] + figures[6:]


def test_county_admin_sees_its_regions_figures_as_the_statistics_page(login_as, tree, teachers,
                                                                      summer_day):
    programme = populate(tree, teachers, seed=11, size=200)
    client = login_as("xh_admin")
    [row] = progress_rows(client.get("/workbench").text)
    assert row["name"] == programme.name and row["state"] == "进行中"
    assert row["link"] == f"/statistics/{programme.id}/330106"
    [table] = tables(client.get(row["link"]).text)
    assert row["figures"] == without_total_hours(table["totals"][1:])
    assert row["figures"] == without_total_hours(expected_region(programme, "330106")[1][1:])
    assert row["figures"][1] > 0  # the records reached 西湖区


def test_school_admin_sees_its_schools_figures_as_the_statistics_page(login_as, tree, teachers,
                                                                      summer_day):
    programme = populate(tree, teachers, seed=11, size=200)
    school = tree["schools"]["3301060001"]
    client = login_as("school_admin")
    page = client.get("/workbench").text
    [row] = progress_rows(page)
    assert row["link"] == f"/statistics/{programme.id}/school/{school.id}"
    totals = tables(client.get(row["link"]).text)[0]
    assert totals["rows"][0][0] == school.name
    assert row["figures"] == without_total_hours(totals["rows"][0][1:])
    expected = [r for r in expected_region(programme, "330106")[0] if r[0] == school.name][0]
    assert row["figures"] == without_total_hours(expected[1:])
    assert row["figures"][0] == 3 and row["figures"][1] > 0  # 王老师 and two extra teachers
    assert_no_clear_personal_data(page, teachers)


@pytest.mark.parametrize("username, link", [
    ("operator", "/statistics/{id}/000000"), ("zj_super", "/statistics/{id}/330000"),
    ("hz_admin", "/statistics/{id}/330100"), ("nb_admin", "/statistics/{id}/330200"),
])
def test_every_region_admin_links_to_its_own_region(login_as, tree, summer_day, username, link):
    programme = make_programme(tree)
    client = login_as(username)
    [row] = progress_rows(client.get("/workbench").text)
    assert row["link"] == link.format(id=programme.id)
    assert client.get(row["link"]).status_code == 200


def test_a_programme_without_records_shows_zeros_and_dashes(login_as, tree, teachers, summer_day):
    make_programme(tree)
    [xihu] = progress_rows(login_as("xh_admin").get("/workbench").text)
    assert xihu["figures"] == [2, 0, "0.0%", 0, "0.0%", "—"]
    [jiangsu] = progress_rows(login_as("js_admin").get("/workbench").text)
    assert jiangsu["figures"] == [0, 0, "—", 0, "—", "—"]


@pytest.mark.parametrize("username", ["operator", "xh_admin", "school_admin"])
def test_without_programmes_the_block_says_so(login_as, summer_day, username):
    block = card(login_as(username).get("/workbench").text, "研修进度")
    assert "暂无进行中或已结束的研修项目" in block and "<table" not in block


def test_another_provinces_programme_is_not_shown(login_as, tree, summer_day):
    national = make_programme(tree)
    programmes.create_programme(binding_of(tree, "js_admin"), {
        "name": "江苏省专题研修", "kind": "topic", "start_date": "2025-07-10", "end_date": "2025-08-20",
        "minutes_per_hour": 45, "required_hours": 3, "audience": []})
    for username in ("xh_admin", "zj_super", "school_admin"):
        page = login_as(username).get("/workbench").text
        assert [r["name"] for r in progress_rows(page)] == [national.name]
        assert "江苏省专题研修" not in page
    assert [r["name"] for r in progress_rows(login_as("js_admin").get("/workbench").text)] == [
        "江苏省专题研修", national.name]


def test_ended_programmes_follow_the_current_one(login_as, tree, summer_day):
    make_programme(tree, name="春季研修", start_date="2025-03-01", end_date="2025-04-30")
    make_programme(tree, name="暑期研修", start_date="2025-07-01", end_date="2025-08-31")
    make_programme(tree, name="初夏研修", start_date="2025-05-01", end_date="2025-06-30")
    make_programme(tree, name="冬季研修", start_date="2024-12-01", end_date="2025-01-31")
    make_programme(tree, name="秋季研修", start_date="2025-09-01", end_date="2025-10-31")
    rows = progress_rows(login_as("xh_admin").get("/workbench").text)
    assert [(r["name"], r["state"]) for r in rows] == [
        ("暑期研修", "进行中"), ("初夏研修", "已结束"), ("春季研修", "已结束")]


def test_a_teacher_sees_no_programme_figures(login_as, tree, teachers, summer_day):
    make_programme(tree)
    page = login_as("teacher").get("/workbench").text
    assert "研修进度" not in page and "/statistics/" not in page

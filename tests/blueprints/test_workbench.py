"""工作台 (SPEC §4): teacher figures and the 待审核教师 to-do per role, the 个人中心 state of a
plain teacher, and the navigation each role sees."""
import re

import pytest

from tests.conftest import form_post
from yanxiu.models import Account, Binding
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.services import accounts

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

"""教师管理 in a real browser: a new teacher applies from 个人中心 (school picked by the region
cascade, or by search), the school admin approves inline (row and tab counts change without a
page load), rejects inline with a common reason the teacher then reads, reveals one 身份证号
after a confirm, and approves with JavaScript off (form post, redirect, flash).

Screenshots are taken after the interactions asserted on: a full-page screenshot leaves
style="" on inputs, which the next htmx swap would report as a CSP inline-style violation.
"""
import re

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_browser import log_in, same_page, set_marker
from tests.conftest import PASSWORD
from tests.fixture_teachers import valid_id_number, valid_mobile
from yanxiu.models import AuditLog, Membership
from yanxiu.services import accounts

pytestmark = pytest.mark.browser

SCHOOL = "西湖区第一小学"


def watched(page):
    """`page` recording console errors, uncaught exceptions and HTTP errors in `page.problems`
    (as the conftest `page` fixture does, for the extra contexts opened here)."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    page.problems = problems
    return page


@pytest.fixture
def open_page(browser):
    """open_page(javascript=True) → a watched page in a context of its own (own cookies)."""
    contexts = []

    def _open(javascript: bool = True):
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                  java_script_enabled=javascript)
        ctx.set_default_timeout(5000)
        contexts.append(ctx)
        return watched(ctx.new_page())

    yield _open
    for ctx in contexts:
        ctx.close()


def shoot(target, name: str, **kwargs) -> None:
    """Save a screenshot of a page or element under tests/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / name
    path.unlink(missing_ok=True)
    target.screenshot(path=str(path), **kwargs)
    assert path.stat().st_size > 5_000


def fill_personal_data(page, name: str, gender: str, seed: int) -> str:
    """Fill 实名信息 on 个人中心 (the school already picked); returns the 身份证号 typed."""
    id_number = valid_id_number(seed)
    page.fill("#name", name)
    page.locator("#apply fieldset.choice label", has_text=gender).locator("input").check()
    page.fill("#id_number", id_number)
    page.fill("#phone", valid_mobile(seed))
    page.select_option("#stage", "小学")
    page.select_option("#subject", "数学")
    return id_number


def submit_and_see_pending(page) -> None:
    page.click("#profile-form button:has-text('提交审核')")
    page.wait_for_url(re.compile(r"/me$"))
    assert "已提交，等待学校审核" in page.locator(".flash.success").inner_text()
    state = page.locator("section.card h2 .state")
    assert state.inner_text() == "待审核"
    assert f"已向 {SCHOOL} 提交申请" in page.locator("main").inner_text()


def masked(id_number: str) -> str:
    return id_number[:6] + "*" * 8 + id_number[-4:]


def tab_counts(page) -> dict[str, int]:
    """{'待审核': 3, '已通过': 1, …} as the review tabs show them."""
    counts = {}
    for tab in page.locator("#teacher-tabs a").all():
        label, number = tab.inner_text().split()
        counts[label] = int(number)
    return counts


def settled_after(page, action, *args) -> None:
    """Do `action(*args)` and wait until htmx has swapped and settled its answer: content swapped in
    is wired up (its hx- attributes processed) only then, and a user is never that fast."""
    # A DOM mark, not wait_for_function: the page's CSP forbids the eval that polling uses.
    page.evaluate("delete document.body.dataset.settled; document.body.addEventListener("
                  "'htmx:afterSettle', () => { document.body.dataset.settled = '1' }, {once: true})")
    action(*args)
    page.locator("body[data-settled]").wait_for(state="attached")


def row_of(page, name: str):
    return page.locator("#teacher-table tbody tr", has=page.get_by_role("cell", name=name, exact=True))


def test_register_apply_by_cascade_and_approve_inline(page, open_page, live_server, teachers):
    # A newcomer registers and applies from 个人中心, picking the school region by region.
    page.goto(live_server("/register"))
    page.fill("#username", "lihua2025")
    page.fill("#display_name", "李华")
    page.fill("#password", "Xk29#pq8vz")
    page.fill("#confirm", "Xk29#pq8vz")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/workbench$"))
    page.click("nav.main-nav >> text=个人中心")
    page.wait_for_url(re.compile(r"/me$"))
    assert page.locator("section.card h2 .state").inner_text() == "未提交"
    set_marker(page)
    for parent, code in (("000000", "330000"), ("330000", "330100"), ("330100", "330106")):
        settled_after(page, page.select_option, f"#region-{parent}", code)
    schools = page.locator("#below-330100 fieldset.pick-schools")
    assert "西湖区的学校" in schools.locator("legend").inner_text()
    schools.get_by_label(SCHOOL).check()
    assert same_page(page)
    assert page.problems == [], page.problems
    shoot(page.locator("#apply"), "teachers_me_cascade.png")
    id_number = fill_personal_data(page, "李华", "女", 41)
    submit_and_see_pending(page)
    facts = page.locator("dl.facts").inner_text()
    assert masked(id_number) in facts and id_number not in page.content()
    assert page.problems == [], page.problems
    shoot(page, "teachers_me_pending.png", full_page=True)

    # The school admin approves it inline on 待审核.
    admin = open_page()
    log_in(admin, live_server, "school_admin")
    admin.click("nav.main-nav >> text=教师管理")
    admin.wait_for_url(re.compile(r"/teachers$"))
    assert admin.locator("#teacher-tabs a[aria-current=page]").inner_text().startswith("待审核")
    before = tab_counts(admin)
    row = row_of(admin, "李华")
    assert masked(id_number) in row.inner_text()
    assert id_number not in admin.content()
    set_marker(admin)
    url = admin.url
    row.get_by_role("button", name="通过", exact=True).click()
    row.locator(".state", has_text="已通过").wait_for()
    assert row.get_by_role("button", name="通过", exact=True).count() == 0
    after = tab_counts(admin)
    assert after["待审核"] == before["待审核"] - 1 and after["已通过"] == before["已通过"] + 1
    assert {k: v for k, v in after.items() if k not in ("待审核", "已通过")} == \
        {k: v for k, v in before.items() if k not in ("待审核", "已通过")}
    assert same_page(admin) and admin.url == url
    assert Membership.get(Membership.name == "李华").state == "approved"
    assert admin.problems == [], admin.problems
    shoot(admin, "teachers_admin_approved.png", full_page=True)

    admin.goto(live_server("/teachers?state=approved"))
    assert masked(id_number) in row_of(admin, "李华").inner_text()

    page.reload()
    assert page.locator("section.card h2 .state").inner_text() == "已通过"
    assert f"所在学校：{SCHOOL}" in page.locator("main").inner_text()


def test_apply_by_search_reject_inline_and_reveal(page, open_page, live_server, teachers):
    accounts.register("zhangwei", "张伟", PASSWORD)
    log_in(page, live_server, "zhangwei")
    page.goto(live_server("/me"))
    set_marker(page)
    page.locator("#school-q").press_sequentially("第一小", delay=20)
    choice = page.locator("#school-results fieldset.pick-schools label", has_text=SCHOOL)
    choice.wait_for()
    assert "3301060001" in choice.inner_text() and "浙江省 › 杭州市 › 西湖区" in choice.inner_text()
    choice.locator("input").check()
    assert same_page(page) and page.url == live_server("/me")
    fill_personal_data(page, "张伟", "男", 42)
    submit_and_see_pending(page)
    assert page.problems == [], page.problems

    # 不通过 inline with a common reason.
    admin = open_page()
    log_in(admin, live_server, "school_admin")
    admin.goto(live_server("/teachers"))
    before = tab_counts(admin)
    set_marker(admin)
    row = admin.locator("#teacher-table tbody tr", has_text="张伟")
    row.get_by_role("link", name="不通过").click()
    editing = admin.locator("#teacher-table tr.editing")
    editing.wait_for()
    editing.get_by_label("不通过原因").select_option("任教学段或学科填写有误")
    editing.get_by_label("补充说明").fill("本校只有初中学段")
    editing.get_by_role("button", name="确认不通过").click()
    admin.locator("#teacher-table tr.editing").wait_for(state="detached")
    row.locator(".state", has_text="未通过").wait_for()
    after = tab_counts(admin)
    assert after["待审核"] == before["待审核"] - 1 and after["未通过"] == before["未通过"] + 1
    assert same_page(admin) and admin.url == live_server("/teachers")

    # 查看: the full 身份证号 in that one cell, after the confirm.
    pending_data = teachers["data"]["t_pending"]
    pending_row = row_of(admin, pending_data["name"])
    id_cell = pending_row.locator("td").nth(3)
    assert id_cell.inner_text().startswith(masked(pending_data["id_number"]))
    dialogs = []
    admin.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    id_cell.get_by_role("button", name="查看完整身份证号").click()
    id_cell.locator(".revealed").wait_for()
    assert dialogs == ["查看完整信息将被记录，确定吗？"]
    revealed = pending_data["id_number"]
    assert id_cell.locator(".revealed").inner_text() == revealed
    assert "已记录" in id_cell.inner_text()
    table = admin.locator("#teacher-table").inner_text()
    assert table.count(revealed) == 1
    assert pending_data["phone"] not in table
    assert pending_data["phone"][:3] + "****" + pending_data["phone"][-4:] in pending_row.inner_text()
    assert same_page(admin)
    assert admin.problems == [], admin.problems
    shoot(admin, "teachers_admin_rejected_revealed.png", full_page=True)

    # A dismissed confirm reveals nothing.
    other = row_of(admin, teachers["data"]["t_mover"]["name"]).locator("td").nth(3)
    admin.once("dialog", lambda dialog: dialog.dismiss())
    other.get_by_role("button", name="查看完整身份证号").click()
    admin.wait_for_timeout(300)
    assert other.locator(".revealed").count() == 0
    reveals = list(AuditLog.select().where(AuditLog.action == "teacher.revealed"))
    assert [r.target_id for r in reveals] == [str(teachers["memberships"]["t_pending"].id)]

    # The teacher reads 未通过 and the reason.
    page.reload()
    assert page.locator("section.card h2 .state").inner_text() == "未通过"
    alert = page.locator("section.card .alert").inner_text()
    assert "任教学段或学科填写有误：本校只有初中学段" in alert
    assert page.locator("#apply").count() == 1  # the form is open again for a correction
    shoot(page, "teachers_me_rejected.png", full_page=True)


def test_reject_form_inline_screenshot(open_page, live_server, teachers):
    admin = open_page()
    log_in(admin, live_server, "school_admin")
    admin.goto(live_server("/teachers"))
    row_of(admin, teachers["data"]["t_pending"]["name"]).get_by_role("link", name="不通过").click()
    editing = admin.locator("#teacher-table tr.editing")
    editing.wait_for()
    options = editing.get_by_label("不通过原因").locator("option").all_inner_texts()
    assert options == ["请选择…", "姓名与身份证号不一致", "非本校（机构）教师", "任教学段或学科填写有误",
                       "信息不完整，请补充后重新提交"]
    # Neither a reason nor words: the row stays a form with the error.
    editing.get_by_role("button", name="确认不通过").click()
    admin.locator("#teacher-table tr.editing .error").wait_for()
    assert admin.problems == [] or all("422" in p for p in admin.problems), admin.problems
    shoot(admin.locator("#teachers"), "teachers_admin_reject_form.png")


def test_approve_without_javascript(open_page, live_server, teachers):
    admin = open_page(javascript=False)
    log_in(admin, live_server, "school_admin")
    admin.click("nav.main-nav >> text=教师管理")
    admin.wait_for_url(re.compile(r"/teachers$"))
    name = teachers["data"]["t_pending"]["name"]
    before = tab_counts(admin)
    row_of(admin, name).get_by_role("button", name="通过", exact=True).click()
    admin.wait_for_url(re.compile(r"/teachers\?state=pending$"))
    assert admin.locator(".flash.success").inner_text() == f"已通过{name}的申请"
    assert row_of(admin, name).count() == 0
    after = tab_counts(admin)
    assert after["待审核"] == before["待审核"] - 1 and after["已通过"] == before["已通过"] + 1
    shoot(admin, "teachers_admin_nojs_flash.png", full_page=True)
    admin.click("#teacher-tabs a:has-text('已通过')")
    admin.wait_for_url(re.compile(r"state=approved"))
    assert masked(teachers["data"]["t_pending"]["id_number"]) in row_of(admin, name).inner_text()
    assert admin.problems == [], admin.problems
    shoot(admin, "teachers_admin_nojs_approved.png", full_page=True)

"""End-to-end checks in a real browser (Debian's chromium via Playwright): login, the lazily
expanded region tree over htmx, the same flows with JavaScript off, active search and logout."""
import re

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

MARK = "window.__yanxiu_same_page"


def log_in(page, live_server, username: str) -> None:
    """Sign in through the real login form and land on the workbench."""
    page.goto(live_server("/login"))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/workbench$"))


def summary_of(page, name: str):
    """The <summary> of the tree node whose name is exactly `name`."""
    return page.locator("summary").filter(
        has=page.locator(".name").get_by_text(name, exact=True)).first


def set_marker(page) -> None:
    page.evaluate(f"{MARK} = true")


def same_page(page) -> bool:
    """True while no full page load happened since set_marker()."""
    return page.evaluate(f"{MARK} === true")


def test_xh_admin_opens_school_group(page, live_server):
    log_in(page, live_server, "xh_admin")
    header = page.locator("header.top")
    assert "研修专项管理员" in header.locator(".badge").inner_text()
    assert "西湖区" in header.inner_text()

    page.click("nav.main-nav >> text=区域管理")
    page.wait_for_url(re.compile(r"/regions$"))
    assert page.locator("#tree-body .node-title").inner_text().startswith("西湖区")
    group = page.locator("details.school-group")
    group.locator("summary .name").click()
    page.locator("#tree-body .schools .name", has_text="西湖区第一小学").wait_for()
    assert group.get_attribute("open") is not None

    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "xh_admin_schools.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.problems == []


def test_zj_admin_expands_levels_in_place(page, live_server):
    log_in(page, live_server, "zj_admin")
    fragments = []
    page.on("request", lambda r: fragments.append(r.url)
            if r.headers.get("hx-request") == "true" else None)
    page.goto(live_server("/regions"))
    set_marker(page)

    summary_of(page, "杭州市").click()
    xihu = summary_of(page, "西湖区")
    xihu.wait_for()
    assert same_page(page)
    xihu.click()
    group = page.locator("details[open] details.school-group", has_text="学校和机构").first
    group.wait_for()
    assert same_page(page)
    group.locator("summary .name").click()
    page.get_by_text("西湖区第一小学", exact=True).wait_for()
    page.get_by_text("西湖区文新中学", exact=True).wait_for()

    assert same_page(page)
    assert page.url == live_server("/regions")
    assert [u.removeprefix(live_server.url) for u in fragments] == [
        "/regions/330100", "/regions/330106", "/regions/330106/schools"]
    # Closing and reopening a node does not fetch it again (hx-trigger="toggle once").
    summary_of(page, "杭州市").click()
    summary_of(page, "杭州市").click()
    page.get_by_text("西湖区第一小学", exact=True).wait_for()
    assert len(fragments) == 3
    assert page.problems == [], page.problems  # no CSP violations, script or htmx errors


def test_without_javascript_links_reach_schools(browser, live_server):
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(5000)
    try:
        page = context.new_page()
        log_in(page, live_server, "zj_admin")
        page.click("nav.main-nav >> text=区域管理")
        page.wait_for_url(re.compile(r"/regions$"))
        summary_of(page, "杭州市").locator("a.open").click()
        page.wait_for_url(re.compile(r"/regions/330100$"))
        summary_of(page, "西湖区").locator("a.open").click()
        page.wait_for_url(re.compile(r"/regions/330106$"))
        assert "西湖区" in page.locator("#tree-body .node-title").inner_text()
        page.locator("details.school-group a.open").click()
        page.wait_for_url(re.compile(r"/regions/330106/schools$"))
        names = page.locator(".schools .name").all_inner_texts()
        assert "西湖区第一小学" in names and "西湖区文新中学" in names
        crumbs = page.locator("nav.crumbs").inner_text()
        assert "浙江省" in crumbs and "杭州市" in crumbs and "西湖区" in crumbs
    finally:
        context.close()


def test_active_search_updates_tree_in_place(page, live_server):
    log_in(page, live_server, "zj_admin")
    page.goto(live_server("/regions"))
    set_marker(page)
    page.locator("#q").press_sequentially("西湖", delay=20)
    result = page.locator("#tree-body .results a", has_text="西湖区")
    result.wait_for()
    assert result.get_attribute("href") == "/regions/330106"
    assert page.locator("#tree-body .node-title").count() == 0
    assert same_page(page)
    assert page.url == live_server("/regions")
    result.click()
    page.wait_for_url(re.compile(r"/regions/330106$"))
    assert page.problems == [], page.problems


def test_logout_requires_login_again(page, live_server):
    log_in(page, live_server, "xh_admin")
    page.click("nav.main-nav >> text=区域管理")
    page.wait_for_url(re.compile(r"/regions$"))
    page.click("header.top button:has-text('退出登录')")
    page.wait_for_url(re.compile(r"/login$"))
    assert page.locator("header.top .who").count() == 0

    page.go_back()
    page.wait_for_load_state()
    assert "/login" in page.url
    assert page.locator("#password").count() == 1
    assert "西湖专管" not in page.content()

    page.goto(live_server("/workbench"))
    assert "/login" in page.url
    assert page.locator("#password").count() == 1

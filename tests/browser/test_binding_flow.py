"""The admin hierarchy in a real browser: xh_admin issues a school-admin code, a new account
binds with it, and the school flips from 未激活 to activated on the county's progress page."""
import re

import pytest

from tests.browser.test_browser import log_in
from yanxiu.models import School

pytestmark = pytest.mark.browser


def progress_row(page, name: str) -> str:
    return page.locator("#progress tbody tr", has_text=name).inner_text()


def test_new_school_admin_binds_and_progress_flips(browser, page, live_server, tree):
    xihu = tree["regions"]["330106"]
    School.create(code="3301069999", name="西湖区新建小学", region=xihu, region_path=xihu.path,
                  stage="小学", contact_phone="13900001234")

    log_in(page, live_server, "xh_admin")
    page.click("nav.main-nav >> text=激活进度")
    assert "未激活" in progress_row(page, "西湖区新建小学")
    assert "139****1234" in progress_row(page, "西湖区新建小学")

    page.click("nav.main-nav >> text=权限码管理")
    page.select_option("#grant", "school:3301069999")
    page.click("form.inline-form button[type=submit]")
    code = page.locator(".code-big").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    assert "西湖区新建小学" in page.locator(".slip").inner_text()

    newcomer = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    newcomer.goto(live_server("/register"))
    newcomer.fill("#username", "xinxiaozhang")
    newcomer.fill("#display_name", "赵新")
    newcomer.fill("#password", "Xk29#pq8vz")
    newcomer.fill("#confirm", "Xk29#pq8vz")
    newcomer.click("button[type=submit]")
    newcomer.wait_for_url(re.compile(r"/workbench$"))
    newcomer.click("nav.main-nav >> text=绑定管理员身份")
    newcomer.fill("#code", code.lower().replace("-", " "))
    newcomer.click("button[type=submit]:has-text('绑定')")
    newcomer.wait_for_url(re.compile(r"/workbench$"))
    assert "学校管理员" in newcomer.locator("header.top .badge").inner_text()
    assert "西湖区新建小学" in newcomer.locator("header.top").inner_text()
    newcomer.context.close()

    page.goto(live_server("/progress"))
    row = progress_row(page, "西湖区新建小学")
    assert "赵新" in row and "未激活" not in row
    assert re.search(r"\d{4}-\d{2}-\d{2}", row)
    page.goto(live_server("/codes?state=used"))
    assert "赵新" in page.locator("#code-rows").inner_text()
    assert page.problems == []

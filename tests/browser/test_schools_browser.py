"""学校管理 in a real browser: active search, a county admin edits a school inline (save swaps the
row back without a page load, Esc cancels), and a city admin transfers another school so that
both counties' figures on 激活进度 change."""
import re

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_browser import log_in, same_page, set_marker
from yanxiu.models import School

pytestmark = pytest.mark.browser


def school_row(page, name: str):
    return page.locator("#school-table tbody tr", has=page.get_by_role("link", name=name, exact=True))


def test_inline_edit_search_and_transfer(browser, page, live_server, tree):
    from playwright.sync_api import expect
    School.update(contact_name="李老师", contact_phone="13812345678", address="文三路 1 号").where(
        School.code == "3301060001").execute()
    log_in(page, live_server, "xh_admin")
    page.click("nav.main-nav >> text=学校管理")
    page.wait_for_url(re.compile(r"/schools$"))
    assert "138****5678" in school_row(page, "西湖区第一小学").inner_text()

    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "schools_list.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    set_marker(page)
    row = school_row(page, "西湖区文新中学")
    row.get_by_role("link", name="编辑").click()
    editing = page.locator("#school-table tr.editing")
    editing.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "schools_inline_edit.png"), full_page=True)
    editing.get_by_label("地址").fill("西湖区文二路 88 号")
    editing.get_by_role("button", name="保存").click()
    page.locator("#school-table tr.editing").wait_for(state="detached")
    assert same_page(page)
    assert School.get(School.code == "3301060002").address == "西湖区文二路 88 号"
    assert "西湖区文新中学" in school_row(page, "西湖区文新中学").inner_text()

    # Esc restores the row, nothing saved
    school_row(page, "西湖区第一小学").get_by_role("link", name="编辑").click()
    editing.wait_for()
    editing.get_by_label("联系人").fill("不会保存")
    editing.get_by_label("联系人").press("Escape")
    page.locator("#school-table tr.editing").wait_for(state="detached")
    assert "李老师" in school_row(page, "西湖区第一小学").inner_text()
    assert School.get(School.code == "3301060001").contact_name == "李老师"

    # an invalid save keeps the row as a form with the error
    school_row(page, "西湖区第一小学").get_by_role("link", name="编辑").click()
    editing.get_by_label("联系电话").fill("12345")
    editing.get_by_role("button", name="保存").click()
    page.locator("#school-table tr.editing .error").wait_for()
    assert "联系电话须为" in editing.inner_text()
    assert editing.get_by_label("联系电话").input_value() == "12345"
    assert same_page(page)

    # active search narrows the table in place and puts the query in the address bar
    page.goto(live_server("/schools"))
    set_marker(page)
    page.fill("#q", "文新")
    expect(page.locator("#school-table tbody tr")).to_have_count(1)
    assert same_page(page) and "q=%E6%96%87%E6%96%B0" in page.url
    assert page.problems == [] or all("422" in p for p in page.problems)

    city = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    city.set_default_timeout(5000)
    log_in(city, live_server, "hz_admin")
    city.goto(live_server("/schools"))
    school_row(city, "西湖区文新中学").get_by_role("link", name="转移").click()
    city.select_option("#target", "330102")
    city.fill("#reason", "学区调整")
    city.click("button:has-text('确认转移')")
    city.wait_for_url(re.compile(r"/schools/\d+$"))
    assert "已从西湖区转移到上城区" in city.locator(".flash").inner_text()
    assert "从西湖区转移到上城区；原因：学区调整" in city.locator("main").inner_text()

    city.click("nav.main-nav >> text=激活进度")
    # rows are read with .all(), which does not wait: wait for the new page's table first
    expect(city.locator("#progress tbody tr")).to_have_count(2)
    figures = {}
    for tr in city.locator("#progress tbody tr").all():
        cells = [c.inner_text().strip() for c in tr.locator("td").all()]
        figures[cells[0]] = cells[3]
    assert figures == {"上城区": "2", "西湖区": "1"}
    city.context.close()

"""审计日志 in a real browser: the filter form swaps the table without a page load and pushes
its URL, the details toggle shows before/after masked, and reloading the pushed URL gives the
same rows as a full page."""
import re

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_browser import log_in, same_page, set_marker
from yanxiu.models import Binding
from yanxiu.services import audit, schools

pytestmark = pytest.mark.browser


def test_filter_swap_push_and_details(page, live_server, tree):
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    school = tree["schools"]["3301060001"]
    schools.update_school(xh, school, {"contact_phone": "13812345678"}, school.version,
                          fields=["contact_phone"], address="192.0.2.7")
    audit.record("code.redeem_failed", target_type="permission_code", target_id="12",
                 scope_path=school.region_path, address="192.0.2.8", result="refused")
    log_in(page, live_server, "xh_admin")
    page.click("nav.main-nav >> text=审计日志")
    page.wait_for_url(re.compile(r"/audit$"))
    rows = page.locator("#audit-table tbody tr")
    assert rows.count() == 2

    set_marker(page)
    page.select_option("#result", "refused")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"/audit\?.*result=refused"))
    page.wait_for_function("document.querySelectorAll('#audit-table tbody tr').length === 1")
    assert same_page(page)
    assert "权限码绑定失败" in rows.first.inner_text()

    page.select_option("#result", "")
    page.select_option("#action", "school.updated")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"action=school.updated"))
    page.wait_for_function("document.querySelector('#audit-table tbody tr') && "
                           "document.querySelector('#audit-table tbody tr').innerText.includes('修改学校')")
    rows.first.locator("summary").click()
    details = rows.first.locator("details pre").last
    details.wait_for()
    assert "138****5678" in details.inner_text() and "13812345678" not in page.content()

    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "audit_log.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.reload()
    assert rows.count() == 1 and "修改学校(机构)" in rows.first.inner_text()
    assert page.locator("#action").input_value() == "school.updated"
    assert page.problems == []

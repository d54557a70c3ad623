"""督促 end to end: pick targets from a progress list, send, read on the workbench, see who read."""
import re

import pytest

from tests.conftest import form_post
from yanxiu.models import AuditLog, Notice, NoticeRecipient
from yanxiu.services import notices

HX = {"HX-Request": "true"}


def checked(html: str) -> list[str]:
    return re.findall(r'value="([^"]+)" checked', html)


def test_urge_page_preselects_inactive_rows(login_as):
    page = login_as("zj_admin").get("/notices/urge/330000")
    assert page.status_code == 200
    assert checked(page.text) == ["region:330100", "region:330200"]
    schools = login_as("hz_admin").get("/notices/urge/330102")
    assert checked(schools.text) == ["school:3301020001"]


def test_send_read_and_see_who_read(login_as):
    sender = login_as("zj_admin")
    sent = form_post(sender, "/notices/urge/330000", {"targets": ["region:330100"], "body": "请尽快激活"})
    assert sent.status_code == 303
    notice = Notice.get()
    assert notice.body == "请尽快激活" and AuditLog.get(AuditLog.action == "notice.sent").target_id == str(notice.id)
    detail = sender.get(sent.location)
    assert "杭州市" in detail.text and "未读" in detail.text

    reader = login_as("hz_admin")
    workbench = reader.get("/workbench")
    assert "请尽快激活" in workbench.text and "标为已读" in workbench.text
    item = NoticeRecipient.get()
    swapped = form_post(reader, f"/notices/{item.id}/read", headers=HX)
    assert swapped.status_code == 200 and "<html" not in swapped.text and "已读于" in swapped.text
    assert "没有未读通知" in reader.get("/workbench").text
    assert "已读" in sender.get(sent.location).text and "杭州专管" in sender.get(sent.location).text
    listing = sender.get("/notices/sent")
    assert re.search(r'<td class="num">1</td><td class="num">1</td>', listing.text)


def test_read_without_javascript_redirects(login_as):
    form_post(login_as("zj_admin"), "/notices/urge/330000", {"targets": ["region:330200"], "body": "宁波请激活"})
    reader = login_as("nb_admin")
    item = NoticeRecipient.get()
    response = form_post(reader, f"/notices/{item.id}/read")
    assert response.status_code == 303 and NoticeRecipient.get_by_id(item.id).read_at is not None


def test_all_inactive_sends_to_every_inactive_row(login_as):
    response = form_post(login_as("zj_admin"), "/notices/urge/330000", {"body": "全部督促", "all_inactive": "1"})
    assert response.status_code == 303
    assert sorted(r.region.code for r in NoticeRecipient.select()) == ["330100", "330200"]


def test_school_notice_reaches_the_school_admin(login_as):
    form_post(login_as("xh_admin"), "/notices/urge/330106", {"targets": ["school:3301060001"], "body": "请审核教师"})
    assert "请审核教师" in login_as("school_admin").get("/workbench").text
    assert "请审核教师" not in login_as("multi").get("/workbench").text  # multi's school is another


@pytest.mark.parametrize("data,message", [
    ({"targets": [], "body": "x"}, "请至少选择一个督促对象"),
    ({"targets": ["region:330100"], "body": ""}, "请填写督促内容"),
    ({"targets": ["region:330100"], "body": "长" * 301}, "不能超过 300 字"),
])
def test_bad_input_keeps_the_form(login_as, data, message):
    response = form_post(login_as("zj_admin"), "/notices/urge/330000", data)
    assert response.status_code == 422 and message in response.text
    assert Notice.select().count() == 0


def test_targets_outside_the_list_are_ignored_and_outside_scope_is_404(login_as):
    client = login_as("hz_admin")
    response = form_post(client, "/notices/urge/330100", {"targets": ["region:330200"], "body": "越权"})
    assert response.status_code == 422 and Notice.select().count() == 0
    assert client.get("/notices/urge/330200").status_code == 404
    assert form_post(client, "/notices/urge/330200", {"targets": ["region:330203"], "body": "x"}).status_code == 404


def test_mass_sending_is_throttled(login_as):
    client = login_as("zj_admin")
    for i in range(notices.SENDS_PER_HOUR):
        assert form_post(client, "/notices/urge/330000", {"targets": ["region:330100"], "body": f"第{i}次"}).status_code == 303
    refused = form_post(client, "/notices/urge/330000", {"targets": ["region:330100"], "body": "再来"})
    assert refused.status_code == 422 and "每小时最多" in refused.text


def test_others_cannot_read_or_see(login_as):
    form_post(login_as("zj_admin"), "/notices/urge/330000", {"targets": ["region:330100"], "body": "杭州"})
    item, notice = NoticeRecipient.get(), Notice.get()
    outsider = login_as("nb_admin")
    assert form_post(outsider, f"/notices/{item.id}/read").status_code == 404
    assert NoticeRecipient.get_by_id(item.id).read_at is None
    assert outsider.get(f"/notices/sent/{notice.id}").status_code == 404
    assert "杭州" not in outsider.get("/notices").text
    assert login_as("teacher").get("/notices").status_code == 404


def test_inbox_page_and_fragment(login_as):
    form_post(login_as("zj_admin"), "/notices/urge/330000", {"targets": ["region:330100"], "body": "收件箱"})
    client = login_as("hz_admin")
    page = client.get("/notices")
    assert "<html" in page.text and "收件箱" in page.text
    fragment = client.get("/notices", headers=HX)
    assert "<html" not in fragment.text and "收件箱" in fragment.text

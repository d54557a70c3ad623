"""教师管理 over HTTP: the school admin's review tabs, inline and no-JS decisions (approve, reject,
bulk, remove), conflicts and scoping; region admins' read-only lists, exports and overview;
the audited reveal; no clear 身份证号 or 手机号 anywhere else."""
import csv
import gzip
import html
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import PASSWORD, form_post
from tests.fixture_teachers import teacher_data
from yanxiu.models import AuditLog, Binding, Membership, School
from yanxiu.models.region import in_subtree
from yanxiu.models.teacher import APPROVED, PENDING, REJECTED, REMOVED, TRANSFERRED
from yanxiu.services import accounts
from yanxiu.services import teachers as service

HX = {"HX-Request": "true"}
XIHU_FIRST, WENXIN, HAISHU, XUANWU = "3301060001", "3301060002", "3302030001", "3201020001"
TABS = ["待审核", "已通过", "未通过", "已移出", "已调出"]


def mid(teachers, username: str) -> int:
    return teachers["memberships"][username].id


def state(teachers, username: str) -> str:
    return Membership.get_by_id(mid(teachers, username)).state


def cells(tr: str) -> list[str]:
    found = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in found]


def rows(text: str) -> dict[int, list[str]]:
    """The teacher rows on a page or fragment: membership id → text cells, in page order."""
    return {int(i): cells(tr) for i, tr in re.findall(r'<tr id="m-(\d+)"[^>]*>(.*?)</tr>', text, re.S)}


def counts(text: str) -> dict[str, int]:
    """The review tabs' labels and counts."""
    nav = re.search(r'<nav class="tabs" id="teacher-tabs".*?</nav>', text, re.S).group(0)
    return {label: int(n) for label, n in re.findall(r'>(\S+) <span class="n">(\d+)</span>', nav)}


def flashes(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash [^"]*" role="status">(.*?)</p>', text)]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def clear_values(teachers) -> list[str]:
    return [v for d in teachers["data"].values() for v in (d["id_number"], d["phone"])]


def assert_no_clear_personal_data(teachers, text: str) -> None:
    for value in clear_values(teachers):
        assert value not in text


def as_school_admin_of(login_as, tree, username: str, school_code: str):
    """A client of `username` switched (切换身份) to its school-admin binding of that school."""
    client = login_as(username)
    binding = Binding.get((Binding.account == tree["accounts"][username])
                          & (Binding.school == tree["schools"][school_code]))
    assert form_post(client, "/account/binding", {"binding_id": binding.id}).status_code == 303
    return client


# ---------------------------------------------------------------- the school admin's lists

def test_school_admin_sees_tabs_with_counts_and_the_pending_rows(login_as, teachers):
    page = login_as("school_admin").get("/teachers")
    assert page.status_code == 200 and "<html" in page.text
    assert counts(page.text) == {"待审核": 2, "已通过": 1, "未通过": 1, "已移出": 1, "已调出": 0}
    listed = rows(page.text)
    assert list(listed) == [mid(teachers, "t_pending"), mid(teachers, "t_mover")]
    first = listed[mid(teachers, "t_pending")]
    data = teachers["data"]["t_pending"]
    assert first[1:4] == [data["name"], data["gender"], f"{data['id_number'][:6]}********{data['id_number'][-4:]} 查看"]
    assert first[4] == f"{data['phone'][:3]}****{data['phone'][-4:]} 查看"
    assert first[5:8] == ["小学", "数学", "一级教师"]
    assert "提交时间" in page.text and "<th>学校</th>" not in page.text
    assert 'name="ids"' in page.text and "批量通过所选" in page.text
    assert_no_clear_personal_data(teachers, page.text)


@pytest.mark.parametrize("tab,username,reason", [
    ("approved", "teacher", None), ("rejected", "t_rejected", "非本校（机构）教师"),
    ("removed", "t_removed", "调离教学岗位")])
def test_each_tab_lists_its_rows_with_the_reason(login_as, teachers, tab, username, reason):
    page = login_as("school_admin").get(f"/teachers?state={tab}")
    listed = rows(page.text)
    assert list(listed) == [mid(teachers, username)]
    assert "处理时间" in page.text and 'name="ids"' not in page.text
    if reason:
        assert reason in listed[mid(teachers, username)]
    assert ("移出</a>" in page.text) == (tab == "approved")
    assert_no_clear_personal_data(teachers, page.text)


def test_empty_tab_and_empty_search_say_so(login_as, teachers):
    client = login_as("school_admin")
    assert "没有调出的教师" in client.get("/teachers?state=transferred").text
    assert "没有符合条件的教师" in client.get("/teachers?q=不存在的人").text
    assert counts(client.get("/teachers?state=nonsense").text)["待审核"] == 2  # unknown tab: 待审核


def test_search_by_phone_tail_full_phone_and_id_number(login_as, teachers):
    client = login_as("school_admin")
    data = teachers["data"]["t_pending"]
    assert list(rows(client.get("/teachers", query_string={"q": data["phone"][-4:]}).text)) == \
        [mid(teachers, "t_pending")]
    for q in (data["phone"], data["id_number"], data["id_number"].lower()):
        for headers in ({}, HX):
            # A full value goes on as its keyed hash: not in the page, its links or the history.
            answer = client.get("/teachers", query_string={"q": q, "state": "pending"}, headers=headers)
            assert answer.status_code == 303 and q not in answer.headers["Location"]
            assert re.search(r"q=~[0-9a-f]{64}", answer.headers["Location"])
            found = client.get(answer.headers["Location"], headers=headers)
            assert list(rows(found.text)) == [mid(teachers, "t_pending")]
    page = client.get(answer.headers["Location"]).text
    assert "正在按完整手机号或身份证号查找" in page and 'value=""' in page
    assert re.search(r'export\.csv\?state=pending&amp;q=~[0-9a-f]{64}', page)
    key = re.search(r"q=(~[0-9a-f]{64})", answer.headers["Location"]).group(1)
    typed_over = client.get("/teachers", query_string=[("q", teachers["data"]["t_mover"]["phone"][-4:]),
                                                       ("q", key)])
    assert list(rows(typed_over.text)) == [mid(teachers, "t_mover")]  # the box wins over the kept key


def test_filters_by_stage_and_subject(login_as, teachers):
    Membership.update(stage="初中", subject="语文").where(Membership.id == mid(teachers, "t_mover")).execute()
    client = login_as("school_admin")
    assert list(rows(client.get("/teachers?stage=初中").text)) == [mid(teachers, "t_mover")]
    assert list(rows(client.get("/teachers?subject=数学").text)) == [mid(teachers, "t_pending")]
    assert rows(client.get("/teachers?stage=初中&subject=数学").text) == {}


def test_list_is_a_fragment_for_htmx(login_as, teachers):
    fragment = login_as("school_admin").get("/teachers?state=approved", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert counts(fragment.text)["已通过"] == 1 and 'id="teacher-table"' in fragment.text
    assert list(rows(fragment.text)) == [mid(teachers, "teacher")]


def test_pages_of_fifty_and_a_light_fragment(login_as, tree, teachers):
    school = tree["schools"][XIHU_FIRST]
    for seed in range(100, 153):
        account = accounts.register(f"bulk{seed}", "批量", PASSWORD)
        service.submit_application(account, school.id, teacher_data(seed))
    client = login_as("school_admin")
    first = client.get("/teachers")
    assert len(rows(first.text)) == 50 and "第 1 / 2 页（共 55 条）" in first.text
    assert len(rows(client.get("/teachers?page=2").text)) == 5
    fragment = client.get("/teachers", headers=HX)
    assert len(gzip.compress(fragment.data)) <= 10 * 1024


# ---------------------------------------------------------------- approve

def test_inline_approve_swaps_the_row_and_the_counts(login_as, teachers):
    client = login_as("school_admin")
    pending = mid(teachers, "t_pending")
    answer = form_post(client, f"/teachers/{pending}/approve", headers=HX)
    assert answer.status_code == 200 and "<html" not in answer.text
    assert list(rows(answer.text)) == [pending] and "已通过" in rows(answer.text)[pending][-1]
    assert 'hx-swap-oob="true"' in answer.text
    assert counts(answer.text) == {"待审核": 1, "已通过": 2, "未通过": 1, "已移出": 1, "已调出": 0}
    assert state(teachers, "t_pending") == APPROVED
    assert mid(teachers, "t_pending") in rows(client.get("/teachers?state=approved").text)


def test_approve_without_javascript_redirects_with_a_flash(login_as, teachers):
    client = login_as("school_admin")
    answer = form_post(client, f"/teachers/{mid(teachers, 't_pending')}/approve")
    assert answer.status_code == 303 and answer.headers["Location"] == "/teachers?state=pending"
    page = client.get(answer.headers["Location"])
    assert f"已通过{teachers['data']['t_pending']['name']}的申请" in flashes(page.text)
    assert counts(page.text)["待审核"] == 1 and state(teachers, "t_pending") == APPROVED


def test_a_decided_application_approved_again_is_409_with_the_message(login_as, teachers):
    first, second = login_as("school_admin"), login_as("school_admin")
    url = f"/teachers/{mid(teachers, 't_pending')}/approve"
    assert form_post(first, url, headers=HX).status_code == 200
    late = form_post(second, url, headers=HX)
    assert late.status_code == 409
    assert "已由西湖校管处理（已通过），您的操作未执行" in html.unescape(late.text)
    assert 'role="alert"' in late.text and list(rows(late.text)) == [mid(teachers, "t_pending")]
    no_js = form_post(second, f"/teachers/{mid(teachers, 't_rejected')}/approve")
    assert no_js.status_code == 303
    assert any("已由西湖校管处理（未通过）" in f for f in flashes(second.get(no_js.headers["Location"]).text))
    assert state(teachers, "t_rejected") == REJECTED


def test_approving_an_id_number_approved_elsewhere_is_422_in_the_row(login_as, tree, teachers):
    school = tree["schools"][XIHU_FIRST]
    same = teacher_data(300)
    first, second = (service.submit_application(accounts.register(f"dup{i}", "重复", PASSWORD),
                                                school.id, same) for i in (1, 2))
    client = login_as("school_admin")
    assert form_post(client, f"/teachers/{first.id}/approve", headers=HX).status_code == 200
    refused = form_post(client, f"/teachers/{second.id}/approve", headers=HX)
    assert refused.status_code == 422 and "不能重复通过" in refused.text
    assert list(rows(refused.text)) == [second.id] and 'role="alert"' in refused.text
    assert Membership.get_by_id(second.id).state == PENDING


@pytest.mark.parametrize("username", ["t_far", "t_other"])
def test_another_schools_id_is_404_and_nothing_changes(login_as, teachers, username):
    client = login_as("school_admin")
    row = Membership.get_by_id(mid(teachers, username))
    for url in (f"/teachers/{row.id}/approve", f"/teachers/{row.id}/reject",
                f"/teachers/{row.id}/remove", f"/teachers/{row.id}/reveal"):
        for headers in ({}, HX):
            answer = form_post(client, url, {"reason": "篡改", "field": "phone"}, headers=headers)
            assert answer.status_code == 404, url
    for url in (f"/teachers/{row.id}/reject", f"/teachers/{row.id}/remove", f"/teachers/{row.id}/row"):
        assert client.get(url, headers=HX).status_code == 404
    after = Membership.get_by_id(row.id)
    assert (after.state, after.version, after.reason, after.end_reason) == \
        (row.state, row.version, row.reason, row.end_reason)
    acts = {a for (a,) in AuditLog.select(AuditLog.action).where(
        (AuditLog.target_type == "membership") & (AuditLog.target_id == str(row.id))).tuples()}
    assert acts <= {"teacher.applied", "teacher.approved"}


def test_region_admins_do_not_decide(login_as, teachers):
    client = login_as("xh_admin")
    page = client.get("/teachers")
    assert "/approve" not in page.text and "不通过</a>" not in page.text and 'name="ids"' not in page.text
    answer = form_post(client, f"/teachers/{mid(teachers, 't_pending')}/approve", headers=HX)
    assert answer.status_code == 404 and state(teachers, "t_pending") == PENDING
    assert client.get(f"/teachers/{mid(teachers, 't_pending')}/reject").status_code == 404


# ---------------------------------------------------------------- reject

def test_reject_opens_a_form_in_the_row_or_a_page(login_as, teachers):
    client = login_as("school_admin")
    url = f"/teachers/{mid(teachers, 't_pending')}/reject"
    row = client.get(url, headers=HX)
    assert row.status_code == 200 and "<html" not in row.text
    assert 'class="editing"' in row.text
    for reason in service.REJECT_REASONS:
        assert f"<option value=\"{reason}\">{reason}</option>" in row.text
    assert f'hx-get="/teachers/{mid(teachers, "t_pending")}/row"' in row.text
    page = client.get(url)
    assert page.status_code == 200 and "<html" in page.text and "确认不通过" in page.text
    cancel = client.get(f"/teachers/{mid(teachers, 't_pending')}/row", headers=HX)
    assert list(rows(cancel.text)) == [mid(teachers, "t_pending")] and "通过</button>" in cancel.text


def test_reject_without_a_reason_is_422_and_stays_pending(login_as, teachers):
    client = login_as("school_admin")
    url = f"/teachers/{mid(teachers, 't_pending')}/reject"
    inline = form_post(client, url, {"preset": "", "reason": "  "}, headers=HX)
    assert inline.status_code == 422 and 'class="editing"' in inline.text
    assert "请选择或填写不通过的原因" in inline.text and "<html" not in inline.text
    page = form_post(client, url, {"preset": "不在列表中的原因", "reason": ""})
    assert page.status_code == 422 and "<html" in page.text and "请选择或填写不通过的原因" in page.text
    too_long = form_post(client, url, {"reason": "长" * 201}, headers=HX)
    assert too_long.status_code == 422 and "长" * 201 in too_long.text  # the input is kept
    assert state(teachers, "t_pending") == PENDING


def test_reject_with_a_reason_reaches_the_teacher(login_as, teachers):
    client = login_as("school_admin")
    url = f"/teachers/{mid(teachers, 't_pending')}/reject"
    answer = form_post(client, url, {"preset": "姓名与身份证号不一致", "reason": "请核对姓名"}, headers=HX)
    assert answer.status_code == 200 and "未通过" in rows(answer.text)[mid(teachers, "t_pending")][-1]
    assert counts(answer.text)["待审核"] == 1 and counts(answer.text)["未通过"] == 2
    status = service.teacher_status(teachers["accounts"]["t_pending"])
    assert status.label == "未通过"
    assert status.open_rejection.reason == "姓名与身份证号不一致：请核对姓名"
    listed = client.get("/teachers?state=rejected").text
    assert "姓名与身份证号不一致：请核对姓名" in rows(listed)[mid(teachers, "t_pending")]


def test_reject_without_javascript_redirects_with_a_flash(login_as, teachers):
    client = login_as("school_admin")
    answer = form_post(client, f"/teachers/{mid(teachers, 't_mover')}/reject", {"reason": "非本校教师"})
    assert answer.status_code == 303
    assert any("设为不通过" in f for f in flashes(client.get(answer.headers["Location"]).text))
    assert state(teachers, "t_mover") == REJECTED
    late = client.get(f"/teachers/{mid(teachers, 't_mover')}/reject", headers=HX)
    assert late.status_code == 409 and "已处理（未通过）" in late.text


# ---------------------------------------------------------------- bulk

def test_bulk_approve_approves_the_ticked_and_reports_the_refused(login_as, teachers):
    client = login_as("school_admin")
    ids = [mid(teachers, "t_pending"), mid(teachers, "t_mover"), mid(teachers, "t_far")]
    answer = form_post(client, "/teachers/approve-many", {"ids": ids})
    assert answer.status_code == 303
    shown = flashes(client.get(answer.headers["Location"]).text)
    assert shown[0].startswith("已通过 2 人：")
    assert shown[1] == "1 条未通过处理：有一条申请不存在或不属于本校，未处理"
    assert state(teachers, "t_pending") == state(teachers, "t_mover") == APPROVED
    assert state(teachers, "t_far") == PENDING
    nothing = form_post(client, "/teachers/approve-many", {})
    assert "请先勾选要通过的申请" in flashes(client.get(nothing.headers["Location"]).text)


def test_bulk_approve_refuses_an_id_past_64_bits_as_not_found(login_as, teachers):
    """Found by the fuzz tests: such an id overflowed the database driver (a 500)."""
    client = login_as("school_admin")
    answer = form_post(client, "/teachers/approve-many", {"ids": ["99999999999999999999"]})
    assert answer.status_code == 303
    shown = flashes(client.get(answer.headers["Location"]).text)
    assert shown == ["1 条未通过处理：有一条申请不存在或不属于本校，未处理"]
    assert state(teachers, "t_pending") == PENDING


def test_bulk_approve_reports_a_decided_one(login_as, teachers):
    client = login_as("school_admin")
    answer = form_post(client, "/teachers/approve-many", {"ids": [mid(teachers, "t_rejected")]})
    shown = flashes(client.get(answer.headers["Location"]).text)
    assert len(shown) == 1 and "已由西湖校管处理（未通过）" in shown[0]


# ---------------------------------------------------------------- remove and transfer

def test_remove_asks_a_reason_then_moves_the_teacher_to_removed(login_as, teachers):
    client = login_as("school_admin")
    url = f"/teachers/{mid(teachers, 'teacher')}/remove"
    confirm = client.get(url, headers=HX)
    assert confirm.status_code == 200 and "确认移出" in confirm.text and 'class="editing"' in confirm.text
    assert "确认移出" in client.get(url).text
    empty = form_post(client, url, {"reason": ""}, headers=HX)
    assert empty.status_code == 422 and "请填写移出原因" in empty.text
    assert state(teachers, "teacher") == APPROVED
    done = form_post(client, url, {"reason": "退休"}, headers=HX)
    assert done.status_code == 200 and "已移出" in rows(done.text)[mid(teachers, "teacher")][-1]
    assert counts(done.text)["已通过"] == 0 and counts(done.text)["已移出"] == 2
    removed = rows(client.get("/teachers?state=removed").text)
    assert "退休" in removed[mid(teachers, "teacher")]
    again = form_post(client, url, {"reason": "退休"})
    assert again.status_code == 303
    assert any("已不是本校在册教师" in f for f in flashes(client.get(again.headers["Location"]).text))


def test_remove_without_javascript(login_as, teachers):
    client = login_as("school_admin")
    page = form_post(client, f"/teachers/{mid(teachers, 'teacher')}/remove", {"reason": ""})
    assert page.status_code == 422 and "<html" in page.text and "请填写移出原因" in page.text
    answer = form_post(client, f"/teachers/{mid(teachers, 'teacher')}/remove", {"reason": "调离"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/teachers?state=approved"
    assert state(teachers, "teacher") == REMOVED


def test_a_teacher_who_moves_shows_as_transferred_at_the_old_school(login_as, tree, teachers):
    form_post(login_as("school_admin"), f"/teachers/{mid(teachers, 't_mover')}/approve", headers=HX)
    old = as_school_admin_of(login_as, tree, "multi", WENXIN)
    page = old.get("/teachers?state=transferred")
    assert counts(page.text)["已调出"] == 1 and counts(page.text)["已通过"] == 0
    listed = rows(page.text)
    assert list(listed) == [mid(teachers, "t_mover_old")]
    assert "调入西湖区第一小学" in listed[mid(teachers, "t_mover_old")]
    assert Membership.get_by_id(mid(teachers, "t_mover_old")).state == TRANSFERRED


# ---------------------------------------------------------------- region admins

def test_county_admin_sees_both_schools_read_only_and_exports_the_screen(login_as, tree, teachers):
    client = login_as("xh_admin")
    page = client.get("/teachers?state=approved")
    assert counts(page.text) == {"待审核": 2, "已通过": 2, "未通过": 1, "已移出": 1, "已调出": 0}
    listed = rows(page.text)
    assert list(listed) == [mid(teachers, "teacher"), mid(teachers, "t_mover_old")]
    assert [r[7] for r in listed.values()] == ["西湖区第一小学", "西湖区文新中学"]
    assert "<th>学校</th>" in page.text and "移出</a>" not in page.text
    exported = csv_rows(client.get("/teachers/export.csv?state=approved"))
    assert exported[0] == service.LIST_HEADERS
    on_screen = [[r[0], r[1], r[2].removesuffix(" 查看"), r[3].removesuffix(" 查看"), r[4], r[5], r[6], r[7]]
                 for r in listed.values()]
    assert [r[:8] for r in exported[1:]] == on_screen
    assert all(r[9] == "已通过" for r in exported[1:])
    book = load_workbook(io.BytesIO(client.get("/teachers/export.xlsx?state=approved").data))
    sheet_rows = [[c or "" for c in r] for r in book.active.iter_rows(values_only=True)]
    assert [r[:8] for r in sheet_rows[1:]] == on_screen
    assert client.get("/teachers/export.pdf").status_code == 404


def test_export_follows_tab_filters_and_school(login_as, tree, teachers):
    client = login_as("xh_admin")
    wenxin = tree["schools"][WENXIN].id
    only = csv_rows(client.get(f"/teachers/export.csv?state=approved&school={wenxin}"))
    assert [r[7] for r in only[1:]] == ["西湖区文新中学"]
    phone = teachers["data"]["t_pending"]["phone"]
    searched = csv_rows(client.get("/teachers/export.csv", query_string={"q": phone[-4:]}))
    assert [r[3] for r in searched[1:]] == [f"{phone[:3]}****{phone[-4:]}"]


def test_school_filter_narrows_to_a_school_in_scope(login_as, tree, teachers):
    client = login_as("xh_admin")
    wenxin = tree["schools"][WENXIN].id
    page = client.get(f"/teachers?school={wenxin}&state=approved")
    assert list(rows(page.text)) == [mid(teachers, "t_mover_old")]
    assert counts(page.text) == {"待审核": 0, "已通过": 1, "未通过": 0, "已移出": 0, "已调出": 0}
    assert "西湖区文新中学" in page.text and f'name="school" value="{wenxin}"' in page.text
    for code in (HAISHU, XUANWU):
        assert client.get(f"/teachers?school={tree['schools'][code].id}").status_code == 404
    assert client.get("/teachers?school=abc").status_code == 404
    own = login_as("school_admin")
    assert own.get(f"/teachers?school={wenxin}").status_code == 404


def test_province_admin_lists_every_school_in_the_province(login_as, teachers):
    page = login_as("zj_admin").get("/teachers?state=approved")
    assert sorted(rows(page.text)) == sorted([mid(teachers, "teacher"), mid(teachers, "t_mover_old"),
                                              mid(teachers, "t_other")])


def test_another_province_sees_nothing_of_xihu(login_as, tree, teachers):
    client = login_as("js_admin")
    page = client.get("/teachers")
    assert list(rows(page.text)) == [mid(teachers, "t_far")]
    assert counts(page.text) == {"待审核": 1, "已通过": 0, "未通过": 0, "已移出": 0, "已调出": 0}
    assert client.get(f"/teachers?school={tree['schools'][XIHU_FIRST].id}").status_code == 404
    assert client.get("/teachers/overview?region=330106").status_code == 404
    assert client.get("/teachers/overview?region=330106", headers=HX).status_code == 404
    exported = csv_rows(client.get("/teachers/export.csv?state=approved"))
    assert exported == [service.LIST_HEADERS]


def recount(region_path: str) -> tuple[int, int]:
    """(approved, pending) in a region's subtree, counted here without the service."""
    query = (Membership.select().join(School, on=(Membership.school == School.id))
             .where(in_subtree(School.region_path, region_path)))
    return (query.where(Membership.state == APPROVED).count(),
            query.where(Membership.state == PENDING).count())


def overview_rows(text: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", text, re.S).group(1)
    return [cells(tr) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def totals(text: str) -> list[str]:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", text, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<th[^>]*>(.*?)</th>", foot, re.S)]


@pytest.mark.parametrize("username,code,expected_names", [
    ("hz_admin", "330100", ["上城区", "西湖区"]),
    ("zj_admin", "330000", ["杭州市", "宁波市", "浙江省直属实验学校 直属"]),
])
def test_overview_counts_per_sub_region_equal_a_recount(login_as, tree, teachers, username, code,
                                                       expected_names):
    page = login_as(username).get("/teachers/overview")
    assert page.status_code == 200 and "<html" in page.text
    listed = overview_rows(page.text)
    assert [r[0] for r in listed] == expected_names
    regions = tree["regions"]
    for name, approved, pending in listed:
        region = next((r for r in regions.values() if r.name == name), None)
        if region is None:  # a 直属 school: its own teachers
            school = School.get(School.name == name.removesuffix(" 直属"))
            expected = tuple(Membership.select().where((Membership.school == school)
                                                       & (Membership.state == s)).count()
                             for s in (APPROVED, PENDING))
        else:
            expected = recount(region.path)
        assert (int(approved), int(pending)) == expected, name
    assert totals(page.text) == ["合计", *map(str, recount(regions[code].path))]


def test_overview_drills_down_as_fragment_or_page_to_the_schools(login_as, tree, teachers):
    client = login_as("zj_admin")
    fragment = client.get("/teachers/overview?region=330106", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert overview_rows(fragment.text) == [["西湖区第一小学", "1", "2"], ["西湖区文新中学", "1", "0"]]
    assert 'hx-get="/teachers/overview"' in fragment.text  # the breadcrumb back up
    assert 'hx-get="/teachers/overview?region=330100"' in fragment.text
    first = tree["schools"][XIHU_FIRST].id
    assert f'href="/teachers?school={first}&amp;state=approved"' in fragment.text
    page = client.get("/teachers/overview?region=330100")
    assert "<html" in page.text and [r[0] for r in overview_rows(page.text)] == ["上城区", "西湖区"]
    assert 'hx-push-url="true"' in page.text
    assert client.get("/teachers/overview?region=999999").status_code == 404


def test_overview_is_for_region_admins(login_as, teachers):
    assert login_as("school_admin").get("/teachers/overview").status_code == 404
    assert login_as("teacher").get("/teachers").status_code == 404
    assert login_as("nb_admin").get("/teachers/overview?region=330100").status_code == 404


# ---------------------------------------------------------------- reveal

def reveals():
    return AuditLog.select().where(AuditLog.action == "teacher.revealed")


@pytest.mark.parametrize("field", ["id_number", "phone"])
def test_reveal_in_scope_shows_the_value_and_is_audited(login_as, teachers, field):
    client = login_as("xh_admin")
    url = f"/teachers/{mid(teachers, 't_pending')}/reveal"
    value = teachers["data"]["t_pending"][field]
    answer = form_post(client, url, {"field": field}, headers=HX)
    assert answer.status_code == 200 and "<html" not in answer.text and value in answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert reveals().count() == 1
    log = reveals().get()
    assert log.actor.username == "xh_admin"
    assert log.target_id == str(mid(teachers, "t_pending")) and field in log.after
    assert value not in log.after
    page = form_post(client, url, {"field": field})
    assert page.status_code == 200 and "<html" in page.text and value in page.text
    assert "已记入审计日志" in page.text and reveals().count() == 2


def test_reveal_button_asks_first(login_as, teachers):
    page = login_as("school_admin").get("/teachers").text
    assert 'hx-confirm="查看完整信息将被记录，确定吗？"' in page
    assert f'hx-post="/teachers/{mid(teachers, "t_pending")}/reveal"' in page


def test_reveal_out_of_scope_or_unknown_field_is_404_and_not_audited(login_as, teachers):
    url = f"/teachers/{mid(teachers, 't_pending')}/reveal"
    for username, field in (("nb_admin", "id_number"), ("js_admin", "phone"), ("xh_admin", "name"),
                            ("xh_admin", "")):
        answer = form_post(login_as(username), url, {"field": field}, headers=HX)
        assert answer.status_code == 404, (username, field)
        assert_no_clear_personal_data(teachers, answer.text)
    assert form_post(login_as("teacher"), url, {"field": "phone"}).status_code == 404
    assert not reveals().exists()


def test_reveal_needs_the_csrf_token(login_as, teachers):
    client = login_as("xh_admin")
    answer = client.post(f"/teachers/{mid(teachers, 't_pending')}/reveal", data={"field": "phone"})
    assert answer.status_code == 400
    assert not reveals().exists()


# ---------------------------------------------------------------- no clear personal data

@pytest.mark.parametrize("username", ["school_admin", "xh_admin", "zj_admin", "operator"])
def test_no_page_fragment_or_export_shows_a_clear_id_number_or_phone(login_as, teachers, username):
    client = login_as(username)
    urls = [f"/teachers?state={s}" for s in service.REVIEW_STATES]
    urls += [f"/teachers/export.csv?state={s}" for s in service.REVIEW_STATES]
    if username != "school_admin":
        urls += ["/teachers/overview", "/teachers/overview?region=330106"]
    else:
        urls += [f"/teachers/{mid(teachers, 't_pending')}/reject",
                 f"/teachers/{mid(teachers, 'teacher')}/remove",
                 f"/teachers/{mid(teachers, 't_pending')}/row"]
    for url in urls:
        for headers in ({}, HX):
            answer = client.get(url, headers=headers)
            assert answer.status_code in (200, 303), url
            assert_no_clear_personal_data(teachers, answer.get_data(as_text=True))
    for fmt in ("xlsx",):
        book = load_workbook(io.BytesIO(client.get(f"/teachers/export.{fmt}?state=approved").data))
        text = " ".join(str(c) for r in book.active.iter_rows(values_only=True) for c in r)
        assert_no_clear_personal_data(teachers, text)
    if username == "school_admin":
        for url, data in ((f"/teachers/{mid(teachers, 't_pending')}/approve", {}),
                          (f"/teachers/{mid(teachers, 't_mover')}/reject", {"reason": "信息有误"}),
                          (f"/teachers/{mid(teachers, 'teacher')}/remove", {"reason": "调离"})):
            assert_no_clear_personal_data(teachers, form_post(client, url, data, headers=HX).text)

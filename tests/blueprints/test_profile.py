"""个人中心 over HTTP: a teacher's state, applying and correcting, withdrawing, the school picker
(region cascade and search, with htmx and without JavaScript), and personal data never shown in
clear (neither the stored 身份证号 and 手机号 nor what was just typed)."""
import gzip
import html
import re

import pytest

from tests.conftest import form_post
from tests.fixture_teachers import teacher_data, valid_id_number
from yanxiu.masking import mask_id_number, mask_phone
from yanxiu.models import Account, Binding, Membership, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.teacher import APPROVED, PENDING, WITHDRAWN
from yanxiu.scope import Scope
from yanxiu.services import accounts, teachers
from yanxiu.services.teachers import DUPLICATE_ID_NUMBER, TeacherFilters

HX = {"HX-Request": "true"}
PASSWORD = "Test@2025pw"
RE_ENTER = "为保护个人信息，请重新输入"
ID_LIKE = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")
MOBILE_LIKE = re.compile(r"(?<![\d*])1[3-9]\d{9}(?![\d*])")


def school(code: str) -> School:
    return School.get(School.code == code)


def visible(text: str) -> str:
    """The page as read: tags gone, entities decoded, whitespace squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", text)))


def input_values(text: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(r'\bvalue="([^"]*)"', text)]


class Watched:
    """A signed-in test client whose every answer is checked for personal data in clear:
    the values in `secrets`, and anything shaped like a 身份证号 or 手机号 on screen or in a field."""

    def __init__(self, client, secrets: set[str]):
        self.client, self.secrets = client, secrets

    def _check(self, response):
        text = response.get_data(as_text=True)
        for secret in self.secrets:
            assert secret not in text, "personal data in clear"
        for shown in [visible(text), *input_values(text)]:
            assert not ID_LIKE.search(shown) and not MOBILE_LIKE.search(shown), shown
        return response

    def get(self, url: str, **kwargs):
        return self._check(self.client.get(url, **kwargs))

    def post(self, url: str, data: dict, **kwargs):
        typed = {data.get("id_number"), data.get("phone")} - {None, ""}
        self.secrets |= {t for t in typed if len(t) > 6}
        return self._check(form_post(self.client, url, data, **kwargs))


@pytest.fixture
def secrets(teachers) -> set[str]:
    """Every 身份证号 and 手机号 the fixture teachers submitted."""
    return {v for d in teachers["data"].values() for v in (d["id_number"], d["phone"])}


@pytest.fixture
def watched(login_as, secrets):
    return lambda username: Watched(login_as(username), set(secrets))


@pytest.fixture
def newcomer(app, tree):
    """A fresh account that has never applied, signed in (the tree's accounts only)."""
    accounts.register("newcomer", "新来老师", PASSWORD)

    def sign_in(username="newcomer"):
        from tests.conftest import log_in
        client = app.test_client()
        assert log_in(client, username).status_code == 303
        return Watched(client, set())
    return sign_in


def application(school_code: str, seed: int = 40, **overrides) -> dict:
    return {**teacher_data(seed, **overrides), "school_id": str(school(school_code).id)}


def pending_of(username: str) -> Membership | None:
    return (Membership.select().join(Account, on=(Membership.account == Account.id))
            .where((Account.username == username) & (Membership.state == PENDING)).first())


def selected(text: str, name: str) -> str | None:
    """The selected option of a <select name=…>."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', text, re.S)
    option = select and re.search(r'<option selected value="([^"]*)"', select.group(1))
    return option.group(1) if option else None


def checked_school(text: str) -> list[str]:
    return re.findall(r'<input type="radio" name="school_id" value="(\d+)"[^>]*\schecked>', text)


def option_names(text: str, name: str = "region") -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', text, re.S)
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select.group(1)) if select else []


def radio_labels(text: str) -> list[str]:
    return [visible(label).strip() for label in
            re.findall(r'<label><input type="radio" name="school_id"[^>]*>(.*?)</label>', text, re.S)]


# ---------------------------------------------------------------- applying

def test_a_fresh_account_applies_and_the_school_sees_it(newcomer):
    me = newcomer()
    page = me.get("/me")
    assert page.status_code == 200
    assert "未提交" in visible(page.text) and 'id="profile-form"' in page.text
    data = application("3301060001")
    answer = me.post("/me", data)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/me")
    page = me.get("/me")
    shown = visible(page.text)
    assert "已提交，等待学校审核" in shown and "待审核" in shown and "西湖区第一小学" in shown
    assert mask_id_number(data["id_number"]) in shown and mask_phone(data["phone"]) in shown
    assert 'id="profile-form"' not in page.text  # read-only while under review
    # The school admin's list has it; the school next door's does not.
    row = pending_of("newcomer")
    admin = Binding.get((Binding.role == SCHOOL_ADMIN) & (Binding.school == school("3301060001")))
    assert row.school.code == "3301060001"
    assert row.id in [m.id for m in teachers.teacher_list(Scope.of(admin), TeacherFilters())]
    other = Binding.get((Binding.role == SCHOOL_ADMIN) & (Binding.school == school("3301060002")))
    assert row.id not in [m.id for m in teachers.teacher_list(Scope.of(other), TeacherFilters())]


def test_an_admin_account_is_a_teacher_too(login_as, tree):
    page = login_as("school_admin").get("/me")
    assert page.status_code == 200 and "未提交" in visible(page.text)


BAD_INPUT = [
    ("id_number", lambda d: d["id_number"][:17] + str((int(d["id_number"][17]) + 1) % 10)
     if d["id_number"][17].isdigit() else d["id_number"][:17] + "0", "身份证号校验位不正确"),
    ("id_number", lambda d: valid_id_number(41, birth="20991231"), "身份证号中的出生日期晚于今天"),
    ("phone", lambda d: "12345678901", "手机号须为 11 位，以 1 开头"),
    ("name", lambda d: "李", "姓名须为 2–30 个汉字或字母"),
    ("stage", lambda d: "", "请选择任教学段"),
]


@pytest.mark.parametrize("field,bad,message", BAD_INPUT, ids=[
    "check-digit", "future-birth", "mobile", "short-name", "no-stage"])
def test_invalid_input_is_refused_with_the_reason_and_the_rest_kept(newcomer, field, bad, message):
    me = newcomer()
    data = application("3301060002", seed=42, name="陈思远", gender="女", subject="化学")
    data[field] = bad(data)
    page = me.post("/me", data)
    assert page.status_code == 422
    shown = visible(page.text)
    assert message in shown
    assert Membership.select().count() == 0
    # What was typed is kept, except 身份证号 and 手机号, never echoed.
    if field != "name":
        assert 'value="陈思远"' in page.text
    assert re.search(r'<input checked id="gender-1" name="gender" type="radio" value="女">', page.text)
    assert selected(page.text, "subject") == "化学"
    assert selected(page.text, "stage") == data["stage"]
    assert checked_school(page.text) == [str(school("3301060002").id)]
    assert "已选：西湖区文新中学（3301060002，浙江省 › 杭州市 › 西湖区）" in shown
    assert re.search(r'name="id_number" type="text" value=""', page.text)
    assert re.search(r'name="phone" type="text" value=""', page.text)
    # Typed 身份证号/手机号 must be typed again: said on the field, with or without an error.
    assert shown.count(RE_ENTER) == 2
    if field in ("id_number", "phone"):
        assert f"{message}" in shown and f"；{RE_ENTER}" in shown


def test_blank_required_fields_are_asked_for(newcomer):
    me = newcomer()
    page = me.post("/me", {"name": "", "school_id": ""})
    assert page.status_code == 422
    shown = visible(page.text)
    for message in ("请填写姓名", "请选择性别", "请填写身份证号", "请填写手机号", "请选择任教学段",
                    "请选择任教学科", "请从列表中选择学校"):
        assert message in shown
    assert RE_ENTER not in shown  # nothing typed, nothing to type again


# 99999999999999999999: past a 64-bit integer, it overflowed the look-up (found by the fuzz tests).
@pytest.mark.parametrize("school_id", ["archived", "999999", "abc", "99999999999999999999"])
def test_an_archived_or_made_up_school_is_refused_on_the_picker(newcomer, school_id):
    if school_id == "archived":
        School.update(status="archived").where(School.code == "3301020001").execute()
        school_id = str(school("3301020001").id)
    me = newcomer()
    page = me.post("/me", {**application("3301060001"), "school_id": school_id})
    assert page.status_code == 422
    picker = re.search(r'<div class="picker invalid">(.*?)<h3>', page.text, re.S)
    assert picker and "请从列表中选择学校" in visible(picker.group(1))
    assert checked_school(page.text) == [] and "已选：" not in page.text
    assert Membership.select().count() == 0


def test_a_number_approved_for_another_account_is_refused_with_guidance(newcomer, teachers, secrets):
    me = newcomer()
    me.secrets |= secrets
    taken = teachers["data"]["t_other"]["id_number"]
    page = me.post("/me", application("3301060001", id_number=taken))
    assert page.status_code == 422
    assert DUPLICATE_ID_NUMBER in visible(page.text)
    assert pending_of("newcomer") is None


# ---------------------------------------------------------------- the teacher's states

def test_resubmitting_while_pending_is_refused(watched, teachers):
    me = watched("t_pending")
    page = me.get("/me")
    shown = visible(page.text)
    assert "待审核" in shown and "西湖区第一小学" in shown and "撤回申请" in shown
    assert "信息暂不能修改" in shown and 'id="profile-form"' not in page.text
    answer = me.post("/me", application("3301060002", seed=2))
    assert answer.status_code == 422
    assert "您的申请正在审核中，请等待学校审核；如需修改，请先撤回申请" in visible(answer.text)
    assert pending_of("t_pending").school.code == "3301060001"


def test_a_rejected_teacher_sees_the_reason_and_resubmits_keeping_the_stored_numbers(watched, teachers):
    me = watched("t_rejected")
    old = teachers["memberships"]["t_rejected"]
    page = me.get("/me")
    shown = visible(page.text)
    assert "未通过" in shown
    assert "学校未通过您的申请：非本校（机构）教师，请更正后重新提交" in shown
    assert f'value="{old.name}"' in page.text and selected(page.text, "stage") == old.stage
    assert f"已填写 {old.id_masked}，不修改请留空" in shown
    assert f"已填写 {old.phone_masked}，不修改请留空" in shown
    assert checked_school(page.text) == [str(old.school_id)]
    data = {"name": old.name, "gender": old.gender, "id_number": "", "phone": "", "stage": "初中",
            "subject": old.subject, "title": "", "school_id": str(old.school_id)}
    assert me.post("/me", data).status_code == 303
    row = pending_of("t_rejected")
    assert (row.id_index, row.phone_index, row.stage) == (old.id_index, old.phone_index, "初中")
    shown = visible(me.get("/me").text)
    assert "待审核" in shown and "学校未通过" not in shown


def test_an_approved_teacher_applies_to_another_school_and_stays_a_member(watched, teachers):
    me = watched("teacher")
    page = me.get("/me")
    shown = visible(page.text)
    assert "已通过" in shown and "所在学校：西湖区第一小学" in shown
    assert "更正信息或申请调入其他学校" in shown and "新学校审核通过前，您仍是西湖区第一小学的教师" in shown
    data = {**teachers["data"]["teacher"], "id_number": "", "phone": "",
            "school_id": str(school("3301020001").id)}
    assert me.post("/me", data).status_code == 303
    shown = visible(me.get("/me").text)
    assert "所在学校：西湖区第一小学" in shown
    assert "已向 上城区胜利小学 提交申请" in shown
    assert "新学校审核通过前，您仍是西湖区第一小学的教师" in shown
    member = Membership.get((Membership.account == teachers["accounts"]["teacher"])
                            & (Membership.state == APPROVED))
    assert member.school.code == "3301060001"


def test_an_unchanged_resubmission_to_the_own_school_is_refused(watched, teachers):
    me = watched("teacher")
    data = {**teachers["data"]["teacher"], "id_number": "", "phone": "",
            "school_id": str(school("3301060001").id)}
    page = me.post("/me", data)
    assert page.status_code == 422
    assert "您已是该校教师，信息没有变化，无需重新提交" in visible(page.text)


def test_a_removed_teacher_sees_the_reason(watched, teachers):
    shown = visible(watched("t_removed").get("/me").text)
    assert "已移出" in shown and "您已被西湖区第一小学移出" in shown and "调离教学岗位" in shown


def test_a_moving_teacher_sees_both_schools_and_the_history(watched, teachers):
    page = watched("t_mover").get("/me")
    shown = visible(page.text)
    assert "所在学校：西湖区文新中学" in shown and "已向 西湖区第一小学 提交申请" in shown
    assert "新学校审核通过前，您仍是西湖区文新中学的教师" in shown
    history = re.search(r"申请记录.*?<tbody>(.*?)</tbody>", page.text, re.S).group(1)
    rows = [[visible(td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", history, re.S)]
    assert [r[:2] for r in rows] == [["西湖区第一小学", "待审核"], ["西湖区文新中学", "已通过"]]


def test_withdraw_asks_first_then_withdraws(watched, teachers):
    me = watched("t_pending")
    confirm = me.get("/me/withdraw")
    assert confirm.status_code == 200 and "确认撤回" in confirm.text and "西湖区第一小学" in confirm.text
    assert pending_of("t_pending") is not None  # GET changed nothing
    answer = me.post("/me/withdraw", {})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/me")
    assert Membership.get_by_id(teachers["memberships"]["t_pending"].id).state == WITHDRAWN
    page = me.get("/me")
    shown = visible(page.text)
    assert "已撤回申请，可修改后重新提交" in shown and 'id="profile-form"' in page.text
    assert "已撤回" in shown  # in the history
    # Nothing left to withdraw: the page, and a refused POST with the reason.
    assert me.get("/me/withdraw").status_code == 303
    me.post("/me/withdraw", {})
    assert "没有待审核的申请可以撤回" in visible(me.get("/me").text)


def test_posts_without_a_csrf_token_are_refused(watched, teachers):
    me = watched("t_pending")
    assert me.client.post("/me/withdraw").status_code == 400
    assert pending_of("t_pending") is not None
    other = watched("t_removed")
    assert other.client.post("/me", data=application("3301060001", seed=4)).status_code == 400
    assert pending_of("t_removed") is None


# ---------------------------------------------------------------- the school picker

def test_cascade_fragments_give_the_next_level(watched, teachers):
    me = watched("t_removed")
    top = me.get("/me/schools?region=000000", headers=HX)
    assert top.status_code == 200 and "<html" not in top.text
    assert option_names(top.text) == ["北京市", "江苏省", "浙江省"] and "全国" not in top.text
    province = me.get("/me/schools?region=330000", headers=HX)
    assert option_names(province.text) == ["杭州市", "宁波市"]
    assert radio_labels(province.text) == ["浙江省直属实验学校"]
    assert "浙江省直属学校" in province.text
    assert 'hx-target="#below-330000"' in province.text and 'id="below-330000"' in province.text
    county = me.get("/me/schools?region=330106", headers=HX)
    assert option_names(county.text) == [] and "<select" not in county.text
    assert radio_labels(county.text) == ["西湖区第一小学", "西湖区文新中学"]
    assert 'form="profile-form"' in county.text
    cleared = me.get("/me/schools?region=", headers=HX)
    assert cleared.status_code == 200 and cleared.text == ""
    assert me.get("/me/schools?region=nope", headers=HX).status_code == 404


def test_cascade_lists_only_active_regions_and_schools(watched, teachers):
    Region.update(is_active=False).where(Region.code == "330102").execute()
    School.update(status="archived").where(School.code == "3301060002").execute()
    me = watched("t_removed")
    assert option_names(me.get("/me/schools?region=330100", headers=HX).text) == ["西湖区"]
    assert radio_labels(me.get("/me/schools?region=330106", headers=HX).text) == ["西湖区第一小学"]
    assert me.get("/me/schools?region=330102", headers=HX).status_code == 404
    assert me.get("/me/schools?region=330102").status_code == 404


def test_cascade_without_javascript_opens_the_page_at_the_region(watched, teachers):
    me = watched("t_removed")
    page = me.get("/me/schools?region=330000&region=330100&region=330106")
    assert page.status_code == 200 and "<html" in page.text and 'id="profile-form"' in page.text
    assert re.search(r'<form class="pick-cascade" method="get" action="/me/schools">', page.text)
    assert "下一级" in page.text
    chosen = re.findall(r'<select id="region-(\d+)" name="region".*?<option value="(\d+)" selected>',
                        page.text, re.S)
    assert chosen == [("000000", "330000"), ("330000", "330100"), ("330100", "330106")]
    # The county's schools come right under the choices; the 直属 schools of the levels above after.
    assert radio_labels(page.text)[-3:] == ["西湖区第一小学", "西湖区文新中学", "浙江省直属实验学校"]
    # One code (a link, or htmx's URL opened in a new tab) opens the same way.
    assert radio_labels(me.get("/me/schools?region=330106").text) == radio_labels(page.text)
    # A province changed above a stale city: the cascade stops at the province.
    stale = me.get("/me/schools?region=320000&region=330100")
    assert option_names(re.search(r'<select id="region-320000".*', stale.text, re.S).group(0)) == ["南京市"]
    assert 'value="330100" selected' not in stale.text


def test_search_fragment_and_page(watched, teachers):
    me = watched("t_removed")
    found = me.get("/me/schools/search?q=西湖", headers=HX)
    assert found.status_code == 200 and "<html" not in found.text
    assert radio_labels(found.text) == ["西湖区第一小学（3301060001，浙江省 › 杭州市 › 西湖区）",
                                        "西湖区文新中学（3301060002，浙江省 › 杭州市 › 西湖区）"]
    by_code = me.get("/me/schools/search?q=330106", headers=HX)
    assert [label.split("（")[0] for label in radio_labels(by_code.text)] == ["西湖区第一小学", "西湖区文新中学"]
    assert "请至少输入 2 个字" in me.get("/me/schools/search?q=西", headers=HX).text
    assert "没有找到符合的学校" in me.get("/me/schools/search?q=不存在的学校", headers=HX).text
    page = me.get("/me/schools/search?q=玄武")
    assert page.status_code == 200 and "<html" in page.text and 'value="玄武"' in page.text
    assert "玄武区北京东路小学（3201020001，江苏省 › 南京市 › 玄武区）" in radio_labels(page.text)
    assert 'hx-trigger="input changed delay:400ms"' in page.text
    # A 手机号 or 身份证号 typed into the school search by mistake is not echoed.
    for typed in ("13912345678", valid_id_number(9)):
        me.secrets.add(typed)
        for headers in ({}, HX):
            answer = me.get(f"/me/schools/search?q={typed}", headers=headers)
            assert answer.status_code == 200 and "学校标识码为 10 位数字" in answer.text


def test_a_school_picked_from_the_search_is_applied_to(newcomer):
    me = newcomer()
    found = me.get("/me/schools/search?q=海曙", headers=HX)
    school_id = re.search(r'name="school_id" value="(\d+)"', found.text).group(1)
    assert me.post("/me", {**application("3301060001"), "school_id": school_id}).status_code == 303
    assert pending_of("newcomer").school.code == "3302030001"


def test_a_county_with_many_schools_stays_within_the_fragment_budget(watched, teachers):
    region = Region.get(Region.code == "330106")
    School.insert_many([{"code": f"33019{i:05d}", "name": f"杭州市西湖区第{i}实验学校",
                         "region": region.id, "region_path": region.path, "stage": "小学"}
                        for i in range(300)]).execute()
    fragment = watched("t_removed").get("/me/schools?region=330106", headers=HX)
    assert len(radio_labels(fragment.text)) == 302
    assert len(gzip.compress(fragment.data)) <= 10 * 1024


def test_no_page_of_any_teacher_shows_personal_data_in_clear(watched, teachers):
    """Every page and fragment of 个人中心, for a teacher in every state."""
    urls = ["/me", "/me/withdraw", "/me/schools?region=330106", "/me/schools/search?q=西湖"]
    for username in teachers["accounts"]:
        me = watched(username)
        for url in urls:
            for headers in ({}, HX):
                assert me.get(url, headers=headers).status_code in (200, 303)


def test_my_hours_show_per_programme_and_course(watched, tree, teachers):
    from tests.services.test_rollups import make_programme, record
    from yanxiu.services import records
    programme = make_programme(tree)
    records.ingest([record(programme, "a", minutes=90)])
    page = watched("teacher").get("/me").text
    assert "我的研修学时" in page and programme.name in page
    assert "已获 <strong>1.0</strong> 学时，完成需 3 学时" in page and "未完成" in page
    assert "我的研修学时" not in watched("t_pending").get("/me").text

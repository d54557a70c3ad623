"""学校管理 over HTTP: list, search, filters, sort, pages, export; add; inline edit (htmx and
without JavaScript); archive or delete, restore; transfer; the school admin's own school; scoping."""
import csv
import html
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import form_post
from tests.fixture_tree import ACCOUNTS, REGIONS, SCHOOLS
from yanxiu.models import AuditLog, Binding, PermissionCode, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.services import codes

HX = {"HX-Request": "true"}
XIHU_FIRST, WENXIN, SHANGCHENG, HAISHU, XUANWU, ZJ_DIRECT = (c for c, *_ in SCHOOLS)


def school(code: str) -> School:
    return School.get(School.code == code)


def cells(tr: str) -> list[str]:
    found = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the school table as text cells, without the 操作 column."""
    body = re.search(r'<table class="schools">.*?<tbody>(.*?)</tbody>', text, re.S)
    if body is None:
        return []
    return [cells(tr)[:-1] for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body.group(1), re.S)]


def names(text: str) -> list[str]:
    return [r[0] for r in table_rows(text)]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def edit_data(s: School, **changes) -> dict:
    data = {"code": s.code, "name": s.name, "kind": s.kind, "stage": s.stage or "",
            "ownership": s.ownership, "address": s.address, "contact_name": s.contact_name,
            "contact_phone": s.contact_phone, "version": str(s.version)}
    return {**data, **changes}


def add_schools(tree, n: int, region_code: str = "330106") -> None:
    region = tree["regions"][region_code]
    for i in range(n):
        School.create(code=f"33019{i:05d}",
                      name=f"测试学校{i:03d}", region=region, region_path=region.path, stage="小学")


# ---------------------------------------------------------------- list

@pytest.mark.parametrize("username,expected", [
    ("xh_admin", ["西湖区第一小学", "西湖区文新中学"]),
    ("hz_admin", ["上城区胜利小学", "西湖区第一小学", "西湖区文新中学"]),
    ("zj_admin", ["浙江省直属实验学校", "上城区胜利小学", "西湖区第一小学", "西湖区文新中学",
                  "海曙区实验小学"]),
    ("nb_admin", ["海曙区实验小学"]),
])
def test_list_shows_the_schools_the_scope_reads(login_as, username, expected):
    page = login_as(username).get("/schools")
    assert page.status_code == 200 and "<html" in page.text
    assert names(page.text) == expected


def test_list_columns_mask_phones_and_show_activation(login_as):
    School.update(contact_name="李老师", contact_phone="13812345678", ownership="民办").where(
        School.code == XIHU_FIRST).execute()
    page = login_as("xh_admin").get("/schools")
    first, second = table_rows(page.text)
    assert first[:7] == ["西湖区第一小学", XIHU_FIRST, "学校 · 小学", "民办", "西湖区", "李老师",
                         "138****5678"]
    assert first[7].startswith("西湖校管（")
    assert "13812345678" not in page.text
    assert second[7].startswith("多身份（")


def test_managed_rows_get_actions_others_are_read_only(login_as, tree):
    county = login_as("xh_admin").get("/schools").text
    first = tree["schools"][XIHU_FIRST].id
    assert f'hx-get="/schools/{first}/edit"' in county and f"/schools/{first}/delete" in county
    assert "/transfer" not in county
    city = login_as("hz_admin").get("/schools").text
    assert "/edit" not in city and "/delete" not in city
    assert f"/schools/{first}/transfer" in city and '<span class="muted">只读' not in city
    province = login_as("zj_admin").get("/schools").text
    direct = tree["schools"][ZJ_DIRECT].id
    assert f"/schools/{direct}/edit" in province and f"/schools/{direct}/transfer" not in province


def test_search_by_name_or_code_prefix(login_as):
    client = login_as("zj_admin")
    assert names(client.get("/schools?q=文新").text) == ["西湖区文新中学"]
    assert names(client.get("/schools?q=330106").text) == ["西湖区第一小学", "西湖区文新中学"]
    assert names(client.get("/schools?q=0001").text) == []  # a code matches by prefix only
    empty = client.get("/schools?q=不存在的学校")
    assert "没有符合条件的学校(机构)" in empty.text
    assert names(client.get("/schools?q=%25").text) == []  # LIKE wildcards are literal


def test_filters(login_as, tree):
    client = login_as("zj_admin")
    region = tree["regions"]["330106"]
    School.create(code="3301069001", name="西湖区教研室", kind="jiaoyan", region=region,
                  region_path=region.path, ownership="公办")
    School.update(ownership="民办").where(School.code == SHANGCHENG).execute()
    assert names(client.get("/schools?kind=jiaoyan").text) == ["西湖区教研室"]
    assert names(client.get("/schools?stage=初中").text) == ["西湖区文新中学"]
    assert names(client.get("/schools?ownership=民办").text) == ["上城区胜利小学"]
    assert names(client.get("/schools?activation=activated").text) == ["西湖区第一小学", "西湖区文新中学"]
    assert names(client.get("/schools?activation=inactive").text) == [
        "浙江省直属实验学校", "上城区胜利小学", "西湖区教研室", "海曙区实验小学"]
    assert names(client.get("/schools?kind=bogus&stage=大学").text) == names(client.get("/schools").text)


def test_archived_schools_are_listed_only_on_request(login_as):
    School.update(status="archived").where(School.code == WENXIN).execute()
    client = login_as("xh_admin")
    assert names(client.get("/schools").text) == ["西湖区第一小学"]
    archived = client.get("/schools?archived=1")
    assert names(archived.text) == ["西湖区文新中学"]
    assert "/restore" in archived.text and "/edit" not in archived.text


def test_sort_is_whitelisted(login_as):
    client = login_as("zj_admin")
    by_code = names(client.get("/schools?sort=code").text)
    assert by_code == ["浙江省直属实验学校", "上城区胜利小学", "西湖区第一小学", "西湖区文新中学",
                       "海曙区实验小学"]
    assert names(client.get("/schools?sort=name").text) == sorted(by_code)
    default = names(client.get("/schools").text)
    assert names(client.get("/schools?sort=password_hash").text) == default


def test_pagination_keeps_filters(login_as, tree):
    add_schools(tree, 60)
    client = login_as("xh_admin")
    first = client.get("/schools?q=测试")
    assert len(table_rows(first.text)) == 50 and "第 1 / 2 页（共 60 条）" in first.text
    assert "page=2" in first.text and "q=%E6%B5%8B%E8%AF%95" in first.text
    second = client.get("/schools?q=测试&page=2")
    assert len(table_rows(second.text)) == 10
    assert len(table_rows(client.get("/schools?q=测试&page=99").text)) == 10


def test_list_is_a_fragment_for_htmx(login_as):
    client = login_as("hz_admin")
    fragment = client.get("/schools?q=西湖", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert names(fragment.text) == ["西湖区第一小学", "西湖区文新中学"]
    assert "/schools/export.csv?q=" in fragment.text  # export links follow the filters
    page = client.get("/schools?q=西湖")
    assert "<html" in page.text and names(page.text) == names(fragment.text)
    assert 'hx-trigger="input changed delay:400ms, search"' in page.text
    assert 'value="西湖"' in page.text


@pytest.mark.parametrize("username", ["school_admin", "teacher"])
def test_list_is_for_region_admins(login_as, username):
    client = login_as(username)
    for url in ("/schools", "/schools/export.csv", "/schools/new"):
        assert client.get(url).status_code == 404


# ---------------------------------------------------------------- export

def test_exports_have_the_screen_rows_of_all_pages(login_as, tree):
    add_schools(tree, 55)
    School.update(contact_phone="0571-88001234").where(School.code == XIHU_FIRST).execute()
    client = login_as("xh_admin")
    screen = table_rows(client.get("/schools?sort=name").text) + \
        table_rows(client.get("/schools?sort=name&page=2").text)
    assert len(screen) == 57
    response = client.get("/schools/export.csv?sort=name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["名称", "学校标识码", "类型·学段", "办学性质", "所在区域", "联系人", "联系电话",
                       "管理员状态"]
    assert rows[1:] == screen
    assert "0571-****1234" in response.data.decode("utf-8-sig")
    book = load_workbook(io.BytesIO(client.get("/schools/export.xlsx?sort=name").data))
    sheet = [[c if c is not None else "" for c in r] for r in book.active.iter_rows(values_only=True)]
    assert sheet[0] == rows[0] and sheet[1:] == screen


def test_export_follows_the_filters(login_as):
    client = login_as("zj_admin")
    rows = csv_rows(client.get("/schools/export.csv?activation=inactive&q=小学"))
    assert [r[0] for r in rows[1:]] == names(client.get("/schools?activation=inactive&q=小学").text)
    assert [r[0] for r in rows[1:]] == ["上城区胜利小学", "海曙区实验小学"]
    assert client.get("/schools/export.pdf").status_code == 404


def test_sec22_school_export_neutralises_formulas(login_as):
    School.update(name="=HYPERLINK(\"http://x\")", contact_name="+cmd").where(
        School.code == XIHU_FIRST).execute()
    rows = csv_rows(login_as("xh_admin").get("/schools/export.csv"))
    first = next(r for r in rows if r[1] == XIHU_FIRST)
    assert first[0] == "'=HYPERLINK(\"http://x\")" and first[5] == "'+cmd"


# ---------------------------------------------------------------- add

def test_add_form_and_success(login_as):
    client = login_as("xh_admin")
    form = client.get("/schools/new")
    assert form.status_code == 200 and "新增到：<strong>西湖区</strong>" in form.text
    done = form_post(client, "/schools/new", {
        "code": "3301069100", "name": "西湖区新建小学", "kind": "school", "stage": "小学",
        "ownership": "公办", "address": "文三路 1 号", "contact_name": "张老师",
        "contact_phone": "13900001111"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/schools")
    created = school("3301069100")
    assert created.region.code == "330106" and created.address == "文三路 1 号"
    assert "已新增“西湖区新建小学”" in client.get("/schools").text
    assert AuditLog.select().where(AuditLog.action == "school.created").count() == 1


def test_add_errors_keep_the_input(login_as):
    client = login_as("xh_admin")
    response = form_post(client, "/schools/new", {
        "code": "33010", "name": "西湖区第一小学", "kind": "school", "stage": "",
        "ownership": "公办", "address": "", "contact_name": "", "contact_phone": "12345"})
    assert response.status_code == 422
    assert "学校标识码须为 10 位数字" in response.text and "学校须填写学段" in response.text
    assert "联系电话须为 11 位手机号" in response.text
    assert 'value="33010"' in response.text and 'value="12345"' in response.text
    duplicate = form_post(client, "/schools/new", {
        "code": SHANGCHENG, "name": "西湖区第一小学", "kind": "school", "stage": "小学",
        "ownership": "公办"})
    assert duplicate.status_code == 422
    assert "已被使用（全国唯一）" in duplicate.text and "西湖区已有同名学校" in duplicate.text
    assert School.select().count() == len(SCHOOLS)


def test_city_adds_a_direct_school_and_operator_adds_none(login_as):
    city = login_as("hz_admin")
    assert "（杭州市直属）" in city.get("/schools/new").text
    done = form_post(city, "/schools/new", {"code": "3301009001", "name": "杭州市直属中学",
                                            "kind": "school", "stage": "高中", "ownership": "公办"})
    assert done.status_code == 303 and school("3301009001").region.code == "330100"
    operator = login_as("operator")
    assert operator.get("/schools").status_code == 200
    assert operator.get("/schools/new").status_code == 404
    assert form_post(operator, "/schools/new", {"code": "1101019001", "name": "x",
                                                "stage": "小学"}).status_code == 404


# ---------------------------------------------------------------- inline edit

def test_edit_row_is_a_tr_form_for_htmx_and_a_page_otherwise(login_as, tree):
    client = login_as("xh_admin")
    sid = tree["schools"][WENXIN].id
    row = client.get(f"/schools/{sid}/edit", headers=HX)
    assert row.status_code == 200 and row.text.strip().startswith("<tr")
    assert "<html" not in row.text and 'class="editing"' in row.text
    assert f'form="school-form-{sid}"' in row.text and 'name="version" value="1"' in row.text
    assert f'hx-get="/schools/{sid}/row"' in row.text and "data-cancel" in row.text
    page = client.get(f"/schools/{sid}/edit")
    assert page.status_code == 200 and "<html" in page.text
    assert f'action="/schools/{sid}"' in page.text and "hx-post" not in page.text


def test_row_is_a_tr_for_htmx_and_the_school_page_otherwise(login_as, tree):
    client = login_as("xh_admin")
    sid = tree["schools"][WENXIN].id
    row = client.get(f"/schools/{sid}/row", headers=HX)
    assert row.status_code == 200 and row.text.strip().startswith(f'<tr id="school-{sid}">')
    assert cells(row.text)[0] == "西湖区文新中学" and "<html" not in row.text
    page = client.get(f"/schools/{sid}/row")
    assert "<html" in page.text and "历史记录" in page.text


def test_inline_save_swaps_the_row_back(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    response = form_post(client, f"/schools/{s.id}",
                         edit_data(s, address="西湖区文三路 100 号", contact_phone="13800001111"),
                         headers=HX)
    assert response.status_code == 200
    assert response.text.strip().startswith(f'<tr id="school-{s.id}">')
    assert "editing" not in response.text
    assert "138****1111" in response.text
    saved = School.get_by_id(s.id)
    assert saved.address == "西湖区文三路 100 号" and saved.version == 2
    history = client.get(f"/schools/{s.id}").text
    assert "修改信息" in history and "地址：— → 西湖区文三路 100 号" in history


def test_inline_save_invalid_keeps_the_input(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    response = form_post(client, f"/schools/{s.id}",
                         edit_data(s, name="", contact_phone="12", address="新地址"), headers=HX)
    assert response.status_code == 422
    assert response.text.strip().startswith("<tr") and "editing" in response.text
    assert "请填写名称" in response.text and "联系电话须为" in response.text
    assert 'value="新地址"' in response.text and 'value="12"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert School.get_by_id(s.id).address == "" and School.get_by_id(s.id).version == 1


def test_stale_inline_save_is_409_and_overwrites_nothing(login_as, tree):
    first, second = login_as("xh_admin"), login_as("xh_admin")
    s = tree["schools"][WENXIN]
    assert form_post(first, f"/schools/{s.id}", edit_data(s, address="甲的地址"),
                     headers=HX).status_code == 200
    stale = form_post(second, f"/schools/{s.id}", edit_data(s, address="乙的地址"), headers=HX)
    assert stale.status_code == 409
    assert "已被他人修改" in stale.text and 'value="甲的地址"' in stale.text
    assert 'name="version" value="2"' in stale.text
    assert School.get_by_id(s.id).address == "甲的地址"
    page = form_post(second, f"/schools/{s.id}", edit_data(s, address="乙的地址"))
    assert page.status_code == 409 and "<html" in page.text and "已被他人修改" in page.text


def test_a_version_past_64_bits_is_a_stale_save_not_a_crash(login_as, tree):
    """Found by the fuzz tests: the hidden version went to the database unchecked and overflowed
    it (a 500); a version no row can have is stale like any other."""
    s = tree["schools"][WENXIN]
    data = edit_data(s, address="新地址") | {"version": "99999999999999999999"}
    response = form_post(login_as("xh_admin"), f"/schools/{s.id}", data, headers=HX)
    assert response.status_code == 409 and "已被他人修改" in response.text
    assert School.get_by_id(s.id).address == ""


def test_edit_without_javascript(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    done = form_post(client, f"/schools/{s.id}", edit_data(s, contact_name="王主任"))
    assert done.status_code == 303 and done.headers["Location"].endswith("/schools")
    assert School.get_by_id(s.id).contact_name == "王主任"
    assert "已保存“西湖区文新中学”" in client.get("/schools").text
    bad = form_post(client, f"/schools/{s.id}", edit_data(School.get_by_id(s.id), code="12"))
    assert bad.status_code == 422 and "<html" in bad.text and "学校标识码须为 10 位数字" in bad.text
    assert 'value="12"' in bad.text


def test_edit_refuses_a_code_in_use_and_a_missing_csrf_token(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    taken = form_post(client, f"/schools/{s.id}", edit_data(s, code=HAISHU), headers=HX)
    assert taken.status_code == 422 and "已被使用（全国唯一）" in taken.text
    no_token = client.post(f"/schools/{s.id}", data=edit_data(s, name="改名"), headers=HX)
    assert no_token.status_code == 400
    assert School.get_by_id(s.id).name == "西湖区文新中学"


def test_name_is_escaped(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    evil = "<script>alert(1)</script>中学"
    assert form_post(client, f"/schools/{s.id}", edit_data(s, name=evil), headers=HX).status_code == 200
    for text in (client.get("/schools").text, client.get(f"/schools/{s.id}").text,
                 client.get(f"/schools/{s.id}/edit", headers=HX).text,
                 client.get(f"/schools/{s.id}/row", headers=HX).text):
        assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# ---------------------------------------------------------------- delete, restore

def test_a_school_with_dependents_is_archived_then_restored(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][XIHU_FIRST]
    confirm = client.get(f"/schools/{s.id}/delete")
    assert confirm.status_code == 200 and "将<strong>归档</strong>" in confirm.text
    missing = form_post(client, f"/schools/{s.id}/delete", {"reason": ""})
    assert missing.status_code == 422 and "请填写原因" in missing.text
    assert School.get_by_id(s.id).status == "active"
    done = form_post(client, f"/schools/{s.id}/delete", {"reason": "撤并"})
    assert done.status_code == 303 and School.get_by_id(s.id).status == "archived"
    assert "已归档" in client.get("/schools").text
    assert "西湖区第一小学" not in names(client.get("/schools").text)
    assert client.get(f"/schools/{s.id}/edit").status_code == 404
    assert client.get(f"/schools/{s.id}/restore").status_code == 200
    restored = form_post(client, f"/schools/{s.id}/restore")
    assert restored.status_code == 303 and School.get_by_id(s.id).status == "active"
    history = client.get(f"/schools/{s.id}").text
    assert "归档" in history and "撤并" in history and "恢复" in history
    assert form_post(client, f"/schools/{s.id}/restore").status_code == 404  # not archived now


def test_an_empty_school_is_deleted(login_as, tree):
    region = tree["regions"]["330106"]
    empty = School.create(code="3301069200", name="空学校", region=region, region_path=region.path,
                          stage="小学")
    client = login_as("xh_admin")
    assert "将被<strong>删除</strong>" in client.get(f"/schools/{empty.id}/delete").text
    done = form_post(client, f"/schools/{empty.id}/delete", {"reason": "录入错误"})
    assert done.status_code == 303
    assert School.get_or_none(School.id == empty.id) is None
    assert "“空学校”已删除" in client.get("/schools").text
    assert AuditLog.get(AuditLog.action == "school.deleted").target_id == str(empty.id)


def test_a_school_with_codes_is_archived(login_as, tree):
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    region = tree["regions"]["330106"]
    fresh = School.create(code="3301069300", name="有码学校", region=region, region_path=region.path,
                          stage="小学")
    codes.issue_permission_code(xh, SCHOOL_ADMIN, school=fresh)
    form_post(login_as("xh_admin"), f"/schools/{fresh.id}/delete", {"reason": "撤并"})
    assert School.get_by_id(fresh.id).status == "archived"
    assert PermissionCode.select().where(PermissionCode.school == fresh).count() == 1


# ---------------------------------------------------------------- transfer

def progress_counts(client, code: str) -> dict[str, str]:
    text = client.get(f"/progress/{code}").text
    body = re.search(r"<tbody>(.*?)</tbody>", text, re.S).group(1)
    return {r[0]: r[3] for r in (cells(tr) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S))}


def test_city_transfers_a_school_between_its_counties(login_as, tree):
    client = login_as("hz_admin")
    s = tree["schools"][WENXIN]
    assert progress_counts(client, "330100") == {"上城区": "1", "西湖区": "2"}
    form = client.get(f"/schools/{s.id}/transfer")
    assert form.status_code == 200 and '<option value="330102">上城区</option>' in form.text
    assert 'value="330106"' not in form.text  # not to its own region
    done = form_post(client, f"/schools/{s.id}/transfer", {"target": "330102", "reason": "学区调整"})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/schools/{s.id}")
    moved = School.get_by_id(s.id)
    assert moved.region.code == "330102" and moved.code == WENXIN
    assert moved.region_path == tree["regions"]["330102"].path
    page = client.get(f"/schools/{s.id}")
    assert "已从西湖区转移到上城区" in page.text
    assert "从西湖区转移到上城区；原因：学区调整" in page.text and "杭州专管" in page.text
    assert progress_counts(client, "330100") == {"上城区": "2", "西湖区": "1"}
    # its admin binding moved with it: 上城区 now has an activated school
    assert "多身份" in login_as("hz_admin").get("/progress/330102").text
    assert names(login_as("xh_admin").get("/schools").text) == ["西湖区第一小学"]


def test_province_targets_are_grouped_by_city(login_as, tree):
    client = login_as("zj_admin")
    form = client.get(f"/schools/{tree['schools'][WENXIN].id}/transfer").text
    assert '<optgroup label="杭州市">' in form and '<optgroup label="宁波市">' in form
    assert ">杭州市 › 上城区</option>" in form and ">杭州市（直属）</option>" in form
    assert "杭州市 › 西湖区" not in form and "江苏" not in form
    done = form_post(client, f"/schools/{tree['schools'][WENXIN].id}/transfer",
                     {"target": "330203", "reason": "跨市调整"})
    assert done.status_code == 303 and school(WENXIN).region.code == "330203"


def test_county_cannot_transfer_and_is_told_who_can(login_as, tree):
    client = login_as("xh_admin")
    s = tree["schools"][WENXIN]
    form = client.get(f"/schools/{s.id}/transfer")
    assert form.status_code == 200 and "没有可转入的其他区域" in form.text
    refused = form_post(client, f"/schools/{s.id}/transfer", {"target": "330102", "reason": "调整"})
    assert refused.status_code == 422 and "请联系杭州市的管理员办理" in refused.text
    assert school(WENXIN).region.code == "330106"


def test_city_cannot_transfer_across_cities(login_as, tree):
    client = login_as("hz_admin")
    s = tree["schools"][WENXIN]
    refused = form_post(client, f"/schools/{s.id}/transfer", {"target": "330203", "reason": "调整"})
    assert refused.status_code == 422 and "请联系浙江省的管理员办理" in refused.text
    assert school(WENXIN).region.code == "330106"
    no_reason = form_post(client, f"/schools/{s.id}/transfer", {"target": "330102", "reason": ""})
    assert no_reason.status_code == 422 and "请填写转移原因" in no_reason.text
    bogus = form_post(client, f"/schools/{s.id}/transfer", {"target": "999999", "reason": "x"})
    assert bogus.status_code == 422 and "请选择转入区域" in bogus.text
    assert AuditLog.select().where(AuditLog.action == "school.transferred").count() == 0


# ---------------------------------------------------------------- the school admin's school

def test_school_admin_sees_and_edits_its_own_school(login_as, tree):
    client = login_as("school_admin")
    page = client.get("/schools/mine")
    assert page.status_code == 200
    assert "西湖区第一小学" in page.text and "西湖校管" in page.text and "历史记录" in page.text
    assert "本校信息" in page.text  # navigation
    assert 'name="code"' not in page.text and 'name="kind"' not in page.text
    s = tree["schools"][XIHU_FIRST]
    done = form_post(client, "/schools/mine", {
        "name": "西湖区第一小学", "stage": "小学", "ownership": "公办", "address": "保俶路 1 号",
        "contact_name": "陈校长", "contact_phone": "0571-88001234", "version": "1",
        "code": "9999999999", "kind": "jiaoyan", "region": "330203", "region_path": "330000"})
    assert done.status_code == 303
    saved = School.get_by_id(s.id)
    assert saved.address == "保俶路 1 号" and saved.contact_name == "陈校长"
    assert saved.code == XIHU_FIRST and saved.kind == "school"
    assert saved.region.code == "330106" and saved.region_path == s.region_path
    assert "本校信息已保存" in client.get("/schools/mine").text


def test_school_admin_errors_and_stale_edits(login_as, tree):
    client = login_as("school_admin")
    bad = form_post(client, "/schools/mine", {"name": "", "stage": "小学", "ownership": "公办",
                                              "contact_phone": "abc", "version": "1"})
    assert bad.status_code == 422 and "请填写名称" in bad.text and 'value="abc"' in bad.text
    School.update(address="别人改的", version=School.version + 1).where(
        School.code == XIHU_FIRST).execute()
    stale = form_post(client, "/schools/mine", {"name": "新名字", "stage": "小学", "ownership": "公办",
                                                "version": "1"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text and 'value="别人改的"' in stale.text
    assert school(XIHU_FIRST).name == "西湖区第一小学"


def test_school_admin_reads_only_its_own_school(login_as, tree):
    client = login_as("school_admin")
    assert client.get(f"/schools/{tree['schools'][XIHU_FIRST].id}").status_code == 200
    assert client.get(f"/schools/{tree['schools'][WENXIN].id}").status_code == 404
    assert login_as("xh_admin").get("/schools/mine").status_code == 404
    assert login_as("teacher").get("/schools/mine").status_code == 404


def test_school_page_for_managers_shows_actions(login_as, tree):
    sid = tree["schools"][WENXIN].id
    manager = login_as("xh_admin").get(f"/schools/{sid}").text
    assert f"/schools/{sid}/edit" in manager and f"/schools/{sid}/delete" in manager
    reader = login_as("hz_admin").get(f"/schools/{sid}").text
    assert f"/schools/{sid}/edit" not in reader and f"/schools/{sid}/transfer" in reader
    assert "多身份" in reader and "教师人数" in reader


# ---------------------------------------------------------------- scoping matrix

PARENT = {code: parent for code, _, _, parent in REGIONS}
SCHOOL_REGION = {code: region for code, _, region, _ in SCHOOLS}
MATRIX_ACCOUNTS = ["zj_admin", "hz_admin", "xh_admin", "nb_admin", "school_admin", "teacher"]


def _chain(code: str) -> set[str]:
    seen = set()
    while code:
        seen.add(code)
        code = PARENT.get(code, "")
    return seen


def expected(username: str, school_code: str) -> dict[str, int]:
    """What each /schools/<id> route answers, from the fixture table and SPEC §2, §6 alone."""
    bindings = ACCOUNTS[username][1]
    role, scope = bindings[0] if bindings else (None, None)
    region = SCHOOL_REGION[school_code]
    is_region_admin = role in ("super", "training")
    reads = ((is_region_admin and scope in _chain(region))
             or (role == SCHOOL_ADMIN and scope == school_code))
    manages = is_region_admin and scope == region  # a county: its schools; above: 直属
    ok = lambda cond: 200 if cond else 404  # noqa: E731
    return {"": ok(reads), "/row": ok(reads and is_region_admin), "/edit": ok(manages),
            "/delete": ok(manages), "/restore": 404, "/transfer": ok(reads and is_region_admin)}


@pytest.mark.parametrize("username", MATRIX_ACCOUNTS)
def test_school_routes_follow_the_oracle(login_as, tree, username):
    client = login_as(username)
    for code, s in tree["schools"].items():
        for suffix, status in expected(username, code).items():
            for headers in ({}, HX):
                response = client.get(f"/schools/{s.id}{suffix}", headers=headers)
                assert response.status_code == status, (username, code, suffix, headers)


@pytest.mark.parametrize("username", MATRIX_ACCOUNTS)
def test_writes_outside_the_scope_are_404_and_change_nothing(login_as, tree, username):
    client = login_as(username)
    before = [(s.name, s.region_id, s.status, s.version) for s in School.select().order_by(School.id)]
    for code, s in tree["schools"].items():
        allowed = expected(username, code)
        if allowed["/edit"] == 404:
            assert form_post(client, f"/schools/{s.id}", edit_data(s, name="被改了")).status_code == 404
            assert form_post(client, f"/schools/{s.id}/delete", {"reason": "x"}).status_code == 404
        assert form_post(client, f"/schools/{s.id}/restore").status_code == 404
        if allowed["/transfer"] == 404:
            assert form_post(client, f"/schools/{s.id}/transfer",
                             {"target": "330102", "reason": "x"}).status_code == 404
    assert [(s.name, s.region_id, s.status, s.version)
            for s in School.select().order_by(School.id)] == before


@pytest.mark.parametrize("username", MATRIX_ACCOUNTS)
def test_archived_school_routes(login_as, tree, username):
    s = tree["schools"][WENXIN]
    School.update(status="archived").where(School.id == s.id).execute()
    client = login_as(username)
    manages = expected(username, WENXIN)["/edit"] == 200
    assert client.get(f"/schools/{s.id}/restore").status_code == (200 if manages else 404)
    for suffix in ("/edit", "/delete", "/transfer"):
        assert client.get(f"/schools/{s.id}{suffix}").status_code == 404


def test_unknown_school_is_404(login_as):
    client = login_as("zj_admin")
    for suffix in ("", "/row", "/edit", "/delete", "/restore", "/transfer"):
        assert client.get(f"/schools/999999{suffix}").status_code == 404

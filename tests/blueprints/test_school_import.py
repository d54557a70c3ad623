"""学校批量导入 over HTTP: template, upload → preview (nothing written) → confirm once; bad files;
who may see a batch; the 20 MB limit; 10,000 rows through the endpoints."""
import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import csrf_token, form_post
from tests.services.test_school_import import csv_bytes, many_rows, row, xlsx_bytes
from yanxiu.models import AuditLog, Binding, ImportBatch, School
from yanxiu.models.account import TRAINING
from yanxiu.services import accounts

HX = {"HX-Request": "true"}


def send(client, content: bytes, filename: str = "学校.xlsx", headers=None, token: bool = True):
    """Upload a file through the import form (multipart), as the browser would."""
    data = {"file": (io.BytesIO(content), filename)}
    if token:
        data["csrf_token"] = csrf_token(client)
    return client.post("/schools/import", data=data, headers=headers or {})


def batch_url(response) -> str:
    assert response.status_code == 303, response.text
    url = response.headers["Location"]
    assert re.fullmatch(r"/schools/import/\d+", url)
    return url


def imported_codes() -> list[str]:
    return sorted(code for (code,) in School.select(School.code).where(
        School.code.startswith("33010680") | School.code.startswith("330170")).tuples())


def test_start_page_explains_and_offers_templates_and_the_upload_form(login_as):
    page = login_as("xh_admin").get("/schools/import")
    assert page.status_code == 200
    for text in ("批量导入学校", "西湖区", "/schools/import/template.xlsx", "/schools/import/template.csv",
                 'enctype="multipart/form-data"', 'hx-post="/schools/import"',
                 'hx-indicator="#import-progress"', "正在上传并校验", "九年一贯制", 'name="csrf_token"'):
        assert text in page.text
    fragment = login_as("xh_admin").get("/schools/import", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "上传并校验" in fragment.text


def test_templates_download_with_chinese_headers(login_as):
    client = login_as("xh_admin")
    xlsx = client.get("/schools/import/template.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames == ["学校信息", "填写说明"]
    assert [c.value for c in book["学校信息"][1]][:2] == ["学校标识码", "名称"]
    text = client.get("/schools/import/template.csv").data.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text))) == [
        "学校标识码", "名称", "类型", "学段", "办学性质", "地址", "联系人", "联系电话"]
    assert client.get("/schools/import/template.pdf").status_code == 404


@pytest.mark.parametrize("username", ["school_admin", "teacher", "operator"])
@pytest.mark.parametrize("method,url", [("get", "/schools/import"), ("get", "/schools/import/template.xlsx"),
                                        ("post", "/schools/import")])
def test_who_manages_no_schools_gets_404(login_as, username, method, url):
    client = login_as(username)
    if method == "get":
        response = client.get(url)
    else:
        response = send(client, xlsx_bytes([row(1)]))
    assert response.status_code == 404
    assert not ImportBatch.select().exists()


def test_upload_shows_a_preview_and_writes_nothing(login_as):
    client = login_as("xh_admin")
    before = School.select().count()
    url = batch_url(send(client, xlsx_bytes([row(1), row(2, 学段="幼儿园"), row(3, 学校标识码="123")])))
    preview = client.get(url)
    assert preview.status_code == 200
    assert "导入预览" in preview.text and "确认导入 1 所" in preview.text and "放弃本次导入" in preview.text
    figures = re.findall(r'<span class="num">(\d+)</span>', preview.text)
    assert figures == ["3", "1", "2"]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<tr><td class=\"num\">.*?</tr>", preview.text)]
    assert any("3学段幼儿园学段须为" in c for c in cells)
    assert any("4学校标识码123学校标识码须为 10 位数字" in c for c in cells)
    assert "西湖区导入第1小学" in preview.text  # the sample of valid rows
    assert School.select().count() == before
    assert not AuditLog.select().where(AuditLog.action.startswith("school.")).exists()


def test_htmx_upload_answers_the_preview_fragment_and_pushes_its_url(login_as):
    response = send(login_as("xh_admin"), xlsx_bytes([row(1)]), headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert "导入预览" in response.text and "确认导入 1 所" in response.text
    batch = ImportBatch.get()
    assert response.headers["HX-Push-Url"] == f"/schools/import/{batch.id}"


@pytest.mark.parametrize("headers", [{}, HX])
@pytest.mark.parametrize("content,filename,message", [
    (b"", "empty.xlsx", "文件是空的"),
    (xlsx_bytes([]), "header-only.xlsx", "没有数据行"),
    (xlsx_bytes([["西湖区小学", "文三路"]], ["名称", "地址"]), "missing.xlsx", "缺少必需的列：学校标识码、学段"),
    (b"just some text, renamed", "renamed.xlsx", "不是有效的 Excel"),
    (b"%PDF-1.7\x00\x01binary", "scan.xlsx", "不是有效的 Excel"),
    (b"code", "notes.docx", "仅支持 .xlsx 或 .csv"),
])
def test_bad_files_are_refused_on_the_form_with_422(login_as, content, filename, message, headers):
    response = send(login_as("xh_admin"), content, filename, headers=headers)
    assert response.status_code == 422
    assert message in response.text and 'class="error"' in response.text
    assert ("<html" in response.text) == (not headers)
    assert not ImportBatch.select().exists()


def test_no_file_chosen_is_a_form_error(login_as):
    client = login_as("xh_admin")
    response = client.post("/schools/import", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 422 and "请选择要上传的" in response.text


def test_extra_columns_are_ignored_with_a_warning(login_as):
    client = login_as("xh_admin")
    headers = ["学校标识码", "名称", "学段", "校长", "备注"]
    url = batch_url(send(client, xlsx_bytes([["3301068001", "西湖区多列小学", "小学", "张三", "新建"]], headers)))
    preview = client.get(url)
    assert "以下列不在模板中，已忽略：“校长”、“备注”" in preview.text and "确认导入 1 所" in preview.text


def test_gb18030_csv_is_accepted(login_as):
    client = login_as("xh_admin")
    url = batch_url(send(client, csv_bytes([row(1), row(2)], encoding="gb18030"), "学校名单.csv"))
    assert "西湖区导入第2小学" in client.get(url).text
    assert form_post(client, f"{url}/confirm").status_code == 303
    assert imported_codes() == ["3301068001", "3301068002"]


def test_duplicates_in_file_and_database_are_reported(login_as):
    client = login_as("xh_admin")
    url = batch_url(send(client, xlsx_bytes([row(1), row(2, 学校标识码="3301068001"),
                                             row(3, 学校标识码="3301060001")])))
    text = client.get(url).text
    assert "与第 2 行的学校标识码重复" in text
    assert "学校标识码 3301060001 已被使用（全国唯一）" in text


def test_confirm_writes_exactly_the_valid_rows_and_a_double_submit_writes_once(login_as):
    client = login_as("xh_admin")
    url = batch_url(send(client, xlsx_bytes([row(1), row(2), row(3, 学段="大学")])))
    confirmed = form_post(client, f"{url}/confirm")
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == url
    result = client.get(url)
    assert "已导入 2 所" in result.text and "导入结果" in result.text and "确认导入" not in result.text
    assert imported_codes() == ["3301068001", "3301068002"]
    again = form_post(client, f"{url}/confirm")
    assert again.status_code == 303
    assert "已经导入或已放弃" in client.get(url).text
    assert imported_codes() == ["3301068001", "3301068002"]
    assert AuditLog.select().where(AuditLog.action == "school.imported").count() == 2


def test_discard_writes_nothing_and_closes_the_batch(login_as):
    client = login_as("xh_admin")
    url = batch_url(send(client, xlsx_bytes([row(1)])))
    discarded = form_post(client, f"{url}/discard")
    assert discarded.status_code == 303 and discarded.headers["Location"] == "/schools/import"
    assert "已放弃本次导入" in client.get("/schools/import").text
    form_post(client, f"{url}/confirm")
    assert imported_codes() == [] and ImportBatch.get().state == "discarded"


def test_a_long_problem_list_is_capped_on_screen_and_complete_in_the_report(login_as):
    client = login_as("xh_admin")
    rows = [[f"9{i:03d}", f"西湖区坏行{i}", "学校", "小学", "", "", "", ""] for i in range(600)]
    url = batch_url(send(client, csv_bytes(rows), "bad.csv"))
    preview = client.get(url)
    assert "仅显示前 500 条" in preview.text and "没有可导入的行" in preview.text
    assert preview.text.count("学校标识码须为 10 位数字") == 500
    report = client.get(f"{url}/report.csv")
    assert report.status_code == 200
    lines = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert lines[0] == ["行号", "列", "内容", "原因"] and len(lines) == 601
    assert lines[1] == ["2", "学校标识码", "9000", "学校标识码须为 10 位数字"]
    assert client.get(f"{url}/report.xlsx").status_code == 200


def test_sec22_import_report_neutralises_formula_looking_values(login_as):
    client = login_as("xh_admin")
    url = batch_url(send(client, csv_bytes([row(1, 学校标识码="=1+2")]), "f.csv"))
    lines = list(csv.reader(io.StringIO(client.get(f"{url}/report.csv").data.decode("utf-8-sig"))))
    assert lines[1][2] == "'=1+2"


def test_a_batch_is_visible_only_to_its_own_account_and_binding(login_as, tree):
    owner = login_as("xh_admin")
    url = batch_url(send(owner, xlsx_bytes([row(1)])))
    colleague = accounts.register("xh_admin2", "西湖专管二", "Test@2025pw")
    Binding.create(account=colleague, role=TRAINING, region=tree["regions"]["330106"])
    for username in ("xh_admin2", "nb_admin", "hz_admin", "school_admin"):
        other = login_as(username)
        for suffix in ("", "/report.csv"):
            assert other.get(url + suffix).status_code == 404
        for action in ("/confirm", "/discard"):
            assert form_post(other, url + action).status_code == 404
    # The same account acting under another binding does not see it either.
    second = Binding.create(account=tree["accounts"]["xh_admin"], role=TRAINING,
                            region=tree["regions"]["330102"])
    assert form_post(owner, "/account/binding", {"binding_id": str(second.id)}).status_code == 303
    assert owner.get(url).status_code == 404
    assert form_post(owner, url + "/confirm").status_code == 404
    assert imported_codes() == [] and ImportBatch.get().state == "pending"


def test_unknown_batch_is_404(login_as):
    assert login_as("xh_admin").get("/schools/import/999999").status_code == 404


def test_upload_and_confirm_without_csrf_token_are_refused(login_as):
    client = login_as("xh_admin")
    response = send(client, xlsx_bytes([row(1)]), token=False)
    assert response.status_code == 400 and "页面已过期" in response.text
    assert not ImportBatch.select().exists()
    url = batch_url(send(client, xlsx_bytes([row(1)])))
    assert client.post(f"{url}/confirm").status_code == 400
    assert imported_codes() == []


def test_a_file_over_20_mb_is_refused_with_a_chinese_413_page(login_as):
    client = login_as("xh_admin")
    response = send(client, b"x" * (20 * 1024 * 1024 + 1), "huge.csv")
    assert response.status_code == 413
    assert "文件太大" in response.text and "超过 20 MB" in response.text and "<html" in response.text
    assert not ImportBatch.select().exists()


def test_ten_thousand_rows_import_through_the_endpoints(login_as):
    client = login_as("xh_admin")
    rows = many_rows(10_000)
    rows[10][3] = "幼儿园"
    rows[20][0] = rows[21][0]
    url = batch_url(send(client, xlsx_bytes(rows), "一万所.xlsx"))
    preview = client.get(url)
    assert "确认导入 9998 所" in preview.text
    assert imported_codes() == []
    assert form_post(client, f"{url}/confirm").status_code == 303
    assert "已导入 9998 所" in client.get(url).text
    codes = imported_codes()
    assert len(codes) == 9_998 and rows[10][0] not in codes and codes.count(rows[21][0]) == 1

"""学校批量导入 rules: reading xlsx/csv, row-by-row validation, confirm once, nothing before it."""
import csv
import io
import json
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from yanxiu.models import AuditLog, Binding, ImportBatch, School
from yanxiu.services import audit, imports, school_import
from yanxiu.services.imports import BatchClosed, BatchReport, ImportFileError

HEADERS = ["学校标识码", "名称", "类型", "学段", "办学性质", "地址", "联系人", "联系电话"]


def row(n: int, **overrides) -> list:
    """A valid 西湖区 row numbered n, in template column order."""
    values = {"学校标识码": f"33010680{n:02d}", "名称": f"西湖区导入第{n}小学", "类型": "学校",
              "学段": "小学", "办学性质": "公办", "地址": f"文三路 {n} 号", "联系人": "李明",
              "联系电话": "13812345678"}
    values.update(overrides)
    return [values[h] for h in HEADERS]


def xlsx_bytes(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    """An xlsx file written like a big export (write_only), header first."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学校信息")
    sheet.append(headers)
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], headers: list[str] = HEADERS, encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def many_rows(count: int) -> list[list]:
    """`count` valid, distinct rows for 西湖区 (codes 33010700000…)."""
    return [[f"3301{700000 + i:06d}", f"西湖区批量学校{i:05d}", "学校", "小学", "公办", "", "", ""]
            for i in range(count)]


def binding_of(tree, username: str) -> Binding:
    return Binding.get(Binding.account == tree["accounts"][username])


def upload(tree, content: bytes, filename: str = "学校.xlsx", username: str = "xh_admin"):
    return school_import.validate_upload(binding_of(tree, username), filename, content)


def reasons(batch: ImportBatch) -> list[tuple[int, str, str, str]]:
    return [(p["row"], p["column"], p["value"], p["reason"]) for p in BatchReport.of(batch).problems]


def test_valid_file_becomes_a_pending_batch_and_writes_no_school(tree):
    before = School.select().count()
    batch = upload(tree, xlsx_bytes([row(1), row(2, 类型="教研机构", 学段="")]))
    assert batch.state == "pending" and batch.total_rows == 2
    report = BatchReport.of(batch)
    assert [r["code"] for r in report.valid] == ["3301068001", "3301068002"]
    assert report.valid[1]["kind"] == "jiaoyan" and report.valid[1]["stage"] is None
    assert report.problems == [] and report.warnings == []
    assert School.select().count() == before
    assert not AuditLog.select().where(AuditLog.action == "school.imported").exists()


@pytest.mark.parametrize("overrides,column,reason", [
    ({"学校标识码": "330106800"}, "学校标识码", "10 位数字"),
    ({"学校标识码": "33010680011"}, "学校标识码", "10 位数字"),
    ({"学段": "幼儿园"}, "学段", "学段须为"),
    ({"学段": ""}, "学段", "学校须填写学段"),
    ({"类型": "培训班"}, "类型", "类型须为"),
    ({"办学性质": "合资"}, "办学性质", "公办 或 民办"),
    ({"联系电话": "12345"}, "联系电话", "联系电话"),
    ({"名称": ""}, "名称", "请填写名称"),
])
def test_each_bad_cell_is_reported_with_row_column_value_and_reason(tree, overrides, column, reason):
    batch = upload(tree, xlsx_bytes([row(1), row(2, **overrides)]))
    [(number, col, value, why)] = reasons(batch)
    assert (number, col) == (3, column)  # header is spreadsheet row 1, so data row 2 is row 3
    assert value == next(iter(overrides.values())) and reason in why
    assert [r["row"] for r in BatchReport.of(batch).valid] == [2]


def test_duplicates_inside_the_file_are_reported_against_the_first_row(tree):
    batch = upload(tree, xlsx_bytes([row(1), row(2, 学校标识码="3301068001"), row(3, 名称="西湖区导入第1小学")]))
    assert reasons(batch) == [
        (3, "学校标识码", "3301068001", "与第 2 行的学校标识码重复"),
        (4, "名称", "西湖区导入第1小学", "与第 2 行的名称重复"),
    ]
    assert [r["row"] for r in BatchReport.of(batch).valid] == [2]


def test_duplicates_against_the_database(tree):
    # 3302030001 belongs to 海曙区 (another city): codes are unique nationally.
    batch = upload(tree, xlsx_bytes([row(1, 学校标识码="3302030001"), row(2, 名称="西湖区第一小学"),
                                     row(3, 名称="上城区胜利小学")]))
    assert reasons(batch) == [
        (2, "学校标识码", "3302030001", "学校标识码 3302030001 已被使用（全国唯一）"),
        (3, "名称", "西湖区第一小学", "西湖区已有同名学校“西湖区第一小学”"),
    ]
    # A name taken in another region is fine: names are unique within a region only.
    assert [r["row"] for r in BatchReport.of(batch).valid] == [4]


def test_columns_are_found_by_header_in_any_order_and_extra_ones_are_ignored_with_a_warning(tree):
    headers = ["备注", "名称", "学段", "学校标识码"]
    batch = upload(tree, xlsx_bytes([["随便写", "西湖区乱序小学", "初中", "3301068009"]], headers))
    report = BatchReport.of(batch)
    assert [(r["code"], r["name"], r["stage"], r["kind"], r["ownership"]) for r in report.valid] == [
        ("3301068009", "西湖区乱序小学", "初中", "school", "公办")]
    assert [(w["row"], w["column"], w["reason"]) for w in report.warnings] == [(1, "备注", "模板中没有此列，已忽略")]
    assert report.invalid_count == 0


def test_missing_required_columns_are_named(tree):
    with pytest.raises(ImportFileError, match="缺少必需的列：学校标识码、学段"):
        upload(tree, xlsx_bytes([["西湖区小学"]], ["名称", "地址"]))
    assert not ImportBatch.select().exists()


def test_a_repeated_column_is_refused(tree):
    with pytest.raises(ImportFileError, match="重复的列：名称"):
        upload(tree, csv_bytes([], ["学校标识码", "名称", "学段", "名称"]), "x.csv")


@pytest.mark.parametrize("content,filename,message", [
    (b"", "空.xlsx", "文件是空的"),
    (b"", "empty.csv", "文件是空的"),
    (xlsx_bytes([], []), "blank.xlsx", "文件是空的"),
    (xlsx_bytes([]), "header-only.xlsx", "没有数据行"),
    (csv_bytes([]), "header-only.csv", "没有数据行"),
    (b"%PDF-1.4 this is not a workbook", "renamed.xlsx", "不是有效的 Excel"),
    (b"PK\x03\x04 truncated zip", "broken.xlsx", "不是有效的 Excel"),
    (b"\xd0\xcf\x11\xe0 old excel", "old.xls", "另存为 .xlsx"),
    (b"code,name", "list.txt", "仅支持 .xlsx 或 .csv"),
    (b"\x00\x01\x02binary", "image.csv", "不是 CSV 文本文件"),
])
def test_unreadable_files_are_refused_with_a_clear_message(tree, content, filename, message):
    with pytest.raises(ImportFileError, match=message):
        upload(tree, content, filename)
    assert not ImportBatch.select().exists()


def test_a_zip_that_is_not_a_workbook_is_refused(tree):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(ImportFileError, match="不是有效的 Excel"):
        upload(tree, out.getvalue(), "document.xlsx")


def test_gb18030_csv_from_chinese_excel_is_read(tree):
    batch = upload(tree, csv_bytes([row(1), row(2, 学段="九年一贯制")], encoding="gb18030"), "学校.csv")
    assert [r["name"] for r in BatchReport.of(batch).valid] == ["西湖区导入第1小学", "西湖区导入第2小学"]
    assert BatchReport.of(batch).valid[1]["stage"] == "九年一贯制"


def test_numeric_cells_read_as_typed_text(tree):
    """Excel stores an unformatted code or phone as a number: 3301068001, not 3301068001.0."""
    batch = upload(tree, xlsx_bytes([[3301068001, "西湖区数字小学", "学校", "小学", "公办", "", "", 13812345678.0]]))
    [valid] = BatchReport.of(batch).valid
    assert valid["code"] == "3301068001" and valid["contact_phone"] == "13812345678"


def test_formula_looking_cells_are_kept_as_text_not_evaluated(tree):
    formula_name = '=HYPERLINK("http://evil.example","西湖区")'
    batch = upload(tree, xlsx_bytes([row(1, 名称=formula_name, 地址="+1+1"), row(2, 地址="@SUM(A1)")]))
    school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert School.get(School.code == "3301068001").name == formula_name
    assert School.get(School.code == "3301068001").address == "+1+1"
    assert School.get(School.code == "3301068002").address == "@SUM(A1)"
    batch = upload(tree, csv_bytes([row(3, 名称="=1+2")]), "f.csv")
    school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert School.get(School.code == "3301068003").name == "=1+2"


def test_blank_rows_are_skipped_but_row_numbers_stay_those_of_the_sheet(tree):
    batch = upload(tree, xlsx_bytes([row(1), ["", None, "", "", "", "", "", ""], row(2, 学段="大学")]))
    assert batch.total_rows == 2
    assert reasons(batch)[0][:2] == (4, "学段")


def test_too_many_rows_is_refused(tree, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    with pytest.raises(ImportFileError, match="超过 3 行"):
        upload(tree, csv_bytes(many_rows(4)), "big.csv")


def test_confirm_writes_exactly_the_valid_rows_with_one_audit_row_each(tree):
    region = tree["regions"]["330106"]
    batch = upload(tree, xlsx_bytes([row(1), row(2, 学段="幼儿园"), row(3, 类型="电教机构", 学段="")]))
    result = school_import.confirm_import(binding_of(tree, "xh_admin"), batch, address="10.0.0.9")
    assert result.created == 2 and result.skipped == []
    created = School.select().where(School.code.in_(["3301068001", "3301068002", "3301068003"]))
    assert sorted((s.code, s.region_id, s.region_path, s.kind, s.stage) for s in created) == [
        ("3301068001", region.id, region.path, "school", "小学"),
        ("3301068003", region.id, region.path, "dianjiao", None)]
    logs = AuditLog.select().where(AuditLog.action == "school.imported").order_by(AuditLog.id)
    assert sorted(int(a.target_id) for a in logs) == sorted(s.id for s in created)
    assert {(a.target_type, a.scope_path, a.address, a.binding_id) for a in logs} == {
        ("school", region.path, "10.0.0.9", binding_of(tree, "xh_admin").id)}
    assert json.loads(logs[0].after)["name"] == "西湖区导入第1小学"
    assert audit.verify_chain() == []
    assert ImportBatch.get_by_id(batch.id).state == "done"


def test_double_confirm_writes_once(tree):
    batch = upload(tree, xlsx_bytes([row(1), row(2)]))
    school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    with pytest.raises(BatchClosed):
        school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert School.select().where(School.code.startswith("33010680")).count() == 2
    assert AuditLog.select().where(AuditLog.action == "school.imported").count() == 2


def test_discarded_batch_cannot_be_confirmed(tree):
    batch = upload(tree, xlsx_bytes([row(1)]))
    assert imports.discard_import(batch) is True
    assert imports.discard_import(batch) is False
    with pytest.raises(BatchClosed):
        school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert not School.select().where(School.code == "3301068001").exists()


def test_rows_that_became_duplicates_after_the_preview_are_skipped_and_reported(tree):
    region = tree["regions"]["330106"]
    batch = upload(tree, xlsx_bytes([row(1), row(2), row(3)]))
    School.create(code="3301068001", name="别人先建的学校", region=region, region_path=region.path, stage="小学")
    School.create(code="3301069999", name="西湖区导入第2小学", region=region, region_path=region.path, stage="小学")
    result = school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert result.created == 1
    assert [(p["row"], p["column"]) for p in result.skipped] == [(2, "学校标识码"), (3, "名称")]
    assert School.get(School.code == "3301068003").name == "西湖区导入第3小学"
    report = BatchReport.of(ImportBatch.get_by_id(batch.id))
    assert [r["row"] for r in report.valid] == [4] and len(report.skipped_at_confirm) == 2
    assert report.invalid_count == 0


def test_province_imports_its_direct_schools_and_school_admins_cannot_import(tree):
    batch = upload(tree, csv_bytes([["3300000002", "浙江省直属第二实验学校", "", "高中", "", "", "", ""]]),
                   "直属.csv", username="zj_admin")
    school_import.confirm_import(binding_of(tree, "zj_admin"), batch)
    assert School.get(School.code == "3300000002").region.code == "330000"
    with pytest.raises(ImportFileError):
        upload(tree, csv_bytes([row(1)]), "x.csv", username="school_admin")
    with pytest.raises(ImportFileError):
        upload(tree, csv_bytes([row(1)]), "x.csv", username="operator")


def test_ten_thousand_rows_validate_and_confirm_exactly(tree):
    rows = many_rows(10_000)
    rows[17][0] = "123"                 # wrong digit count
    rows[4242][3] = "高职"               # unknown 学段
    rows[9999][0] = rows[0][0]          # duplicate code in the file
    rows[5000][1] = "西湖区第一小学"      # name taken in the database
    batch = upload(tree, xlsx_bytes(rows))
    report = BatchReport.of(batch)
    assert batch.total_rows == 10_000 and len(report.valid) == 9_996
    assert sorted(p["row"] for p in report.problems) == [19, 4244, 5002, 10_001]
    before = School.select().count()
    result = school_import.confirm_import(binding_of(tree, "xh_admin"), batch)
    assert result.created == 9_996
    assert School.select().count() == before + 9_996
    assert AuditLog.select().where(AuditLog.action == "school.imported").count() == 9_996


def test_template_lists_the_allowed_values(tree):
    book = load_workbook(io.BytesIO(school_import.template_xlsx()))
    assert book.sheetnames == ["学校信息", "填写说明"]
    assert [c.value for c in book["学校信息"][1]] == HEADERS
    guide = {r[0]: r[2] for r in book["填写说明"].iter_rows(min_row=2, values_only=True)}
    assert "九年一贯制" in guide["学段"] and "教研机构" in guide["类型"] and "民办" in guide["办学性质"]
    lists = [v.formula1 for v in book["学校信息"].data_validations.dataValidation]
    assert any("十二年一贯制" in f for f in lists)
    with pytest.raises(ImportFileError, match="没有数据行"):
        upload(tree, school_import.template_xlsx(), "模板.xlsx")

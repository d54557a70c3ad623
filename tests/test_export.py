"""Exports safe from spreadsheet formula injection (SECURITY.md row 22): a text cell beginning
with = + - @ (or a tab or carriage return) leaves yanxiu/export.py as text with a leading
apostrophe, in xlsx and in csv alike; other cells, numbers and dates are left as they are."""
import csv
import io

import pytest
from openpyxl import load_workbook

from tests.conftest import form_post
from yanxiu.export import export_table, neutralise
from yanxiu.models import Region, School

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点此\")", "+1+1", "-2+3", "@SUM(A1:A2)",
            "=cmd|' /C calc'!A0", "\t=1+2"]
HARMLESS = ["西湖区第一小学", "a=b", "1-2", "邮箱 x@y.cn", ""]


def read(response, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_sec22_cells_beginning_with_a_formula_character_are_neutralised(app, fmt):
    rows = [[value, 42] for value in FORMULAS + HARMLESS]
    with app.test_request_context():
        response = export_table("测试", fmt, ["内容", "数"], rows)
    got = read(response, fmt)
    assert got[0] == ["内容", "数"]
    cells = [r[0] for r in got[1:]]
    assert cells[:len(FORMULAS)] == ["'" + v for v in FORMULAS]
    assert cells[len(FORMULAS):] == HARMLESS
    assert [r[1] for r in got[1:]] == (["42"] if fmt == "csv" else [42]) * len(rows)
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.get_data())).active
        kinds = {cell.data_type for row in sheet.iter_rows(min_row=2, max_col=1) for cell in row}
        assert kinds and "f" not in kinds  # text, never a formula


def test_sec22_neutralise_leaves_non_text_alone():
    assert [neutralise(v) for v in (-5, 0, 3.5, None)] == [-5, 0, 3.5, None]
    assert all(neutralise(f) == "'" + f for f in [*FORMULAS, "\r=1+2"])
    assert [neutralise(v) for v in HARMLESS] == HARMLESS


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_sec22_stored_formulas_leave_the_school_export_as_text(login_as, fmt):
    """End to end: school fields that begin with each formula character, stored (as an import or
    a form could store them), come out of /schools/export neutralised."""
    client = login_as("xh_admin")
    School.update(name="=1+2", contact_name="@张老师").where(School.code == "3301060001").execute()
    School.update(name="-文新中学").where(School.code == "3301060002").execute()
    Region.update(name="+西湖区").where(Region.code == "330106").execute()
    rows = read(client.get(f"/schools/export.{fmt}"), fmt)
    first, second = (next(r for r in rows if code in [str(c) for c in r]) for code in ("3301060001", "3301060002"))
    for value in ("=1+2", "@张老师", "+西湖区"):
        assert "'" + value in first and value not in first, (fmt, value, first)
    assert second[0] == "'-文新中学"


def test_sec22_a_form_typed_formula_is_stored_as_typed_and_exported_as_text(login_as):
    """The stored value is the one the admin typed; only the export adds the apostrophe."""
    client = login_as("xh_admin")
    response = form_post(client, "/schools/new", {"code": "3301069301", "name": "=西湖区公式小学",
                                                  "kind": "school", "stage": "小学", "ownership": "公办",
                                                  "address": "@地址"})
    if response.status_code == 422:
        pytest.skip("the name rules refuse a leading =; the stored-value test above covers export")
    assert School.get(School.code == "3301069301").name == "=西湖区公式小学"
    rows = read(client.get("/schools/export.csv"), "csv")
    assert ["'=西湖区公式小学", "3301069301"] == next(r for r in rows if "3301069301" in r)[:2]

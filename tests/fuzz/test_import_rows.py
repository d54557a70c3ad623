"""Hostile cells through both batch imports (学校批量导入, 学习记录导入), over HTTP.

Whatever the cells, headers and file name: the upload answers a batch (303) or refuses the
file with a Chinese reason (422), never a 500; the row report answers every data row, as
importable or with a Chinese reason, and nothing is stored before confirmation; the preview
and the report escape what the file held and the downloaded report neutralises formulas; a
confirmation then stores exactly the rows the preview called importable, whole.
"""
import csv
import io
import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from tests.conftest import csrf_token
from tests.fuzz.payloads import FUZZ, World, assert_escaped, draw_fields, hostile, snapshot, strict
from tests.services.test_rollups import make_programme
from yanxiu.models import (Course, ImportBatch, LearningRecord, School, SchoolProgress,
                           TeacherProgress)
from yanxiu.models.region import KIND_LABELS, OWNERSHIPS, STAGES
from yanxiu.services import record_import, school_import
from yanxiu.services.imports import BatchReport

CHINESE = re.compile(r"[\u4e00-\u9fff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def school_columns(world) -> dict:
    return {"学校标识码": strict(st.from_regex(r"3301068[0-9]{3}", fullmatch=True)),
            "名称": hostile(st.from_regex(r"西湖区导入[0-9]{1,4}学校", fullmatch=True)),
            "类型": strict(*KIND_LABELS.values(), ""),
            "学段": strict(*STAGES), "办学性质": strict(*OWNERSHIPS, ""),
            "地址": hostile("文三路 1 号", ""), "联系人": hostile("李明", ""),
            "联系电话": strict("0571-88001234", "")}


def record_columns(world) -> dict:
    programme, course = world["programme"], world["course"]
    approved = world["teachers"]["data"]["teacher"]["id_number"]
    return {"记录编号": strict(st.from_regex(r"r[0-9a-z]{1,12}", fullmatch=True)),
            "平台账号": strict("teacher", "t_mover"),
            "身份证号": strict("", approved, pii=True),
            "项目编号": strict(str(programme.id)),
            "课程编号": strict(str(course.id)),
            "学习分钟数": strict("45", "1", "1440"),
            "学习时间": strict("2025-07-15 20:30", "2025-07-15T20:30:00+08:00")}


KINDS = {
    "schools": {"user": "xh_admin", "url": "/schools/import", "columns": school_columns,
                "headers": school_import.HEADERS, "stored": (School,)},
    "records": {"user": "operator", "url": "/records/import", "columns": record_columns,
                "headers": record_import.HEADERS,
                "stored": (LearningRecord, TeacherProgress, SchoolProgress)},
}


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(rows: list[list[str]]) -> tuple[bytes, list[list[str]]]:
    """The workbook, and the rows as it holds them (no xlsx can hold control characters)."""
    kept = [[ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row] for row in rows]
    book = Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    for row in kept:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), kept


class _Draw:
    """draw_fields takes Hypothesis' `data`; inside a composite the draw function serves."""

    def __init__(self, draw):
        self.draw = draw


@st.composite
def upload_file(draw, columns: dict, headers: list[str]):
    """(file name, content, the rows as written): hostile cells under the template's headers in
    any order, sometimes an extra hostile column, a missing one or a blank row."""
    order = draw(st.permutations(headers), label="column order")
    shape = draw(st.sampled_from(["template"] * 3 + ["extra column", "missing column"]), label="shape")
    if shape == "extra column":
        order = order + [draw(hostile().bad.filter(lambda h: h.strip()), label="extra header")]
    elif shape == "missing column":
        order = order[1:]
    rows = [order]
    for _ in range(draw(st.integers(1, 5), label="rows")):
        if draw(st.integers(0, 9)) == 0:
            rows.append([""] * len(order))
            continue
        cells = draw_fields(_Draw(draw), columns)
        rows.append([cells.get(h) if h in cells else draw(hostile().bad) for h in order])
    fmt = draw(st.sampled_from(["csv", "xlsx"]), label="format")
    name = draw(hostile("导入", huge_ok=False).any(), label="file name")[:60] + "." + fmt
    if fmt == "csv":
        return name, as_csv(rows), rows
    content, rows = as_xlsx(rows)
    return name, content, rows


def expected_rows(rows: list[list[str]]) -> set[int]:
    """The spreadsheet row numbers the report must answer: every non-blank row after the
    header (row numbers count blank rows too)."""
    numbers = [n for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    return set(numbers[1:])


@pytest.fixture
def world(app, tree, teachers, login_as):
    programme = make_programme(tree)
    return World({"tree": tree, "teachers": teachers, "programme": programme,
                  "course": programme.courses.order_by(Course.id).first(),
                  "clients": {u: login_as(u) for u in ("xh_admin", "operator")}})


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_every_row_is_answered_and_nothing_stored_before_confirmation(world, kind, data):
    spec = KINDS[kind]
    client = world["clients"][spec["user"]]
    name, content, rows = data.draw(upload_file(spec["columns"](world), spec["headers"]), label="file")
    sent = [name] + [c for row in rows for c in row]
    stored = snapshot(*spec["stored"])
    batches = ImportBatch.select().count()

    response = client.post(spec["url"], data={"csrf_token": csrf_token(client),
                                              "file": (io.BytesIO(content), name)})
    event(f"upload {response.status_code}")
    assert response.status_code in (303, 422), response.status_code
    assert_escaped(response.get_data(as_text=True), sent, "upload")
    assert snapshot(*spec["stored"]) == stored, "stored before confirmation"
    if response.status_code == 422:
        assert CHINESE.search(response.get_data(as_text=True))
        assert ImportBatch.select().count() == batches
        return

    batch = ImportBatch.select().order_by(ImportBatch.id.desc()).get()
    report = BatchReport.of(batch)
    valid_rows = [r["row"] for r in report.valid]
    refused_rows = {p["row"] for p in report.problems}
    assert set(valid_rows) | refused_rows == expected_rows(rows)
    assert not set(valid_rows) & refused_rows and len(valid_rows) == len(set(valid_rows))
    assert all(CHINESE.search(p["reason"]) for p in report.problems + report.warnings)

    preview = client.get(response.headers["Location"])
    assert preview.status_code == 200
    assert_escaped(preview.get_data(as_text=True), sent, "preview")
    if report.problems:
        download = client.get(f"{response.headers['Location']}/report.csv")
        cells = [c for row in csv.reader(io.StringIO(download.data.decode("utf-8-sig")))
                 for c in row]
        assert not [c for c in cells if c.startswith(FORMULA_START)], "formula not neutralised"

    event(f"importable rows: {min(len(valid_rows), 2)}")
    if not valid_rows:
        return
    done = client.post(f"{response.headers['Location']}/confirm", data={"csrf_token": csrf_token(client)})
    assert done.status_code == 303
    assert_escaped(client.get(done.headers["Location"]).get_data(as_text=True), sent, "result")
    written = BatchReport.of(ImportBatch.get_by_id(batch.id)).valid
    if kind == "schools":
        for row in written:
            school = School.get(School.code == row["code"])
            assert {f: getattr(school, f) for f in school_import.FIELDS} == \
                {f: row[f] for f in school_import.FIELDS}
        assert School.select().count() == len(stored["School"]) + len(written)
    else:
        assert LearningRecord.select().count() == len(stored["LearningRecord"]) + len(written)

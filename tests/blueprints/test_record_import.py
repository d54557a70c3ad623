"""学习记录批量导入: row report, nothing written before confirmation, the same rules as the API."""
import csv
import io

import pytest

from tests.fixture_teachers import valid_id_number
from tests.services.test_rollups import assert_rollups_exact, make_programme
from yanxiu.models import AuditLog, Course, ImportBatch, LearningRecord
from yanxiu.services import records

HEADER = ["记录编号", "平台账号", "身份证号", "项目编号", "课程编号", "学习分钟数", "学习时间"]


def csv_file(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def upload(client, content: bytes, name="records.csv", **headers):
    from tests.conftest import csrf_token
    return client.post("/records/import", data={"csrf_token": csrf_token(client),
                                                "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", headers=headers)


@pytest.fixture
def setup(tree, teachers):
    programme = make_programme(tree)
    course = programme.courses.order_by(Course.id).first()
    return programme, course


def test_upload_reports_row_by_row_and_writes_nothing(login_as, setup, teachers):
    programme, course = setup
    p, c = programme.id, course.id
    id_number = teachers["data"]["teacher"]["id_number"]
    rows = [["r1", "teacher", "", p, c, 45, "2025-07-15 20:30"],
            ["r2", "", id_number, p, c, 30, "2025-07-16 08:00"],
            ["r3", "nobody", "", p, c, 30, "2025-07-16 08:00"],
            ["r4", "teacher", "", p, c, "abc", "2025-07-16 08:00"],
            ["r1", "teacher", "", p, c, 10, "2025-07-16 08:00"],
            ["r6", "", valid_id_number(777), p, c, 10, "2025-07-16 08:00"],
            ["r7", "teacher", "", 9999, c, 10, "2025-07-16 08:00"]]
    client = login_as("operator")
    response = upload(client, csv_file(rows))
    assert response.status_code == 303
    preview = client.get(response.headers["Location"])
    text = preview.text
    assert "确认导入 2 条" in text
    assert "未找到该平台账号" in text and "须为整数" in text and "与第 2 行的记录编号重复" in text
    assert "未找到该研修项目" in text and "未找到该身份证号对应的已认证教师" in text
    assert valid_id_number(777) not in text and id_number not in text
    assert LearningRecord.select().count() == 0
    assert id_number not in ImportBatch.get().valid_rows


def test_confirm_stores_once_and_rolls_up(login_as, setup):
    programme, course = setup
    client = login_as("operator")
    response = upload(client, csv_file([["a", "teacher", "", programme.id, course.id, 45, "2025-07-15 20:30"],
                                        ["b", "t_mover", "", programme.id, course.id, 60, "2025-07-15 21:30"]]))
    batch_url = response.headers["Location"]
    from tests.conftest import form_post
    # Someone sends record "b" through the API between preview and confirmation.
    records.ingest([{"external_id": "b", "teacher": {"account": "t_mover"}, "programme": programme.id,
                     "course": course.id, "minutes": 60, "occurred_at": "2025-07-15T21:30:00+08:00"}])
    done = form_post(client, batch_url + "/confirm")
    assert done.status_code == 303
    result = client.get(batch_url).text
    assert "已导入 1 条学习记录" in result and "预览后该记录编号已被导入" in result
    assert LearningRecord.select().count() == 2
    again = form_post(client, batch_url + "/confirm")
    assert "已经导入或已放弃" in client.get(again.headers["Location"]).text
    assert LearningRecord.select().count() == 2
    entry = AuditLog.get(AuditLog.action == "records.imported")
    assert '"imported": 1' in entry.after and '"skipped": 1' in entry.after
    assert_rollups_exact(programme)


def test_a_file_without_a_teacher_column_is_refused(login_as, setup):
    programme, course = setup
    header = ["记录编号", "项目编号", "课程编号", "学习分钟数", "学习时间"]
    response = upload(login_as("operator"), csv_file([["a", programme.id, course.id, 45, "2025-07-15"]], header))
    assert response.status_code == 422 and "缺少教师列" in response.text


def test_the_htmx_upload_swaps_in_the_preview(login_as, setup):
    programme, course = setup
    response = upload(login_as("operator"), csv_file([["a", "teacher", "", programme.id, course.id, 45,
                                                       "2025-07-15 20:30"]]), **{"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.text
    assert "确认导入 1 条" in response.text and response.headers["HX-Push-Url"].startswith("/records/import/")


def test_only_the_operator_imports_records(login_as, tree):
    for username in ("zj_admin", "xh_admin", "school_admin", "teacher"):
        assert login_as(username).get("/records/import").status_code == 404


def test_templates_download(login_as, tree):
    client = login_as("operator")
    xlsx = client.get("/records/import/template.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/records/import/template.csv").data.decode("utf-8-sig").startswith("记录编号,平台账号")


def test_numbers_too_long_or_not_ascii_are_refused_row_by_row(login_as, setup):
    """Found by the fuzz tests: a 10,000-digit 项目编号 made int() raise (a 500), and so would a
    superscript digit, which str.isdigit() takes for one."""
    programme, course = setup
    client = login_as("operator")
    rows = [["a", "teacher", "", "9" * 10_000, course.id, 45, "2025-07-15 20:30"],
            ["b", "teacher", "", programme.id, course.id, "-" + "9" * 30, "2025-07-15 20:30"],
            ["c", "teacher", "", programme.id, "²", 45, "2025-07-15 20:30"]]
    response = upload(client, csv_file(rows))
    assert response.status_code == 303
    text = client.get(response.headers["Location"]).text
    assert "未找到该研修项目" in text and "须在 1–1440 之间" in text and "须为整数" in text
    assert LearningRecord.select().count() == 0

"""激活进度 pages: drill-down as page and fragment, filter, scoping, exports equal to the screen."""
import csv
import io
import re

import pytest
from openpyxl import load_workbook

from yanxiu.models import School

HX = {"HX-Request": "true"}


def table_rows(html: str) -> list[list[str]]:
    """The body rows of the page's table as text cells."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows


def test_province_page_shows_rows_and_totals(login_as):
    page = login_as("zj_admin").get("/progress")
    assert page.status_code == 200 and "<html" in page.text
    assert table_rows(page.text) == [
        ["杭州市", "未激活", "1/0", "3", "2", "66.7%"],
        ["宁波市", "未激活", "1/0", "1", "0", "0.0%"],
        ["浙江省直属学校和机构", "—", "—", "1", "0", "0.0%"],
    ]
    assert "0/2 已激活" in page.text and "40.0%" in page.text


def test_drill_down_is_a_fragment_for_htmx_and_a_page_otherwise(login_as):
    client = login_as("zj_admin")
    fragment = client.get("/progress/330100", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert [r[0] for r in table_rows(fragment.text)] == ["上城区", "西湖区"]
    assert 'hx-get="/progress"' in fragment.text  # breadcrumb back up
    page = client.get("/progress/330100")
    assert "<html" in page.text and [r[0] for r in table_rows(page.text)] == ["上城区", "西湖区"]


def test_county_lists_schools_with_masked_phones(login_as):
    School.update(contact_phone="13812345678").execute()
    page = login_as("xh_admin").get("/progress")
    rows = table_rows(page.text)
    assert [r[0] for r in rows] == ["西湖区第一小学", "西湖区文新中学"]
    assert rows[0][3] == "西湖校管" and rows[0][4] == "138****5678"
    assert "13812345678" not in page.text


def test_filter_inactive(login_as):
    client = login_as("hz_admin")
    page = client.get("/progress/330102?status=inactive")
    assert [r[0] for r in table_rows(page.text)] == ["上城区胜利小学"]
    done = client.get("/progress/330106?status=inactive")
    assert "所有学校均已激活" in done.text


@pytest.mark.parametrize("username,code", [("xh_admin", "330102"), ("hz_admin", "330200"),
                                           ("zj_admin", "320000"), ("nb_admin", "330106")])
@pytest.mark.parametrize("suffix", ["", "/schools", "/export.csv", "/export.xlsx"])
def test_outside_the_subtree_is_404(login_as, username, code, suffix):
    assert login_as(username).get(f"/progress/{code}{suffix}").status_code == 404


@pytest.mark.parametrize("username", ["school_admin", "teacher"])
def test_not_for_school_admins_or_teachers(login_as, username):
    assert login_as(username).get("/progress").status_code == 404


def test_csv_export_has_the_screen_rows(login_as):
    client = login_as("zj_admin")
    screen = table_rows(client.get("/progress").text)
    response = client.get("/progress/330000/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "区域" and rows[1:-1] == screen and rows[-1][0] == "合计"


def test_xlsx_export_of_inactive_schools(login_as):
    client = login_as("hz_admin")
    screen = table_rows(client.get("/progress/330102?status=inactive").text)
    response = client.get("/progress/330102/export.xlsx?status=inactive")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "学校(机构)名称"
    assert [r[:4] for r in rows[1:]] == [r[:4] for r in screen]


def test_sec22_formula_like_names_are_neutralised_in_progress_exports(login_as):
    School.update(name="=HYPERLINK(\"http://x\")").where(School.code == "3301020001").execute()
    data = login_as("hz_admin").get("/progress/330102/export.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in data


def test_unknown_export_format_is_404(login_as):
    assert login_as("zj_admin").get("/progress/330000/export.pdf").status_code == 404

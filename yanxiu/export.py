"""The one export helper: a table (Chinese headers, rows) as xlsx or csv, formula-safe."""
import csv
import io
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_table(filename: str, fmt: str, headers: list[str], rows: list[list]) -> Response:
    """Answer a download of the table; `filename` without extension, may be Chinese."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    safe_rows = [[neutralise(v) for v in row] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows(safe_rows)
        # The BOM makes Excel on Windows read the file as UTF-8.
        body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(filename[:31])
        sheet.append(headers)
        for row in safe_rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        body = out.getvalue()
    name = quote(f"{filename}.{fmt}")
    return Response(body, mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename=export.{fmt}; filename*=UTF-8''{name}"})

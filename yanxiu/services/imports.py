"""Batch imports from xlsx/csv files (批量导入): the shared machinery.

An upload is read by column headers (in any order), every row is judged by the kind of
import (schools, learning records) and kept in a pending ImportBatch with a row-by-row
report; nothing else is written until the admin confirms. This module reads files, keeps
batches and builds templates; the kinds decide what a valid row is and how it is written.
"""
import csv
import datetime
import io
import json
from dataclasses import dataclass, field

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.datavalidation import DataValidation

from yanxiu.models import Binding, ImportBatch
from yanxiu.models.base import now

MAX_ROWS = 20_000
GUIDE_SHEET = "填写说明"
REPORT_HEADERS = ["行号", "列", "内容", "原因"]


class ImportFileError(ValueError):
    """The file as a whole cannot be read (the message says why, in Chinese)."""


class BatchClosed(ValueError):
    """The batch was already confirmed or discarded (a double submit, or another tab)."""


@dataclass
class Layout:
    """The columns of one kind of import: field → header, which are required, and what a
    row is called in messages (学校信息, 学习记录)."""
    labels: dict[str, str]
    required: list[str]
    noun: str

    @property
    def headers(self) -> list[str]:
        return list(self.labels.values())


@dataclass
class ParsedFile:
    """The rows of an uploaded file: (spreadsheet row number, {field: text}) plus warnings."""
    header_row: int
    rows: list[tuple[int, dict]]
    ignored_columns: list[str] = field(default_factory=list)


def cell_text(value) -> str:
    """A cell as the text a person typed: 3301060001 not 3301060001.0, formulas kept as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _normalise_header(text: str) -> str:
    """Headers compare without spaces or a required-marker star: ' 名称* ' is 名称."""
    return "".join(text.split()).strip("*＊")


def _read_xlsx(content: bytes):
    # A damaged or disguised file fails in many ways inside openpyxl (BadZipFile,
    # InvalidFileException, KeyError, XML errors...); each is the file's fault, never our 500.
    try:
        # read_only streams the sheet; formulas arrive as their text ("=A1"), never evaluated.
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception:
        raise ImportFileError("无法读取该文件：它不是有效的 Excel (.xlsx) 文件，可能已损坏，"
                              "或是改了扩展名的其他文件。请下载模板填写后另存为 .xlsx 再上传。") from None
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            yield [cell_text(v) for v in values]
    except Exception:
        raise ImportFileError("Excel 文件内容已损坏，无法读取。请用 Excel 重新另存为 .xlsx 后上传。") from None
    finally:
        book.close()


def _read_csv(content: bytes):
    if b"\x00" in content[:4096]:
        raise ImportFileError("该文件不是 CSV 文本文件。请下载模板填写后另存为 .csv 或 .xlsx 再上传。")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Chinese Excel saves "CSV" in the ANSI code page: GBK, of which GB18030 is a superset.
            text = content.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFileError("无法识别 CSV 文件的编码，请另存为“CSV UTF-8”或 .xlsx 后再上传。") from None
    try:
        for values in csv.reader(io.StringIO(text, newline="")):
            yield [v.strip() for v in values]
    except csv.Error:
        raise ImportFileError("CSV 文件格式有误（引号不成对等），无法读取。请用模板重新填写。") from None


def parse_file(filename: str, content: bytes, layout: Layout) -> ParsedFile:
    """Read an uploaded .xlsx or .csv into rows keyed by field, columns found by their Chinese header."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "xls":
        raise ImportFileError("不支持旧版 Excel (.xls) 文件，请在 Excel 中另存为 .xlsx 后上传。")
    if suffix not in ("xlsx", "csv"):
        raise ImportFileError("仅支持 .xlsx 或 .csv 文件，请下载模板填写后上传。")
    empty = f"文件是空的。请下载模板，填写{layout.noun}后再上传。"
    if not content.strip():
        raise ImportFileError(empty)
    lines = _read_xlsx(content) if suffix == "xlsx" else _read_csv(content)

    header_row, columns, ignored, rows = 0, {}, [], []
    for number, values in enumerate(lines, start=1):
        if not any(values):
            continue
        if not header_row:
            header_row = number
            columns, ignored = _map_columns(values, layout)
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"文件超过 {MAX_ROWS} 行数据，请拆分成几个文件分别导入。")
        rows.append((number, {f: values[i] if i < len(values) else "" for f, i in columns.items()}))
    if not header_row:
        raise ImportFileError(empty)
    if not rows:
        raise ImportFileError(f"文件中没有数据行（只有表头）。请在表头下方逐行填写{layout.noun}。")
    return ParsedFile(header_row, rows, ignored)


def _map_columns(headers: list[str], layout: Layout) -> tuple[dict[str, int], list[str]]:
    """{field: column index} from the header row; refuses missing or repeated template columns."""
    by_header = {label: f for f, label in layout.labels.items()}
    columns, ignored, repeated = {}, [], []
    for index, raw in enumerate(headers):
        name = _normalise_header(raw)
        if not name:
            continue
        known = by_header.get(name)
        if known is None:
            ignored.append(raw)
        elif known in columns:
            repeated.append(name)
        else:
            columns[known] = index
    if repeated:
        raise ImportFileError(f"表头中有重复的列：{'、'.join(dict.fromkeys(repeated))}。每列只能出现一次。")
    missing = [layout.labels[f] for f in layout.required if f not in columns]
    if missing:
        raise ImportFileError(f"缺少必需的列：{'、'.join(missing)}。第一行须为模板的列名："
                              f"{'、'.join(layout.headers)}（顺序不限）。")
    return columns, ignored


def problem(row: int, column: str, value: str, reason: str, **extra) -> dict:
    """One entry of the row-by-row report."""
    return {"row": row, "column": column, "value": value, "reason": reason, **extra}


def create_batch(kind: str, binding: Binding, filename: str, parsed: ParsedFile, valid: list[dict],
                 problems: list[dict]) -> ImportBatch:
    """Keep a judged upload as a pending batch (columns not in the template become warnings)."""
    warnings = [problem(parsed.header_row, name, name, "模板中没有此列，已忽略", warning=True)
                for name in parsed.ignored_columns]
    return ImportBatch.create(
        kind=kind, account=binding.account_id, binding=binding, filename=filename[:200],
        total_rows=len(parsed.rows), valid_rows=json.dumps(valid, ensure_ascii=False),
        problems=json.dumps(warnings + problems, ensure_ascii=False))


def batch_of(kind: str, binding: Binding, batch_id: int) -> ImportBatch | None:
    """An import batch of this kind, only for the account and binding that uploaded it."""
    return (ImportBatch.select().where(
        (ImportBatch.id == batch_id) & (ImportBatch.kind == kind)
        & (ImportBatch.account == binding.account_id) & (ImportBatch.binding == binding.id))
        .first())


def claim(batch: ImportBatch) -> None:
    """Inside the confirming transaction: pending → done, once; a second confirm is refused."""
    claimed = (ImportBatch.update(state="done", done_at=now())
               .where((ImportBatch.id == batch.id) & (ImportBatch.state == "pending")).execute())
    if not claimed:
        raise BatchClosed("该批次已经导入或已放弃，未重复写入。")


def record_outcome(batch: ImportBatch, written: list[dict], skipped: list[dict]) -> None:
    """After a confirm: the rows written, and those skipped at confirm time added to the report."""
    (ImportBatch.update(valid_rows=json.dumps(written, ensure_ascii=False),
                        problems=json.dumps(json.loads(batch.problems) + skipped, ensure_ascii=False))
     .where(ImportBatch.id == batch.id).execute())


@dataclass
class BatchReport:
    """An import batch as the preview and result pages show it."""
    batch: ImportBatch
    valid: list[dict]
    problems: list[dict]
    warnings: list[dict]

    @classmethod
    def of(cls, batch: ImportBatch) -> "BatchReport":
        entries = json.loads(batch.problems)
        return cls(batch, json.loads(batch.valid_rows),
                   [p for p in entries if not p.get("warning")],
                   [p for p in entries if p.get("warning")])

    @property
    def invalid_count(self) -> int:
        """Rows refused at upload (a row with three problems counts once)."""
        return len({p["row"] for p in self.problems if not p.get("at_confirm")})

    @property
    def skipped_at_confirm(self) -> list[dict]:
        return [p for p in self.problems if p.get("at_confirm")]

    def report_rows(self) -> list[list]:
        """The full problem list for the downloadable error report."""
        return [[p["row"], p["column"], p["value"], p["reason"]] for p in self.warnings + self.problems]


def discard_import(batch: ImportBatch) -> bool:
    """放弃: drop a pending batch's rows; False when it was already confirmed or discarded."""
    return bool(ImportBatch.update(state="discarded", valid_rows="[]", done_at=now())
                .where((ImportBatch.id == batch.id) & (ImportBatch.state == "pending")).execute())


def template_xlsx(sheet_title: str, layout: Layout, widths: list[int],
                  dropdowns: dict[int, list[str]], guide: list[list[str]]) -> bytes:
    """A blank template: the header row as text columns, dropdowns (column index → values),
    and a 填写说明 sheet of rules."""
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    sheet.append(layout.headers)
    for index, width in enumerate(widths):
        letter = chr(ord("A") + index)
        sheet.column_dimensions[letter].width = width
        # Text format keeps codes, ID numbers and phone numbers from turning into numbers.
        sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    for index, values in dropdowns.items():
        letter = chr(ord("A") + index)
        rule = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                              showErrorMessage=True, errorTitle="取值不在列表中",
                              error="请从下拉列表中选择")
        rule.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        sheet.add_data_validation(rule)

    sheet_guide = book.create_sheet(GUIDE_SHEET)
    sheet_guide.append(["列名", "是否必填", "允许的取值或格式"])
    for row in guide:
        sheet_guide.append(row)
    sheet_guide.column_dimensions["A"].width = 14
    sheet_guide.column_dimensions["B"].width = 12
    sheet_guide.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

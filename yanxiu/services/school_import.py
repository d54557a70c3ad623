"""学校批量导入: read an xlsx/csv file, validate every row, hold the valid rows until confirmed.

The flow is upload → `validate_upload` (nothing written to `school`; the outcome is an
ImportBatch) → the admin reads the row-by-row report → `confirm_import` writes the valid
rows in one transaction, or `discard_import` drops the batch.
"""
import csv
import datetime
import io
import json
from dataclasses import dataclass, field

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.datavalidation import DataValidation
from peewee import IntegrityError

from yanxiu.db import database
from yanxiu.models import Binding, ImportBatch, Region, School
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE, KIND_LABELS, OWNERSHIPS, SCHOOL, STAGES
from yanxiu.scope import Scope
from yanxiu.services import audit
from yanxiu.services.schools import (FIELD_LABELS, FIELDS, clean_school_fields, code_taken,
                                     name_taken)

KIND = "schools"
HEADERS = [FIELD_LABELS[f] for f in FIELDS]
FIELD_BY_HEADER = {FIELD_LABELS[f]: f for f in FIELDS}
# Without these the rows cannot be judged at all; the others have defaults (类型 学校, 公办) or may
# be blank. 学段 is required because a row's type defaults to 学校, which needs one.
REQUIRED_FIELDS = ["code", "name", "stage"]
MAX_ROWS = 20_000
CHUNK = 500
TEMPLATE_SHEET = "学校信息"
GUIDE_SHEET = "填写说明"
REPORT_HEADERS = ["行号", "列", "内容", "原因"]


class ImportFileError(ValueError):
    """The file as a whole cannot be read as a school list (the message says why, in Chinese)."""


class BatchClosed(ValueError):
    """The batch was already confirmed or discarded (a double submit, or another tab)."""


@dataclass
class ParsedFile:
    """The rows of an uploaded file: (spreadsheet row number, {field: text}) plus warnings."""
    header_row: int
    rows: list[tuple[int, dict]]
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What a confirmation wrote, and the rows that had become duplicates since the preview."""
    created: int
    skipped: list[dict]


def _cell_text(value) -> str:
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
            yield [_cell_text(v) for v in values]
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


def parse_file(filename: str, content: bytes) -> ParsedFile:
    """Read an uploaded .xlsx or .csv into rows keyed by field, columns found by their Chinese header."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "xls":
        raise ImportFileError("不支持旧版 Excel (.xls) 文件，请在 Excel 中另存为 .xlsx 后上传。")
    if suffix not in ("xlsx", "csv"):
        raise ImportFileError("仅支持 .xlsx 或 .csv 文件，请下载模板填写后上传。")
    if not content.strip():
        raise ImportFileError("文件是空的。请下载模板，填写学校信息后再上传。")
    lines = _read_xlsx(content) if suffix == "xlsx" else _read_csv(content)

    header_row, columns, ignored, rows = 0, {}, [], []
    for number, values in enumerate(lines, start=1):
        if not any(values):
            continue
        if not header_row:
            header_row = number
            columns, ignored = _map_columns(values)
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"文件超过 {MAX_ROWS} 行数据，请拆分成几个文件分别导入。")
        rows.append((number, {f: values[i] if i < len(values) else "" for f, i in columns.items()}))
    if not header_row:
        raise ImportFileError("文件是空的。请下载模板，填写学校信息后再上传。")
    if not rows:
        raise ImportFileError("文件中没有数据行（只有表头）。请在表头下方逐行填写学校信息。")
    return ParsedFile(header_row, rows, ignored)


def _map_columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """{field: column index} from the header row; refuses missing or repeated template columns."""
    columns, ignored, repeated = {}, [], []
    for index, raw in enumerate(headers):
        name = _normalise_header(raw)
        if not name:
            continue
        known = FIELD_BY_HEADER.get(name)
        if known is None:
            ignored.append(raw)
        elif known in columns:
            repeated.append(name)
        else:
            columns[known] = index
    if repeated:
        raise ImportFileError(f"表头中有重复的列：{'、'.join(dict.fromkeys(repeated))}。每列只能出现一次。")
    missing = [FIELD_LABELS[f] for f in REQUIRED_FIELDS if f not in columns]
    if missing:
        raise ImportFileError(f"缺少必需的列：{'、'.join(missing)}。第一行须为模板的列名："
                              f"{'、'.join(HEADERS)}（顺序不限）。")
    return columns, ignored


def _existing_codes(codes) -> set[str]:
    """Which of `codes` some school (anywhere, archived too) already holds: one query per 500."""
    codes, found = list(codes), set()
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start:start + CHUNK]
        found.update(c for (c,) in School.select(School.code).where(School.code.in_(chunk)).tuples())
    return found


def _region_names(region: Region) -> set[str]:
    return {n for (n,) in School.select(School.name).where(School.region == region).tuples()}


def _problem(row: int, column: str, value: str, reason: str, **extra) -> dict:
    return {"row": row, "column": column, "value": value, "reason": reason, **extra}


def validate_rows(region: Region, rows: list[tuple[int, dict]]) -> tuple[list[dict], list[dict]]:
    """Every row through `clean_school_fields`, then duplicates in the file and in the database.

    Returns (valid rows, problems); a valid row is the cleaned fields plus its row number.
    Uniqueness is checked against sets loaded up front, so 10,000 rows cost a few queries.
    """
    checked = []
    for number, raw in rows:
        clean, errors = clean_school_fields(raw)
        checked.append((number, raw, clean, errors))
    taken_codes = _existing_codes({c["code"] for _, _, c, e in checked if "code" not in e})
    taken_names = _region_names(region)

    valid, problems = [], []
    first_code, first_name = {}, {}
    for number, raw, clean, errors in checked:
        found = [_problem(number, FIELD_LABELS[f], raw.get(f, ""), message)
                 for f, message in errors.items()]
        code, name = clean["code"], clean["name"]
        if "code" not in errors:
            if code in first_code:
                found.append(_problem(number, FIELD_LABELS["code"], code,
                                      f"与第 {first_code[code]} 行的学校标识码重复"))
            elif code in taken_codes:
                found.append(_problem(number, FIELD_LABELS["code"], code,
                                      code_taken(code)))
            first_code.setdefault(code, number)
        if "name" not in errors:
            if name in first_name:
                found.append(_problem(number, FIELD_LABELS["name"], name,
                                      f"与第 {first_name[name]} 行的名称重复"))
            elif name in taken_names:
                found.append(_problem(number, FIELD_LABELS["name"], name,
                                      name_taken(region, name)))
            first_name.setdefault(name, number)
        if found:
            problems.extend(found)
        else:
            valid.append({"row": number, **clean})
    return valid, problems


def import_region(binding: Binding) -> Region | None:
    """The region this binding imports into: its own, if it manages schools there (else None)."""
    if binding is None or binding.region_id is None:
        return None
    region = binding.region
    return region if Scope.of(binding).may_manage_region(region) else None


def validate_upload(binding: Binding, filename: str, content: bytes) -> ImportBatch:
    """Read and validate an uploaded file into a pending ImportBatch; writes nothing to `school`."""
    region = import_region(binding)
    if region is None:
        raise ImportFileError("您无权批量导入学校")
    parsed = parse_file(filename, content)
    valid, problems = validate_rows(region, parsed.rows)
    warnings = [_problem(parsed.header_row, name, name, "模板中没有此列，已忽略", warning=True)
                for name in parsed.ignored_columns]
    return ImportBatch.create(
        kind=KIND, account=binding.account_id, binding=binding, filename=filename[:200],
        total_rows=len(parsed.rows), valid_rows=json.dumps(valid, ensure_ascii=False),
        problems=json.dumps(warnings + problems, ensure_ascii=False))


def batch_of(binding: Binding, batch_id: int) -> ImportBatch | None:
    """A school import batch, only for the account and binding that uploaded it."""
    return (ImportBatch.select().where(
        (ImportBatch.id == batch_id) & (ImportBatch.kind == KIND)
        & (ImportBatch.account == binding.account_id) & (ImportBatch.binding == binding.id))
        .first())


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


def confirm_import(binding: Binding, batch: ImportBatch, *, address: str = "") -> ImportResult:
    """确认导入: write the batch's valid rows in one transaction, once.

    The batch is claimed (pending → done) first inside the transaction, so a double submit
    writes once; rows that became duplicates since the preview are skipped and reported.
    """
    region = import_region(binding)
    if region is None:
        raise BatchClosed("您无权批量导入学校")
    rows = json.loads(batch.valid_rows)
    try:
        with database.atomic():
            claimed = (ImportBatch.update(state="done", done_at=now())
                       .where((ImportBatch.id == batch.id) & (ImportBatch.state == "pending"))
                       .execute())
            if not claimed:
                raise BatchClosed("该批次已经导入或已放弃，未重复写入。")
            keep, skipped = _recheck(region, rows)
            _insert(binding, region, keep, address)
            (ImportBatch.update(valid_rows=json.dumps(keep, ensure_ascii=False),
                                problems=json.dumps(json.loads(batch.problems) + skipped,
                                                    ensure_ascii=False))
             .where(ImportBatch.id == batch.id).execute())
    except IntegrityError:
        # Someone added one of these schools between our re-check and the insert; nothing was
        # written and the batch is pending again, so the admin can simply confirm once more.
        raise BatchClosed("导入时有学校刚被他人添加，本次未写入任何数据，请重新确认导入。") from None
    return ImportResult(len(keep), skipped)


def _recheck(region: Region, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Rows still unique at confirm time, and the others as problems (marked `at_confirm`)."""
    taken_codes = _existing_codes(r["code"] for r in rows)
    taken_names = _region_names(region)
    keep, skipped = [], []
    for row in rows:
        if row["code"] in taken_codes:
            skipped.append(_problem(row["row"], FIELD_LABELS["code"], row["code"],
                                    f"预览后学校标识码 {row['code']} 已被使用，未导入", at_confirm=True))
        elif row["name"] in taken_names:
            skipped.append(_problem(row["row"], FIELD_LABELS["name"], row["name"],
                                    f"预览后{region.name}已有同名学校，未导入", at_confirm=True))
        else:
            keep.append(row)
    return keep, skipped


def _insert(binding: Binding, region: Region, rows: list[dict], address: str) -> None:
    stamp = now()
    records = [{**{f: row[f] for f in FIELDS}, "region": region.id, "region_path": region.path,
                "status": ACTIVE, "version": 1, "created_at": stamp, "updated_at": stamp}
               for row in rows]
    for start in range(0, len(records), CHUNK):
        School.insert_many(records[start:start + CHUNK]).execute()
    ids = {}
    codes = [r["code"] for r in rows]
    for start in range(0, len(codes), CHUNK):
        ids.update(School.select(School.code, School.id)
                   .where(School.code.in_(codes[start:start + CHUNK])).tuples())
    audit.record_many("school.imported", [
        ("school", ids[row["code"]], region.path,
         {**{f: row[f] for f in FIELDS}, "region": region.code, "row": row["row"]})
        for row in rows], actor=binding.account_id, binding=binding, address=address)


def discard_import(batch: ImportBatch) -> bool:
    """放弃: drop a pending batch's rows; False when it was already confirmed or discarded."""
    return bool(ImportBatch.update(state="discarded", valid_rows="[]", done_at=now())
                .where((ImportBatch.id == batch.id) & (ImportBatch.state == "pending")).execute())


def template_xlsx() -> bytes:
    """The blank template: the header row, dropdowns for 类型/学段/办学性质, and a sheet of rules."""
    book = Workbook()
    sheet = book.active
    sheet.title = TEMPLATE_SHEET
    sheet.append(HEADERS)
    for letter, width in zip("ABCDEFGH", (14, 30, 16, 14, 10, 36, 10, 16)):
        sheet.column_dimensions[letter].width = width
        # Text format keeps 10-digit codes and phone numbers from turning into numbers.
        sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    for letter, values in (("C", list(KIND_LABELS.values())), ("D", STAGES), ("E", OWNERSHIPS)):
        rule = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                              showErrorMessage=True, errorTitle="取值不在列表中",
                              error="请从下拉列表中选择")
        rule.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        sheet.add_data_validation(rule)

    guide = book.create_sheet(GUIDE_SHEET)
    guide.append(["列名", "是否必填", "允许的取值或格式"])
    for row in template_guide():
        guide.append(row)
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 12
    guide.column_dimensions["C"].width = 80
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_guide() -> list[list[str]]:
    """One line per column: name, required?, allowed values (shown on the page and in the template)."""
    return [
        [FIELD_LABELS["code"], "必填", "10 位数字，全国唯一"],
        [FIELD_LABELS["name"], "必填", "不超过 100 字，本区域内不能重名"],
        [FIELD_LABELS["kind"], "选填（默认 学校）", "、".join(KIND_LABELS.values())],
        [FIELD_LABELS["stage"], f"类型为{KIND_LABELS[SCHOOL]}时必填", "、".join(STAGES)],
        [FIELD_LABELS["ownership"], "选填（默认 公办）", "、".join(OWNERSHIPS)],
        [FIELD_LABELS["address"], "选填", "不超过 200 字"],
        [FIELD_LABELS["contact_name"], "选填", "不超过 50 字"],
        [FIELD_LABELS["contact_phone"], "选填", "11 位手机号，或带区号的固定电话（如 0571-88001234）"],
    ]

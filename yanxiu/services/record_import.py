"""学习记录批量导入: the operator's xlsx/csv route for the records the API also takes.

Rows are judged by the same rules as API items (`records.judge`) and reported row by row;
nothing is written until the operator confirms, and then every valid row goes in through
`records.ingest` in one transaction. The batch keeps account names, never a 身份证号.
"""
import json
import re
from dataclasses import dataclass

from peewee import chunked

from yanxiu.db import database
from yanxiu.masking import mask_id_number
from yanxiu.models import Account, Binding, ImportBatch
from yanxiu.models.account import OPERATOR
from yanxiu.services import audit, imports, records
from yanxiu.services.imports import ImportFileError, problem

KIND = "records"
LAYOUT = imports.Layout({"external_id": "记录编号", "account": "平台账号", "id_number": "身份证号",
                         "programme": "项目编号", "course": "课程编号", "minutes": "学习分钟数",
                         "occurred_at": "学习时间"},
                        ["external_id", "programme", "course", "minutes", "occurred_at"], "学习记录")
HEADERS = LAYOUT.headers
INTEGER = re.compile(r"-?[0-9]+")
# The API's item fields, as the columns a row report names.
COLUMN_OF = {"external_id": "记录编号", "teacher": "平台账号/身份证号", "programme": "项目编号",
             "course": "课程编号", "minutes": "学习分钟数", "occurred_at": "学习时间"}


@dataclass
class ImportResult:
    """What a confirmation stored, and the rows refused or found duplicate at that moment."""
    created: int
    skipped: list[dict]


def may_import(binding: Binding | None) -> bool:
    return binding is not None and binding.role == OPERATOR


def _shown(field: str, value: str) -> str:
    """A cell as the report may show it: a 身份证号 masked."""
    return mask_id_number(value) if field == "id_number" else value


def _as_item(raw: dict) -> dict:
    """A row as an API item; number cells that are not integers stay text and are refused.

    Past 19 digits no id or minute count can match, and int() of thousands of digits raises:
    such a number stands as one just beyond the 64-bit range, which the rules refuse."""
    item = {"external_id": raw.get("external_id", ""), "occurred_at": raw.get("occurred_at", "")}
    for field in ("programme", "course", "minutes"):
        text = raw.get(field, "").strip()
        if not INTEGER.fullmatch(text):
            item[field] = text
        elif len(text.lstrip("-")) <= 19:
            item[field] = int(text)
        else:
            item[field] = -(records.MAX_ID + 1) if text.startswith("-") else records.MAX_ID + 1
    if raw.get("account", "").strip():
        item["teacher"] = {"account": raw["account"].strip()}
    elif raw.get("id_number", "").strip():
        item["teacher"] = {"id_number": raw["id_number"].strip()}
    else:
        item["teacher"] = {}
    return item


def validate_rows(rows: list[tuple[int, dict]]) -> tuple[list[dict], list[dict]]:
    """Judge every row as an API item would be; returns (valid rows, problems)."""
    valid, problems, first_row = [], [], {}
    for chunk in chunked(rows, records.MAX_BATCH):
        items = [_as_item(raw) for _, raw in chunk]
        judgement = records.judge(items)
        accounts = dict(Account.select(Account.id, Account.username).where(
            Account.id.in_([a for _, a in judgement.accepted] or [0])).tuples())
        account_of = {item.index: a for item, a in judgement.accepted}
        for (number, raw), result in zip(chunk, judgement.results):
            external_id = result.external_id
            if result.status == records.REJECTED:
                field = result.field or "external_id"
                source = "id_number" if field == "teacher" and not raw.get("account") else field
                problems.append(problem(number, COLUMN_OF.get(field, field),
                                        _shown(source, raw.get(source, "")), result.detail))
            elif external_id in first_row:
                problems.append(problem(number, "记录编号", external_id,
                                        f"与第 {first_row[external_id]} 行的记录编号重复"))
            elif result.status == records.DUPLICATE:
                problems.append(problem(number, "记录编号", external_id, "该记录编号已导入过（重复，不再计入）"))
            else:
                first_row[external_id] = number
                item = items[result.index]
                valid.append({"row": number, **item, "teacher": {"account": accounts[account_of[result.index]]}})
    return valid, problems


def validate_upload(binding: Binding, filename: str, content: bytes) -> ImportBatch:
    """Read and judge an uploaded file into a pending ImportBatch; stores no record."""
    if not may_import(binding):
        raise ImportFileError("您无权导入学习记录")
    parsed = imports.parse_file(filename, content, LAYOUT)
    columns = parsed.rows[0][1].keys()
    if "account" not in columns and "id_number" not in columns:
        raise ImportFileError("缺少教师列：须有“平台账号”或“身份证号”列（至少一列）。")
    valid, problems = validate_rows(parsed.rows)
    return imports.create_batch(KIND, binding, filename, parsed, valid, problems)


def batch_of(binding: Binding, batch_id: int) -> ImportBatch | None:
    return imports.batch_of(KIND, binding, batch_id)


def confirm_import(binding: Binding, batch: ImportBatch) -> ImportResult:
    """确认导入: store the batch's valid rows in one transaction, once; rows that became
    duplicates (or lost their teacher) since the preview are reported, not stored."""
    if not may_import(binding):
        raise imports.BatchClosed("您无权导入学习记录")
    rows = json.loads(batch.valid_rows)
    kept, skipped = [], []
    with database.atomic():
        imports.claim(batch)
        for chunk in chunked(rows, records.MAX_BATCH):
            items = [{k: v for k, v in row.items() if k != "row"} for row in chunk]
            for row, result in zip(chunk, records.ingest(items, source="import")):
                if result.status == records.ACCEPTED:
                    kept.append(row)
                else:
                    reason = ("预览后该记录编号已被导入，未重复计入" if result.status == records.DUPLICATE
                              else f"预览后情况有变，未导入：{result.detail}")
                    skipped.append(problem(row["row"], "记录编号", row["external_id"], reason,
                                           at_confirm=True))
        imports.record_outcome(batch, kept, skipped)
        audit.record("records.imported", actor=binding.account_id, binding=binding,
                     target_type="import_batch", target_id=batch.id,
                     after={"filename": batch.filename, "imported": len(kept), "skipped": len(skipped)})
    return ImportResult(len(kept), skipped)


def template_guide() -> list[list[str]]:
    """One line per column: name, required?, allowed values."""
    return [
        ["记录编号", "必填", "每条记录唯一的编号（1–64 个字符）；重复导入同一编号不会重复计入"],
        ["平台账号", "与身份证号二选一", "教师的平台账号（用户名）"],
        ["身份证号", "与平台账号二选一", "已通过实名认证的教师的 18 位身份证号"],
        ["项目编号", "必填", "研修项目的编号（见研修项目页面）"],
        ["课程编号", "必填", "该项目下课程的编号（见研修项目页面）"],
        ["学习分钟数", "必填", f"1–{records.MAX_MINUTES} 的整数"],
        ["学习时间", "必填", "如 2025-07-15 20:30（北京时间）；项目日期之外的学习不计学时"],
    ]


def template_xlsx() -> bytes:
    return imports.template_xlsx("学习记录", LAYOUT, [16, 14, 22, 10, 10, 12, 20], {}, template_guide())

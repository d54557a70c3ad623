"""学校批量导入: read an xlsx/csv file, validate every row, hold the valid rows until confirmed.

The flow is upload → `validate_upload` (nothing written to `school`; the outcome is an
ImportBatch) → the admin reads the row-by-row report → `confirm_import` writes the valid
rows in one transaction, or `imports.discard_import` drops the batch.
"""
import json
from dataclasses import dataclass

from peewee import IntegrityError

from yanxiu.db import database
from yanxiu.models import Binding, ImportBatch, Region, School
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE, KIND_LABELS, OWNERSHIPS, SCHOOL, STAGES
from yanxiu.scope import Scope
from yanxiu.services import audit, imports
from yanxiu.services.imports import BatchClosed, ImportFileError, problem
from yanxiu.services.schools import (FIELD_LABELS, FIELDS, clean_school_fields, code_taken,
                                     name_taken)

KIND = "schools"
# Without these the rows cannot be judged at all; the others have defaults (类型 学校, 公办) or may
# be blank. 学段 is required because a row's type defaults to 学校, which needs one.
LAYOUT = imports.Layout({f: FIELD_LABELS[f] for f in FIELDS}, ["code", "name", "stage"], "学校信息")
HEADERS = LAYOUT.headers
CHUNK = 500
TEMPLATE_SHEET = "学校信息"


@dataclass
class ImportResult:
    """What a confirmation wrote, and the rows that had become duplicates since the preview."""
    created: int
    skipped: list[dict]


def _existing_codes(codes) -> set[str]:
    """Which of `codes` some school (anywhere, archived too) already holds: one query per 500."""
    codes, found = list(codes), set()
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start:start + CHUNK]
        found.update(c for (c,) in School.select(School.code).where(School.code.in_(chunk)).tuples())
    return found


def _region_names(region: Region) -> set[str]:
    return {n for (n,) in School.select(School.name).where(School.region == region).tuples()}


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
        found = [problem(number, FIELD_LABELS[f], raw.get(f, ""), message)
                 for f, message in errors.items()]
        code, name = clean["code"], clean["name"]
        if "code" not in errors:
            if code in first_code:
                found.append(problem(number, FIELD_LABELS["code"], code,
                                      f"与第 {first_code[code]} 行的学校标识码重复"))
            elif code in taken_codes:
                found.append(problem(number, FIELD_LABELS["code"], code,
                                      code_taken(code)))
            first_code.setdefault(code, number)
        if "name" not in errors:
            if name in first_name:
                found.append(problem(number, FIELD_LABELS["name"], name,
                                      f"与第 {first_name[name]} 行的名称重复"))
            elif name in taken_names:
                found.append(problem(number, FIELD_LABELS["name"], name,
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
    parsed = imports.parse_file(filename, content, LAYOUT)
    valid, problems = validate_rows(region, parsed.rows)
    return imports.create_batch(KIND, binding, filename, parsed, valid, problems)


def batch_of(binding: Binding, batch_id: int) -> ImportBatch | None:
    return imports.batch_of(KIND, binding, batch_id)


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
            imports.claim(batch)
            keep, skipped = _recheck(region, rows)
            _insert(binding, region, keep, address)
            imports.record_outcome(batch, keep, skipped)
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
            skipped.append(problem(row["row"], FIELD_LABELS["code"], row["code"],
                                    f"预览后学校标识码 {row['code']} 已被使用，未导入", at_confirm=True))
        elif row["name"] in taken_names:
            skipped.append(problem(row["row"], FIELD_LABELS["name"], row["name"],
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


def template_xlsx() -> bytes:
    """The blank template: the header row, dropdowns for 类型/学段/办学性质, and a sheet of rules."""
    return imports.template_xlsx(TEMPLATE_SHEET, LAYOUT, [14, 30, 16, 14, 10, 36, 10, 16],
                                 {2: list(KIND_LABELS.values()), 3: STAGES, 4: OWNERSHIPS},
                                 template_guide())


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

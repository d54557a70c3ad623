"""The national region tree (行政区划): loading the shipped list and reading subtrees."""
import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from peewee import fn

from yanxiu.db import database
from yanxiu.models import Binding, PermissionCode, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.region import (CITY, COUNTY, LEVEL_LABELS, NATION, NATION_CODE, PROVINCE,
                                  ACTIVE, ARCHIVED)
from yanxiu.models.base import now
from yanxiu.services import audit, rollups

LEVEL_ORDER = {PROVINCE: 1, CITY: 2, COUNTY: 3}


def bundled_region_file() -> Path:
    """The national list shipped with the product (see README: source and licence)."""
    return Path(str(resources.files("yanxiu.data").joinpath("regions.csv")))


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.renamed or self.moved)


# The levels a region of each level may hang on (counties of municipalities and
# 省直辖 counties hang directly on the province).
PARENT_LEVELS = {PROVINCE: {NATION}, CITY: {PROVINCE}, COUNTY: {PROVINCE, CITY}}
REGION_FILE_COLUMNS = ("code", "name", "level", "parent_code")


def _read_rows(path: Path, report: LoadReport) -> list[dict]:
    rows, seen = [], set()
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REGION_FILE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                report.errors.append(f"第 1 行：表头应为 {','.join(REGION_FILE_COLUMNS)}，"
                                     f"缺少 {','.join(missing)}")
                return []
            for lineno, row in enumerate(reader, start=2):
                code, name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
                level = (row.get("level") or "").strip()
                parent = (row.get("parent_code") or "").strip()
                if not (len(code) == 6 and code.isdigit()) or code == NATION_CODE:
                    report.errors.append(f"第 {lineno} 行：区划代码“{code}”不是 6 位数字")
                elif level not in LEVEL_ORDER or not name:
                    report.errors.append(f"第 {lineno} 行：级别或名称无效")
                elif code in seen:
                    report.errors.append(f"第 {lineno} 行：区划代码 {code} 重复")
                else:
                    seen.add(code)
                    rows.append({"code": code, "name": name, "level": level,
                                 "parent": parent or NATION_CODE, "line": lineno})
    except UnicodeDecodeError:
        report.errors.append("文件不是 UTF-8 编码：请在表格软件中另存为“CSV UTF-8”后再导入")
        return []
    if not rows and not report.errors:
        report.errors.append("文件中没有区划数据")
    level_of = {r["code"]: r["level"] for r in rows} | {NATION_CODE: NATION}
    for row in rows:
        if row["parent"] not in level_of:
            report.errors.append(f"第 {row['line']} 行：区划 {row['code']} 的上级 "
                                 f"{row['parent']} 不在列表中")
        elif level_of[row["parent"]] not in PARENT_LEVELS[row["level"]]:
            report.errors.append(f"第 {row['line']} 行：区划 {row['code']} 的上级 "
                                 f"{row['parent']} 级别不对（{LEVEL_LABELS[row['level']]}不能隶属于"
                                 f"{LEVEL_LABELS[level_of[row['parent']]]}）")
    return sorted(rows, key=lambda r: (LEVEL_ORDER[r["level"]], r["code"]))


def load_regions(path: Path | None = None) -> LoadReport:
    """Load a region list: add new codes, rename and re-parent existing ones; never duplicate.

    Loading the same list twice changes nothing. Regions missing from a newer list
    are kept (schools may hang on them); a rename is recorded in the audit log.
    """
    report = LoadReport()
    rows = _read_rows(path or bundled_region_file(), report)
    if report.errors:
        return report
    with database.atomic():
        root, _ = Region.get_or_create(code=NATION_CODE, defaults={
            "name": "全国", "level": NATION, "path": "", "parent": None})
        existing = {r.code: r for r in Region.select()}
        by_code = dict(existing)
        new_rows = []
        for row in rows:
            region = existing.get(row["code"])
            parent = by_code[row["parent"]]
            if region is None:
                new_rows.append(row)
                by_code[row["code"]] = Region(code=row["code"], name=row["name"], level=row["level"],
                                              path=parent.path + row["code"])
                continue
            if region.name != row["name"]:
                report.renamed.append((row["code"], region.name, row["name"]))
                audit.record("region.renamed", target_type="region", target_id=row["code"],
                             scope_path=region.path, before={"name": region.name},
                             after={"name": row["name"]})
                region.name = row["name"]
                region.updated_at = now()
                region.save(only=[Region.name, Region.updated_at])
            elif region.parent_id == parent.id and region.level == row["level"]:
                report.unchanged += 1
        _insert_new(new_rows, by_code, report)
        _repair_tree(rows, report)
        if report.moved:
            # Region figures follow the schools that moved with their regions.
            rollups.rebuild_all()
    return report


def _insert_new(new_rows: list[dict], by_code: dict, report: LoadReport) -> None:
    # Insert level by level so each parent has an id before its children.
    for level in (PROVINCE, CITY, COUNTY):
        batch = [r for r in new_rows if r["level"] == level]
        if not batch:
            continue
        parents = {r.code: r.id for r in Region.select(Region.id, Region.code).where(
            Region.code.in_(list({r["parent"] for r in batch})))}
        stamp = now()
        for chunk in range(0, len(batch), 500):
            Region.insert_many([
                {"code": r["code"], "name": r["name"], "level": r["level"],
                 "parent": parents[r["parent"]], "path": by_code[r["code"]].path,
                 "updated_at": stamp}
                for r in batch[chunk:chunk + 500]]).execute()
        report.added.extend(r["code"] for r in batch)


def _repair_tree(rows: list[dict], report: LoadReport) -> None:
    """Apply changed parents/levels and recompute paths (and schools' copies) that differ."""
    regions = {r.code: r for r in Region.select()}
    wanted_parent = {r["code"]: r["parent"] for r in rows}
    wanted_level = {r["code"]: r["level"] for r in rows}
    code_by_id = {r.id: r.code for r in regions.values()}
    # Parents before children by the levels the list asks for (a promoted county that moves
    # must get its new path before the regions newly hung on it build theirs from it).
    ordered = sorted(regions.values(),
                     key=lambda r: LEVEL_ORDER.get(wanted_level.get(r.code, r.level), 0))
    for region in ordered:
        if region.code == NATION_CODE:
            continue
        parent = regions[wanted_parent.get(region.code)
                         or _current_parent_code(region, code_by_id)]
        level = wanted_level.get(region.code, region.level)
        path = parent.path + region.code
        if (region.parent_id, region.level, region.path) != (parent.id, level, path):
            old_path = region.path
            if region.parent_id is not None and region.parent_id != parent.id:
                report.moved.append(region.code)
            region.parent, region.level, region.path = parent, level, path
            region.updated_at = now()
            region.save()
            if old_path != path:
                # Copies of the path follow the move (schools; codes issued for the region
                # or its schools), so the new parent's admins see them and the old ones don't.
                School.update(region_path=path).where(School.region == region).execute()
                (PermissionCode.update(scope_path=path)
                 .where(PermissionCode.scope_path == old_path).execute())


def _current_parent_code(region: Region, code_by_id: dict[int, str]) -> str:
    """Code of the region's present parent (one dict look-up, not a scan of the tree)."""
    return code_by_id.get(region.parent_id, NATION_CODE)


@dataclass
class RegionNode:
    """A region as the tree shows it: with its counts of sub-regions and schools."""
    region: Region
    child_count: int
    school_count: int


def child_nodes(parent: Region) -> list[RegionNode]:
    """The direct sub-regions of `parent`, each with its counts (schools over the whole subtree)."""
    children = list(Region.select().where(Region.parent == parent).order_by(Region.code))
    if not children:
        return []
    grandchildren = dict(Region.select(Region.parent, fn.COUNT(Region.id))
                         .where(Region.parent.in_([c.id for c in children]))
                         .group_by(Region.parent).tuples())
    schools = school_counts_by_child(parent)
    return [RegionNode(c, grandchildren.get(c.id, 0), schools.get(c.path, 0)) for c in children]


def school_counts_by_child(parent: Region, activated_only: bool = False) -> dict[str, int]:
    """Active schools per child subtree of `parent`, keyed by the child's path (the parent's
    own path counts its 直属 schools), from one grouped query; optionally only those whose
    school admin is bound."""
    prefix = fn.SUBSTR(School.region_path, 1, len(parent.path) + 6)
    query = School.select(prefix.alias("p"), fn.COUNT(School.id.distinct()))
    if activated_only:
        query = query.join(Binding, on=((Binding.school == School.id) & (Binding.role == SCHOOL_ADMIN)
                                        & (Binding.state == "active")))
    rows = query.where(School.in_subtree(parent.path) & (School.status == ACTIVE)).group_by(prefix)
    return dict(rows.tuples())


def direct_schools(region: Region):
    """Active schools hanging directly on `region` (a county's schools; 直属 ones above it)."""
    return (School.select().where((School.region == region) & (School.status != ARCHIVED))
            .order_by(School.code))


def search_regions(scope_path: str, query: str, limit: int = 50) -> list[Region]:
    """Regions inside the scope whose name contains, or code starts with, the query."""
    query = query.strip()[:30]
    if not query:
        return []
    cond = Region.name.contains(query)
    if query.isdigit():
        cond = cond | Region.code.startswith(query)
    return list(Region.select().where(Region.in_subtree(scope_path) & cond
                                      & (Region.level != NATION))
                .order_by(Region.path).limit(limit))

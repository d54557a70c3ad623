"""Regions (行政区划) and schools/institutions (学校、机构)."""
from peewee import (BooleanField, CharField, DateTimeField, ForeignKeyField,
                    IntegerField)

from yanxiu.db import Prepared, slot
from yanxiu.models.base import BaseModel, now

NATION, PROVINCE, CITY, COUNTY = "nation", "province", "city", "county"
LEVEL_LABELS = {NATION: "全国", PROVINCE: "省级", CITY: "地市级", COUNTY: "县区级"}
NATION_CODE = "000000"


def in_subtree(path_field, prefix: str):
    """Expression: `path_field` lies in the subtree whose path is `prefix`.

    Paths are digit strings (codes concatenated), so the subtree is the half-open
    range [prefix, prefix + 1): one indexed range scan that every collation
    orders alike, unlike LIKE. The root's empty path matches everything.
    """
    if not prefix:
        return path_field >= ""
    upper = str(int(prefix) + 1).zfill(len(prefix))
    return (path_field >= prefix) & (path_field < upper)


class Region(BaseModel):
    """A province-, prefecture- or county-level division, or the national root (全国)."""
    code = CharField(max_length=6, unique=True)
    name = CharField(max_length=64)
    level = CharField(max_length=10)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    # Codes from the root down, concatenated: 330000330100330106 (empty for the root).
    path = CharField(max_length=64, index=True)
    is_active = BooleanField(default=True)
    updated_at = DateTimeField(default=now)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @classmethod
    def in_subtree(cls, path: str):
        """Expression selecting the region with this path and every region beneath it."""
        return in_subtree(cls.path, path)

    def ancestors(self) -> list["Region"]:
        """Regions from the root down to and including this one."""
        return Region.chain(self.path)

    @staticmethod
    def chain(path: str, top: str = "") -> list["Region"]:
        """The regions on a path from the root (全国) down, from one query; with `top` (a
        path), only those at or below the region at `top`."""
        codes = [path[i:i + 6] for i in range(max(len(top) - 6, 0), len(path), 6)]
        if not top:
            codes.insert(0, NATION_CODE)
        by_code = {r.code: r for r in _REGIONS_BY_CODE[len(codes)](
            **{f"code{i}": code for i, code in enumerate(codes)})}
        return [by_code[c] for c in codes if c in by_code]


SCHOOL = "school"
INSTITUTION_KINDS = {
    "jiaoyan": "教研机构",
    "dianjiao": "电教机构",
    "jinxiu": "教师进修学校/机构",
    "other_institution": "其他机构",
}
KIND_LABELS = {SCHOOL: "学校", **INSTITUTION_KINDS}
STAGES = ["小学", "初中", "高中", "九年一贯制", "完全中学", "十二年一贯制",
          "中等职业学校", "特殊教育学校", "其他"]
OWNERSHIPS = ["公办", "民办"]
ACTIVE, ARCHIVED = "active", "archived"


class School(BaseModel):
    """A school or an institution (教研/电教/进修机构); both hold teachers and an admin."""
    code = CharField(max_length=10, unique=True)  # 学校标识码
    name = CharField(max_length=100)
    kind = CharField(max_length=20, default=SCHOOL)
    stage = CharField(max_length=20, null=True)  # 学段, schools only
    ownership = CharField(max_length=4, default="公办")  # 办学性质
    region = ForeignKeyField(Region, backref="schools", on_delete="RESTRICT")
    # Copy of region.path so a subtree's schools are one indexed range query.
    region_path = CharField(max_length=64, index=True)
    address = CharField(max_length=200, default="")
    contact_name = CharField(max_length=50, default="")
    contact_phone = CharField(max_length=20, default="")
    status = CharField(max_length=10, default=ACTIVE)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("region", "name"), True),)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @classmethod
    def in_subtree(cls, path: str):
        """Expression selecting the schools of every region beneath (and at) `path`."""
        return in_subtree(cls.region_path, path)


# Region.chain's look-ups, one per path depth (全国 and up to four levels below).
_REGIONS_BY_CODE = {n: Prepared(lambda n=n: Region.select().where(
    Region.code.in_([slot(f"code{i}") for i in range(n)]))) for n in range(1, 6)}

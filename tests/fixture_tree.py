"""A small, readable tree for tests: two provinces plus a municipality, a few schools, every role."""
import csv
from pathlib import Path

from yanxiu.models import Binding, Region, School
from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.services import accounts
from yanxiu.services.regions import load_regions

REGIONS = [
    ("330000", "浙江省", "province", ""),
    ("330100", "杭州市", "city", "330000"),
    ("330102", "上城区", "county", "330100"),
    ("330106", "西湖区", "county", "330100"),
    ("330200", "宁波市", "city", "330000"),
    ("330203", "海曙区", "county", "330200"),
    ("320000", "江苏省", "province", ""),
    ("320100", "南京市", "city", "320000"),
    ("320102", "玄武区", "county", "320100"),
    ("110000", "北京市", "province", ""),
    ("110101", "东城区", "county", "110000"),
]

SCHOOLS = [
    ("3301060001", "西湖区第一小学", "330106", "小学"),
    ("3301060002", "西湖区文新中学", "330106", "初中"),
    ("3301020001", "上城区胜利小学", "330102", "小学"),
    ("3302030001", "海曙区实验小学", "330203", "小学"),
    ("3201020001", "玄武区北京东路小学", "320102", "小学"),
    ("3300000001", "浙江省直属实验学校", "330000", "高中"),
]

# username → (display name, [(role, region code or school code)])
ACCOUNTS = {
    "operator": ("运维员", [(OPERATOR, "000000")]),
    "zj_super": ("浙江超管", [(SUPER, "330000")]),
    "zj_admin": ("浙江专管", [(TRAINING, "330000")]),
    "hz_admin": ("杭州专管", [(TRAINING, "330100")]),
    "xh_admin": ("西湖专管", [(TRAINING, "330106")]),
    "nb_admin": ("宁波专管", [(TRAINING, "330200")]),
    "js_admin": ("江苏专管", [(TRAINING, "320000")]),
    "school_admin": ("西湖校管", [(SCHOOL_ADMIN, "3301060001")]),
    "multi": ("多身份", [(TRAINING, "330106"), (SCHOOL_ADMIN, "3301060002")]),
    "teacher": ("王老师", []),
}


def write_region_csv(rows, directory: Path) -> Path:
    path = Path(directory) / "regions.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["code", "name", "level", "parent_code"])
        writer.writerows(rows)
    return path


def build_fixture_tree(password: str, directory: Path) -> dict:
    """Create the fixture tree (`directory` holds its region file); returns its objects by name."""
    report = load_regions(write_region_csv(REGIONS, directory))
    assert not report.errors, report.errors
    regions = {r.code: r for r in Region.select()}
    schools = {}
    for code, name, region_code, stage in SCHOOLS:
        region = regions[region_code]
        schools[code] = School.create(code=code, name=name, region=region,
                                      region_path=region.path, stage=stage)
    accts = {}
    for username, (display, bindings) in ACCOUNTS.items():
        account = accounts.register(username, display, password)
        accts[username] = account
        for role, scope in bindings:
            if role == SCHOOL_ADMIN:
                Binding.create(account=account, role=role, school=schools[scope])
            else:
                Binding.create(account=account, role=role, region=regions[scope])
    return {"regions": regions, "schools": schools, "accounts": accts}

"""The demo dataset of SPEC §11: the national region tree, 浙江省's schools, the demo accounts
and a few thousand teachers in every state.

`build_demo` refuses a database holding non-demo data. It is idempotent: a second run
finds the marker (the `demo.built` audit row) of the same DEMO_VERSION and scale and
changes nothing; a marker of another version or scale means the demo is wiped (every
table but the regions — the database holds nothing but demo data, see `_refuse_real_data`)
and built again. Everything random is drawn from generators seeded per region, so the
same version and scale always give the same names, codes and admins.
"""
import datetime
import hashlib
import json
import random
import time

from peewee import sort_models
from stdnum.cn import ric

from yanxiu.db import BulkWrite, database, transaction_lock
from yanxiu.models import (ALL_MODELS, Account, AuditLog, Binding, Course, LearningRecord,
                           Membership, Notice, NoticeRecipient, PermissionCode, Programme, Region,
                           School)
from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.base import now
from yanxiu.models.region import CITY, COUNTY, NATION_CODE, SCHOOL
from yanxiu.models.teacher import APPROVED, PENDING, REJECTED, REMOVED, TRANSFERRED
from yanxiu.services import accounts, audit, rollups
from yanxiu.services.regions import load_regions
from yanxiu.services.teachers import REJECT_REASONS, _personal_columns

# Bump when the dataset's content changes, so an older demo database is rebuilt.
DEMO_VERSION = 4
DEMO_PASSWORD = "Demo@2025"
PROVINCE_CODE = "330000"
SEED = 20250701
MAX_SCALE = 100
CHUNK = 500
_PG_DEMO_LOCK = 7_302_025

# The accounts of SPEC §11: username → (display name, role, region code or school name).
XIHU_CODE = "330106"
DEMO_SCHOOL_NAME = "西湖区文新小学"
SPEC_ACCOUNTS = [
    ("operator", "刘建国", OPERATOR, NATION_CODE),
    ("zj_super", "陈志强", SUPER, PROVINCE_CODE),
    ("zj_admin", "林晓燕", TRAINING, PROVINCE_CODE),
    ("hz_admin", "张海峰", TRAINING, "330100"),
    ("xh_admin", "周敏", TRAINING, XIHU_CODE),
    ("nb_admin", "徐立新", TRAINING, "330200"),
    ("school_admin", "沈佳怡", SCHOOL_ADMIN, DEMO_SCHOOL_NAME),
    ("teacher", "王丽", None, None),
]
# Counties where about 60% of the schools have an activated school admin.
SCHOOL_ADMIN_COUNTIES = ["330102", "330106", "330110", "330203", "330212", "330302"]
SCHOOL_ADMIN_SHARE = 0.6
# Share of counties that have an activated training admin / super admin.
COUNTY_TRAINING_SHARE = 0.7
COUNTY_SUPER_SHARE = 0.5


class DemoRefused(Exception):
    """The database holds real (non-demo) data, or the request cannot be met; message in Chinese."""


# --- word lists ------------------------------------------------------------------------------

PLACES = (
    "文新 翠苑 古荡 留下 转塘 双浦 三墩 蒋村 之江 紫金 文三 学军 保俶 求是 行知 崇文 博雅 启明 "
    "星洲 青山 白云 凤凰 桃源 梅林 竹园 长乐 安澜 清河 玉泉 天目 钱江 滨河 江南 湖滨 解放 "
    "人民 中山 胜利 和平 建设 新华 光明 朝阳 红星 城东 城南 城西 城北 东城 南苑 西溪 北山 "
    "金桥 春晖 育才 明珠 德馨 映山 松涛 柳营 杏坛 兰亭 鉴湖 龙山 狮山 象山 鹿山 虎山 "
    "云栖 枫林 望江 观潮 临江 沿江 新塘 塘栖 良渚 仁和 瓶窑 闲林 五常 仓前 径山 黄湖 "
    "横街 石桥 泗水 芦荡 东湖 西湖 南浦 北苑 茶山 竹溪 桂花 荷花 兰溪 梅溪 杨柳 "
    "金沙 银湖 玉湖 碧湖 翠湖 明湖 清湖 新河 大河 小河 双溪 三江 四季 五星 六和 "
    "七里 八一 九曲 十里 百合 千岛 万松 新安 永安 长安 泰安 平安 宁安 怀德 尚德 "
    "崇德 明德 厚德 立德 树人 培英 育英 群英 精英 华丰 华联 华星 丰收 丰乐"
).split()

ROAD_WORDS = (
    "文一 文二 文三 学院 教工 天目山 古墩 余杭塘 紫金港 西溪 保俶 曙光 杨公堤 体育场 "
    "延安 庆春 凤起 环城 解放 人民 中山 建设 新华 光明 朝阳 胜利 和平 迎宾 江滨 滨河 "
    "学府 书院 园丁 育才 科技 创业 文化 振兴 繁荣 兴业 东方 南湖 北山 青年"
).split()
ROAD_SUFFIXES = ["路", "路", "路", "街", "大道"]

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
            "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱江尹薛")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玲建国红梅海燕志宏晓东立新佳怡"
         "文斌雪梅丹萍鹏飞宇浩然子涵思远雨欣嘉怡俊杰慧敏春燕金凤秋云晓峰国平建华")

MOBILE_PREFIXES = ["133", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                   "158", "159", "177", "180", "181", "186", "187", "188", "189", "199"]
AREA_CODES = {"330100": "0571", "330200": "0574", "330300": "0577", "330400": "0573",
              "330500": "0572", "330600": "0575", "330700": "0579", "330800": "0570",
              "330900": "0580", "331000": "0576", "331100": "0578"}

CN_DIGITS = "零一二三四五六七八九"

# 学段 → (weight, name patterns); {p} a place word, {n} a Chinese ordinal. Stages from STAGES.
STAGE_PATTERNS = [
    ("小学", 52, ["{p}小学", "{p}小学", "{p}小学", "{p}中心小学", "第{n}小学", "{p}实验小学"]),
    ("初中", 22, ["{p}初级中学", "{p}中学", "第{n}初级中学", "{p}实验中学"]),
    ("九年一贯制", 9, ["{p}九年一贯制学校", "{p}学校", "{p}实验学校"]),
    ("高中", 6, ["{p}高级中学", "第{n}高级中学"]),
    ("完全中学", 5, ["第{n}中学", "{p}中学"]),
    ("十二年一贯制", 2, ["{p}外国语学校", "{p}双语学校"]),
    ("中等职业学校", 3, ["{p}职业技术学校", "{p}中等职业学校"]),
]
STAGE_WEIGHTS = [w for _, w, _ in STAGE_PATTERNS]
PRIVATE_SHARE = {"十二年一贯制": 0.7, "九年一贯制": 0.15, "中等职业学校": 0.03}
# Numbered schools (第二小学), township centre schools and special schools are public.
PUBLIC_MARKS = ("第", "中心小学", "特殊教育")
DEFAULT_PRIVATE_SHARE = 0.06

# Institutions of every county (and city, province): (kind, name suffix).
INSTITUTIONS = [
    ("jiaoyan", "教育研究院"),
    ("dianjiao", "电化教育馆"),
    ("jinxiu", "教师进修学校"),
]
# Schools directly under a province / city (省直属 / 市直属): (name suffix, stage, ownership).
PROVINCE_DIRECT = [
    ("实验中学", "完全中学", "公办"), ("外国语学校", "十二年一贯制", "公办"),
    ("特殊教育学校", "特殊教育学校", "公办"), ("职业技术学校", "中等职业学校", "公办"),
]
CITY_DIRECT = [
    ("第一高级中学", "高中", "公办"), ("第二高级中学", "高中", "公办"),
    ("实验外国语学校", "十二年一贯制", "民办"), ("特殊教育学校", "特殊教育学校", "公办"),
]


def _cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 103 → 一百零三 (n < 10000)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    units = [(1000, "千"), (100, "百"), (10, "十"), (1, "")]
    out, zero = "", False
    for value, label in units:
        digit = n // value % 10
        if digit:
            if zero and out:
                out += "零"
            out += CN_DIGITS[digit] + label
            zero = False
        elif out:
            zero = True
    return out


def _person(rng: random.Random) -> str:
    given = GIVEN[rng.randrange(len(GIVEN))]
    if rng.random() < 0.6:
        given += GIVEN[rng.randrange(len(GIVEN))]
    return SURNAMES[rng.randrange(len(SURNAMES))] + given


def _phone(rng: random.Random, city_code: str) -> str:
    if rng.random() < 0.75:
        return rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))
    return f"{AREA_CODES.get(city_code, '0571')}-8{rng.randrange(10**7):07d}"


def _address(rng: random.Random, prefix: str) -> str:
    road = rng.choice(ROAD_WORDS) + rng.choice(ROAD_SUFFIXES)
    return f"{prefix}{road}{rng.randint(1, 999)}号"


class _Names:
    """Unique school names inside one region."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.seen: set[str] = set()
        self.ordinals: dict[str, int] = {}

    def take(self, name: str) -> bool:
        if name in self.seen:
            return False
        self.seen.add(name)
        return True

    def school(self, rng: random.Random, patterns: list[str]) -> str:
        for _ in range(20):
            pattern = rng.choice(patterns)
            if "{n}" in pattern:
                return self.numbered(rng, pattern)
            name = self.prefix + pattern.format(p=rng.choice(PLACES))
            if self.take(name):
                return name
        # Numbered names never run out: 第一外国语学校, 第二外国语学校, …
        numbered = next((p for p in patterns if "{n}" in p), patterns[0].replace("{p}", "第{n}"))
        return self.numbered(rng, numbered)

    def numbered(self, rng: random.Random, pattern: str) -> str:
        while True:
            n = self.ordinals.get(pattern, 0) + 1
            self.ordinals[pattern] = n
            name = self.prefix + pattern.format(p=rng.choice(PLACES), n=_cn_number(n))
            if self.take(name):
                return name


# --- the build -------------------------------------------------------------------------------

def build_demo(scale: int = 1) -> str:
    """Build (or confirm) the demo dataset; returns a short English summary."""
    if not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise DemoRefused(f"演示数据规模须为 1–{MAX_SCALE} 之间的整数（收到：{scale}）")
    started = time.perf_counter()
    with database.atomic():
        # Several containers starting at once: one builds, the others then find it built.
        transaction_lock(_PG_DEMO_LOCK)
        _refuse_real_data()
        marker = _marker()
        if marker and marker.get("version") == DEMO_VERSION and marker.get("scale") == scale:
            school = School.get_or_none(School.name == DEMO_SCHOOL_NAME)
            return (f"demo dataset already built (version {DEMO_VERSION}, scale {scale}): "
                    f"{marker.get('schools', 0)} schools and institutions, "
                    f"{marker.get('accounts', 0)} accounts; nothing changed"
                    + (f"; school_admin manages {school.name}" if school else ""))
        wiped = _wipe() if (marker or Account.select().exists()) else False
        report = load_regions()
        if report.errors:
            raise DemoRefused("内置行政区划数据有误：" + "；".join(report.errors[:5]))
        counts = _populate(scale)
        audit.record("demo.built", target_type="demo", target_id=str(DEMO_VERSION),
                     after={"version": DEMO_VERSION, "scale": scale, **counts})
    elapsed = time.perf_counter() - started
    return (f"demo dataset built in {elapsed:.1f}s (scale {scale}"
            f"{', previous demo wiped' if wiped else ''}): regions added {len(report.added)}; "
            f"浙江省: {counts['schools']} schools and institutions "
            f"({counts['county_schools']} county schools, {counts['institutions']} institutions, "
            f"{counts['direct_schools']} 省/市直属 schools); {counts['accounts']} accounts, "
            f"{counts['bindings']} bindings ({counts['school_admins']} school admins); "
            f"{counts['teachers']} teachers ({counts['teachers_approved']} approved, "
            f"{counts['teachers_pending']} pending, {counts['teachers_rejected']} rejected, "
            f"{counts['teachers_removed']} removed, {counts['teachers_transferred']} moved); "
            f"programme {PROGRAMME['name']} with {counts['records']} learning records; "
            f"password {DEMO_PASSWORD}; school_admin manages {DEMO_SCHOOL_NAME}")


def _refuse_real_data() -> None:
    """Non-demo data: any non-demo account, or schools the demo did not create."""
    if Account.select().where(Account.is_demo == False).exists():  # noqa: E712
        raise DemoRefused("数据库中已有非演示账号（真实数据），演示数据命令拒绝运行；"
                          "请改用一个新的空数据库（设置 YANXIU_DATABASE_URL）")
    if _marker() is None and School.select().exists():
        raise DemoRefused("数据库中已有学校数据（不是演示命令创建的），演示数据命令拒绝运行；"
                          "请改用一个新的空数据库（设置 YANXIU_DATABASE_URL）")


def _marker() -> dict | None:
    """The counts of the last demo build, from its `demo.built` audit row."""
    row = (AuditLog.select(AuditLog.after).where(AuditLog.action == "demo.built")
           .order_by(AuditLog.id.desc()).first())
    if row is None:
        return None
    try:
        return json.loads(row.after)
    except ValueError:
        return {}


def _wipe() -> bool:
    """Delete every row but the regions (and the migration table): all of it is demo data."""
    for model in reversed(sort_models(ALL_MODELS)):
        if model is not Region:
            model.delete().execute()
    return True


def _insert(model, rows: list[dict]) -> None:
    """Insert rows of one shape with one prepared statement (peewee's insert_many would
    render every value into SQL, the slowest part of building the demo)."""
    if not rows:
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"{model.__name__} rows of different shapes")
    values = [tuple(f.db_value(row[f.name]) for f in fields) for row in rows]
    BulkWrite(lambda first: model.insert_many(first, fields=fields))(values)


def _populate(scale: int) -> dict:
    province = Region.get(Region.code == PROVINCE_CODE)
    cities = list(Region.select().where(Region.in_subtree(province.path) & (Region.level == CITY))
                  .order_by(Region.code))
    counties = list(Region.select().where(Region.in_subtree(province.path) & (Region.level == COUNTY))
                    .order_by(Region.code))
    city_of = {c.id: c for c in cities}
    stamp = now()

    school_rows: list[dict] = []
    counts = {"county_schools": 0, "institutions": 0, "direct_schools": 0}

    def add(region: Region, seq: int, name: str, kind: str, stage, ownership: str,
            rng: random.Random, address_prefix: str, city_code: str) -> None:
        if seq >= 10000:
            raise DemoRefused(f"{region.name}的学校数量超出学校标识码的编号范围，请减小规模")
        school_rows.append({
            "code": f"{region.code}{seq:04d}", "name": name, "kind": kind, "stage": stage,
            "ownership": ownership, "region": region.id, "region_path": region.path,
            "address": _address(rng, address_prefix), "contact_name": _person(rng),
            "contact_phone": _phone(rng, city_code), "status": "active", "version": 1,
            "created_at": stamp, "updated_at": stamp,
        })

    # 省直属: a few schools and the provincial institutions, in 杭州市.
    rng = random.Random(f"{SEED}-{province.code}")
    seq = 0
    for suffix, stage, ownership in PROVINCE_DIRECT:
        seq += 1
        add(province, seq, province.name + suffix, SCHOOL, stage, ownership, rng,
            "浙江省杭州市", "330100")
        counts["direct_schools"] += 1
    for kind, suffix in INSTITUTIONS:
        seq += 1
        add(province, seq, province.name + suffix, kind, None, "公办", rng, "浙江省杭州市", "330100")
        counts["institutions"] += 1

    # 市直属: a few schools (more at a larger scale) and the city's institutions.
    for city in cities:
        rng = random.Random(f"{SEED}-{city.code}")
        names = _Names(city.name)
        seq = 0
        prefix = f"{province.name}{city.name}"
        for suffix, stage, ownership in CITY_DIRECT:
            seq += 1
            names.take(city.name + suffix)
            add(city, seq, city.name + suffix, SCHOOL, stage, ownership, rng, prefix, city.code)
            counts["direct_schools"] += 1
        for _ in range(len(CITY_DIRECT) * (scale - 1)):
            seq += 1
            add(city, seq, names.school(rng, ["第{n}高级中学"]), SCHOOL, "高中", "公办", rng,
                prefix, city.code)
            counts["direct_schools"] += 1
        for kind, suffix in INSTITUTIONS:
            seq += 1
            add(city, seq, city.name + suffix, kind, None, "公办", rng, prefix, city.code)
            counts["institutions"] += 1

    # Every county: 30–60 schools per unit of scale, then its three institutions.
    for county in counties:
        rng = random.Random(f"{SEED}-{county.code}")
        city = city_of.get(county.parent_id)
        city_code = city.code if city else "330100"
        prefix = f"{province.name}{city.name if city else ''}{county.name}"
        names = _Names(county.name)
        total = rng.randint(30, 60) * scale
        if county.code == XIHU_CODE:
            total = max(total, 56 * scale)  # 西湖区's list always pages
        special_at = rng.randint(2, total)
        seq = 0
        if county.code == XIHU_CODE:
            seq += 1
            names.take(DEMO_SCHOOL_NAME)
            add(county, seq, DEMO_SCHOOL_NAME, SCHOOL, "小学", "公办", rng, prefix, city_code)
        while seq < total:
            seq += 1
            if seq == special_at:
                # One 特殊教育学校 per county (counties over 300k people must have one).
                stage, name = "特殊教育学校", names.prefix + "特殊教育学校"
                names.take(name)
            else:
                stage, _, patterns = rng.choices(STAGE_PATTERNS, weights=STAGE_WEIGHTS)[0]
                name = names.school(rng, patterns)
            private = (rng.random() < PRIVATE_SHARE.get(stage, DEFAULT_PRIVATE_SHARE)
                       and not any(mark in name for mark in PUBLIC_MARKS))
            add(county, seq, name, SCHOOL, stage, "民办" if private else "公办", rng, prefix,
                city_code)
            counts["county_schools"] += 1
        for kind, suffix in INSTITUTIONS:
            seq += 1
            add(county, seq, county.name + suffix, kind, None, "公办", rng, prefix, city_code)
            counts["institutions"] += 1

    _insert(School, school_rows)
    counts["schools"] = len(school_rows)
    password_hash = accounts.hash_password(DEMO_PASSWORD)
    counts.update(_create_accounts(province, cities, counties, stamp, password_hash))
    counts.update(_create_codes(province, stamp))
    counts.update(_create_notices(stamp))
    counts.update(_create_teachers(province, stamp, password_hash))
    counts.update(_create_programme(stamp))
    return counts


def _create_accounts(province: Region, cities: list[Region], counties: list[Region], stamp,
                     password_hash: str) -> dict:
    """The SPEC §11 accounts, then lifelike bulk admins; one password hash for all."""
    regions = {r.code: r.id for r in [province, *cities, *counties]}
    regions[NATION_CODE] = Region.get(Region.code == NATION_CODE).id
    accts: list[dict] = []
    grants: list[tuple[str, str, str | None, str | None]] = []  # username, role, region, school

    def account(username: str, display_name: str) -> None:
        accts.append({"username": username, "display_name": display_name,
                      "password_hash": password_hash, "is_active": True, "is_demo": True,
                      "created_at": stamp, "password_changed_at": stamp})

    for username, display_name, role, scope in SPEC_ACCOUNTS:
        account(username, display_name)
        if role == SCHOOL_ADMIN:
            grants.append((username, role, None, scope))
        elif role is not None:
            grants.append((username, role, scope, None))

    rng = random.Random(f"{SEED}-admins")
    # A super admin and a training admin in every city; most counties have them too.
    for region in [*cities, *counties]:
        is_city = region.level == CITY
        if is_city or rng.random() < COUNTY_SUPER_SHARE:
            username = f"super_{region.code}"
            account(username, _person(rng))
            grants.append((username, SUPER, region.code, None))
        if is_city or rng.random() < COUNTY_TRAINING_SHARE:
            username = f"demo_{region.code}"
            account(username, _person(rng))
            grants.append((username, TRAINING, region.code, None))

    # About 60% of the schools of a few counties have their school admin activated.
    county_ids = [regions[c] for c in SCHOOL_ADMIN_COUNTIES if c in regions]
    schools = list(School.select(School.code, School.name).where(School.region.in_(county_ids))
                   .order_by(School.code).tuples())
    for code, name in schools:
        if name == DEMO_SCHOOL_NAME or rng.random() >= SCHOOL_ADMIN_SHARE:
            continue
        username = f"sa_{code}"
        account(username, _person(rng))
        grants.append((username, SCHOOL_ADMIN, None, code))

    _insert(Account, accts)
    account_ids = dict(Account.select(Account.username, Account.id).tuples())
    school_ids = dict(School.select(School.code, School.id)
                      .where(School.in_subtree(province.path)).tuples())
    school_ids[DEMO_SCHOOL_NAME] = School.get((School.region == regions[XIHU_CODE])
                                              & (School.name == DEMO_SCHOOL_NAME)).id
    _insert(Binding, [{
        "account": account_ids[username], "role": role,
        "region": regions[region] if region else None,
        "school": school_ids[school] if school else None,
        "state": "active", "created_at": stamp, "end_reason": "",
    } for username, role, region, school in grants])
    return {"accounts": len(accts), "bindings": len(grants),
            "school_admins": sum(1 for g in grants if g[1] == SCHOOL_ADMIN)}


def _demo_code_hash(rng: random.Random) -> str:
    """The hash of a code nobody will type (the demo's history of handed-over codes)."""
    return hashlib.sha256(f"demo-{rng.random()}".encode()).hexdigest()


def _create_codes(province: Region, stamp) -> dict:
    """Codes as the rules would have issued them: a used one behind every binding, plus
    unused, soon-expiring, expired and revoked ones for 未激活 regions and schools."""
    rng = random.Random(f"{SEED}-codes")
    accounts_by_name = dict(Account.select(Account.username, Account.id).tuples())
    region_by_id = {r.id: r for r in Region.select().where(Region.in_subtree(province.path))}
    region_by_id[province.parent_id] = Region.get_by_id(province.parent_id)
    supers = dict(Binding.select(Binding.region, Binding.account)
                  .where(Binding.role == SUPER).tuples())
    trainings = dict(Binding.select(Binding.region, Binding.account)
                     .where(Binding.role == TRAINING).tuples())
    operator = accounts_by_name["operator"]

    def issuer(role: str, region: Region) -> int:
        """Who could have issued it: the super admin above (or the region's own, for training)."""
        if role == SUPER:
            return supers.get(region.parent_id, operator)
        if role == TRAINING:
            return supers.get(region.id) or supers.get(region.parent_id, operator)
        return trainings.get(region.id) or supers.get(region.id, operator)

    rows = []

    def code(role, region, school, issued_days_ago, valid_days, state="unused", binding=None):
        issued_at = stamp - datetime.timedelta(days=issued_days_ago)
        rows.append({
            "code_hash": _demo_code_hash(rng), "role": role,
            "region": region.id if school is None else None, "school": school.id if school else None,
            "scope_path": region.path, "issued_by": issuer(role, region), "issued_at": issued_at,
            "expires_at": issued_at + datetime.timedelta(days=valid_days), "state": state,
            "used_by": binding.account_id if binding else None, "binding": binding.id if binding else None,
            "used_at": issued_at + datetime.timedelta(days=1) if binding else None,
            "revoked_at": issued_at + datetime.timedelta(days=2) if state == "revoked" else None,
            "revoked_by": issuer(role, region) if state == "revoked" else None,
        })

    for binding in Binding.select().where(Binding.role != "operator"):
        school = binding.school if binding.school_id else None
        region = region_by_id[school.region_id] if school else region_by_id[binding.region_id]
        code(binding.role, region, school, rng.randint(20, 60), 30, "used", binding)
    for region in region_by_id.values():
        if region.level == COUNTY and region.id not in supers and region.parent_id in supers:
            days = rng.choice([3, 10, 25, 40])  # 40 days ago: expired
            code(SUPER, region, None, days, 30, "revoked" if rng.random() < 0.1 else "unused")
    inactive = (School.select().where(School.region.in_(
        [r.id for r in region_by_id.values() if r.code in SCHOOL_ADMIN_COUNTIES]))
        .where(School.id.not_in(Binding.select(Binding.school).where(Binding.school.is_null(False))))
        .order_by(School.code))
    for school in inactive:
        if rng.random() < 0.5:
            code(SCHOOL_ADMIN, region_by_id[school.region_id], school, rng.choice([2, 26, 45]), 30)
    _insert(PermissionCode, rows)
    return {"codes": len(rows)}


def _create_notices(stamp) -> dict:
    """A few 督促 down the chain, some read, one waiting on school_admin's workbench."""
    accounts_by_name = dict(Account.select(Account.username, Account.id).tuples())
    bindings = {b.account_id: b for b in Binding.select()}
    regions = {r.code: r for r in Region.select().where(Region.code.in_(
        ["330000", "330100", "330200", "330300", "330106", "330102"]))}
    demo_school = School.get(School.name == DEMO_SCHOOL_NAME)
    sent = [
        ("zj_admin", "请各市督促辖区内区县尽快完成研修专项管理员激活。",
         [("region", regions["330100"], "hz_admin"), ("region", regions["330200"], None),
          ("region", regions["330300"], None)], 5),
        ("hz_admin", "西湖区、上城区尚有学校管理员未激活，请于本周内完成。",
         [("region", regions["330106"], "xh_admin"), ("region", regions["330102"], None)], 3),
        ("xh_admin", "请学校管理员登录平台审核本校教师的实名信息。",
         [("school", demo_school, None)], 1),
    ]
    count = 0
    for sender, body, targets, days_ago in sent:
        account_id = accounts_by_name[sender]
        binding = bindings[account_id]
        created = stamp - datetime.timedelta(days=days_ago)
        notice = Notice.create(kind="urge", body=body, sender=account_id, sender_binding=binding,
                               scope_path=binding.region.path, created_at=created)
        NoticeRecipient.insert_many([{
            "notice": notice.id,
            "region": target.id if kind == "region" else None,
            "school": target.id if kind == "school" else None,
            "read_at": created + datetime.timedelta(hours=6) if reader else None,
            "read_by": accounts_by_name[reader] if reader else None,
        } for kind, target, reader in targets]).execute()
        count += 1
    return {"notices": count}


# --- teachers --------------------------------------------------------------------------------

# The demo `teacher` account: an approved teacher of the demo school.
DEMO_TEACHER = {"username": "teacher", "name": "王丽", "gender": "女", "stage": "小学",
                "subject": "语文", "title": "一级教师"}
FEMALE_GIVEN = "丽芳娜敏静艳秀霞桂英玲红梅燕雪丹萍欣怡涵婷倩颖琳洁慧佳蕾璐晶莉菲瑶琴月晓"
MALE_GIVEN = "伟强磊军洋勇杰涛明超平刚华建国海志宏东新斌鹏飞宇浩然远俊峰辉波亮健林永"
# Teachers of a school whose admin is activated, by the school's 学段 (None: an institution).
STAFF_SIZE = {"小学": (12, 32), "初中": (12, 32), "九年一贯制": (18, 40), "高中": (18, 40),
              "完全中学": (20, 45), "十二年一贯制": (25, 50), "中等职业学校": (12, 30),
              "特殊教育学校": (4, 10), "其他": (4, 10), None: (2, 6)}
# The school's 学段 → the 任教学段 of its teachers (repeats weight the common one).
TEACHING_STAGES_OF = {"小学": ["小学"], "初中": ["初中"], "高中": ["高中"],
                      "九年一贯制": ["小学", "小学", "初中"], "完全中学": ["初中", "高中"],
                      "十二年一贯制": ["小学", "初中", "高中"], "中等职业学校": ["中等职业学校"],
                      "特殊教育学校": ["特殊教育"]}
OTHER_TEACHING_STAGES = ["小学", "初中", "高中"]
# 任教学段 → (subject, weight); 浙江's 初中 teach 科学 as one subject.
SUBJECTS_OF = {
    "小学": [("语文", 30), ("数学", 25), ("英语", 10), ("科学", 6), ("道德与法治", 5),
             ("体育与健康", 7), ("音乐", 5), ("美术", 5), ("信息科技", 3), ("综合实践活动", 2),
             ("劳动", 1), ("心理健康", 1), ("书法", 1)],
    "初中": [("语文", 16), ("数学", 16), ("英语", 15), ("科学", 12), ("道德与法治", 6),
             ("历史", 6), ("地理", 3), ("体育与健康", 8), ("音乐", 3), ("美术", 3),
             ("信息科技", 3), ("心理健康", 2)],
    "高中": [("语文", 13), ("数学", 13), ("英语", 12), ("物理", 8), ("化学", 7), ("生物学", 6),
             ("思想政治", 6), ("历史", 6), ("地理", 6), ("信息技术", 4), ("通用技术", 3),
             ("体育与健康", 6), ("音乐", 2), ("美术", 2), ("心理健康", 2), ("日语", 1)],
    "中等职业学校": [("专业课", 50), ("语文", 10), ("数学", 10), ("英语", 8), ("思想政治", 6),
                     ("体育与健康", 6), ("信息技术", 6), ("艺术", 2), ("心理健康", 2)],
    "特殊教育": [("特殊教育", 50), ("语文", 12), ("数学", 12), ("体育与健康", 8), ("音乐", 6),
                 ("美术", 6), ("劳动", 6)],
}
# Born in or after the year → (职称, weight); "" is a teacher who left it blank.
TITLES_BY_BIRTH = [
    (1998, [("未定级", 6), ("二级教师", 3), ("", 1)]),
    (1990, [("二级教师", 5), ("一级教师", 4), ("", 1)]),
    (1978, [("一级教师", 5), ("高级教师", 4), ("二级教师", 1)]),
    (0, [("高级教师", 12), ("一级教师", 6), ("正高级教师", 1)]),
]
REMOVE_REASONS = ["调离教学岗位", "已退休", "已辞职", "调往外省任教"]
# Schools without an admin yet: a few have applications waiting for one.
PENDING_AT_INACTIVE = 0.04
PENDING_PER_SCHOOL = ([0, 1, 2, 3, 4], [30, 30, 20, 12, 8])
REJECTED_PER_SCHOOL = ([0, 1, 2], [55, 30, 15])
REMOVED_SHARE = 0.15
DAY = 86_400


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


class _Teachers:
    """The teachers of one build: unique 身份证号 and 手机号, usernames per school, and the
    account and membership rows waiting to be inserted one region at a time."""

    def __init__(self, birthplaces: list[str], stamp, password_hash: str):
        self.birthplaces = birthplaces
        self.stamp = stamp
        self.password_hash = password_hash
        self.id_numbers: set[str] = set()
        self.mobiles: set[str] = set()
        self.per_school: dict[int, int] = {}
        self.accounts: list[dict] = []
        self.rows: list[dict] = []
        self.counts = {"teachers": 0, **{f"teachers_{s}": 0 for s in
                                         (APPROVED, PENDING, REJECTED, REMOVED, TRANSFERRED)}}

    def ago(self, rng: random.Random, low_days: float, high_days: float) -> datetime.datetime:
        return self.stamp - datetime.timedelta(seconds=rng.randint(int(low_days * DAY),
                                                                   int(high_days * DAY)))

    def later(self, rng: random.Random, moment: datetime.datetime, hours: int) -> datetime.datetime:
        """A decision some hours after `moment`, never in the future."""
        return min(moment + datetime.timedelta(minutes=rng.randint(30, hours * 60)), self.stamp)

    def id_number(self, rng: random.Random, home: str | None, male: bool) -> tuple[str, int]:
        """A valid, unused 身份证号 (mostly issued in the school's county) and its birth year."""
        while True:
            place = home if home and rng.random() < 0.8 else rng.choice(self.birthplaces)
            birth = datetime.date(rng.randint(1965, 2000), 1, 1) + datetime.timedelta(
                days=rng.randrange(365))
            body = f"{place}{birth:%Y%m%d}{rng.randrange(500) * 2 + male:03d}"  # odd: a man
            number = body + ric.calc_check_digit(body + "0")  # the last character is ignored
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number, birth.year

    def mobile(self, rng: random.Random) -> str:
        while True:
            number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def person(self, rng: random.Random, school, home: str | None, **fixed) -> dict:
        """A new teacher first applying to `school`: the account, and what they submit."""
        stage = fixed.get("stage") or rng.choice(TEACHING_STAGES_OF.get(school.stage,
                                                                        OTHER_TEACHING_STAGES))
        female = fixed["gender"] == "女" if "gender" in fixed else (
            rng.random() < (0.8 if stage in ("小学", "特殊教育") else 0.6))
        id_number, born = self.id_number(rng, home, not female)
        given = FEMALE_GIVEN if female else MALE_GIVEN
        name = SURNAMES[rng.randrange(len(SURNAMES))] + "".join(
            rng.choice(given) for _ in range(2 if rng.random() < 0.65 else 1))
        title = _weighted(rng, next(t for year, t in TITLES_BY_BIRTH if born >= year))
        data = {"name": name, "gender": "女" if female else "男", "id_number": id_number,
                "phone": self.mobile(rng), "stage": stage,
                "subject": _weighted(rng, SUBJECTS_OF[stage]), "title": title} | fixed
        if "username" not in fixed:
            n = self.per_school[school.id] = self.per_school.get(school.id, 0) + 1
            data["username"] = f"t{school.code}{n:03d}"
            self.accounts.append({"username": data["username"], "display_name": data["name"],
                                  "password_hash": self.password_hash, "is_active": True,
                                  "is_demo": True, "created_at": self.ago(rng, 60, 90),
                                  "password_changed_at": self.stamp})
            self.counts["teachers"] += 1
        return data

    def row(self, person: dict, school, state: str, submitted, admin=None, decided=None,
            reason: str = "", ended=None, ended_by=None, end_reason: str = "") -> None:
        """One application as the review flow leaves it (personal data built as the service does)."""
        binding, account = admin if decided else (None, None)
        self.rows.append({
            "account": person["username"], "school": school.id, "state": state,
            **_personal_columns(person), "submitted_at": submitted, "decided_at": decided,
            "decided_by": account, "decided_binding": binding, "reason": reason,
            "ended_at": ended, "ended_by": ended_by, "end_reason": end_reason,
            "version": {PENDING: 1, APPROVED: 2, REJECTED: 2}.get(state, 3),
        })
        self.counts[f"teachers_{state}"] += 1

    def approved(self, rng, school, home, admin, person=None) -> dict:
        person = person or self.person(rng, school, home)
        submitted = self.ago(rng, 20, 60)
        self.row(person, school, APPROVED, submitted, admin, self.later(rng, submitted, 72))
        return person

    def pending(self, rng, school, home, person=None) -> None:
        self.row(person or self.person(rng, school, home), school, PENDING, self.ago(rng, 0, 12))

    def rejected(self, rng, school, home, admin) -> None:
        submitted = self.ago(rng, 1, 30)
        self.row(self.person(rng, school, home), school, REJECTED, submitted, admin,
                 self.later(rng, submitted, 48), reason=rng.choice(REJECT_REASONS))

    def removed(self, rng, school, home, admin) -> None:
        submitted = self.ago(rng, 40, 60)
        self.row(self.person(rng, school, home), school, REMOVED, submitted, admin,
                 self.later(rng, submitted, 72), ended=self.ago(rng, 1, 15), ended_by=admin[1],
                 end_reason=rng.choice(REMOVE_REASONS))

    def moved(self, rng, old, new, home, admins) -> None:
        """调动 done: 已调出 at the old school, a member of the new one since the approval."""
        person = self.person(rng, old, home)
        submitted = self.ago(rng, 45, 60)
        moved_at = self.ago(rng, 2, 20)
        self.row(person, old, TRANSFERRED, submitted, admins[old.id],
                 self.later(rng, submitted, 72), ended=moved_at, ended_by=admins[new.id][1],
                 end_reason=f"调入{new.name}")
        self.row(self._refit(rng, person, new), new, APPROVED,
                 moved_at - datetime.timedelta(hours=rng.randint(2, 72)), admins[new.id], moved_at)

    def moving(self, rng, old, new, home, admins) -> None:
        """调动 waiting: a member of the old school, applying to the new one."""
        person = self.approved(rng, old, home, admins[old.id])
        self.pending(rng, new, home, self._refit(rng, person, new))

    def _refit(self, rng, person: dict, school) -> dict:
        """The same person's application to another school: 任教学段 (and subject) to suit it."""
        stages = TEACHING_STAGES_OF.get(school.stage, OTHER_TEACHING_STAGES)
        if person["stage"] in stages:
            return person
        stage = rng.choice(stages)
        subjects = [s for s, _ in SUBJECTS_OF[stage]]
        return person | {"stage": stage, "subject": person["subject"] if person["subject"]
                         in subjects else _weighted(rng, SUBJECTS_OF[stage])}

    def flush(self, region_code: str, known: dict[str, int]) -> None:
        """Insert the region's accounts, then its memberships pointing at them."""
        _insert(Account, self.accounts)
        ids = dict(Account.select(Account.username, Account.id)
                   .where(Account.username.startswith(f"t{region_code}")).tuples()) | known
        for row in self.rows:
            row["account"] = ids[row["account"]]
        _insert(Membership, self.rows)
        self.accounts, self.rows = [], []


def _create_teachers(province: Region, stamp, password_hash: str) -> dict:
    """Teachers as the review flow would have left them: members, applications waiting,
    rejections and removals at schools whose admin is activated (someone had to decide),
    a few applications waiting at schools without one, and moves between a county's schools.
    The demo school has all of it, so school_admin's review page has work."""
    admins = {school: (binding, account) for binding, account, school in
              Binding.select(Binding.id, Binding.account, Binding.school)
              .where(Binding.role == SCHOOL_ADMIN).tuples()}
    regions = {r.id: r for r in Region.select().where(Region.in_subtree(province.path))}
    by_region: dict[int, list] = {}
    for school in (School.select(School.id, School.code, School.name, School.stage, School.region)
                   .where(School.in_subtree(province.path)).order_by(School.code).namedtuples()):
        by_region.setdefault(school.region, []).append(school)
    made = _Teachers(sorted(r.code for r in regions.values() if r.level == COUNTY), stamp,
                     password_hash)
    known = {"teacher": Account.get(Account.username == "teacher").id}
    for region in sorted((regions[r] for r in by_region), key=lambda r: r.code):
        rng = random.Random(f"{SEED}-teachers-{region.code}")
        home = region.code if region.level == COUNTY else None
        schools = by_region[region.id]
        for school in schools:
            admin = admins.get(school.id)
            if admin is None:
                if rng.random() < PENDING_AT_INACTIVE:
                    for _ in range(rng.randint(1, 2)):
                        made.pending(rng, school, home)
                continue
            for _ in range(rng.randint(*STAFF_SIZE.get(school.stage, STAFF_SIZE["其他"]))):
                made.approved(rng, school, home, admin)
            for _ in range(rng.choices(*PENDING_PER_SCHOOL)[0]):
                made.pending(rng, school, home)
            for _ in range(rng.choices(*REJECTED_PER_SCHOOL)[0]):
                made.rejected(rng, school, home, admin)
            if rng.random() < REMOVED_SHARE:
                made.removed(rng, school, home, admin)
        active = [s for s in schools if s.id in admins]
        if region.code == XIHU_CODE:
            _staff_demo_school(made, rng, active, admins)
        elif len(active) >= 2:
            for _ in range(rng.randint(1, 3)):
                made.moved(rng, *rng.sample(active, 2), home, admins)
            made.moving(rng, *rng.sample(active, 2), home, admins)
        made.flush(region.code, known)
    return made.counts


def _staff_demo_school(made: _Teachers, rng: random.Random, active: list, admins: dict) -> None:
    """The demo school: the `teacher` account a member, a full review queue with a teacher
    moving in, a teacher who moved out (已调出), a rejection and a removal."""
    demo = next(s for s in active if s.name == DEMO_SCHOOL_NAME)
    others = [s for s in active if s.id != demo.id]
    admin = admins[demo.id]
    made.approved(rng, demo, XIHU_CODE, admin, made.person(rng, demo, XIHU_CODE, **DEMO_TEACHER))
    for _ in range(4):
        made.pending(rng, demo, XIHU_CODE)
    made.rejected(rng, demo, XIHU_CODE, admin)
    made.removed(rng, demo, XIHU_CODE, admin)
    made.moved(rng, demo, rng.choice(others), XIHU_CODE, admins)
    made.moving(rng, rng.choice(others), demo, XIHU_CODE, admins)
    for _ in range(rng.randint(1, 2)):
        made.moved(rng, *rng.sample(others, 2), XIHU_CODE, admins)


PROGRAMME = {"name": "2025年暑期教师研修", "kind": "summer", "start_date": datetime.date(2025, 7, 1),
             "end_date": datetime.date(2025, 8, 31), "minutes_per_hour": 45, "required_hours": 10}
# name, length in minutes, most 学时 it credits
PROGRAMME_COURSES = [("师德师风专题教育", 135, 3), ("数字素养与技能提升", 180, 3),
                     ("心理健康教育与班级管理", 90, 2), ("科学教育与实验教学", 90, 2),
                     ("安全教育专题", 90, 2)]


def _create_programme(stamp) -> dict:
    """SPEC §11's programme with learning records: each county and school has its own
    diligence, so participation and completion rates differ between regions; `teacher`
    has finished some courses but not all. Rollups are then computed from the records."""
    operator = Account.get(Account.username == "operator")
    programme = Programme.create(**PROGRAMME, created_by=operator, created_at=stamp, updated_at=stamp)
    courses = [Course.create(programme=programme, name=name, minutes=minutes, max_hours=cap)
               for name, minutes, cap in PROGRAMME_COURSES]
    start = datetime.datetime.combine(PROGRAMME["start_date"], datetime.time()) - datetime.timedelta(hours=8)
    days = (PROGRAMME["end_date"] - PROGRAMME["start_date"]).days + 1
    members = (Membership.select(Membership.account, School.region_path, Membership.school)
               .join(School, on=(Membership.school == School.id))
               .where(Membership.state == APPROVED).order_by(Membership.account).tuples())
    teacher = Account.get(Account.username == "teacher")
    rows, county_effort, school_effort = [], {}, {}
    for account_id, path, school_id in members:
        if account_id == teacher.id:
            continue  # below: a known, unfinished record
        rng = random.Random(f"{SEED}-records-{account_id}")
        effort = county_effort.setdefault(path, random.Random(f"{SEED}-{path}").uniform(0.35, 0.95))
        effort *= school_effort.setdefault(school_id, random.Random(f"{SEED}-{school_id}").uniform(0.75, 1.1))
        if rng.random() > effort:
            continue  # 未参训
        for _ in range(rng.randint(6, 22) if rng.random() < effort else rng.randint(1, 5)):
            course = rng.choice(courses)
            when = start + datetime.timedelta(days=rng.randrange(days), minutes=rng.randrange(6 * 60, 23 * 60))
            rows.append((f"demo-{len(rows) + 1}", account_id, programme.id, course.id,
                         rng.choice((20, 30, 45, 45, 60, 90)), when, "api", None, when))
    for n, (course, minutes) in enumerate(zip(courses, (135, 90, 90, 0, 0))):
        if minutes:
            when = start + datetime.timedelta(days=3 + n * 5, hours=12)
            rows.append((f"demo-teacher-{n}", teacher.id, programme.id, course.id, minutes, when, "api",
                         None, when))
    fields = [LearningRecord.external_id, LearningRecord.account, LearningRecord.programme,
              LearningRecord.course, LearningRecord.minutes, LearningRecord.occurred_at,
              LearningRecord.source, LearningRecord.token, LearningRecord.received_at]
    BulkWrite(lambda first: LearningRecord.insert_many(first, fields=fields))(rows)
    rollups.rebuild_programme(programme)
    return {"records": len(rows)}

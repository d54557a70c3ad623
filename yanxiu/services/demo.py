"""The demo dataset of SPEC §11: the national region tree, 浙江省's schools and the demo accounts.

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

from yanxiu.db import database, transaction_lock
from yanxiu.models import (ALL_MODELS, Account, AuditLog, Binding, Notice, NoticeRecipient,
                           PermissionCode, Region, School)
from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.base import now
from yanxiu.models.region import CITY, COUNTY, NATION_CODE, SCHOOL
from yanxiu.services import accounts, audit
from yanxiu.services.regions import load_regions

# Bump when the dataset's content changes, so an older demo database is rebuilt.
DEMO_VERSION = 2
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
    for i in range(0, len(rows), CHUNK):
        model.insert_many(rows[i:i + CHUNK]).execute()


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
    counts.update(_create_accounts(province, cities, counties, stamp))
    counts.update(_create_codes(province, stamp))
    counts.update(_create_notices(stamp))
    return counts


def _create_accounts(province: Region, cities: list[Region], counties: list[Region], stamp) -> dict:
    """The SPEC §11 accounts, then lifelike bulk admins; one password hash for all."""
    password_hash = accounts.hash_password(DEMO_PASSWORD)
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

"""Every rule of `app.url_map` × every role of SPEC §2 × objects in and out of the role's scope
(SECURITY.md rows 2 and 3), generated from the URL map itself.

Each endpoint is classified once in ROUTES: who may use it, and the scope kind each URL variable
(and each query argument naming an object) is checked against. Each variable name has a resolver
in VALUES: every fixture object of that type and one that does not exist. An unclassified rule
or a variable without a resolver fails `test_sec02_every_rule_is_classified` (and every matrix test),
so a new route cannot slip through unchecked.

The oracle (the predicates below and OBJECT_KINDS) knows only the fixture tree's parent links
and the SPEC §2 table; it never asks yanxiu.scope. It reads the database only for facts a scope
does not decide (which school a membership or code belongs to, a school's status, whether a row
still exists), at the moment of each request, so a write earlier in the run is accounted for.

Expectations: anonymous → the login page (401 JSON for /api/v1); a role the route is not for →
404; an object outside the actor's scope → 404, and for a POST every table unchanged; all in
scope → neither 404 nor 5xx (422, 409, 400 for a form left empty are fine; the CSRF token is
always sent). Every GET is asked for as a page and as an htmx fragment. No answer (page,
fragment, export, JSON, error) may show the name of a region, school, programme or account the
actor has no business meeting. A route that refuses an actor before looking at any object is
tried with one combination of values (those in the actor's scope where there are).
"""
import collections
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import urlencode, urlsplit

import pytest

from tests.conftest import csrf_token, log_in
from tests.fixture_teachers import DISPLAY_NAMES
from tests.fixture_tree import ACCOUNTS, REGIONS, SCHOOLS
from tests.pii_guard import response_texts
from tests.test_scope_matrix import PARENT, ancestors
from yanxiu.db import database
from yanxiu.models import (ApiToken, Binding, Course, FaqEntry, FaqTopic, Membership, NoticeRecipient,
                           PermissionCode, Programme, School)
from yanxiu.models.account import OPERATOR, SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.region import ACTIVE, ARCHIVED
from yanxiu.services import api_tokens, codes, faq, programmes, record_import, school_import
from yanxiu.services import teachers as teacher_service
from yanxiu.services.notices import Addressee, send_urge

# ---------------------------------------------------------------- the oracle's tree (SPEC §1, §2)

NATION = "000000"
MISSING_ID = 999999          # no row of any table has it
MISSING_CODE = "999999"      # no region has it
# Archived schools beside the fixture tree's, so restoring has something in scope.
ARCHIVED_SCHOOLS = [("3301060009", "西湖区停办小学", "330106"),
                    ("3300000009", "浙江省直属停办学校", "330000")]

LEVEL = {code: level for code, _, level, _ in REGIONS}
SCHOOL_REGION = {code: region for code, _, region, _ in SCHOOLS} | {c: r for c, _, r in ARCHIVED_SCHOOLS}

REGION_ROLES = frozenset({OPERATOR, SUPER, TRAINING})
ADMIN_ROLES = REGION_ROLES | {SCHOOL_ADMIN}
MANAGERS = frozenset({SUPER, TRAINING})       # those who manage schools (SPEC §6)
OPERATOR_ONLY = frozenset({OPERATOR})
SCHOOL_ONLY = frozenset({SCHOOL_ADMIN})
API = "api"                                   # the role of a bearer token's holder


def province_of(code: str) -> str | None:
    """The province a region lies in; None for 全国."""
    while PARENT.get(code, NATION) != NATION:
        code = PARENT[code]
    return code if code in PARENT else None


@dataclass(frozen=True)
class Actor:
    """Who sends the requests: a fixture account under its first binding (`multi:school`: the
    account `multi` switched to its school-admin binding), a teacher without one, an anonymous
    visitor, or (role `api`) a client holding a bearer token."""
    name: str
    role: str | None = None
    scope: str | None = None  # region code, or the school code of a school admin

    @property
    def username(self) -> str:
        return self.name.partition(":")[0]

    @property
    def region(self) -> str | None:
        """The region the actor's scope lies in (a school admin's: its school's)."""
        return SCHOOL_REGION[self.scope] if self.role == SCHOOL_ADMIN else self.scope

    @property
    def signed_in(self) -> bool:
        return self.username in ACCOUNTS


def actor_named(name: str) -> Actor:
    username, _, as_school = name.partition(":")
    bindings = ACCOUNTS.get(username, ("", []))[1]
    if as_school:
        bindings = [b for b in bindings if b[0] == SCHOOL_ADMIN]
    return Actor(name, *bindings[0]) if bindings else Actor(name)


# SPEC §2's roles: the operator, a province's super and training admin, a city and a county
# training admin, a school admin (also one reached by 切换身份 from a county training admin), a
# teacher with an approved membership, an anonymous visitor.
SESSION_ACTORS = ["operator", "zj_super", "zj_admin", "hz_admin", "xh_admin", "school_admin",
                  "multi:school", "teacher", "anonymous"]
TOKEN_ACTORS = [Actor("national token", API, NATION), Actor("浙江 token", API, "330000"),
                Actor("revoked token"), Actor("no token")]


def reads_region(a: Actor, code: str) -> bool:
    """A region admin reads its region and everything below; nobody reads an unknown code."""
    known = code == NATION or code in PARENT
    return a.role in REGION_ROLES | {API} and known and a.scope in ancestors(code)


def reads_school(a: Actor, code: str) -> bool:
    """A region admin reads the schools of its subtree; a school admin its own school."""
    if a.role == SCHOOL_ADMIN:
        return a.scope == code
    return a.role in REGION_ROLES | {API} and a.scope in ancestors(SCHOOL_REGION[code])


def manages_school(a: Actor, code: str) -> bool:
    """学校管理范围 (SPEC §6): a county all its schools, a province or city its 直属 ones."""
    return a.role in MANAGERS and SCHOOL_REGION[code] == a.scope


def sees_programme(a: Actor, province: str | None) -> bool:
    """A national programme is every admin's; a provincial one its province's and the nation's."""
    return a.role is not None and (province is None or a.region == NATION
                                   or province_of(a.region) == province)


def manages_programme(a: Actor, province: str | None) -> bool:
    """The operator manages national programmes, a province's super or training admin its own."""
    if province is None:
        return a.role == OPERATOR
    return a.role in MANAGERS and a.scope == province


def issues_programmes(a: Actor) -> bool:
    return a.role == OPERATOR or (a.role in MANAGERS and LEVEL.get(a.scope) == "province")


def may_end(a: Actor, role: str, scope: str) -> bool:
    """SPEC §2: a super admin ends its region's training admins and its children's super admins;
    a school's admin is ended by whoever manages the school; the operator ends province super
    admins."""
    if role == SCHOOL_ADMIN:
        return manages_school(a, scope)
    if a.role == OPERATOR:
        return role == SUPER and LEVEL[scope] == "province"
    if a.role == SUPER:
        return (role == TRAINING and scope == a.scope) or (role == SUPER and PARENT[scope] == a.scope)
    return False


# ---------------------------------------------------------------- the fixture world

@dataclass
class World:
    """What the oracle remembers of the objects built for the matrix (beyond the tree)."""
    programmes: dict[int, str | None] = field(default_factory=dict)  # id → province, None: national
    notices: dict[int, str] = field(default_factory=dict)            # id → the sender's region
    batches: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (kind, uploader)
    tokens: dict[str, str] = field(default_factory=dict)             # actor name → clear token


def _binding(tree, username: str) -> Binding:
    return Binding.get(Binding.account == tree["accounts"][username])


PROGRAMME = {"kind": "summer", "start_date": "2025-07-01", "end_date": "2025-08-31",
             "minutes_per_hour": 45, "required_hours": 3, "audience": []}
COURSES = [{"name": "师德修养", "minutes": 120, "max_hours": 1},
           {"name": "数字素养", "minutes": 300, "max_hours": 3}]


def _csv(headers: list[str], rows: list[list]) -> bytes:
    lines = [",".join(headers)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def build_world(tree, teachers) -> World:
    """On top of the tree and its teachers: archived schools, a national and two provincial
    programmes, 权限码 of several levels, notices, FAQ, API tokens and import batches."""
    world = World()
    regions, schools, b = tree["regions"], tree["schools"], lambda u: _binding(tree, u)
    for code, name, region in ARCHIVED_SCHOOLS:
        School.create(code=code, name=name, region=regions[region], region_path=regions[region].path,
                      stage="小学", status=ARCHIVED)
    far = teachers["memberships"]["t_far"]  # approved: a 江苏 member for the records API
    teacher_service.approve(Binding.get(Binding.school == far.school_id), far.id)

    for username, province, name in (("operator", None, "2025年暑期教师研修"),
                                     ("zj_admin", "330000", "浙江省专题研修"),
                                     ("js_admin", "320000", "江苏省专题研修")):
        programme = programmes.create_programme(b(username), PROGRAMME | {"name": name}, COURSES)
        world.programmes[programme.id] = province

    codes.issue_permission_code(b("operator"), SUPER, region=regions["320000"])
    codes.issue_permission_code(b("zj_super"), SUPER, region=regions["330200"])
    codes.issue_permission_code(b("zj_super"), TRAINING, region=regions["330000"])
    codes.issue_permission_code(b("zj_admin"), SCHOOL_ADMIN, school=schools["3300000001"])
    codes.issue_permission_code(b("xh_admin"), SCHOOL_ADMIN, school=schools["3301060002"])

    for username, addressees in (
            ("operator", [Addressee(region=regions["330000"])]),
            ("zj_admin", [Addressee(region=regions["330100"]), Addressee(school=schools["3301060001"])]),
            ("xh_admin", [Addressee(school=schools["3301060002"])]),
            ("js_admin", [Addressee(region=regions["320100"])])):
        notice = send_urge(b(username), addressees, "请尽快完成激活")
        world.notices[notice.id] = ACCOUNTS[username][1][0][1]

    topic = faq.create_topic(b("operator"), "矩阵测试")
    faq.create_entry(b("operator"), topic.id, "权限码丢了怎么办？", "请联系上级管理员重新发放。")

    for name, region in (("national token", None), ("浙江 token", regions["330000"]),
                         ("revoked token", None)):
        token, world.tokens[name] = api_tokens.issue_token(b("operator"), name, region)
        if name == "revoked token":
            api_tokens.revoke_token(b("operator"), token)

    school_rows = _csv(school_import.HEADERS[:4], [["3301068801", "西湖区导入小学", "学校", "小学"]])
    for username in ("xh_admin", "zj_super"):
        batch = school_import.validate_upload(b(username), "学校.csv", school_rows)
        world.batches[batch.id] = (school_import.KIND, username)
    national = min(world.programmes)
    course = Course.select().where(Course.programme == national).order_by(Course.id).first()
    record_rows = _csv(["记录编号", "平台账号", "项目编号", "课程编号", "学习分钟数", "学习时间"],
                       [["imp-1", "teacher", national, course.id, 30, "2025-07-15 10:00"]])
    batch = record_import.validate_upload(b("operator"), "记录.csv", record_rows)
    world.batches[batch.id] = (record_import.KIND, "operator")
    return world


# ---------------------------------------------------------------- names (SECURITY.md row 3)

# Where each fixture teacher has a membership (tests/fixture_teachers.py), by school code.
TEACHER_SCHOOLS = {"teacher": ["3301060001"], "t_pending": ["3301060001"],
                   "t_rejected": ["3301060001"], "t_removed": ["3301060001"],
                   "t_mover": ["3301060002", "3301060001"], "t_other": ["3302030001"],
                   "t_far": ["3201020001"]}


def home_region(a: Actor) -> str | None:
    """Where an actor stands in the tree: its scope's region; a teacher's school's region."""
    if a.role is None and a.username in TEACHER_SCHOOLS:
        return SCHOOL_REGION[TEACHER_SCHOOLS[a.username][0]]
    return a.region


def knows_region(a: Actor, code: str) -> bool:
    """An actor may meet the names of the regions above it (breadcrumbs, senders) and, as a
    region admin or token, below it."""
    home = home_region(a)
    return home is not None and (home in ancestors(code) and a.role in REGION_ROLES | {API}
                                 or code in ancestors(home))


def knows_school(a: Actor, code: str) -> bool:
    return reads_school(a, code) or code in TEACHER_SCHOOLS.get(a.username, [])


def name_table(a: Actor, world: World) -> list[tuple[str, bool]]:
    """(name, whether the actor may meet it) for every region, school, programme and account of
    the fixture: a name it may not meet must appear in no answer it gets (SECURITY.md row 3)."""
    names = [(name, knows_region(a, code)) for code, name, _, _ in REGIONS]
    names += [(name, knows_school(a, code)) for code, name, _, _ in SCHOOLS]
    names += [(name, knows_school(a, code)) for code, name, _ in ARCHIVED_SCHOOLS]
    home = home_region(a)
    for programme_id, province in world.programmes.items():
        seen = home is not None and (province is None or home == NATION
                                     or province_of(home) == province)
        names.append((Programme.get_by_id(programme_id).name, seen))
    accounts = {username: display for username, (display, _) in ACCOUNTS.items()} | DISPLAY_NAMES
    for username, display in accounts.items():
        bindings = ACCOUNTS.get(username, ("", []))[1]
        seen = (username == a.username
                or any(knows_school(a, c) for c in TEACHER_SCHOOLS.get(username, []))
                or any(knows_school(a, scope) if role == SCHOOL_ADMIN else knows_region(a, scope)
                       for role, scope in bindings))
        names.append((display, seen))
    return names


def foreign_names(a: Actor, world: World) -> list[str]:
    """The names the actor may not meet, but none that is part of a name it may (北京市 is in no
    such name, 浙江省 is in 浙江省直属实验学校)."""
    names = name_table(a, world)
    known = [name for name, seen in names if seen]
    return sorted({name for name, seen in names if not seen and not any(name in k for k in known)})


# Pages that show any school by design: the teacher's school picker in 个人中心 (SPEC §7).
NAMES_ANYWHERE = {"profile.profile_home", "profile.profile_submit", "profile.profile_schools",
                  "profile.profile_school_search", "profile.profile_withdraw"}


# ---------------------------------------------------------------- values of every URL variable

def _ids(model) -> Callable[[World], list[int]]:
    """Every row id of a table, in id order, and one that does not exist."""
    return lambda world: [i for (i,) in model.select(model.id).order_by(model.id).tuples()] + \
        [MISSING_ID]


def _region_codes(world: World) -> list[str]:
    return [NATION, *PARENT, MISSING_CODE]


VALUES: dict[str, Callable[[World], list]] = {
    "code": _region_codes,
    "region_code": _region_codes,
    "school_id": _ids(School),
    "membership_id": _ids(Membership),
    "programme_id": _ids(Programme),
    "course_id": _ids(Course),
    "code_id": _ids(PermissionCode),
    "binding_id": _ids(Binding),
    "recipient_id": _ids(NoticeRecipient),
    "notice_id": lambda world: [*sorted(world.notices), MISSING_ID],
    "entry_id": _ids(FaqEntry),
    "topic_id": _ids(FaqTopic),
    "token_id": _ids(ApiToken),
    "batch_id": lambda world: [*sorted(world.batches), MISSING_ID],
    "fmt": lambda world: ["csv", "xlsx", "pdf"],
    "filename": lambda world: ["style.css"],
}


# ---------------------------------------------------------------- scope kinds (the oracle)

def _school(value) -> School | None:
    return School.get_or_none(School.id == value)


def _school_read(a, value, values, world, status=None) -> bool:
    school = _school(value)
    return school is not None and reads_school(a, school.code) and status in (None, school.status)


def _school_managed(a, value, values, world, status) -> bool:
    school = _school(value)
    return school is not None and manages_school(a, school.code) and school.status == status


def _membership_school(value) -> str | None:
    row = (Membership.select(School.code).join(School, on=(Membership.school == School.id))
           .where(Membership.id == value).tuples().first())
    return row[0] if row else None


def _membership_read(a, value, values, world) -> bool:
    school = _membership_school(value)
    return school is not None and reads_school(a, school)


def _membership_decided(a, value, values, world) -> bool:
    """Only the school's own admin reviews and removes its teachers (SPEC §2, §7)."""
    school = _membership_school(value)
    return school is not None and a.role == SCHOOL_ADMIN and a.scope == school


def _code_read(a, value, values, world) -> bool:
    code = PermissionCode.get_or_none(PermissionCode.id == value)
    if code is None:
        return False
    region = SCHOOL_REGION[code.school.code] if code.school_id else code.region.code
    return reads_region(a, region)


def _binding_ended(a, value, values, world) -> bool:
    target = Binding.get_or_none(Binding.id == value)
    if target is None or target.state != "active" or target.account.username == a.username:
        return False
    return may_end(a, target.role, target.school.code if target.school_id else target.region.code)


def _addressed(a, value, values, world) -> bool:
    recipient = NoticeRecipient.get_or_none(NoticeRecipient.id == value)
    if recipient is None:
        return False
    if recipient.school_id:
        return a.role == SCHOOL_ADMIN and recipient.school.code == a.scope
    return a.role in REGION_ROLES and recipient.region.code == a.scope


def _exists(model):
    return lambda a, value, values, world: model.get_or_none(model.id == value) is not None


def _course(a, value, values, world) -> bool:
    course = Course.get_or_none(Course.id == value)
    return course is not None and course.programme_id == values.get("programme_id")


def _batch(kind):
    return lambda a, value, values, world: world.batches.get(value) == (kind, a.name)


def _programme(check):
    return lambda a, value, values, world: (value in world.programmes
                                            and check(a, world.programmes[value]))


OBJECT_KINDS: dict[str, Callable] = {
    "region": lambda a, value, values, world: reads_region(a, value),
    "school": _school_read,
    "active school": lambda *args: _school_read(*args, status=ACTIVE),
    "managed active school": lambda *args: _school_managed(*args, status=ACTIVE),
    "managed archived school": lambda *args: _school_managed(*args, status=ARCHIVED),
    "membership": _membership_read,
    "decided membership": _membership_decided,
    "visible programme": _programme(sees_programme),
    "managed programme": _programme(manages_programme),
    "course of the programme": _course,
    "permission code": _code_read,
    "subordinate binding": _binding_ended,
    "addressed notice": _addressed,
    "sent notice": lambda a, value, values, world: (value in world.notices
                                                    and reads_region(a, world.notices[value])),
    "faq entry": _exists(FaqEntry),
    "faq topic": _exists(FaqTopic),
    "api token": _exists(ApiToken),
    "own school batch": _batch(school_import.KIND),
    "own records batch": _batch(record_import.KIND),
    "format": lambda a, value, values, world: value in ("csv", "xlsx"),
    "static file": lambda a, value, values, world: True,
}


# ---------------------------------------------------------------- every endpoint, classified

PUBLIC, STATIC, BEARER, SIGNED_IN = "public", "static", "bearer", "signed in"


@dataclass(frozen=True)
class Route:
    """How the oracle judges an endpoint.

    `who`: PUBLIC, STATIC, BEARER (the records API), SIGNED_IN (any account), a set of SPEC §2
    roles, or a predicate on the actor. `objects`: URL variable → scope kind. `query`: query
    argument naming an object → (the variable whose values it takes, its scope kind). `data`: the
    minimal form a POST sends. `rank`: POSTs run in rank order (1: may delete or close the object,
    2: ends the session)."""
    who: object
    objects: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    rank: int = 0


def exported(route: Route) -> Route:
    """The route's export: the same checks and an `<fmt>` (csv or xlsx; anything else 404)."""
    return replace(route, objects=route.objects | {"fmt": "format"})


# The reason a removal, an archive or an unbinding asks for: with it, a POST in scope writes,
# so a missing scope check would show in the database as well as in the status.
REASON = {"reason": "矩阵测试"}

REGION = Route(REGION_ROLES, {"code": "region"})
STATS_REGION = Route(REGION_ROLES, {"programme_id": "visible programme", "code": "region"})
STATS_SCHOOL = Route(ADMIN_ROLES, {"programme_id": "visible programme", "school_id": "school"})
SCHOOL_BATCH = Route(MANAGERS, {"batch_id": "own school batch"})
RECORDS_BATCH = Route(OPERATOR_ONLY, {"batch_id": "own records batch"})
TEACHERS = Route(ADMIN_ROLES, query={"school": ("school_id", "school")})

ROUTES: dict[str, Route] = {
    "static": Route(STATIC, {"filename": "static file"}),
    # public: the login steps, registration, health, the FAQ and the API's description
    "auth.login": Route(PUBLIC), "auth.two_factor_login": Route(PUBLIC), "auth.register": Route(PUBLIC),
    "system.health": Route(PUBLIC), "faq.faq_list": Route(PUBLIC), "api.openapi_document": Route(PUBLIC),
    # the records API: bearer tokens, never a session (test_sec02_api_routes_follow_the_oracle)
    "api.programme_list": Route(BEARER),
    "api.record_submit": Route(BEARER),
    "api.statistics_show": Route(BEARER, {"programme_id": "visible programme", "region_code": "region"}),
    # any account: its own workbench, profile, password, two-factor, binding
    "workbench.index": Route(SIGNED_IN), "workbench.home": Route(SIGNED_IN),
    "auth.binding_switch": Route(SIGNED_IN), "auth.password_change": Route(SIGNED_IN),
    "auth.two_factor_setup": Route(SIGNED_IN), "auth.two_factor_begin": Route(SIGNED_IN),
    "auth.two_factor_confirm": Route(SIGNED_IN), "auth.two_factor_disable": Route(SIGNED_IN),
    "auth.two_factor_recovery": Route(SIGNED_IN), "auth.logout": Route(SIGNED_IN, rank=2),
    "codes.bind": Route(SIGNED_IN),
    "profile.profile_home": Route(SIGNED_IN), "profile.profile_submit": Route(SIGNED_IN),
    "profile.profile_schools": Route(SIGNED_IN), "profile.profile_school_search": Route(SIGNED_IN),
    "profile.profile_withdraw": Route(SIGNED_IN),
    # 权限码 and 下级管理员
    "codes.code_list": Route(REGION_ROLES), "codes.code_issue": Route(REGION_ROLES),
    "codes.code_revoke": Route(REGION_ROLES, {"code_id": "permission code"}, rank=1),
    "codes.code_reissue": Route(REGION_ROLES, {"code_id": "permission code"}, rank=1),
    "codes.binding_list": Route(REGION_ROLES),
    "codes.binding_end": Route(REGION_ROLES, {"binding_id": "subordinate binding"}, data=REASON, rank=1),
    # 区域, 激活进度, 督促
    "regions.tree": Route(REGION_ROLES), "regions.node": REGION, "regions.schools": REGION,
    "progress.progress_view": REGION, "progress.progress_schools": REGION,
    "progress.progress_export": exported(REGION),
    "notices.notice_urge": replace(REGION, data={"body": "请尽快完成激活", "all_inactive": "1"}),
    "notices.notice_inbox": Route(ADMIN_ROLES),
    "notices.notice_read": Route(ADMIN_ROLES, {"recipient_id": "addressed notice"}),
    "notices.notice_sent": Route(REGION_ROLES),
    "notices.notice_sent_detail": Route(REGION_ROLES, {"notice_id": "sent notice"}),
    # 学校管理
    "schools.school_list": Route(REGION_ROLES),
    "schools.school_export": exported(Route(REGION_ROLES)),
    "schools.school_new": Route(MANAGERS),
    "schools.school_show": Route(ADMIN_ROLES, {"school_id": "school"}),
    "schools.school_row": Route(REGION_ROLES, {"school_id": "school"}),
    "schools.school_edit": Route(REGION_ROLES, {"school_id": "managed active school"}),
    "schools.school_update": Route(REGION_ROLES, {"school_id": "managed active school"}),
    "schools.school_delete": Route(REGION_ROLES, {"school_id": "managed active school"}, data=REASON, rank=1),
    "schools.school_restore": Route(REGION_ROLES, {"school_id": "managed archived school"}, rank=1),
    "schools.school_transfer": Route(REGION_ROLES, {"school_id": "active school"}),
    "schools.school_mine": Route(SCHOOL_ONLY),
    "school_import.import_start": Route(MANAGERS), "school_import.import_upload": Route(MANAGERS),
    "school_import.import_template": exported(Route(MANAGERS)),
    "school_import.import_preview": SCHOOL_BATCH, "school_import.import_report": exported(SCHOOL_BATCH),
    "school_import.import_confirm": Route(MANAGERS, {"batch_id": "own school batch"}, rank=1),
    "school_import.import_discard": Route(MANAGERS, {"batch_id": "own school batch"}, rank=1),
    # 教师管理
    "teachers.teacher_list": TEACHERS, "teachers.teacher_export": exported(TEACHERS),
    "teachers.teacher_overview": Route(REGION_ROLES, query={"region": ("code", "region")}),
    "teachers.teacher_row": Route(SCHOOL_ONLY, {"membership_id": "decided membership"}),
    "teachers.teacher_approve": Route(SCHOOL_ONLY, {"membership_id": "decided membership"}),
    "teachers.teacher_reject": Route(SCHOOL_ONLY, {"membership_id": "decided membership"}, data=REASON),
    "teachers.teacher_remove": Route(SCHOOL_ONLY, {"membership_id": "decided membership"}, data=REASON),
    "teachers.teacher_approve_many": Route(SCHOOL_ONLY),
    "teachers.teacher_reveal": Route(ADMIN_ROLES, {"membership_id": "membership"},
                                     data={"field": "id_number"}),
    # 研修项目 and 研修统计
    "programmes.programme_list": Route(REGION_ROLES),
    "programmes.programme_new": Route(issues_programmes),
    "programmes.programme_show": Route(REGION_ROLES, {"programme_id": "visible programme"}),
    "programmes.programme_edit": Route(REGION_ROLES, {"programme_id": "managed programme"}),
    "programmes.course_save": Route(REGION_ROLES, {"programme_id": "managed programme",
                                                   "course_id": "course of the programme"},
                                    data={"name": "矩阵课程", "minutes": "60", "max_hours": "1"}),
    "statistics.stats_home": Route(ADMIN_ROLES),
    "statistics.stats_region": STATS_REGION, "statistics.stats_region_export": exported(STATS_REGION),
    "statistics.stats_region_json": STATS_REGION,
    "statistics.stats_school": STATS_SCHOOL, "statistics.stats_school_export": exported(STATS_SCHOOL),
    "statistics.stats_school_json": STATS_SCHOOL,
    "record_import.import_start": Route(OPERATOR_ONLY), "record_import.import_upload": Route(OPERATOR_ONLY),
    "record_import.import_template": exported(Route(OPERATOR_ONLY)),
    "record_import.import_preview": RECORDS_BATCH, "record_import.import_report": exported(RECORDS_BATCH),
    "record_import.import_confirm": Route(OPERATOR_ONLY, {"batch_id": "own records batch"}, rank=1),
    "record_import.import_discard": Route(OPERATOR_ONLY, {"batch_id": "own records batch"}, rank=1),
    # 审计日志, 接口令牌, 热点问题答疑 (editing)
    "audit.audit_list": Route(ADMIN_ROLES), "audit.audit_export": exported(Route(ADMIN_ROLES)),
    "tokens.token_list": Route(OPERATOR_ONLY), "tokens.token_issue": Route(OPERATOR_ONLY),
    "tokens.token_revoke": Route(OPERATOR_ONLY, {"token_id": "api token"}, rank=1),
    "faq.entry_add": Route(OPERATOR_ONLY), "faq.topic_add": Route(OPERATOR_ONLY),
    "faq.entry_edit": Route(OPERATOR_ONLY, {"entry_id": "faq entry"}),
    "faq.entry_delete": Route(OPERATOR_ONLY, {"entry_id": "faq entry"}, rank=1),
    "faq.topic_rename": Route(OPERATOR_ONLY, {"topic_id": "faq topic"}, data={"name": "矩阵分类"}),
}


def classification_problems(app) -> list[str]:
    """Rules the matrix could not check: unclassified endpoints, unknown variables or kinds,
    and classifications no rule uses any more."""
    problems, seen = [], {}
    for rule in app.url_map.iter_rules():
        route = ROUTES.get(rule.endpoint)
        if route is None:
            problems.append(f"{rule.rule} ({rule.endpoint}): not classified in ROUTES")
            continue
        seen.setdefault(rule.endpoint, set()).update(rule.arguments)
        for var in sorted(rule.arguments):
            if var not in VALUES:
                problems.append(f"{rule.rule}: no resolver in VALUES for <{var}>")
            if var not in route.objects:
                problems.append(f"{rule.rule}: <{var}> has no scope kind in "
                                f"ROUTES[{rule.endpoint!r}]")
    for endpoint, route in ROUTES.items():
        if endpoint not in seen:
            problems.append(f"ROUTES[{endpoint!r}] matches no rule")
            continue
        for var, kind in route.objects.items():
            if var not in seen[endpoint]:
                problems.append(f"ROUTES[{endpoint!r}]: no rule has <{var}>")
            if kind not in OBJECT_KINDS:
                problems.append(f"ROUTES[{endpoint!r}]: unknown scope kind {kind!r}")
        for arg, (var, kind) in route.query.items():
            if var not in VALUES or kind not in OBJECT_KINDS:
                problems.append(f"ROUTES[{endpoint!r}]: query ?{arg} has no resolver or kind")
    return problems


def test_sec02_every_rule_is_classified(app):
    """A new route (or a new URL variable) must be classified before the matrix can pass."""
    problems = classification_problems(app)
    assert not problems, "the route matrix cannot check:\n" + "\n".join(problems)


# ---------------------------------------------------------------- cases and expectations

# Products of values larger than this are reduced to: one base combination (in scope where
# possible), then each variable through all its values with the others at the base.
MAX_PRODUCT = 30


@dataclass
class Case:
    endpoint: str
    method: str
    url: str
    values: dict      # variable → value, query arguments under their variable's name
    kinds: dict       # variable → scope kind


def _combinations(a: Actor, kinds: dict, candidates: dict, world: World) -> list[dict]:
    """The values to try, the base first: for each variable (in rule order, so that a course is
    chosen after its programme) the first value in the actor's scope, else the first value."""
    names = list(candidates)
    base: dict = {}
    for name in names:
        check = OBJECT_KINDS[kinds[name]]
        inside = [v for v in candidates[name] if check(a, v, base | {name: v}, world)]
        base[name] = (inside or candidates[name])[0]
    size = 1
    for name in names:
        size *= len(candidates[name])
    if size <= MAX_PRODUCT:
        product = itertools.product(*(candidates[n] for n in names))
        return [base] + [combo for combo in (dict(zip(names, p)) for p in product) if combo != base]
    combos = [base]
    for name in names:
        combos += [base | {name: v} for v in candidates[name] if v != base[name]]
    return combos


def cases_for(app, a: Actor, world: World, methods=("GET", "POST")) -> list[Case]:
    """Every rule × method × combination of its variables' values, GETs first, POSTs by rank."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        route = ROUTES[rule.endpoint]
        path_vars = sorted(rule.arguments, key=lambda v: re.search(rf"[<:]{v}>", rule.rule).start())
        kinds = {v: route.objects[v] for v in path_vars}
        candidates = {v: VALUES[v](world) for v in path_vars}
        plans = [({}, {})]
        if route.query:  # without the argument, and with each value of it
            (arg, (var, kind)), = route.query.items()
            plans.append(({arg: var}, {var: kind}))
        for query_args, query_kinds in plans:
            all_kinds = kinds | query_kinds
            all_candidates = candidates | {var: VALUES[var](world) for var in query_kinds}
            combos = _combinations(a, all_kinds, all_candidates, world)
            if refusal(a, route):
                # Refused before any object is looked at: the base (the objects the actor would
                # reach if the route were open to it) says so; more would only repeat it (and a
                # dead bearer token would be throttled).
                combos = combos[:1]
            for values in combos:
                path = rule.build({v: values[v] for v in path_vars}, append_unknown=False)[1]
                query = {arg: values[var] for arg, var in query_args.items()}
                url = path + ("?" + urlencode(query) if query else "")
                for method in methods:
                    if method in rule.methods:
                        found.append(Case(rule.endpoint, method, url, values, all_kinds))
    return sorted(found, key=lambda c: (c.method != "GET", ROUTES[c.endpoint].rank))


def refusal(a: Actor, route: Route) -> str | None:
    """How the route refuses the actor whatever the objects ("401", "login", "404"), or None."""
    if route.who in (PUBLIC, STATIC):
        return None
    if route.who == BEARER:
        return None if a.role == API else "401"
    if not a.signed_in:
        return "login"
    if route.who == SIGNED_IN:
        return None
    return None if (route.who(a) if callable(route.who) else a.role in route.who) else "404"


def expectation(a: Actor, case: Case, world: World) -> str:
    """What the oracle expects: "ok" (neither 404 nor 5xx), "404", "login" or "401"."""
    route = ROUTES[case.endpoint]
    refused = refusal(a, route)
    if refused or route.who in (PUBLIC, STATIC):
        return refused or "ok"
    for var, kind in case.kinds.items():
        if not OBJECT_KINDS[kind](a, case.values[var], case.values, world):
            return "404"
    return "ok"


CSRF_REFUSAL = "表单已过期或来源无效".encode()


def meets(response, expected: str) -> bool:
    if response is None:
        return False
    status = response.status_code
    if expected == "ok":
        csrf_refused = status == 400 and CSRF_REFUSAL in response.data
        return status != 404 and status < 500 and not csrf_refused
    if expected == "login":
        return status in (302, 303) and urlsplit(response.headers.get("Location", "")).path == "/login"
    if expected == "404":
        return status == 404
    return status == 401 and response.mimetype == "application/json"  # the API's refusal


def table_columns() -> dict[str, str]:
    """The columns of every table to compare, a session's last_seen_at aside (moving it is
    its job)."""
    columns = {}
    for table in sorted(database.get_tables()):
        names = [c.name for c in database.get_columns(table)
                 if not (table == "user_session" and c.name == "last_seen_at")]
        columns[table] = ", ".join(f'"{n}"' for n in names)
    return columns


def snapshot(columns: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of every table."""
    found = {}
    for table, cols in columns.items():
        rows = database.execute_sql(f'SELECT {cols} FROM "{table}" ORDER BY 1').fetchall()
        found[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
    return found


def changed(before: dict, after: dict) -> list[str]:
    return [f"{t}: {before[t][0]}→{after.get(t, (0,))[0]} rows"
            for t in before if before[t] != after.get(t)]


# ---------------------------------------------------------------- the matrix

def signed_in_client(app, a: Actor):
    """A client signed in as the actor, switched to its school binding for `…:school`."""
    client = app.test_client()
    if a.signed_in:
        assert log_in(client, a.username).status_code == 303, a.name
    if a.name != a.username:
        school = Binding.select().join(School).where(School.code == a.scope).get()
        switched = client.post("/account/binding",
                               data={"binding_id": school.id, "csrf_token": csrf_token(client)})
        assert switched.status_code == 303, a.name
    return client


def send(request, url: str, **kwargs):
    """(response, its status as a report says it); an exception the app raised (TESTING lets it
    through) is reported, not allowed to end the run."""
    try:
        response = request(url, **kwargs)
    except Exception as err:  # one more mismatch for the list, not the end of the run
        return None, f"{type(err).__name__}: {err}"
    return response, str(response.status_code)


def readable(response) -> list[str]:
    """What a person could read in an answer: headers and body, an xlsx's sheets, and JSON with
    its \\u escapes undone."""
    texts = response_texts(response)
    if response.is_json:
        texts.append(json.dumps(response.get_json(), ensure_ascii=False))
    return texts


def run_cases(client, a: Actor, cases: list[Case], world: World, *, headers: dict | None = None,
              fragments: bool = True) -> list[str]:
    """Send every case (a GET also as an htmx fragment); the mismatches, one readable line each.
    A refused POST must leave every table as it was."""
    columns = table_columns()
    token = csrf_token(client) if any(c.method == "POST" for c in cases) else None
    foreign = foreign_names(a, world)
    mismatches = []

    def judge(case: Case, what: str, response, status: str, expected: str) -> None:
        if not meets(response, expected):
            mismatches.append(f"{a.name}: {what} → {status}, expected {expected}")
        elif response is not None and case.endpoint not in NAMES_ANYWHERE:
            shown = sorted({n for text in readable(response) for n in foreign if n in text})
            if shown:
                mismatches.append(f"{a.name}: {what} → {status} shows out-of-scope {'、'.join(shown)}")

    for case in cases:
        expected = expectation(a, case, world)
        refused = expected != "ok"
        if case.method == "GET":
            for hx in (False, True) if fragments else (False,):
                extra = {"HX-Request": "true"} if hx else {}
                response, status = send(client.get, case.url, headers=(headers or {}) | extra)
                judge(case, f"GET {case.url}{' (htmx)' if hx else ''}", response, status, expected)
            continue
        before = snapshot(columns) if refused else None
        response, status = send(client.post, case.url,
                                data=ROUTES[case.endpoint].data | {"csrf_token": token})
        judge(case, f"POST {case.url}", response, status, expected)
        if refused:
            difference = changed(before, snapshot(columns))
            if difference:
                mismatches.append(f"{a.name}: POST {case.url} was refused yet changed "
                                  f"{', '.join(difference)}")
    return mismatches


@pytest.mark.parametrize("name", SESSION_ACTORS)
def test_sec02_session_routes_follow_the_oracle(app, tree, teachers, name):
    """Every page, fragment, export and write of every rule, as this actor, against the oracle."""
    assert not classification_problems(app)
    world = build_world(tree, teachers)
    a = actor_named(name)
    client = signed_in_client(app, a)
    cases = cases_for(app, a, world)
    # The matrix reaches objects in scope as well as refusals (a test that cannot fail is a defect).
    outcomes = collections.Counter(expectation(a, c, world) for c in cases)
    assert outcomes["404" if a.signed_in else "login"] >= 80, outcomes
    if a.role is not None:
        objects_in_scope = [c for c in cases if set(c.kinds.values()) - {"format", "static file"}
                            and expectation(a, c, world) == "ok"]
        assert len(objects_in_scope) >= 10, (name, len(objects_in_scope))
    mismatches = run_cases(client, a, cases, world)
    assert not mismatches, f"{len(mismatches)} of {len(cases)} cases differ from the oracle:\n" + \
        "\n".join(mismatches)


# ---------------------------------------------------------------- the records API (/api/v1)

# The tables a learning record writes to (the record and the rollups kept from it).
RECORD_TABLES = ("learning_record", "teacher_progress", "school_progress", "region_progress")
# Approved teachers of the fixture (tests/fixture_teachers.py): one in 浙江, one in 江苏.
API_TEACHERS = {"teacher": "3301060001", "t_far": "3201020001"}


def takes_record(a: Actor, programme_id, teacher: str, world: World) -> bool:
    """A token takes a record of a programme it may see for a teacher of its province."""
    return (programme_id in world.programmes and sees_programme(a, world.programmes[programme_id])
            and a.scope in ancestors(SCHOOL_REGION[API_TEACHERS[teacher]]))


def test_sec02_api_routes_follow_the_oracle(app, tree, teachers):
    """The bearer routes with a national, a 浙江 and a revoked token and none: statistics of a
    programme or region outside the token's province are 404; a record for a programme or a
    teacher outside it is refused item by item and stores nothing."""
    assert not classification_problems(app)
    world = build_world(tree, teachers)
    client = app.test_client()
    columns = {t: c for t, c in table_columns().items() if t in RECORD_TABLES}
    assert len(columns) == len(RECORD_TABLES), sorted(columns)
    first_course = {p: Course.select().where(Course.programme == p).order_by(Course.id).first().id
                    for p in world.programmes}
    mismatches, accepted = [], 0
    for a in TOKEN_ACTORS:
        headers = {"Authorization": f"Bearer {world.tokens[a.name]}"} if a.name in world.tokens else {}
        cases = [c for c in cases_for(app, a, world, methods=("GET",))
                 if ROUTES[c.endpoint].who == BEARER]
        assert {c.endpoint for c in cases} == {"api.programme_list", "api.statistics_show"}
        mismatches += run_cases(client, a, cases, world, headers=headers, fragments=False)

        items = list(itertools.product([*world.programmes, MISSING_ID], API_TEACHERS))
        for programme_id, teacher in items if a.role == API else items[:1]:
            item = {"external_id": f"{a.name}-{programme_id}-{teacher}",
                    "teacher": {"account": teacher}, "programme": programme_id,
                    "course": first_course.get(programme_id, MISSING_ID),
                    "minutes": 30, "occurred_at": "2025-07-15T10:00:00+08:00"}
            where = f"{a.name}: POST /api/v1/records ({teacher}, programme {programme_id})"
            before = snapshot(columns)
            response = client.post("/api/v1/records", json={"records": [item]}, headers=headers)
            if a.role != API:
                got, want = response.status_code, 401
            else:
                answer = response.get_json() if response.status_code == 200 else {}
                got = (response.status_code, answer.get("results", [{}])[0].get("status"))
                want = (200, "accepted" if takes_record(a, programme_id, teacher, world) else "rejected")
            if got != want:
                mismatches.append(f"{where} → {got}, expected {want}")
            if want == (200, "accepted"):
                accepted += 1
            elif changed(before, snapshot(columns)):
                mismatches.append(f"{where} (refused) stored something")
    assert accepted == 8  # national token: 2 teachers × 3 programmes; 浙江: its teacher × 2
    assert not mismatches, "\n".join(mismatches)

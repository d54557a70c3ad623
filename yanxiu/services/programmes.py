"""Training programmes (研修项目) and their courses: validate, create, change the rules.

A national programme belongs to the operator; a provincial one to that province's admins.
Changing a rule that figures depend on (dates, minutes per 学时, required 学时, audience,
course caps) recomputes the programme's rollups from its raw records.
"""
import datetime

from peewee import JOIN, IntegrityError

from yanxiu.db import Prepared, database, slot
from yanxiu.models import Binding, Course, Programme, Region
from yanxiu.models.account import OPERATOR, SUPER, TRAINING
from yanxiu.models.base import now
from yanxiu.models.region import PROVINCE
from yanxiu.models.teacher import TEACHING_STAGES
from yanxiu.models.training import PROGRAMME_KINDS
from yanxiu.scope import Scope
from yanxiu.services import audit, rollups

RULE_FIELDS = ("start_date", "end_date", "minutes_per_hour", "required_hours", "audience")
FIELD_LABELS = {"name": "项目名称", "kind": "类型", "start_date": "开始日期", "end_date": "结束日期",
                "minutes_per_hour": "每学时分钟数", "required_hours": "完成所需学时",
                "audience": "面向学段"}


class ProgrammeError(ValueError):
    """Invalid input or a refused act; `errors` maps form fields to Chinese messages."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("；".join(self.errors.values()))


def _int(value, low: int, high: int, label: str, errors: dict, key: str) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors[key] = f"{label}须为整数"
        return None
    if not low <= number <= high:
        errors[key] = f"{label}须在 {low}–{high} 之间"
        return None
    return number


# A programme's dates: wide enough for any real one, narrow enough that its window in UTC
# (rollups.window) stays inside what a datetime can hold.
FIRST_DATE, LAST_DATE = datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)


def _date(value, label: str, errors: dict, key: str) -> datetime.date | None:
    if isinstance(value, datetime.date):
        day = value
    else:
        try:
            day = datetime.date.fromisoformat(str(value or "").strip())
        except ValueError:
            errors[key] = f"{label}格式应为 2025-07-01"
            return None
    if not FIRST_DATE <= day <= LAST_DATE:
        errors[key] = f"{label}须在 {FIRST_DATE} 至 {LAST_DATE} 之间"
        return None
    return day


def clean_programme_fields(data: dict) -> tuple[dict, dict[str, str]]:
    """Check a programme's fields; `audience` is a list of 任教学段 (empty: every teacher)."""
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = "请填写项目名称"
    elif len(name) > 100:
        errors["name"] = "项目名称不能超过 100 字"
    kind = str(data.get("kind") or "")
    if kind not in PROGRAMME_KINDS:
        errors["kind"] = "类型须为：" + "、".join(PROGRAMME_KINDS.values())
    start = _date(data.get("start_date"), "开始日期", errors, "start_date")
    end = _date(data.get("end_date"), "结束日期", errors, "end_date")
    if start and end and end < start:
        errors["end_date"] = "结束日期不能早于开始日期"
    minutes = _int(data.get("minutes_per_hour", 45), 1, 240, "每学时分钟数", errors, "minutes_per_hour")
    required = _int(data.get("required_hours", 10), 1, 1000, "完成所需学时", errors, "required_hours")
    audience = [s for s in (data.get("audience") or []) if s]
    if any(s not in TEACHING_STAGES for s in audience):
        errors["audience"] = "面向学段须为：" + "、".join(TEACHING_STAGES)
    clean = {"name": name, "kind": kind, "start_date": start, "end_date": end,
             "minutes_per_hour": minutes, "required_hours": required,
             "audience": ",".join(s for s in TEACHING_STAGES if s in audience)}
    return clean, errors


def programme_region(binding: Binding) -> Region | None:
    """The level a binding issues programmes at: None (national) for the operator, its
    province for a province's super or training admin; anyone else issues none."""
    if binding.role == OPERATOR:
        return None
    if binding.role in (SUPER, TRAINING) and binding.region.level == PROVINCE:
        return binding.region
    raise ProgrammeError("只有平台运维和省级管理员可以管理研修项目")


def may_manage(binding: Binding, programme: Programme) -> bool:
    try:
        region = programme_region(binding)
    except ProgrammeError:
        return False
    return programme.region_id == (region.id if region else None)


def _snapshot(programme: Programme) -> dict:
    return {f: str(getattr(programme, f)) for f in ("name", "kind", *RULE_FIELDS)}


def create_programme(binding: Binding, data: dict, courses: list[dict] | None = None, *,
                     address: str = "") -> Programme:
    """新建研修项目 at the binding's level, with its courses; figures start from the members."""
    region = programme_region(binding)
    clean, errors = clean_programme_fields(data)
    course_rows = [clean_course_fields(c, errors, f"courses-{i}") for i, c in enumerate(courses or [])]
    if "name" not in errors and Programme.select().where(Programme.name == clean["name"]).exists():
        errors["name"] = f"已有名为“{clean['name']}”的研修项目"
    if errors:
        raise ProgrammeError(errors)
    try:
        with database.atomic():
            programme = Programme.create(**clean, region=region, created_by=binding.account_id)
            for row in course_rows:
                Course.create(programme=programme, **row)
            rollups.rebuild_programme(programme)
            audit.record("programme.created", actor=binding.account_id, binding=binding,
                         target_type="programme", target_id=programme.id,
                         scope_path=region.path if region else "", after=_snapshot(programme),
                         address=address)
    except IntegrityError:
        raise ProgrammeError({"name": "项目名称或课程名称重复，请检查"}) from None
    return programme


def clean_course_fields(data: dict, errors: dict, prefix: str = "course") -> dict:
    """A course: name, length in minutes, most 学时 it credits. Errors go into `errors`."""
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors[f"{prefix}-name"] = "课程名称须为 1–100 字"
    minutes = _int(data.get("minutes"), 1, 100000, "课程时长（分钟）", errors, f"{prefix}-minutes")
    max_hours = _int(data.get("max_hours"), 0, 1000, "最多可计学时", errors, f"{prefix}-max_hours")
    return {"name": name, "minutes": minutes, "max_hours": max_hours}


def update_programme(binding: Binding, programme: Programme, data: dict, version: int, *,
                     address: str = "") -> Programme:
    """Change a programme; when a rule changed, its figures are recomputed in the same act."""
    if not may_manage(binding, programme):
        raise LookupError(programme.id)
    clean, errors = clean_programme_fields(data)
    if "name" not in errors and (Programme.select().where((Programme.name == clean["name"])
                                                        & (Programme.id != programme.id)).exists()):
        errors["name"] = f"已有名为“{clean['name']}”的研修项目"
    if errors:
        raise ProgrammeError(errors)
    before = _snapshot(programme)
    with database.atomic():
        saved = (Programme.update(**clean, updated_at=now(), version=Programme.version + 1)
                 .where((Programme.id == programme.id) & (Programme.version == version)).execute())
        if not saved:
            raise ProgrammeError("该项目已被他人修改，您的修改未保存，请刷新后重试")
        programme = Programme.get_by_id(programme.id)
        if any(before[f] != str(getattr(programme, f)) for f in RULE_FIELDS):
            rollups.rebuild_programme(programme)
        audit.record("programme.updated", actor=binding.account_id, binding=binding,
                     target_type="programme", target_id=programme.id,
                     scope_path=programme.region.path if programme.region_id else "",
                     before=before, after=_snapshot(programme), address=address)
    return programme


def save_course(binding: Binding, programme: Programme, data: dict, course: Course | None = None, *,
                address: str = "") -> Course:
    """Add or change a course; a changed cap recomputes the programme's figures."""
    if not may_manage(binding, programme):
        raise LookupError(programme.id)
    errors: dict[str, str] = {}
    clean = clean_course_fields(data, errors, "course")
    taken = Course.select().where((Course.programme == programme.id) & (Course.name == clean["name"]))
    if course is not None:
        taken = taken.where(Course.id != course.id)
    if "course-name" not in errors and taken.exists():
        errors["course-name"] = f"本项目已有课程“{clean['name']}”"
    if errors:
        raise ProgrammeError(errors)
    with database.atomic():
        if course is None:
            course = Course.create(programme=programme, **clean)
            action, before = "course.created", None
        else:
            before = {"name": course.name, "minutes": course.minutes, "max_hours": course.max_hours}
            Course.update(**clean).where(Course.id == course.id).execute()
            action = "course.updated"
            if before["max_hours"] != clean["max_hours"]:
                rollups.rebuild_programme(programme)
        audit.record(action, actor=binding.account_id, binding=binding, target_type="course",
                     target_id=course.id, scope_path=programme.region.path if programme.region_id else "",
                     before=before, after=clean, address=address)
    return Course.get_by_id(course.id)


_PROGRAMME_WITH_REGION = Prepared(
    lambda: Programme.select(Programme, Region).join(Region, JOIN.LEFT_OUTER)
    .where(Programme.id == slot("id")).limit(1))


def visible_programme(scope: Scope, programme_id: int) -> Programme | None:
    """One programme if the binding may look at it (the rule of `visible_programmes`), with
    its region loaded; else None."""
    programme = _PROGRAMME_WITH_REGION.first(id=programme_id)
    if programme is None or not scope.path or programme.region_id is None:
        return programme
    return programme if programme.region.path == scope.path[:6] else None


def visible_programmes(scope: Scope):
    """The programmes a binding may look at: national ones for everyone; a province's own
    for the admins inside that province; all of them for the national scope (operator)."""
    query = Programme.select().order_by(Programme.start_date.desc(), Programme.id.desc())
    if not scope.path:
        return query
    province = Region.select(Region.id).where(Region.path == scope.path[:6])
    return query.where(Programme.region.is_null() | Programme.region.in_(province))

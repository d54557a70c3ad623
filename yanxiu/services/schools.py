"""Schools and institutions (学校、机构): validate, add, edit, archive or delete, restore, transfer."""
import json
import re
from dataclasses import dataclass

from peewee import JOIN, IntegrityError, fn

from yanxiu.db import database
from yanxiu.formatting import local_date
from yanxiu.masking import mask_phone
from yanxiu.models import Account, AuditLog, Binding, Membership, PermissionCode, Region, School
from yanxiu.models.account import SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE, ARCHIVED, KIND_LABELS, OWNERSHIPS, SCHOOL, STAGES
from yanxiu.scope import Scope
from yanxiu.services import audit, rollups

CODE_RE = re.compile(r"^\d{10}$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")

FIELDS = ["code", "name", "kind", "stage", "ownership", "address", "contact_name", "contact_phone"]
# What a school admin may change of its own school (4.1): not the code, type or region.
DESCRIPTIVE_FIELDS = ["name", "stage", "ownership", "address", "contact_name", "contact_phone"]
FIELD_LABELS = {"code": "学校标识码", "name": "名称", "kind": "类型", "stage": "学段",
                "ownership": "办学性质", "address": "地址", "contact_name": "联系人",
                "contact_phone": "联系电话", "region": "所在区域"}
KIND_BY_LABEL = {label: key for key, label in KIND_LABELS.items()}


class SchoolError(ValueError):
    """Invalid input or a refused act; `errors` maps form fields to Chinese messages."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("；".join(self.errors.values()))


class StaleEdit(SchoolError):
    """Someone else saved the school since this form was loaded; nothing was overwritten."""


def clean_school_fields(data: dict) -> tuple[dict, dict[str, str]]:
    """Trim and check one school's fields (no database look-ups); returns (clean, errors)."""
    clean = {f: str(data.get(f) or "").strip() for f in FIELDS}
    errors = {}
    if not CODE_RE.match(clean["code"]):
        errors["code"] = "学校标识码须为 10 位数字"
    if not clean["name"]:
        errors["name"] = "请填写名称"
    elif len(clean["name"]) > 100:
        errors["name"] = "名称不能超过 100 字"
    kind = KIND_BY_LABEL.get(clean["kind"], clean["kind"]) or SCHOOL
    if kind not in KIND_LABELS:
        errors["kind"] = "类型须为：" + "、".join(KIND_LABELS.values())
    clean["kind"] = kind
    if kind == SCHOOL:
        if not clean["stage"]:
            errors["stage"] = "学校须填写学段"
        elif clean["stage"] not in STAGES:
            errors["stage"] = "学段须为：" + "、".join(STAGES)
    clean["stage"] = clean["stage"] if kind == SCHOOL else None
    clean["ownership"] = clean["ownership"] or "公办"
    if clean["ownership"] not in OWNERSHIPS:
        errors["ownership"] = "办学性质须为 公办 或 民办"
    if len(clean["address"]) > 200:
        errors["address"] = "地址不能超过 200 字"
    if len(clean["contact_name"]) > 50:
        errors["contact_name"] = "联系人不能超过 50 字"
    phone = clean["contact_phone"]
    if phone and not (MOBILE_RE.match(phone) or LANDLINE_RE.match(phone)):
        errors["contact_phone"] = "联系电话须为 11 位手机号或带区号的固定电话（如 0571-88001234）"
    return clean, errors


def code_taken(code: str) -> str:
    return f"学校标识码 {code} 已被使用（全国唯一）"


def name_taken(region: Region, name: str) -> str:
    return f"{region.name}已有同名学校“{name}”"


def _check_unique(clean: dict, region: Region, errors: dict, school_id: int | None = None) -> None:
    others = School.select().where(School.id != (school_id or 0))
    if "code" not in errors and others.where(School.code == clean["code"]).exists():
        errors["code"] = code_taken(clean["code"])
    if "name" not in errors and others.where((School.region == region)
                                             & (School.name == clean["name"])).exists():
        errors["name"] = name_taken(region, clean["name"])


def _snapshot(school: School) -> dict:
    return {f: getattr(school, f) for f in FIELDS} | {"region": school.region.code,
                                                     "status": school.status}


def create_school(binding: Binding, region: Region, data: dict, *, address: str = "") -> School:
    """学校新增: into a region this binding manages."""
    if not Scope.of(binding).may_manage_region(region):
        raise SchoolError("您无权在该区域新增学校")
    clean, errors = clean_school_fields(data)
    _check_unique(clean, region, errors)
    if errors:
        raise SchoolError(errors)
    try:
        with database.atomic():
            school = School.create(**clean, region=region, region_path=region.path)
            audit.record("school.created", actor=binding.account_id, binding=binding,
                         target_type="school", target_id=school.id, scope_path=region.path,
                         after=_snapshot(school), address=address)
    except IntegrityError:
        raise SchoolError({"code": "学校标识码或名称已被使用，请刷新后重试"}) from None
    return school


def update_school(binding: Binding, school: School, data: dict, version: int, *,
                  address: str = "", fields: list[str] = FIELDS) -> School:
    """修改信息: save the given `fields` (those present in `data`) only if nobody saved the
    school since `version` was read."""
    fields = [f for f in fields if f in data]
    if school.contact_phone and data.get("contact_phone") == mask_phone(school.contact_phone):
        data = {**data, "contact_phone": school.contact_phone}  # the form showed it masked
    clean, errors = clean_school_fields({**_snapshot(school), **{f: data[f] for f in fields}})
    _check_unique(clean, school.region, errors, school.id)
    if errors:
        raise SchoolError({f: m for f, m in errors.items() if f in fields} or errors)
    before = _snapshot(school)
    changes = {f: clean[f] for f in fields}
    with database.atomic():
        saved = (School.update(**changes, version=School.version + 1, updated_at=now())
                 .where((School.id == school.id) & (School.version == version)).execute())
        if not saved:
            raise StaleEdit("该学校信息已被他人修改，您的修改未保存。请查看最新信息后重新编辑。")
        school = School.get_by_id(school.id)
        audit.record("school.updated", actor=binding.account_id, binding=binding,
                     target_type="school", target_id=school.id, scope_path=school.region_path,
                     before={f: before[f] for f in fields}, after=changes, address=address)
    return school


def school_has_dependents(school: School) -> bool:
    """Bindings (past or present), codes or teachers: deleting would lose history, so archive."""
    return (Binding.select().where(Binding.school == school).exists()
            or PermissionCode.select().where(PermissionCode.school == school).exists()
            or Membership.select().where(Membership.school == school).exists())


def remove_school(binding: Binding, school: School, *, reason: str = "", address: str = "") -> str:
    """删除: an empty school is removed; one with dependents is archived. Returns which."""
    with database.atomic():
        if school_has_dependents(school):
            (School.update(status=ARCHIVED, version=School.version + 1, updated_at=now())
             .where(School.id == school.id).execute())
            action, result = "school.archived", "archived"
        else:
            School.delete().where(School.id == school.id).execute()
            action, result = "school.deleted", "deleted"
        audit.record(action, actor=binding.account_id, binding=binding, target_type="school",
                     target_id=school.id, scope_path=school.region_path,
                     before=_snapshot(school), after={"reason": reason[:200]}, address=address)
    return result


def restore_school(binding: Binding, school: School, *, address: str = "") -> None:
    """恢复: an archived school returns to the lists."""
    changed = (School.update(status=ACTIVE, version=School.version + 1, updated_at=now())
               .where((School.id == school.id) & (School.status == ARCHIVED)).execute())
    if not changed:
        raise SchoolError("该学校未归档，无需恢复")
    audit.record("school.restored", actor=binding.account_id, binding=binding, target_type="school",
                 target_id=school.id, scope_path=school.region_path, address=address)


def _who_can_transfer(source: Region, target: Region) -> str:
    """The lowest region above both: its admins may move schools across this boundary."""
    shared = ""
    for start in range(0, min(len(source.path), len(target.path)), 6):
        if source.path[start:start + 6] != target.path[start:start + 6]:
            break
        shared += source.path[start:start + 6]
    region = Region.get_or_none(Region.path == shared)
    return region.name if region else "全国"


def transfer_school(binding: Binding, school: School, target: Region, *, reason: str,
                    address: str = "") -> School:
    """转移: move a school between two sub-regions of this binding's jurisdiction.

    The school keeps its id and code; its bindings, codes (and, later, teachers and
    records) follow because they hang on the school; region figures follow its path.
    """
    reason = reason.strip()
    if not reason:
        raise SchoolError({"reason": "请填写转移原因"})
    source = school.region
    if source.id == target.id:
        raise SchoolError({"target": "目标区域与当前区域相同"})
    if not Scope.of(binding).may_transfer(source, target):
        raise SchoolError({"target": f"该转移超出您的管辖范围，请联系{_who_can_transfer(source, target)}"
                                     "的管理员办理"})
    if School.select().where((School.region == target) & (School.name == school.name)
                             & (School.id != school.id)).exists():
        raise SchoolError({"target": name_taken(target, school.name)})
    with database.atomic():
        (School.update(region=target, region_path=target.path, version=School.version + 1,
                       updated_at=now()).where(School.id == school.id).execute())
        (PermissionCode.update(scope_path=target.path)
         .where(PermissionCode.school == school).execute())
        rollups.move_school(school, source.path, target.path)
        audit.record("school.transferred", actor=binding.account_id, binding=binding,
                     target_type="school", target_id=school.id, scope_path=target.path,
                     before={"region": source.code, "region_name": source.name},
                     after={"region": target.code, "region_name": target.name, "reason": reason[:200]},
                     address=address)
    return School.get_by_id(school.id)


@dataclass
class HistoryEntry:
    at: object
    action: str
    actor: str
    detail: str


ACTION_LABELS = {"school.created": "新增", "school.updated": "修改信息", "school.archived": "归档",
                 "school.restored": "恢复", "school.transferred": "转移", "school.imported": "批量导入"}


def school_history(school: School) -> list[HistoryEntry]:
    """The school's history from the audit log, newest first: who did what, when."""
    rows = (AuditLog.select().where((AuditLog.target_type == "school")
                                    & (AuditLog.target_id == str(school.id)))
            .order_by(AuditLog.id.desc()))
    entries = []
    for row in rows:
        before = json.loads(row.before) if row.before else {}
        after = json.loads(row.after) if row.after else {}
        if row.action == "school.transferred":
            detail = f"从{before.get('region_name')}转移到{after.get('region_name')}；原因：{after.get('reason')}"
        elif row.action == "school.updated":
            shown = {"contact_phone": mask_phone}
            detail = "；".join(
                f"{FIELD_LABELS.get(k, k)}：{shown.get(k, str)(before.get(k) or '') or '—'} → "
                f"{shown.get(k, str)(v or '') or '—'}"
                for k, v in after.items() if before.get(k) != v)
        else:
            detail = after.get("reason", "") if isinstance(after, dict) else ""
        entries.append(HistoryEntry(row.at, ACTION_LABELS.get(row.action, row.action),
                                    row.actor.display_name if row.actor_id else "系统", detail))
    return entries


ACTIVATION_FILTERS = {"activated": "已激活", "inactive": "未激活"}
SORTS = {"name": (School.name, School.code), "code": (School.code,),
         "region": (School.region_path, School.code)}
LIST_HEADERS = ["名称", "学校标识码", "类型·学段", "办学性质", "所在区域", "联系人", "联系电话",
                "管理员状态"]


@dataclass
class SchoolFilters:
    """What the school list is narrowed to; unknown values are ignored, not errors."""
    q: str = ""
    kind: str = ""
    stage: str = ""
    ownership: str = ""
    activation: str = ""
    archived: bool = False
    sort: str = "region"


def with_admin(query):
    """The schools of `query`, each with `region_name`, `admin_name` and `activated_at`
    (both None while 未激活: no active school-admin binding)."""
    admin = Binding.alias()
    return (query.select_extend(Region.name.alias("region_name"),
                                admin.created_at.alias("activated_at"),
                                Account.display_name.alias("admin_name"))
            .join_from(School, Region, on=(School.region == Region.id))
            .join_from(School, admin, JOIN.LEFT_OUTER,
                       on=((admin.school == School.id) & (admin.role == SCHOOL_ADMIN)
                           & (admin.state == "active")))
            .join_from(admin, Account, JOIN.LEFT_OUTER, on=(admin.account == Account.id))
            .objects())


def school_list(scope: Scope, filters: SchoolFilters):
    """学校列表: the scope's readable schools (active, or archived ones), searched by name
    (contains) or 学校标识码 (prefix), filtered and sorted; rows as `with_admin` gives them."""
    query = scope.schools().where(School.status == (ARCHIVED if filters.archived else ACTIVE))
    q = filters.q.strip()[:50]
    if q:
        query = query.where(School.name.contains(q) | School.code.startswith(q))
    if filters.kind in KIND_LABELS:
        query = query.where(School.kind == filters.kind)
    if filters.stage in STAGES:
        query = query.where(School.stage == filters.stage)
    if filters.ownership in OWNERSHIPS:
        query = query.where(School.ownership == filters.ownership)
    active_admin = Binding.select().where((Binding.school == School.id)
                                          & (Binding.role == SCHOOL_ADMIN)
                                          & (Binding.state == "active"))
    if filters.activation == "activated":
        query = query.where(fn.EXISTS(active_admin))
    elif filters.activation == "inactive":
        query = query.where(~fn.EXISTS(active_admin))
    return with_admin(query.order_by(*SORTS.get(filters.sort, SORTS["region"])))


def kind_stage(school: School) -> str:
    """类型·学段 as one cell: 学校 · 小学, or the institution kind alone."""
    return f"{school.kind_label} · {school.stage}" if school.stage else school.kind_label


def admin_state(school) -> str:
    """管理员状态 of a `with_admin` row: the admin's name and since when, or 未激活."""
    if not school.admin_name:
        return "未激活"
    return f"{school.admin_name}（{local_date(school.activated_at)}）"


def list_table(rows) -> list[list]:
    """The school list as the screen shows it (phones masked), for export."""
    return [[s.name, s.code, kind_stage(s), s.ownership, s.region_name, s.contact_name,
             mask_phone(s.contact_phone), admin_state(s)] for s in rows]


def school_admin_binding(school: School) -> Binding | None:
    """The school's current admin binding (学校管理员), if any."""
    return (Binding.select().where((Binding.school == school) & (Binding.role == SCHOOL_ADMIN)
                                   & (Binding.state == "active")).first())


def may_offer_transfer(binding: Binding, school: School) -> bool:
    """Whether 转移 is worth offering: the school lies strictly below the binding's region."""
    scope = Scope.of(binding)
    return (scope.role in (SUPER, TRAINING) and school.region_path != scope.path
            and school.region_path.startswith(scope.path))


def transfer_targets(binding: Binding, school: School) -> list[tuple[str, list[tuple[str, str]]]]:
    """转移 targets: active regions strictly inside the binding's region except the school's
    own, grouped by the level below it (a province: by city), labelled 杭州市 › 西湖区."""
    scope = Scope.of(binding)
    if scope.role not in (SUPER, TRAINING):
        return []
    regions = list(Region.select().where(Region.in_subtree(scope.path) & Region.is_active
                                         & (Region.path != scope.path)).order_by(Region.path))
    name_of = {r.path: r.name for r in regions}
    parents = {r.path[:-6] for r in regions}
    groups: dict[str, list[tuple[str, str]]] = {}
    for region in regions:
        top = region.path[:len(scope.path) + 6]
        if region.id == school.region_id:
            groups.setdefault(name_of[top], [])
            continue
        below = [name_of[region.path[:end]] for end in range(len(top), len(region.path) + 1, 6)]
        label = " › ".join(below) + ("（直属）" if region.path in parents else "")
        groups.setdefault(name_of[top], []).append((region.code, label))
    return [(group, choices) for group, choices in groups.items() if choices]

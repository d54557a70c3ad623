"""审计日志 viewer: a scope's audit rows, filtered, labelled and masked alike for the page and the
export. Writing rows is yanxiu.services.audit's job; this module only reads them."""
import datetime
import json
from dataclasses import dataclass, field

from peewee import JOIN

from yanxiu.formatting import SHANGHAI
from yanxiu.masking import mask_id_number, mask_in_text, mask_phone
from yanxiu.models import Account, AuditLog, Binding, Region, School
from yanxiu.models.account import ROLE_LABELS
from yanxiu.scope import Scope

PER_PAGE = 50
# An export is for reading, not for copying the log: past this many rows, narrow the filters.
EXPORT_LIMIT = 10_000

ACTION_LABELS = {
    "account.register": "注册账号",
    "account.password_changed": "修改密码",
    "account.password_change_failed": "修改密码失败",
    "account.reauthenticated": "再次验证身份",
    "account.reauth_failed": "再次验证身份失败",
    "login.ok": "登录",
    "login.failed": "登录失败",
    "login.throttled": "登录受限",
    "login.second_factor_required": "登录待二次验证",
    "two_factor.enrolment_started": "开始设置两步验证",
    "two_factor.enabled": "启用两步验证",
    "two_factor.disabled": "停用两步验证",
    "two_factor.refused": "两步验证失败",
    "two_factor.recovery_used": "使用恢复码",
    "two_factor.recovery_regenerated": "重新生成恢复码",
    "logout": "退出登录",
    "binding.created": "创建管理员身份",
    "binding.switch": "切换身份",
    "binding.ended": "解除绑定",
    "code.issued": "发放权限码",
    "code.revoked": "作废权限码",
    "code.redeemed": "使用权限码绑定",
    "code.redeem_failed": "权限码绑定失败",
    "code.throttled": "权限码输入受限",
    "region.renamed": "区域更名",
    "school.created": "新增学校(机构)",
    "school.updated": "修改学校(机构)",
    "school.archived": "归档学校(机构)",
    "school.deleted": "删除学校(机构)",
    "school.restored": "恢复学校(机构)",
    "school.transferred": "转移学校(机构)",
    "school.imported": "批量导入学校(机构)",
    "teacher.applied": "教师提交审核",
    "teacher.withdrawn": "教师撤回申请",
    "teacher.approved": "审核通过",
    "teacher.rejected": "审核不通过",
    "teacher.removed": "移出教师",
    "teacher.transferred": "教师调出",
    "teacher.revealed": "查看完整信息",
    "programme.created": "新建研修项目",
    "programme.updated": "修改研修项目",
    "course.created": "新增课程",
    "course.updated": "修改课程",
    "records.imported": "导入学习记录",
    "records.submitted": "接口提交学习记录",
    "api_token.issued": "发放接口令牌",
    "api_token.revoked": "吊销接口令牌",
    "api.auth_failed": "接口认证失败",
    "api.throttled": "接口认证受限",
    "notice.sent": "发送督促",
    "notice.read": "阅读通知",
    "faq.entry_created": "新增热点问题",
    "faq.entry_updated": "修改热点问题",
    "faq.entry_deleted": "删除热点问题",
    "faq.topic_created": "新增问题分类",
    "faq.topic_renamed": "重命名问题分类",
    "faq.starting_set_loaded": "载入初始热点问题",
    "demo.built": "生成演示数据",
    "backup.created": "备份数据库",
    "backup.restored": "恢复数据库",
}
TARGET_LABELS = {
    "account": "账号", "binding": "管理员身份", "permission_code": "权限码", "region": "区域",
    "school": "学校(机构)", "membership": "教师申请", "programme": "研修项目", "course": "课程",
    "import_batch": "导入批次", "api_token": "接口令牌", "notice": "通知", "faq": "热点问题",
    "faq_topic": "问题分类", "faq_entry": "热点问题", "demo": "演示数据", "backup": "备份",
}
RESULT_LABELS = {"ok": "成功", "refused": "拒绝"}
COLUMNS = ["时间", "操作人", "身份", "操作", "对象", "结果", "地址"]
EXPORT_HEADERS = [*COLUMNS, "变更前", "变更后"]
FILTER_KEYS = ("actor", "action", "target_type", "target_id", "result", "start", "end")
# Longest value kept of each filter: the column's width (a username is at most 32).
_MAX_LENGTH = {"actor": 32, "action": 40, "target_type": 20, "target_id": 40, "result": 20,
               "start": 10, "end": 10}
_DATE_LABELS = {"start": "开始日期", "end": "结束日期"}
# Values masked by their key whatever their shape (a landline too), besides the text scan.
_MASK_BY_KEY = {"contact_phone": mask_phone, "phone": mask_phone, "id_number": mask_id_number}


@dataclass(frozen=True)
class AuditFilters:
    """What the log is narrowed to, as typed (for the form) and the dates as read."""
    actor: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    result: str = ""
    start: str = ""
    end: str = ""
    start_on: datetime.date | None = field(default=None, compare=False)
    end_on: datetime.date | None = field(default=None, compare=False)

    def args(self) -> dict:
        """The filters set, as query arguments (export links)."""
        return {key: getattr(self, key) for key in FILTER_KEYS if getattr(self, key)}


def _read_date(text: str) -> datetime.date:
    day = datetime.datetime.strptime(text, "%Y-%m-%d").date()
    if not 2000 <= day.year <= 2999:
        raise ValueError(text)
    return day


def parse_filters(args) -> tuple[AuditFilters, dict[str, str]]:
    """The filters in query arguments (any mapping of strings) and a Chinese message for each
    bad one (a date that is none, an end before the start, an unknown result)."""
    text = {key: (args.get(key) or "").replace("\x00", "").strip()[:_MAX_LENGTH[key]]
            for key in FILTER_KEYS}
    errors, days = {}, {}
    for key, label in _DATE_LABELS.items():
        try:
            days[key] = _read_date(text[key]) if text[key] else None
        except ValueError:
            errors[key] = f"{label}“{text[key]}”无效，请按 2025-07-01 的格式填写"
            days[key] = None
    if days["start"] and days["end"] and days["end"] < days["start"]:
        errors["end"] = "结束日期不能早于开始日期"
    if text["result"] and text["result"] not in RESULT_LABELS:
        errors["result"] = "结果只能选择“成功”或“拒绝”"
    return AuditFilters(**text, start_on=days["start"], end_on=days["end"]), errors


def _utc_midnight(day: datetime.date) -> datetime.datetime:
    """00:00 of `day` in Asia/Shanghai, as the stored (naive UTC) times count."""
    return datetime.datetime.combine(day, datetime.time()) - SHANGHAI


def entries(scope: Scope, filters: AuditFilters):
    """The scope's audit rows narrowed by `filters`, newest first."""
    query = scope.audit_entries()
    if filters.actor:
        query = query.where(AuditLog.actor.in_(
            Account.select(Account.id).where(Account.username == filters.actor)))
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.target_type:
        query = query.where(AuditLog.target_type == filters.target_type)
    if filters.target_id:
        query = query.where(AuditLog.target_id == filters.target_id)
    if filters.result:
        query = query.where(AuditLog.result == filters.result)
    if filters.start_on:
        query = query.where(AuditLog.at >= _utc_midnight(filters.start_on))
    if filters.end_on:
        query = query.where(AuditLog.at < _utc_midnight(filters.end_on + datetime.timedelta(days=1)))
    return query.order_by(AuditLog.id.desc())


def _present_values(scope: Scope, column) -> list[str]:
    return [value for (value,) in scope.audit_entries().select(column).distinct().tuples() if value]


def action_choices(scope: Scope, selected: str = "") -> list[tuple[str, str]]:
    """(action, label) of the actions present in the scope's log, by label; a selected action
    that is not among them is kept so the form shows what is applied."""
    present = set(_present_values(scope, AuditLog.action)) | ({selected} if selected else set())
    return sorted(((a, ACTION_LABELS.get(a, a)) for a in present), key=lambda c: (c[1], c[0]))


def target_type_choices(scope: Scope, selected: str = "") -> list[tuple[str, str]]:
    """(target type, label) of the object kinds present in the scope's log, by label."""
    present = set(_present_values(scope, AuditLog.target_type)) | ({selected} if selected else set())
    return sorted(((t, TARGET_LABELS.get(t, t)) for t in present), key=lambda c: (c[1], c[0]))


def _masked(value, key: str = ""):
    """A decoded before/after value with personal data masked: by key, then anywhere in text."""
    if isinstance(value, dict):
        return {mask_in_text(str(k)): _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if key in _MASK_BY_KEY:
        return _MASK_BY_KEY[key](str(value))
    if isinstance(value, str):
        return mask_in_text(value)
    text = str(value)
    return value if mask_in_text(text) == text else mask_in_text(text)


def masked_details(stored: str) -> tuple[str, str]:
    """A stored before/after (JSON) masked, as (pretty for the page, compact for the export)."""
    if not stored:
        return "", ""
    try:
        value = _masked(json.loads(stored))
    except ValueError:
        text = mask_in_text(stored)
        return text, text
    return (json.dumps(value, ensure_ascii=False, indent=2),
            json.dumps(value, ensure_ascii=False))


@dataclass
class AuditRow:
    """One audit row as the page and the export show it: labelled, local time, masked."""
    id: int
    time: str
    actor: str
    identity: str
    action: str
    target: str
    result: str
    refused: bool
    address: str
    before: str
    after: str
    before_compact: str
    after_compact: str

    @property
    def cells(self) -> list[str]:
        """The table's columns (COLUMNS), as on screen."""
        return [self.time, self.actor, self.identity, self.action, self.target, self.result,
                self.address]

    @property
    def export_cells(self) -> list[str]:
        return [*self.cells, self.before_compact, self.after_compact]


def _by_id(query, ids: set[int]) -> dict:
    """Rows of `query` by id, looked up 500 ids at a time."""
    ids, found = sorted(ids), {}
    for start in range(0, len(ids), 500):
        model = query.model
        found.update({row.id: row for row in query.where(model.id.in_(ids[start:start + 500]))})
    return found


def _identity(binding: Binding | None) -> str:
    """身份: the scope and role the act was done under; — for none (a teacher, the system)."""
    if binding is None:
        return "—"
    scope = binding.school.name if binding.school_id else binding.region.name
    return f"{scope} · {ROLE_LABELS.get(binding.role, binding.role)}"


def _target(entry: AuditLog, names: dict[tuple[str, str], str]) -> str:
    """对象: its kind and id, with the name of a school or region that still exists."""
    label = TARGET_LABELS.get(entry.target_type, entry.target_type)
    text = " ".join(part for part in (label, entry.target_id) if part) or "—"
    name = names.get((entry.target_type, entry.target_id))
    return f"{text}（{name}）" if name else text


def _target_names(items: list[AuditLog]) -> dict[tuple[str, str], str]:
    """Names of the schools (by id) and regions (by code) the rows are about."""
    school_ids = {int(e.target_id) for e in items if e.target_type == "school" and e.target_id.isdigit()}
    codes = {e.target_id for e in items if e.target_type == "region" and e.target_id}
    names = {("school", str(s.id)): s.name for s in _by_id(School.select(School.id, School.name),
                                                           school_ids).values()}
    code_list = sorted(codes)
    for start in range(0, len(code_list), 500):
        names.update({("region", code): name for code, name in Region.select(
            Region.code, Region.name).where(Region.code.in_(code_list[start:start + 500])).tuples()})
    return names


def present(items: list[AuditLog]) -> list[AuditRow]:
    """The rows as shown, with their actors and bindings loaded in a few queries."""
    actors = _by_id(Account.select(Account.id, Account.username, Account.display_name),
                    {e.actor_id for e in items if e.actor_id})
    bindings = _by_id(
        Binding.select(Binding, Region, School)
        .join_from(Binding, Region, JOIN.LEFT_OUTER, on=(Binding.region == Region.id))
        .join_from(Binding, School, JOIN.LEFT_OUTER, on=(Binding.school == School.id)),
        {e.binding_id for e in items if e.binding_id})
    names, rows = _target_names(items), []
    for entry in items:
        actor = actors.get(entry.actor_id)
        before, before_compact = masked_details(entry.before)
        after, after_compact = masked_details(entry.after)
        rows.append(AuditRow(
            id=entry.id,
            time=(entry.at + SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            actor=mask_in_text(f"{actor.display_name}（{actor.username}）") if actor else "—",
            identity=_identity(bindings.get(entry.binding_id)),
            action=ACTION_LABELS.get(entry.action, entry.action),
            target=mask_in_text(_target(entry, names)),
            result=RESULT_LABELS.get(entry.result, entry.result),
            refused=entry.result != "ok",
            address=mask_in_text(entry.address) or "—",
            before=before, after=after, before_compact=before_compact, after_compact=after_compact))
    return rows


def export_rows(scope: Scope, filters: AuditFilters) -> tuple[list[list[str]], int]:
    """The filtered rows as the export holds them (newest first, at most EXPORT_LIMIT, a last
    line saying so when cut), and how many rows the filters match."""
    query = entries(scope, filters)
    total = query.count()
    rows = [row.export_cells for row in present(list(query.limit(EXPORT_LIMIT)))]
    if total > EXPORT_LIMIT:
        rows.append([f"（仅导出最新的 {EXPORT_LIMIT} 条，共 {total} 条；请缩小筛选范围后分批导出）"]
                    + [""] * (len(EXPORT_HEADERS) - 1))
    return rows, total

"""Teachers (教师管理): real-name applications (个人中心), review, removal, transfer, reveal.

A teacher submits real-name information to a school; the school admin approves or rejects
it. Approval ends the teacher's earlier membership: at another school it becomes 已调出, at the
same school (corrected information) it is superseded. Every decision is a conditional UPDATE
from the state the admin saw, so of two admins acting on one application exactly one wins.
身份证号 and 手机号 leave this module only masked, except through `reveal`, which is audited.
"""
from dataclasses import dataclass, field

from peewee import JOIN, IntegrityError, fn

from yanxiu.crypto import personal_data_cipher
from yanxiu.db import as_id, database
from yanxiu.formatting import local_datetime
from yanxiu.masking import mask_id_number, mask_phone
from yanxiu.models import Account, Binding, Membership, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE
from yanxiu.models.teacher import (APPROVED, GENDERS, PENDING, REJECTED, REMOVED, STATE_LABELS,
                                   SUBJECTS, SUPERSEDED, TEACHING_STAGES, TITLES, TRANSFERRED,
                                   WITHDRAWN)
from yanxiu.scope import Scope
from yanxiu.services import audit, rollups
from yanxiu.services.identity import IdentityError, check_id_number, check_mobile, check_person_name

FIELD_LABELS = {"name": "姓名", "gender": "性别", "id_number": "身份证号", "phone": "手机号",
                "stage": "任教学段", "subject": "任教学科", "title": "职称", "school": "学校"}
# Tabs of the review list, in the order shown.
REVIEW_STATES = [PENDING, APPROVED, REJECTED, REMOVED, TRANSFERRED]
REJECT_REASONS = ["姓名与身份证号不一致", "非本校（机构）教师", "任教学段或学科填写有误",
                  "信息不完整，请补充后重新提交"]
REVEALABLE = {"id_number": "身份证号", "phone": "手机号"}
DUPLICATE_ID_NUMBER = ("该身份证号已在另一账号完成实名认证，一个身份证号只能认证一个账号。"
                       "如果那是您本人的账号，请使用该账号登录（忘记密码可请学校管理员协助找回）；"
                       "如果不是本人，请联系学校管理员核实。")


class TeacherError(ValueError):
    """Invalid input or a refused act; `errors` maps form fields to Chinese messages."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("；".join(self.errors.values()))


class DecisionConflict(TeacherError):
    """Another admin decided this application first; nothing was changed."""


# ---------------------------------------------------------------- the teacher's side (个人中心)

@dataclass
class TeacherStatus:
    """What 个人中心 shows: the current membership, the open application and the latest outcome."""
    member: Membership | None  # approved: the school the teacher belongs to now
    pending: Membership | None  # submitted, waiting for the school
    latest: Membership | None  # the most recent row of all (a rejection or removal to explain)

    @property
    def label(self) -> str:
        """The headline state: 待审核, 已通过, 未通过, 已移出, or 未提交."""
        if self.pending:
            return STATE_LABELS[PENDING]
        if self.member:
            return STATE_LABELS[APPROVED]
        if self.latest and self.latest.state in (REJECTED, REMOVED):
            return STATE_LABELS[self.latest.state]
        return "未提交"

    @property
    def open_rejection(self) -> Membership | None:
        """The latest application if the school turned it down (shown with its reason)."""
        return self.latest if self.latest and self.latest.state == REJECTED else None


def teacher_status(account: Account) -> TeacherStatus:
    rows = list(Membership.select(Membership, School).join(School)
                .where(Membership.account == account.id).order_by(Membership.id.desc()).limit(20))
    member = next((r for r in rows if r.state == APPROVED), None)
    pending = next((r for r in rows if r.state == PENDING), None)
    return TeacherStatus(member, pending, rows[0] if rows else None)


def clean_teacher_fields(data: dict, basis: Membership | None = None) -> tuple[dict, dict[str, str]]:
    """Check a submission; a blank 身份证号 or 手机号 keeps the one of `basis` (never shown in
    full again). Returns (clean, errors); clean holds clear `id_number` and `phone`."""
    clean = {f: str(data.get(f) or "").strip() for f in
             ("name", "gender", "id_number", "phone", "stage", "subject", "title")}
    errors = {}
    checks = {"name": check_person_name, "id_number": check_id_number, "phone": check_mobile}
    kept = {"id_number": "id_cipher", "phone": "phone_cipher"}
    for name, check in checks.items():
        if not clean[name] and name in kept and basis is not None:
            clean[name] = personal_data_cipher().decrypt(getattr(basis, kept[name]))
            continue
        if not clean[name]:
            errors[name] = f"请填写{FIELD_LABELS[name]}"
            continue
        try:
            clean[name] = check(clean[name])
        except IdentityError as err:
            errors[name] = str(err)
    for name, allowed in (("gender", GENDERS), ("stage", TEACHING_STAGES), ("subject", SUBJECTS)):
        if clean[name] not in allowed:
            errors[name] = f"请选择{FIELD_LABELS[name]}"
    if clean["title"] and clean["title"] not in TITLES:
        errors["title"] = "职称须为：" + "、".join(TITLES)
    return clean, errors


def applicable_school(school_id) -> School:
    """A school a teacher may apply to: an active one from the list."""
    school_id = as_id(school_id)
    school = (School.get_or_none((School.id == school_id) & (School.status == ACTIVE))
              if school_id else None)
    if school is None:
        raise TeacherError({"school": "请从列表中选择学校（可按区域逐级选择，或按名称、学校标识码搜索）"})
    return school


def _personal_columns(clean: dict) -> dict:
    cipher = personal_data_cipher()
    return {"name": clean["name"], "gender": clean["gender"], "stage": clean["stage"],
            "subject": clean["subject"], "title": clean["title"],
            "id_cipher": cipher.encrypt(clean["id_number"]),
            "id_index": cipher.blind_index(clean["id_number"]),
            "id_masked": mask_id_number(clean["id_number"]),
            "phone_cipher": cipher.encrypt(clean["phone"]),
            "phone_index": cipher.blind_index(clean["phone"]),
            "phone_masked": mask_phone(clean["phone"])}


def _summary(row: Membership) -> dict:
    """What the audit log keeps of an application: masked personal data only."""
    return {"name": row.name, "gender": row.gender, "id_number": row.id_masked,
            "phone": row.phone_masked, "stage": row.stage, "subject": row.subject,
            "title": row.title, "school": row.school_id, "state": row.state}


def submit_application(account: Account, school_id, data: dict, *, address: str = "") -> Membership:
    """提交审核: the teacher's real-name information, to a school, as 待审核."""
    status = teacher_status(account)
    if status.pending:
        raise TeacherError("您的申请正在审核中，请等待学校审核；如需修改，请先撤回申请")
    clean, errors = clean_teacher_fields(data, status.latest)
    try:
        school = applicable_school(school_id)
    except TeacherError as err:
        errors.update(err.errors)
        school = None
    if errors:
        raise TeacherError(errors)
    columns = _personal_columns(clean)
    if (Membership.select().where((Membership.id_index == columns["id_index"])
                                  & (Membership.state == APPROVED)
                                  & (Membership.account != account.id)).exists()):
        raise TeacherError({"id_number": DUPLICATE_ID_NUMBER})
    member = status.member
    if (member is not None and member.school_id == school.id
            and all(getattr(member, f) == columns[f] for f in
                    ("name", "gender", "stage", "subject", "title", "id_index", "phone_index"))):
        raise TeacherError("您已是该校教师，信息没有变化，无需重新提交")
    try:
        with database.atomic():
            # A rejection answered by a new application is no longer open.
            (Membership.update(state=SUPERSEDED)
             .where((Membership.account == account.id) & (Membership.state == REJECTED)).execute())
            row = Membership.create(account=account.id, school=school, state=PENDING, **columns)
            audit.record("teacher.applied", actor=account.id, target_type="membership",
                         target_id=row.id, scope_path=school.region_path, after=_summary(row),
                         address=address)
    except IntegrityError:
        raise TeacherError("您的申请正在审核中，请勿重复提交") from None
    return row


def withdraw_application(account: Account, *, address: str = "") -> None:
    """撤回: the teacher takes back a pending application (e.g. to correct it)."""
    row = Membership.get_or_none((Membership.account == account.id) & (Membership.state == PENDING))
    if row is None:
        raise TeacherError("没有待审核的申请可以撤回")
    with database.atomic():
        changed = (Membership.update(state=WITHDRAWN, version=Membership.version + 1, ended_at=now())
                   .where((Membership.id == row.id) & (Membership.state == PENDING)).execute())
        if not changed:
            raise TeacherError("该申请已被学校审核，无法撤回")
        audit.record("teacher.withdrawn", actor=account.id, target_type="membership",
                     target_id=row.id, scope_path=row.school.region_path, address=address)


def search_schools(text: str, limit: int = 20) -> list[School]:
    """The school picker's search: active schools by name (contains) or 学校标识码 (prefix)."""
    text = text.strip()[:50]
    if len(text) < 2:
        return []
    cond = School.name.contains(text)
    if text.isdigit():
        cond = cond | School.code.startswith(text)
    return list(School.select(School, Region).join(Region)
                .where(cond & (School.status == ACTIVE)).order_by(School.code).limit(limit))


# ---------------------------------------------------------------- the admins' side

@dataclass
class TeacherFilters:
    """What a teacher list is narrowed to; unknown values are ignored, not errors."""
    state: str = PENDING
    q: str = ""
    stage: str = ""
    subject: str = ""
    school: int | None = None


SEARCH_KEY = "~"  # marks a search by keyed hash: "~" and 64 hex digits


def is_search_key(text: str) -> bool:
    """Whether a search is a keyed hash (see `search_key`)."""
    return text.startswith(SEARCH_KEY) and len(text) == 65


def search_key(text: str) -> str:
    """The search as a page may repeat it (search box, links, pushed URL): a full 手机号 or
    身份证号 becomes SEARCH_KEY and its keyed hash; anything else stays as typed."""
    text = text.strip()
    if is_search_key(text):
        return text
    text = text[:30]
    if text.isdigit() and len(text) == 11:
        return SEARCH_KEY + personal_data_cipher().blind_index(text)
    if len(text) == 18:
        return SEARCH_KEY + personal_data_cipher().blind_index(text.upper())
    return text


def _search(query, text: str):
    """Name (contains); a 4-digit tail of the 手机号; a full 手机号 or 身份证号 (exact, by keyed hash)."""
    text = search_key(text)
    if not text:
        return query
    if is_search_key(text):
        digest = text[1:]
        return query.where((Membership.phone_index == digest) | (Membership.id_index == digest))
    if text.isdigit() and len(text) == 4:
        return query.where(Membership.name.contains(text) | Membership.phone_masked.endswith(text))
    return query.where(Membership.name.contains(text))


def teacher_list(scope: Scope, filters: TeacherFilters):
    """The scope's applications or members in one state, searched and filtered, newest first
    for pending ones, by school and name otherwise; rows carry their school and account."""
    state = filters.state if filters.state in REVIEW_STATES else PENDING
    # objects(): the school's name and code land on the row itself (r.school_name), not on r.school.
    query = (scope.memberships().select_extend(School.name.alias("school_name"),
                                              School.code.alias("school_code"))
             .where(Membership.state == state).objects())
    query = _search(query, filters.q)
    if filters.stage in TEACHING_STAGES:
        query = query.where(Membership.stage == filters.stage)
    if filters.subject in SUBJECTS:
        query = query.where(Membership.subject == filters.subject)
    if filters.school:
        query = query.where(Membership.school == filters.school)
    if state == PENDING:
        return query.order_by(Membership.submitted_at, Membership.id)
    return query.order_by(School.code, Membership.name, Membership.id)


def state_counts(scope: Scope, school_id: int | None = None) -> dict[str, int]:
    """How many rows each review tab holds (unfiltered), from one grouped query."""
    query = scope.memberships()
    if school_id:
        query = query.where(Membership.school == school_id)
    counts = dict(query.select(Membership.state, fn.COUNT(Membership.id))
                  .where(Membership.state.in_(REVIEW_STATES)).group_by(Membership.state).tuples())
    return {state: counts.get(state, 0) for state in REVIEW_STATES}


def pending_count(scope: Scope) -> int:
    """待审核 in the scope: the workbench to-do."""
    return scope.memberships().where(Membership.state == PENDING).count()


def membership_in_scope(scope: Scope, membership_id) -> Membership | None:
    """A row the scope may read, or None (the view answers 404)."""
    membership_id = as_id(membership_id)
    if membership_id is None:
        return None
    return scope.memberships().where(Membership.id == membership_id).first()


def _reviewable(binding: Binding, membership_id) -> Membership:
    """Only the school's own admin decides on its applications and members."""
    if binding.role != SCHOOL_ADMIN:
        raise LookupError(membership_id)
    row = membership_in_scope(Scope.of(binding), membership_id)
    if row is None:
        raise LookupError(membership_id)
    return row


def _decided_already(row_id: int) -> DecisionConflict:
    row = Membership.get_by_id(row_id)
    who = row.decided_by.display_name if row.decided_by_id else "他人"
    return DecisionConflict(f"{row.name}的申请已由{who}处理（{row.state_label}），您的操作未执行")


def approve(binding: Binding, membership_id, *, address: str = "") -> Membership:
    """审核通过: the application becomes the membership; an earlier one ends (调出 or updated).

    Raises LookupError for a row outside the admin's school, DecisionConflict when it was
    decided first, TeacherError when its 身份证号 is already approved for another account.
    """
    row = _reviewable(binding, membership_id)
    if row.state != PENDING:
        raise _decided_already(row.id)
    if (Membership.select().where((Membership.id_index == row.id_index)
                                  & (Membership.state == APPROVED)
                                  & (Membership.account != row.account_id)).exists()):
        raise TeacherError("该身份证号已在另一账号通过实名认证，不能重复通过。请选择“不通过”，"
                           "并告知教师使用原账号登录。")
    stamp = now()
    school = row.school
    try:
        with database.atomic():
            earlier = (Membership.select(Membership, School).join(School)
                       .where((Membership.account == row.account_id) & (Membership.state == APPROVED)
                              & (Membership.id != row.id)).first())
            if earlier is not None:
                moved = earlier.school_id != row.school_id
                (Membership.update(state=TRANSFERRED if moved else SUPERSEDED, ended_at=stamp,
                                   ended_by=binding.account_id, version=Membership.version + 1,
                                   end_reason=f"调入{school.name}" if moved else "信息已更新")
                 .where((Membership.id == earlier.id) & (Membership.state == APPROVED)).execute())
            won = (Membership.update(state=APPROVED, decided_at=stamp, decided_by=binding.account_id,
                                     decided_binding=binding.id, version=Membership.version + 1)
                   .where((Membership.id == row.id) & (Membership.state == PENDING)).execute())
            if not won:
                raise _decided_already(row.id)
            rollups.move_teacher(row.account_id,
                                 (earlier.school_id, earlier.stage) if earlier else None,
                                 (row.school_id, row.stage))
            audit.record("teacher.approved", actor=binding.account_id, binding=binding,
                         target_type="membership", target_id=row.id,
                         scope_path=school.region_path, after=_summary(row), address=address)
            if earlier is not None and earlier.school_id != row.school_id:
                audit.record("teacher.transferred", actor=binding.account_id, binding=binding,
                             target_type="membership", target_id=earlier.id,
                             scope_path=earlier.school.region_path,
                             after={"to_school": school.id, "to_school_name": school.name},
                             address=address)
    except IntegrityError:
        raise TeacherError("该身份证号已在另一账号通过实名认证，不能重复通过") from None
    return Membership.get_by_id(row.id)


def reject(binding: Binding, membership_id, reason: str, *, address: str = "") -> Membership:
    """审核不通过, with the reason the teacher will read."""
    row = _reviewable(binding, membership_id)
    reason = (reason or "").strip()
    if not reason:
        raise TeacherError({"reason": "请选择或填写不通过的原因"})
    if len(reason) > 200:
        raise TeacherError({"reason": "原因不能超过 200 字"})
    with database.atomic():
        won = (Membership.update(state=REJECTED, decided_at=now(), decided_by=binding.account_id,
                                 decided_binding=binding.id, reason=reason,
                                 version=Membership.version + 1)
               .where((Membership.id == row.id) & (Membership.state == PENDING)).execute())
        if not won:
            raise _decided_already(row.id)
        audit.record("teacher.rejected", actor=binding.account_id, binding=binding,
                     target_type="membership", target_id=row.id,
                     scope_path=row.school.region_path, after={"reason": reason}, address=address)
    return Membership.get_by_id(row.id)


@dataclass
class BulkOutcome:
    """批量通过: who was approved, and why the others were not."""
    approved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def approve_many(binding: Binding, membership_ids, *, address: str = "") -> BulkOutcome:
    """Approve each selected application on its own: one that fails does not hold up the rest.
    Ids outside the admin's school are refused as not found, not approved."""
    outcome = BulkOutcome()
    for membership_id in dict.fromkeys(membership_ids):
        try:
            outcome.approved.append(approve(binding, membership_id, address=address).name)
        except LookupError:
            outcome.refused.append("有一条申请不存在或不属于本校，未处理")
        except TeacherError as err:
            outcome.refused.append(str(err))
    return outcome


def remove_teacher(binding: Binding, membership_id, reason: str, *, address: str = "") -> Membership:
    """移出: the teacher leaves the school; the learning records stay with the teacher."""
    row = _reviewable(binding, membership_id)
    reason = (reason or "").strip()
    if not reason:
        raise TeacherError({"reason": "请填写移出原因"})
    if len(reason) > 200:
        raise TeacherError({"reason": "原因不能超过 200 字"})
    with database.atomic():
        done = (Membership.update(state=REMOVED, ended_at=now(), ended_by=binding.account_id,
                                  end_reason=reason, version=Membership.version + 1)
                .where((Membership.id == row.id) & (Membership.state == APPROVED)).execute())
        if not done:
            raise DecisionConflict(f"{row.name}已不是本校在册教师（{Membership.get_by_id(row.id).state_label}），"
                                   "未执行移出")
        rollups.move_teacher(row.account_id, (row.school_id, row.stage), None)
        audit.record("teacher.removed", actor=binding.account_id, binding=binding,
                     target_type="membership", target_id=row.id,
                     scope_path=row.school.region_path, after={"reason": reason}, address=address)
    return Membership.get_by_id(row.id)


def reveal(binding: Binding, membership_id, what: str, *, address: str = "") -> str:
    """查看完整信息: one 身份证号 or 手机号 in clear, for an admin in scope; always audited.
    Raises LookupError for a row out of scope or an unknown field."""
    row = membership_in_scope(Scope.of(binding), membership_id)
    if row is None or what not in REVEALABLE:
        raise LookupError(membership_id)
    cipher_column = "id_cipher" if what == "id_number" else "phone_cipher"
    value = personal_data_cipher().decrypt(getattr(row, cipher_column))
    audit.record("teacher.revealed", actor=binding.account_id, binding=binding,
                 target_type="membership", target_id=row.id, scope_path=row.school.region_path,
                 after={"field": what, "name": row.name}, address=address)
    return value


# ---------------------------------------------------------------- region admins' overview

LIST_HEADERS = ["姓名", "性别", "身份证号", "手机号", "任教学段", "任教学科", "职称", "学校",
                "学校标识码", "状态", "提交时间", "说明"]


def list_table(rows) -> list[list]:
    """A teacher list as the screen shows it (personal data masked), for export."""
    return [[r.name, r.gender, r.id_masked, r.phone_masked, r.stage, r.subject, r.title,
             r.school_name, r.school_code, r.state_label, local_datetime(r.submitted_at),
             r.reason or r.end_reason] for r in rows]


@dataclass
class RegionTeacherRow:
    """One sub-region (or a county's school) with its teachers: members and pending."""
    code: str
    name: str
    approved: int
    pending: int
    school_id: int | None = None


def teacher_counts_by_child(parent: Region) -> list[RegionTeacherRow]:
    """Approved and pending teachers per direct sub-region of `parent`; for a region whose
    schools hang on it (a county, or 直属 schools) one row per such school as well."""
    prefix = fn.SUBSTR(School.region_path, 1, len(parent.path) + 6)
    grouped = (Membership.select(prefix.alias("p"), Membership.state, fn.COUNT(Membership.id))
               .join(School, on=(Membership.school == School.id))
               .where(School.in_subtree(parent.path) & (School.region != parent.id)
                      & Membership.state.in_([APPROVED, PENDING]))
               .group_by(prefix, Membership.state).tuples())
    by_path: dict[str, dict[str, int]] = {}
    for path, state, count in grouped:
        by_path.setdefault(path, {})[state] = count
    rows = [RegionTeacherRow(r.code, r.name, by_path.get(r.path, {}).get(APPROVED, 0),
                             by_path.get(r.path, {}).get(PENDING, 0))
            for r in Region.select().where(Region.parent == parent).order_by(Region.code)]
    direct = (School.select(School.id, School.code, School.name, Membership.state,
                            fn.COUNT(Membership.id).alias("n"))
              .join(Membership, on=((Membership.school == School.id)
                                    & Membership.state.in_([APPROVED, PENDING])), join_type=JOIN.LEFT_OUTER)
              .where((School.region == parent.id) & (School.status == ACTIVE))
              .group_by(School.id, School.code, School.name, Membership.state)
              .order_by(School.code).tuples())
    schools: dict[int, RegionTeacherRow] = {}
    for school_id, code, name, state, count in direct:
        row = schools.setdefault(school_id, RegionTeacherRow(code, name, 0, 0, school_id))
        if state == APPROVED:
            row.approved = count
        elif state == PENDING:
            row.pending = count
    return rows + list(schools.values())

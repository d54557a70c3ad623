"""Learning records in (学习记录接入): validate a batch item by item, keep the good ones.

Idempotent on the external id: an id seen before (in this batch or an earlier one) is a
duplicate and changes nothing. Accepted records are stored raw and rolled up in the same
transaction, so a statistics page never sees one without the other.
"""
import datetime
from dataclasses import dataclass

from peewee import JOIN

from yanxiu.crypto import personal_data_cipher
from yanxiu.db import MAX_ID, BulkWrite, PreparedIn, database, transaction_lock
from yanxiu.formatting import SHANGHAI
from yanxiu.models import Account, ApiToken, Course, LearningRecord, Membership, Programme, School
from yanxiu.models.base import now
from yanxiu.models.teacher import APPROVED
from yanxiu.services import rollups
from yanxiu.services.identity import IdentityError, check_id_number

MAX_BATCH = 1000
MAX_MINUTES = 24 * 60  # one record cannot hold more than a day of learning
ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


@dataclass(slots=True)
class ItemResult:
    """The answer for one item of a batch; a refusal names the item `field` at fault."""
    index: int
    external_id: str
    status: str
    reason: str = ""
    field: str = ""

    def as_dict(self) -> dict:
        answer = {"index": self.index, "external_id": self.external_id, "status": self.status}
        if self.reason:
            answer["reason"] = self.reason
        if self.field:
            answer["field"] = self.field
        return answer

    @property
    def detail(self) -> str:
        """The reason without the leading field name (a report shows the column beside it)."""
        return self.reason.removeprefix(f"{self.field} ") if self.field else self.reason


class BatchError(ValueError):
    """The batch as a whole is refused (not a list, too large); nothing was stored."""


def parse_time(value) -> datetime.datetime:
    """An ISO 8601 time; without an offset it is Asia/Shanghai. Returns naive UTC."""
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_SHANGHAI_ZONE)
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


_SHANGHAI_ZONE = datetime.timezone(SHANGHAI)


@dataclass(slots=True)
class _Item:
    index: int
    external_id: str
    teacher: dict
    programme_id: int
    course_id: int
    minutes: int
    occurred_at: datetime.datetime


def _check_item(index: int, raw, latest: datetime.datetime) -> _Item | ItemResult:
    """Shape and value checks that need no database."""
    if not isinstance(raw, dict):
        return ItemResult(index, "", REJECTED, "每条记录须为一个 JSON 对象", "")
    external_id = raw.get("external_id")
    if not isinstance(external_id, str) or not 1 <= len(external_id.strip()) <= 64:
        return ItemResult(index, str(external_id or "")[:64], REJECTED, "external_id 须为 1–64 个字符的字符串",
                          "external_id")
    # U+0000 fits no text column (PostgreSQL refuses it in any statement): refused, not looked up.
    if "\x00" in external_id:
        return ItemResult(index, external_id.replace("\x00", ""), REJECTED,
                          "external_id 含有控制字符 NUL", "external_id")
    external_id = external_id.strip()
    teacher = raw.get("teacher")
    account = teacher.get("account") if isinstance(teacher, dict) else None
    id_number = teacher.get("id_number") if isinstance(teacher, dict) else None
    if not (isinstance(account, str) or isinstance(id_number, str)):
        return _refusal(index, external_id, "teacher", "须给出 account（平台账号）或 id_number（身份证号）")
    if (isinstance(account, str) and "\x00" in account) or (isinstance(id_number, str) and "\x00" in id_number):
        return _refusal(index, external_id, "teacher", "含有控制字符 NUL，无法识别教师")
    programme, course, minutes = raw.get("programme"), raw.get("course"), raw.get("minutes")
    for key, value in (("programme", programme), ("course", course), ("minutes", minutes)):
        if type(value) is not int:  # not isinstance: JSON's true and false are no numbers here
            return _refusal(index, external_id, key, "须为整数")
    # Ids no row can have (and no database integer can hold) are refused before any look-up.
    if not 1 <= programme <= MAX_ID:
        return _refusal(index, external_id, "programme", "未找到该研修项目")
    if not 1 <= course <= MAX_ID:
        return _refusal(index, external_id, "course", "该课程不属于该研修项目")
    if not 1 <= minutes <= MAX_MINUTES:
        return _refusal(index, external_id, "minutes", f"须在 1–{MAX_MINUTES} 之间")
    try:
        occurred_at = parse_time(raw.get("occurred_at"))
    except (TypeError, ValueError, OverflowError):  # OverflowError: a time that leaves the calendar in UTC
        return _refusal(index, external_id, "occurred_at", "须为 ISO 8601 时间，如 2025-07-15T20:30:00+08:00")
    if occurred_at > latest:
        return _refusal(index, external_id, "occurred_at", "晚于当前时间")
    return _Item(index, external_id, teacher, programme, course, minutes, occurred_at)


def _refusal(index: int, external_id: str, field: str, reason: str) -> ItemResult:
    return ItemResult(index, external_id, REJECTED, f"{field} {reason}", field)


# The batch look-ups, their SQL built once (see `PreparedIn`). A teacher comes with the
# approved membership the rollups need (school, 任教学段, the school's region path), if any.
_TEACHERS_BY_NAME = PreparedIn(lambda keys: Account.select(
    Account.username, Account.id, Membership.school, Membership.stage, School.region_path)
    .join_from(Account, Membership, JOIN.LEFT_OUTER,
               on=((Membership.account == Account.id) & (Membership.state == APPROVED)))
    .join_from(Membership, School, JOIN.LEFT_OUTER, on=(Membership.school == School.id))
    .where(Account.username.in_(keys)).tuples(), rollups.CHUNK)
_TEACHERS_BY_ID_INDEX = PreparedIn(lambda keys: Membership.select(
    Membership.id_index, Membership.account, Membership.school, Membership.stage, School.region_path)
    .join(School, on=(Membership.school == School.id))
    .where(Membership.id_index.in_(keys) & (Membership.state == APPROVED)).tuples(), rollups.CHUNK)
_STORED_EXTERNAL_IDS = PreparedIn(lambda keys: LearningRecord.select(LearningRecord.external_id)
                                  .where(LearningRecord.external_id.in_(keys)).tuples(), rollups.CHUNK)


def _resolve_teachers(items: list[_Item]) -> tuple[dict[int, int | str], dict[int, rollups.Member]]:
    """Account id (or a refusal reason) per item index, from account names or keyed hashes;
    and the approved membership of each account found that has one."""
    members: dict[int, rollups.Member] = {}
    by_name = {}
    names = sorted({i.teacher["account"] for i in items if isinstance(i.teacher.get("account"), str)})
    for name, account, school, stage, path in _TEACHERS_BY_NAME(names):
        by_name[name] = account
        if school is not None:
            members[account] = rollups.Member(school, stage, path)
    cipher = personal_data_cipher()
    indexes, answers = {}, {}
    for item in items:
        if isinstance(item.teacher.get("account"), str):
            continue
        try:
            indexes[item.index] = cipher.blind_index(check_id_number(item.teacher["id_number"]))
        except IdentityError as err:
            answers[item.index] = f"id_number 无效：{err}"
    by_index = {}
    for id_index, account, school, stage, path in _TEACHERS_BY_ID_INDEX(sorted(set(indexes.values()))):
        by_index[id_index] = account
        members[account] = rollups.Member(school, stage, path)
    for item in items:
        if item.index in answers:
            continue
        if isinstance(item.teacher.get("account"), str):
            found = by_name.get(item.teacher["account"])
            answers[item.index] = found if found else "未找到该平台账号"
        else:
            found = by_index.get(indexes[item.index])
            answers[item.index] = found if found else "未找到该身份证号对应的已认证教师"
    return answers, members


def _in_token_scope(token: ApiToken | None, members: dict[int, rollups.Member],
                    account_ids: set[int]) -> set[int]:
    """Accounts the token may send records for: all for a national token; for a provincial
    one, teachers approved at a school inside its province."""
    if token is None or token.region_id is None:
        return account_ids
    province = token.region.path
    return {a for a in account_ids if a in members and members[a].region_path.startswith(province)}


@dataclass
class Judgement:
    """A batch judged against the database: one result per item, and the items to store."""
    results: list[ItemResult]
    accepted: list[tuple[_Item, int]]  # (item, account id)
    programmes: dict[int, Programme]
    members: dict[int, rollups.Member]  # approved membership by account id


def judge(batch, token: ApiToken | None = None) -> Judgement:
    """Check every item of a batch (shape, teacher, programme, course, token scope, external
    ids seen before or earlier in the batch) without writing anything.

    Raises BatchError when the batch itself is unusable.
    """
    if not isinstance(batch, list):
        raise BatchError("records 须为数组")
    if len(batch) > MAX_BATCH:
        raise BatchError(f"每批最多 {MAX_BATCH} 条记录，本批 {len(batch)} 条")
    results: dict[int, ItemResult] = {}
    items: list[_Item] = []
    latest = now() + datetime.timedelta(minutes=5)  # clocks of senders run a little ahead
    for index, raw in enumerate(batch):
        checked = _check_item(index, raw, latest)
        if isinstance(checked, ItemResult):
            results[index] = checked
        else:
            items.append(checked)

    programmes = {p.id: p for p in Programme.select().where(
        Programme.id.in_(sorted({i.programme_id for i in items}) or [0]))}
    courses = dict(Course.select(Course.id, Course.programme)
                   .where(Course.id.in_(sorted({i.course_id for i in items}) or [0])).tuples())
    teachers, members = _resolve_teachers(items)
    allowed = _in_token_scope(token, members, {a for a in teachers.values() if isinstance(a, int)})
    seen = {e for (e,) in _STORED_EXTERNAL_IDS(sorted({i.external_id for i in items}))}
    accepted: list[tuple[_Item, int]] = []
    for item in items:
        account = teachers[item.index]
        programme = programmes.get(item.programme_id)
        if item.external_id in seen:
            results[item.index] = ItemResult(item.index, item.external_id, DUPLICATE)
            continue
        field, reason = "", ""
        if programme is None:
            field, reason = "programme", "未找到该研修项目"
        elif courses.get(item.course_id) != programme.id:
            field, reason = "course", "该课程不属于该研修项目"
        elif isinstance(account, str):
            field, reason = "teacher", account
        elif account not in allowed:
            field, reason = "teacher", "该教师不在本令牌的范围内"
        elif token is not None and token.region_id and programme.region_id not in (None, token.region_id):
            field, reason = "programme", "该研修项目不在本令牌的范围内"
        if reason:
            results[item.index] = ItemResult(item.index, item.external_id, REJECTED,
                                             f"{field} {reason}", field)
            continue
        seen.add(item.external_id)
        accepted.append((item, account))
        results[item.index] = ItemResult(item.index, item.external_id, ACCEPTED)
    return Judgement([results[i] for i in range(len(batch))], accepted, programmes, members)


_STORE_RECORDS = BulkWrite(lambda rows: LearningRecord.insert_many(rows, fields=[
    LearningRecord.external_id, LearningRecord.account, LearningRecord.programme, LearningRecord.course,
    LearningRecord.minutes, LearningRecord.occurred_at, LearningRecord.source, LearningRecord.token,
    LearningRecord.received_at]))


def ingest(batch, *, token: ApiToken | None = None, source: str = "api") -> list[ItemResult]:
    """Store a batch of learning records; one ItemResult per item, in order.

    Judged and written under the rollup lock, so two batches carrying the same external id
    store it once. Raises BatchError when the batch itself is unusable. Good items are kept
    even when others are refused.
    """
    with database.atomic():
        transaction_lock(rollups.ROLLUP_LOCK)
        judgement = judge(batch, token)
        accepted = judgement.accepted
        stamp = now()
        _STORE_RECORDS([(i.external_id, a, i.programme_id, i.course_id, i.minutes, i.occurred_at, source,
                         token.id if token else None, stamp) for i, a in accepted])
        for programme_id in sorted({i.programme_id for i, _ in accepted}):
            rollups.apply_records(judgement.programmes[programme_id],
                                  [(a, i.course_id, i.minutes, i.occurred_at)
                                   for i, a in accepted if i.programme_id == programme_id],
                                  judgement.members)
        if token is not None:
            ApiToken.update(last_used_at=stamp).where(ApiToken.id == token.id).execute()
    return judgement.results

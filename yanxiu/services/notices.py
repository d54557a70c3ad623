"""督促 notices: an admin reminds sub-regions or schools; recipients read them on the workbench."""
import datetime
from dataclasses import dataclass

from peewee import fn

from yanxiu.db import database
from yanxiu.models import Binding, Notice, NoticeRecipient, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE, in_subtree
from yanxiu.scope import Scope
from yanxiu.services import activation, audit

BODY_MAX = 300
# Mass sending: at most 10 sends an hour per account, 2,000 addressees each.
SENDS_PER_HOUR, MAX_RECIPIENTS = 10, 2000


class NoticeError(ValueError):
    """A notice could not be sent or read; the message is Chinese."""


@dataclass(frozen=True)
class Addressee:
    """A region (its admins) or a school (its admin)."""
    region: Region | None = None
    school: School | None = None

    @property
    def name(self) -> str:
        return (self.school or self.region).name


def parse_targets(scope: Scope, keys: list[str]) -> list[Addressee]:
    """Form values `region:330102` / `school:3301060001` → addressees strictly inside the scope."""
    region_codes = {k.split(":", 1)[1] for k in keys if k.startswith("region:")}
    school_codes = {k.split(":", 1)[1] for k in keys if k.startswith("school:")}
    regions = list(scope.regions().where(Region.code.in_(list(region_codes))
                                         & (Region.path != scope.path)))
    schools = list(scope.schools().where(School.code.in_(list(school_codes))
                                         & (School.status == ACTIVE)))
    if len(regions) + len(schools) != len(region_codes) + len(school_codes):
        raise NoticeError("所选对象不在您的管辖范围内")
    return [Addressee(region=r) for r in regions] + [Addressee(school=s) for s in schools]


def urge_candidates(region: Region, schools_list: bool) -> list[tuple[Addressee, bool]]:
    """The rows of a progress list as addressees, each with whether it is 未激活.

    `region` must come from the caller's scope (yanxiu.scope.region_or_404).
    """
    if schools_list:
        return [(Addressee(school=s), s.admin_name is None)
                for s in activation.school_activations(region)]
    rows = activation.region_progress(region).rows
    return [(Addressee(region=r.region), not r.fully_activated) for r in rows if r.region is not None]


def inactive_targets(region: Region, schools_list: bool) -> list[Addressee]:
    """Every 未激活 row of a progress list ("督促全部未激活"); `region` from the caller's scope."""
    return [addressee for addressee, inactive in urge_candidates(region, schools_list) if inactive]


def send_urge(binding: Binding, addressees: list[Addressee], body: str, *, address: str = "") -> Notice:
    """督促: one notice to many addressees; throttled, audited."""
    body = body.strip()
    if not body:
        raise NoticeError("请填写督促内容")
    if len(body) > BODY_MAX:
        raise NoticeError(f"督促内容不能超过 {BODY_MAX} 字")
    if not addressees:
        raise NoticeError("请至少选择一个督促对象")
    if len(addressees) > MAX_RECIPIENTS:
        raise NoticeError(f"一次最多督促 {MAX_RECIPIENTS} 个对象，请分批发送")
    recent = Notice.select().where((Notice.sender == binding.account_id)
                                   & (Notice.created_at > now() - datetime.timedelta(hours=1))).count()
    if recent >= SENDS_PER_HOUR:
        raise NoticeError(f"每小时最多发送 {SENDS_PER_HOUR} 次督促，请稍后再试")
    scope = Scope.of(binding)
    with database.atomic():
        notice = Notice.create(kind="urge", body=body, sender=binding.account_id,
                               sender_binding=binding, scope_path=scope.path)
        rows = [{"notice": notice.id, "region": a.region.id if a.region else None,
                 "school": a.school.id if a.school else None} for a in addressees]
        for start in range(0, len(rows), 500):
            NoticeRecipient.insert_many(rows[start:start + 500]).execute()
        audit.record("notice.sent", actor=binding.account_id, binding=binding, target_type="notice",
                     target_id=notice.id, scope_path=scope.path, address=address,
                     after={"recipients": len(rows), "body": body})
    return notice


def _addressed_to(binding: Binding):
    if binding.role == SCHOOL_ADMIN:
        return NoticeRecipient.school == binding.school_id
    return NoticeRecipient.region == binding.region_id


def inbox(binding: Binding, unread_only: bool = True):
    """Notices addressed to the binding's region or school, newest first."""
    query = (NoticeRecipient.select(NoticeRecipient, Notice).join(Notice)
             .where(_addressed_to(binding)).order_by(Notice.created_at.desc()))
    return query.where(NoticeRecipient.read_at.is_null()) if unread_only else query


def mark_read(binding: Binding, recipient_id: int, *, address: str = "") -> NoticeRecipient:
    """Mark one of my notices read; a notice addressed elsewhere is not found."""
    recipient = inbox(binding, unread_only=False).where(NoticeRecipient.id == recipient_id).first()
    if recipient is None:
        raise NoticeError("通知不存在")
    if recipient.read_at is None:
        (NoticeRecipient.update(read_at=now(), read_by=binding.account_id)
         .where((NoticeRecipient.id == recipient.id) & NoticeRecipient.read_at.is_null()).execute())
        audit.record("notice.read", actor=binding.account_id, binding=binding,
                     target_type="notice", target_id=recipient.notice_id, address=address)
    return NoticeRecipient.get_by_id(recipient.id)


def sent_notices(scope: Scope):
    """Notices sent from inside the scope, with recipient and read counts, newest first."""
    read = fn.COUNT(NoticeRecipient.read_at)
    return (Notice.select(Notice, fn.COUNT(NoticeRecipient.id).alias("total"), read.alias("read"))
            .join(NoticeRecipient).where(in_subtree(Notice.scope_path, scope.path))
            .group_by(Notice.id).order_by(Notice.created_at.desc()))


def recipients_of(scope: Scope, notice_id: int):
    """A sent notice's addressees with who read it when; None when outside the scope."""
    notice = Notice.get_or_none((Notice.id == notice_id) & in_subtree(Notice.scope_path, scope.path))
    if notice is None:
        return None, []
    return notice, list(NoticeRecipient.select().where(NoticeRecipient.notice == notice)
                        .order_by(NoticeRecipient.id))

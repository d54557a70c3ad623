"""激活进度: how far the admins and schools below a region have been activated."""
from dataclasses import dataclass

from peewee import JOIN, fn

from yanxiu.formatting import local_date, percent
from yanxiu.masking import mask_phone
from yanxiu.models import Account, Binding, PermissionCode, Region, School
from yanxiu.models.account import SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.code import REVOKED
from yanxiu.models.region import ACTIVE
from yanxiu.services.regions import school_counts_by_child


@dataclass
class ProgressRow:
    """One direct sub-region (or the region's own 直属 schools) with its activation figures."""
    region: Region | None
    label: str
    super_name: str | None = None
    training_active: int = 0
    training_issued: int = 0
    schools: int = 0
    schools_activated: int = 0
    has_children: bool = False

    @property
    def super_activated(self) -> bool:
        return self.super_name is not None

    @property
    def rate(self) -> float | None:
        return self.schools_activated / self.schools if self.schools else None

    @property
    def fully_activated(self) -> bool:
        """Its super admin (for a sub-region) and every school's admin are bound."""
        return (self.region is None or self.super_activated) and self.schools_activated == self.schools


@dataclass
class ProgressTotals:
    """The totals row (合计) of a progress table."""
    sub_regions: int
    supers_activated: int
    training_active: int
    training_issued: int
    schools: int
    schools_activated: int

    @property
    def rate(self) -> float | None:
        return self.schools_activated / self.schools if self.schools else None


def _totals(rows: list[ProgressRow]) -> ProgressTotals:
    sub = [r for r in rows if r.region is not None]
    return ProgressTotals(
        len(sub), sum(1 for r in sub if r.super_activated),
        sum(r.training_active for r in rows), sum(r.training_issued for r in rows),
        sum(r.schools for r in rows), sum(r.schools_activated for r in rows))


@dataclass
class RegionProgress:
    """The progress table of a region: its rows (maybe filtered) and the whole region's totals."""
    region: Region
    rows: list[ProgressRow]
    totals: ProgressTotals


def region_progress(region: Region, only_inactive: bool = False) -> RegionProgress:
    """One row per direct sub-region of `region`, plus its own 直属 schools, with totals."""
    children = list(Region.select().where(Region.parent == region).order_by(Region.code))
    ids = [c.id for c in children]
    supers = dict(Binding.select(Binding.region, Account.display_name).join(Account)
                  .where((Binding.role == SUPER) & (Binding.state == "active")
                         & Binding.region.in_(ids)).tuples())
    training_active = dict(Binding.select(Binding.region, fn.COUNT(Binding.id))
                           .where((Binding.role == TRAINING) & (Binding.state == "active")
                                  & Binding.region.in_(ids)).group_by(Binding.region).tuples())
    training_issued = dict(PermissionCode.select(PermissionCode.region, fn.COUNT(PermissionCode.id))
                           .where((PermissionCode.role == TRAINING) & (PermissionCode.state != REVOKED)
                                  & PermissionCode.region.in_(ids))
                           .group_by(PermissionCode.region).tuples())
    grandchildren = set(Region.select(Region.parent).where(Region.parent.in_(ids)).tuples())
    totals = school_counts_by_child(region)
    activated = school_counts_by_child(region, activated_only=True)
    rows = []
    for child in children:
        rows.append(ProgressRow(
            child, child.name, supers.get(child.id), training_active.get(child.id, 0),
            training_issued.get(child.id, 0), totals.get(child.path, 0),
            activated.get(child.path, 0), (child.id,) in grandchildren or totals.get(child.path, 0) > 0))
    direct = totals.get(region.path, 0)
    if direct:
        rows.append(ProgressRow(None, f"{region.name}直属学校和机构", schools=direct,
                                schools_activated=activated.get(region.path, 0)))
    shown = [r for r in rows if not r.fully_activated] if only_inactive else rows
    return RegionProgress(region, shown, _totals(rows))


def school_activations(region: Region, only_inactive: bool = False):
    """The schools hanging directly on `region`, each with `admin_name` and `activated_at`
    (None while 未激活)."""
    admin = Binding.alias()
    query = (School.select(School, admin.created_at.alias("activated_at"),
                           Account.display_name.alias("admin_name"))
             .join(admin, JOIN.LEFT_OUTER, on=((admin.school == School.id) & (admin.role == SCHOOL_ADMIN)
                                               & (admin.state == "active")))
             .join(Account, JOIN.LEFT_OUTER, on=(admin.account == Account.id))
             .where((School.region == region) & (School.status == ACTIVE))
             .order_by(School.code))
    if only_inactive:
        query = query.where(admin.id.is_null())
    return query.objects()


PROGRESS_HEADERS = ["区域", "超级管理员", "研修专项管理员（已激活/已发放）", "学校和机构数",
                    "已激活学校数", "激活率"]
SCHOOL_HEADERS = ["学校(机构)名称", "学校标识码", "类型", "学校管理员", "联系电话", "激活日期"]


def progress_table(progress: RegionProgress) -> list[list]:
    """The rows of the progress table exactly as the page shows them, totals last."""
    rows = [[r.label, (r.super_name or "未激活") if r.region else "—",
             f"{r.training_active}/{r.training_issued}" if r.region else "—",
             r.schools, r.schools_activated, percent(r.rate)] for r in progress.rows]
    t = progress.totals
    rows.append(["合计", f"{t.supers_activated}/{t.sub_regions} 已激活",
                 f"{t.training_active}/{t.training_issued}", t.schools, t.schools_activated,
                 percent(t.rate)])
    return rows


def school_table(schools) -> list[list]:
    """The rows of a school activation list as the page shows them (phones masked)."""
    return [[s.name, s.code, s.kind_label, s.admin_name or "—", mask_phone(s.contact_phone),
             local_date(s.activated_at) or "未激活"] for s in schools]

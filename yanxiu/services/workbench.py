"""工作台: the key figures of a binding's scope."""
import datetime
from dataclasses import dataclass

from peewee import fn

from yanxiu.formatting import SHANGHAI
from yanxiu.models import Binding, Membership, PermissionCode, Programme, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.base import now
from yanxiu.models.code import UNUSED
from yanxiu.models.region import ARCHIVED, CITY, COUNTY, PROVINCE, in_subtree
from yanxiu.models.teacher import APPROVED, PENDING
from yanxiu.scope import Scope
from yanxiu.services import activation, programmes, statistics, teachers
from yanxiu.services.statistics import FIGURE_COLUMNS, StatsRow


@dataclass
class ScopeFigures:
    """Counts over a region admin's subtree."""
    sub_regions: int
    provinces: int
    cities: int
    counties: int
    schools: int
    admins_active: int
    teachers: int  # 在册: approved members of the subtree's schools


def scope_figures(scope: Scope) -> ScopeFigures:
    """Counts of regions, schools and active admin bindings inside the scope."""
    by_level = dict(scope.regions().select(Region.level, fn.COUNT(Region.id))
                    .where(Region.path != scope.path).group_by(Region.level).tuples())
    direct = scope.regions().where(Region.parent == scope.region_id).count()
    schools = scope.schools().where(School.status != ARCHIVED).count()
    admins = (Binding.select().join(Region, on=(Binding.region == Region.id))
              .where(Region.in_subtree(scope.path) & (Binding.state == "active")
                     & (Region.path != scope.path)).count()
              + Binding.select().join(School, on=(Binding.school == School.id))
              .where(School.in_subtree(scope.path) & (Binding.state == "active")
                     & (Binding.role == SCHOOL_ADMIN)).count())
    members = scope.memberships().where(Membership.state == APPROVED).count()
    return ScopeFigures(direct, by_level.get(PROVINCE, 0), by_level.get(CITY, 0),
                        by_level.get(COUNTY, 0), schools, admins, members)


@dataclass
class ToDo:
    """待办: what needs the admin's attention in its scope."""
    regions_without_super: int
    schools_inactive: int
    codes_expiring: int
    teachers_pending: int  # applications the subtree's schools have not decided yet


EXPIRY_WARNING = datetime.timedelta(days=7)


def todo(scope: Scope, region: Region) -> ToDo:
    """Unactivated direct sub-regions and schools of the subtree, unused codes expiring within
    7 days, teachers' applications waiting for their school."""
    progress = activation.region_progress(region)
    totals = progress.totals
    stamp = now()
    expiring = (PermissionCode.select()
                .where(in_subtree(PermissionCode.scope_path, scope.path)
                       & (PermissionCode.state == UNUSED) & (PermissionCode.expires_at > stamp)
                       & (PermissionCode.expires_at <= stamp + EXPIRY_WARNING)).count())
    return ToDo(totals.sub_regions - totals.supers_activated,
                totals.schools - totals.schools_activated, expiring, teachers.pending_count(scope))


@dataclass
class SchoolTeachers:
    """A school admin's workbench: its teachers (在册) and the applications to review."""
    members: int
    pending: int


def school_teachers(scope: Scope) -> SchoolTeachers:
    """The school's members and pending applications, from one grouped count."""
    counts = teachers.state_counts(scope)
    return SchoolTeachers(counts[APPROVED], counts[PENDING])


PROGRAMMES_SHOWN = 3
# The statistics tables' figure columns but 总学时: 教师数 … 人均学时.
PROGRESS_COLUMNS = [(key, label) for key, label in FIGURE_COLUMNS if key != "total_hours"]


def local_today() -> datetime.date:
    """Today's date in Asia/Shanghai."""
    return (now() + SHANGHAI).date()


@dataclass
class ProgrammeProgress:
    """研修进度: a programme with the scope's own figures (its region's or its school's)."""
    programme: Programme
    figures: StatsRow
    current: bool  # today lies between its start and end dates

    def cells(self) -> list:
        """The PROGRESS_COLUMNS as the statistics tables show them (rates, hours, —)."""
        shown = dict(zip((key for key, _ in FIGURE_COLUMNS), self.figures.cells()))
        return [shown[key] for key, _ in PROGRESS_COLUMNS]


def programme_progress(scope: Scope, today: datetime.date | None = None) -> list[ProgrammeProgress]:
    """At most PROGRAMMES_SHOWN programmes the scope may see: the current ones (latest start
    first), then the most recently ended; programmes not yet started are left out. Figures
    come from the rollups in one query (no raw learning records)."""
    today = today or local_today()
    visible = programmes.visible_programmes(scope)
    current = list(visible.where((Programme.start_date <= today) & (Programme.end_date >= today))
                   .limit(PROGRAMMES_SHOWN))
    ended = []
    if len(current) < PROGRAMMES_SHOWN:
        ended = list(visible.where(Programme.end_date < today)
                     .order_by(Programme.end_date.desc(), Programme.id.desc())
                     .limit(PROGRAMMES_SHOWN - len(current)))
    summaries = statistics.programme_summaries(scope, current + ended)
    return ([ProgrammeProgress(p, summaries[p.id], True) for p in current]
            + [ProgrammeProgress(p, summaries[p.id], False) for p in ended])

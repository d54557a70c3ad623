"""研修统计: a programme's figures for a region (one row per direct sub-region or school) and
for a school (one row per teacher), read from the rollups only.

Every form of a page — screen, print, xlsx, csv, JSON — is built from the same `table()`, so
the numbers cannot differ between them. Rates and hours are rounded half up to one decimal
with integer arithmetic, so they are exact. Tables sort by any column but never rank (不排名).
"""
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from peewee import JOIN

from yanxiu.db import Prepared, slot
from yanxiu.formatting import local_datetime
from yanxiu.models import (Course, Membership, Programme, Region, RegionProgress,
                           School, SchoolProgress, TeacherProgress)
from yanxiu.models.base import now
from yanxiu.models.region import ACTIVE
from yanxiu.models.teacher import APPROVED
from yanxiu.scope import Scope
from yanxiu.services.rollups import audience_test, in_audience, teacher_figures

REGION, SCHOOL = "region", "school"
NONE_TEXT = "—"


def _tenths(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator rounded half up to one decimal; None without a denominator."""
    if not denominator:
        return None
    return Decimal((20 * numerator + denominator) // (2 * denominator)).scaleb(-1)


def rate_text(rate: Decimal | None) -> str:
    """A rate in percent (66.7) as the tables show it: 66.7%, or — without teachers."""
    return NONE_TEXT if rate is None else f"{rate}%"


def hours_text(hours: Decimal | None) -> str:
    return NONE_TEXT if hours is None else str(hours)


@dataclass
class StatsRow:
    """One region or school (or the totals) with its figures for a programme."""
    name: str
    kind: str  # region | school
    code: str  # region code or 学校标识码
    minutes_per_hour: int
    teachers: int = 0  # 教师数
    participants: int = 0  # 参训人数
    completed: int = 0  # 完成人数
    credited_minutes: int = 0
    school_id: int | None = None

    @property
    def participation_rate(self) -> Decimal | None:
        """参训率 in percent, one decimal; None when there are no teachers."""
        return _tenths(100 * self.participants, self.teachers)

    @property
    def completion_rate(self) -> Decimal | None:
        """完成率 in percent, one decimal; None when there are no teachers."""
        return _tenths(100 * self.completed, self.teachers)

    @property
    def total_hours(self) -> Decimal:
        """总学时, one decimal."""
        return _tenths(self.credited_minutes, self.minutes_per_hour)

    @property
    def average_hours(self) -> Decimal | None:
        """人均学时 = 总学时 ÷ 参训人数, one decimal; None when nobody took part."""
        return _tenths(self.credited_minutes, self.minutes_per_hour * self.participants)

    def cells(self) -> list:
        """The figures as the tables show them, after the name."""
        return [self.teachers, self.participants, rate_text(self.participation_rate), self.completed,
                rate_text(self.completion_rate), hours_text(self.total_hours),
                hours_text(self.average_hours)]


FIGURE_COLUMNS = [("teachers", "教师数"), ("participants", "参训人数"), ("participation_rate", "参训率"),
                  ("completed", "完成人数"), ("completion_rate", "完成率"), ("total_hours", "总学时"),
                  ("average_hours", "人均学时")]
SORT_KEYS = {
    "name": lambda r: r.name,
    "teachers": lambda r: r.teachers,
    "participants": lambda r: r.participants,
    "participation_rate": lambda r: Fraction(r.participants, r.teachers) if r.teachers else None,
    "completed": lambda r: r.completed,
    "completion_rate": lambda r: Fraction(r.completed, r.teachers) if r.teachers else None,
    "total_hours": lambda r: r.credited_minutes,
    "average_hours": lambda r: Fraction(r.credited_minutes, r.participants) if r.participants else None,
}


@dataclass
class Table:
    """A page's table exactly as shown: column keys and headers, rows of cells, totals.

    `total_keys`/`total_headers` name the totals' cells when they differ from the rows'
    (a school's totals are its figures, its rows are teachers)."""
    keys: list[str]
    headers: list[str]
    rows: list[list]
    totals: list
    total_keys: list[str] = field(default_factory=list)
    total_headers: list[str] = field(default_factory=list)

    def export_rows(self) -> list[list]:
        """Rows then totals, for xlsx and csv (a school's totals under their own headers)."""
        if not self.total_keys:
            return self.rows + [self.totals]
        return self.rows + [[], self.total_headers, self.totals]

    def as_dict(self) -> dict:
        """Columns, rows and totals keyed by column, for the JSON forms."""
        total_keys = self.total_keys or self.keys
        total_headers = self.total_headers or self.headers
        return {"columns": [{"key": k, "label": h} for k, h in zip(self.keys, self.headers)],
                "rows": [dict(zip(self.keys, row)) for row in self.rows],
                "total_columns": [{"key": k, "label": h} for k, h in zip(total_keys, total_headers)],
                "totals": dict(zip(total_keys, self.totals))}


def _columns(model) -> list:
    return [model.teachers, model.participants, model.completed, model.credited_minutes]


def _fill(target: StatsRow, figures) -> StatsRow:
    """Put (教师数, 参训人数, 完成人数, minutes) into `target`; a missing rollup row (None
    values: nothing counted yet) leaves zeros."""
    if figures and figures[0] is not None:
        target.teachers, target.participants, target.completed, target.credited_minutes = figures
    return target


def _figures(row, target: StatsRow) -> StatsRow:
    """Copy a rollup row's figures (None: no row yet, all zero) into `target`."""
    if row is not None:
        _fill(target, [getattr(row, c.name) for c in _columns(type(row))])
    return target


def _sorted(rows: list[StatsRow], sort: str, descending: bool) -> list[StatsRow]:
    """Rows by a column (rows without a value last, either way); unknown: natural order."""
    key = SORT_KEYS.get(sort)
    if key is None:
        return rows
    present = [r for r in rows if key(r) is not None]
    return sorted(present, key=key, reverse=descending) + [r for r in rows if key(r) is None]


@dataclass
class RegionStats:
    """A region's statistics for a programme: rows of its direct sub-regions and schools."""
    programme: Programme
    region: Region
    rows: list[StatsRow]
    totals: StatsRow
    sort: str = ""
    descending: bool = False

    @property
    def name_header(self) -> str:
        kinds = {r.kind for r in self.rows}
        return "学校(机构)" if kinds == {SCHOOL} else "区域" if kinds == {REGION} else "区域/学校(机构)"

    def table(self) -> Table:
        """The rows as every form of the page shows them, totals (合计) last."""
        return Table(["name"] + [k for k, _ in FIGURE_COLUMNS],
                     [self.name_header] + [h for _, h in FIGURE_COLUMNS],
                     [[r.name] + r.cells() for r in self.rows], ["合计"] + self.totals.cells())

    def identities(self) -> list[dict]:
        """kind and code (and school id) of each row, in row order, for the JSON forms."""
        return [{"kind": r.kind, "code": r.code} | ({"school_id": r.school_id} if r.school_id else {})
                for r in self.rows]


# The statistics pages' reads, their SQL built once (see `Prepared`).
_SUB_REGION_ROWS = Prepared(
    lambda: Region.select(Region.name, Region.code, *_columns(RegionProgress))
    .join(RegionProgress, JOIN.LEFT_OUTER,
          on=((RegionProgress.region == Region.id) & (RegionProgress.programme == slot("programme_id"))))
    .where(Region.parent == slot("region_id")).order_by(Region.code).tuples())
_DIRECT_SCHOOL_ROWS = Prepared(
    lambda: School.select(School.name, School.code, School.id, *_columns(SchoolProgress))
    .join(SchoolProgress, JOIN.LEFT_OUTER,
          on=((SchoolProgress.school == School.id) & (SchoolProgress.programme == slot("programme_id"))))
    .where((School.region == slot("region_id"))
           & ((School.status == ACTIVE) | (SchoolProgress.teachers > 0)))
    .order_by(School.code).tuples())
_REGION_TOTALS = Prepared(
    lambda: RegionProgress.select(*_columns(RegionProgress))
    .where((RegionProgress.region == slot("region_id")) & (RegionProgress.programme == slot("programme_id")))
    .limit(1).tuples())
# Every approved teacher of the school; the audience rule (学段, province) is applied in Python.
_APPROVED_TEACHER_ROWS = Prepared(
    lambda: Membership.select(Membership.id, Membership.name, Membership.stage, Membership.subject,
                              TeacherProgress.credited_minutes, TeacherProgress.last_at)
    .join(TeacherProgress, JOIN.LEFT_OUTER,
          on=((TeacherProgress.account == Membership.account)
              & (TeacherProgress.programme == slot("programme_id"))))
    .where((Membership.school == slot("school_id")) & (Membership.state == APPROVED)).tuples())
_SCHOOL_TOTALS = Prepared(
    lambda: SchoolProgress.select(*_columns(SchoolProgress))
    .where((SchoolProgress.school == slot("school_id")) & (SchoolProgress.programme == slot("programme_id")))
    .limit(1).tuples())


def region_statistics(programme: Programme, region: Region, sort: str = "",
                      descending: bool = False) -> RegionStats:
    """One row per direct sub-region and per school hanging directly on `region`, from
    RegionProgress and SchoolProgress; the region's own RegionProgress row is the totals.

    A sub-region without a rollup row yet shows zeros; an archived school shows only while
    it still counts teachers (so the rows always add up to the totals)."""
    mph = programme.minutes_per_hour
    rows = []
    for name, code, *figures in _SUB_REGION_ROWS(programme_id=programme.id, region_id=region.id):
        rows.append(_fill(StatsRow(name, REGION, code, mph), figures))
    for name, code, school_id, *figures in _DIRECT_SCHOOL_ROWS(programme_id=programme.id,
                                                              region_id=region.id):
        rows.append(_fill(StatsRow(name, SCHOOL, code, mph, school_id=school_id), figures))
    own = _REGION_TOTALS.first(programme_id=programme.id, region_id=region.id)
    totals = _fill(StatsRow("合计", REGION, region.code, mph), own)
    return RegionStats(programme, region, _sorted(rows, sort, descending), totals, sort, descending)


TEACHER_FILTERS = {"done": "已完成", "undone": "未完成", "absent": "未参训"}
TEACHER_COLUMNS = [("name", "姓名"), ("stage", "学段"), ("subject", "学科"), ("hours", "学时"),
                   ("completed", "完成"), ("last_at", "最近学习")]


@dataclass
class TeacherRow:
    """An approved teacher of the school in the programme's audience, with its figures."""
    name: str
    stage: str
    subject: str
    credited_minutes: int
    completed: bool
    last_at: datetime.datetime | None
    minutes_per_hour: int

    @property
    def participated(self) -> bool:
        return self.credited_minutes > 0

    @property
    def hours(self) -> Decimal:
        return _tenths(self.credited_minutes, self.minutes_per_hour)

    def cells(self) -> list:
        return [self.name, self.stage, self.subject, hours_text(self.hours),
                "是" if self.completed else "否", local_datetime(self.last_at) or NONE_TEXT]


@dataclass
class SchoolStats:
    """A school's statistics for a programme: its teachers (maybe filtered) and totals."""
    programme: Programme
    school: School
    teachers: list[TeacherRow]
    totals: StatsRow
    status: str = ""

    def table(self) -> Table:
        """The teacher rows as every form of the page shows them; totals are the school's
        figures under the region table's headers."""
        return Table([k for k, _ in TEACHER_COLUMNS], [h for _, h in TEACHER_COLUMNS],
                     [t.cells() for t in self.teachers], [self.school.name] + self.totals.cells(),
                     ["name"] + [k for k, _ in FIGURE_COLUMNS],
                     ["学校(机构)"] + [h for _, h in FIGURE_COLUMNS])


def _keep(teacher: TeacherRow, status: str) -> bool:
    if status == "done":
        return teacher.completed
    if status == "undone":
        return not teacher.completed
    if status == "absent":
        return not teacher.participated
    return True


def school_statistics(programme: Programme, school: School, status: str = "") -> SchoolStats:
    """The school's approved teachers who count for the programme (the rollups' audience
    rule), each with credited 学时, completion and last activity; filtered by `status`
    (done 已完成, undone 未完成, absent 未参训). Totals are the school's SchoolProgress row."""
    mph = programme.minutes_per_hour
    members = _APPROVED_TEACHER_ROWS(programme_id=programme.id, school_id=school.id)
    teachers = []
    counts = audience_test(programme)
    # Ordered here, not in SQL, so every database (and collation) lists names alike.
    for _, name, stage, subject, credited, last_at in sorted(members, key=lambda t: (t[1], t[0])):
        if not counts(stage, school.region_path):
            continue
        figures = teacher_figures(credited or 0, programme)
        teachers.append(TeacherRow(name, stage, subject, figures.credited_minutes,
                                   bool(figures.completed), last_at, mph))
    own = _SCHOOL_TOTALS.first(programme_id=programme.id, school_id=school.id)
    totals = _fill(StatsRow(school.name, SCHOOL, school.code, mph, school_id=school.id), own)
    if status not in TEACHER_FILTERS:
        status = ""
    return SchoolStats(programme, school, [t for t in teachers if _keep(t, status)], totals, status)


def programme_summaries(scope: Scope, programmes: list[Programme]) -> dict[int, StatsRow]:
    """The scope's own figures (its region's or its school's) per programme, for the picker."""
    ids = [p.id for p in programmes]
    if scope.school_id is not None:
        model, key = SchoolProgress, SchoolProgress.school == scope.school_id
    else:
        model, key = RegionProgress, RegionProgress.region == scope.region_id
    found = {r.programme_id: r for r in model.select().where(key & model.programme.in_(ids))} if ids else {}
    return {p.id: _figures(found.get(p.id), StatsRow("", "", "", p.minutes_per_hour))
            for p in programmes}


CHART_WIDTH, LABEL_WIDTH, BAR_WIDTH, ROW_HEIGHT, BAR_HEIGHT = 400, 120, 220, 18, 12
CHART_MAX_ROWS = 40
LABEL_CHARS = 10


@dataclass
class Bar:
    label: str
    baseline: int  # y of the text baseline
    text: str


@dataclass
class Chart:
    """What the SVG template draws: one path for all bars, a label and a value per row."""
    width: int
    height: int
    bar_x: int
    full_x: int  # x of 100%
    bars_path: str
    bars: list[Bar]


def completion_chart(rows: list[StatsRow]) -> Chart | None:
    """完成率 per row as horizontal bars (plain SVG data, no script); None when there is
    nothing to draw or too many rows to read (the table shows them all)."""
    if not rows or len(rows) > CHART_MAX_ROWS:
        return None
    path, bars = [], []
    for i, row in enumerate(rows):
        top = i * ROW_HEIGHT + 3
        rate = row.completion_rate
        if rate:
            width = f"{BAR_WIDTH * rate / 100:.1f}".rstrip("0").rstrip(".")
            path.append(f"M{LABEL_WIDTH} {top}h{width}v{BAR_HEIGHT}h-{width}z")
        label = row.name if len(row.name) <= LABEL_CHARS else row.name[:LABEL_CHARS - 1] + "…"
        bars.append(Bar(label, top + BAR_HEIGHT - 2, rate_text(rate)))
    return Chart(CHART_WIDTH, len(rows) * ROW_HEIGHT + 4, LABEL_WIDTH, LABEL_WIDTH + BAR_WIDTH,
                 "".join(path), bars)


def generated_at() -> str:
    """The time a printout or JSON answer was made, Asia/Shanghai."""
    return local_datetime(now())


def programme_facts(programme: Programme) -> dict:
    """A programme as the JSON forms describe it."""
    return {"id": programme.id, "name": programme.name, "kind": programme.kind_label,
            "start_date": str(programme.start_date), "end_date": str(programme.end_date),
            "minutes_per_hour": programme.minutes_per_hour,
            "required_hours": programme.required_hours}


def region_document(stats: RegionStats, trail: list[Region]) -> dict:
    """The JSON form of a region's statistics: the table's rows and totals as on screen,
    each row with its kind and code."""
    table = stats.table().as_dict()
    for row, identity in zip(table["rows"], stats.identities()):
        row.update(identity)
    return {"programme": programme_facts(stats.programme),
            "region": {"code": stats.region.code, "name": stats.region.name,
                       "trail": [r.name for r in trail]},
            "generated_at": generated_at(), **table}


def school_document(stats: SchoolStats) -> dict:
    """The JSON form of a school's statistics (its teachers as on screen, and its totals)."""
    return {"programme": programme_facts(stats.programme),
            "school": {"id": stats.school.id, "code": stats.school.code, "name": stats.school.name},
            "status": stats.status, "generated_at": generated_at(), **stats.table().as_dict()}


@dataclass
class CourseHours:
    """One course in a teacher's 个人中心: 学时 credited so far and the most it can credit."""
    name: str
    hours: Decimal
    max_hours: int


@dataclass
class TeacherProgramme:
    """A programme as a teacher sees it: own 学时 (each course capped), completion, courses."""
    programme: Programme
    hours: Decimal
    completed: bool
    last_at: datetime.datetime | None
    courses: list[CourseHours]
    counted: bool  # whether the teacher is in its audience (counts in a school's figures)

    @property
    def last_activity(self) -> str:
        return local_datetime(self.last_at) if self.last_at else NONE_TEXT


def teacher_programmes(account_id: int) -> list[TeacherProgramme]:
    """个人中心: the programmes meant for the teacher (by approved membership and 学段) or
    holding any of the teacher's minutes, newest first — from the rollups only."""
    member = (Membership.select(Membership.stage, School.region_path)
              .join(School, on=(Membership.school == School.id))
              .where((Membership.account == account_id) & (Membership.state == APPROVED)).tuples().first())
    programmes = list(Programme.select().order_by(Programme.start_date.desc(), Programme.id.desc()))
    # The rollup's key leads with the programme: name them so no scan is needed.
    progress = {p: (credited, last_at, minutes) for p, credited, last_at, minutes in
                TeacherProgress.select(TeacherProgress.programme, TeacherProgress.credited_minutes,
                                       TeacherProgress.last_at, TeacherProgress.course_minutes)
                .where(TeacherProgress.programme.in_([p.id for p in programmes] or [0])
                       & (TeacherProgress.account == account_id)).tuples()}
    found = []
    for programme in programmes:
        counted = bool(member) and in_audience(programme, member[0], member[1])
        if not counted and programme.id not in progress:
            continue
        mph = programme.minutes_per_hour
        credited, last_at, minutes = progress.get(programme.id, (0, None, {}))
        courses = [CourseHours(c.name, _tenths(min(minutes.get(c.id, 0), c.max_hours * mph), mph), c.max_hours)
                   for c in programme.courses.order_by(Course.id)]
        found.append(TeacherProgramme(programme, _tenths(credited, mph), credited >= programme.required_minutes,
                                      last_at, courses, counted))
    return found

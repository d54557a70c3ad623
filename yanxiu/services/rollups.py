"""Rollups of learning records (研修统计汇总): kept current as records and teachers change,
and rebuilt from the raw records on demand.

Three levels, each a small table a statistics page reads directly:
- TeacherProgress: a teacher's in-date minutes per course and credited minutes per programme
  (each course capped), completion;
- SchoolProgress / RegionProgress: 教师数, 参训人数, 完成人数 and credited minutes over the
  approved teachers in the programme's audience, per school and per region (every ancestor
  of the school, the national root included).

Writers hold `ROLLUP_LOCK` (PostgreSQL advisory lock; SQLite's immediate transactions already
serialise writers), so read-compute-write here never loses an update.
"""
import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from peewee import EXCLUDED, Case, fn

from yanxiu.db import BulkWrite, PreparedIn, database, slot, transaction_lock
from yanxiu.formatting import SHANGHAI
from yanxiu.models import (Course, LearningRecord, Membership, Programme, Region, RegionProgress,
                           School, SchoolProgress, TeacherProgress)
from yanxiu.models.teacher import APPROVED

ROLLUP_LOCK = 7_301_107
CHUNK = 500


def window(programme: Programme) -> tuple[datetime.datetime, datetime.datetime]:
    """The programme's dates (Asia/Shanghai) as a half-open range of stored UTC times."""
    start = datetime.datetime.combine(programme.start_date, datetime.time()) - SHANGHAI
    end = datetime.datetime.combine(programme.end_date + datetime.timedelta(days=1),
                                    datetime.time()) - SHANGHAI
    return start, end


@dataclass
class Figures:
    """教师数, 参训人数, 完成人数 and credited minutes of one teacher, school or region."""
    teachers: int = 0
    participants: int = 0
    completed: int = 0
    credited_minutes: int = 0

    def add(self, other: "Figures", sign: int = 1) -> None:
        self.teachers += sign * other.teachers
        self.participants += sign * other.participants
        self.completed += sign * other.completed
        self.credited_minutes += sign * other.credited_minutes

    def __bool__(self) -> bool:
        return any((self.teachers, self.participants, self.completed, self.credited_minutes))


def teacher_figures(credited: int, programme: Programme) -> Figures:
    """One teacher's contribution to the figures above it."""
    return Figures(1, int(credited > 0), int(credited >= programme.required_minutes), credited)


def audience_test(programme: Programme):
    """`in_audience` for one programme, its rule read once (ingestion asks per teacher)."""
    province = programme.region.path if programme.region_id else ""
    stages = frozenset(programme.audience_stages)
    return lambda stage, school_path: (school_path.startswith(province)
                                       and (not stages or stage in stages))


def in_audience(programme: Programme, stage: str, school_path: str) -> bool:
    """Whether a teacher of this 任教学段 at a school of this region path counts: the stage is
    in the audience, and a provincial programme counts its own province only."""
    return audience_test(programme)(stage, school_path)


_REGION_IDS = PreparedIn(
    lambda keys: Region.select(Region.path, Region.id).where(Region.path.in_(keys)).tuples(), CHUNK)


def _region_ids(paths: set[str]) -> dict[str, int]:
    """Region id per path for every ancestor (the root's path is empty) of the given paths."""
    return dict(_REGION_IDS(sorted({p[:end] for p in paths for end in range(0, len(p) + 1, 6)})))


def _add_to_schools(programme_id: int, by_school: dict[int, Figures], school_paths: dict[int, str]) -> None:
    """Add figures to schools and to every region above them (read from each school's region
    path, given), by increments."""
    by_school = {s: f for s, f in by_school.items() if f}
    if not by_school:
        return
    _upsert(SchoolProgress, programme_id, by_school)
    _upsert(RegionProgress, programme_id, _region_figures(by_school, school_paths))


FIGURE_COLUMNS = ("teachers", "participants", "completed", "credited_minutes")


def _adding_figures(model, key_field) -> BulkWrite:
    """The upsert adding figures to SchoolProgress or RegionProgress rows."""
    fields = [key_field, model.programme] + [getattr(model, c) for c in FIGURE_COLUMNS]
    update = {getattr(model, c): getattr(model, c) + getattr(EXCLUDED, c) for c in FIGURE_COLUMNS}
    return BulkWrite(lambda rows: model.insert_many(rows, fields=fields)
                     .on_conflict(conflict_target=[model.programme, key_field], update=update))


_ADD_FIGURES = {SchoolProgress: _adding_figures(SchoolProgress, SchoolProgress.school),
                RegionProgress: _adding_figures(RegionProgress, RegionProgress.region)}


def _upsert(model, programme_id: int, figures: dict[int, Figures]) -> None:
    """Add figures to a school's or region's existing rows (or create them), by increments."""
    _ADD_FIGURES[model]([(key, programme_id, f.teachers, f.participants, f.completed, f.credited_minutes)
                         for key, f in figures.items() if f])


def _later(column):
    """Upsert value: the later of the stored time and the incoming one (records arrive out of
    order), without reading the stored time first."""
    incoming = getattr(EXCLUDED, column.column_name)
    return Case(None, [(column.is_null() | (incoming > column), incoming)], column)


class Member(NamedTuple):
    """A teacher's approved membership, as the rollups need it."""
    school_id: int
    stage: str  # 任教学段
    region_path: str  # of the school


_STORED_COURSE_MINUTES = PreparedIn(
    lambda keys: TeacherProgress.select(TeacherProgress.account, TeacherProgress.course_minutes)
    .where((TeacherProgress.programme == slot("programme_id")) & TeacherProgress.account.in_(keys)).tuples(),
    CHUNK)


_TEACHER_FIELDS = [TeacherProgress.programme, TeacherProgress.account, TeacherProgress.course_minutes,
                   TeacherProgress.credited_minutes, TeacherProgress.completed, TeacherProgress.last_at]
_UPSERT_TEACHERS = BulkWrite(lambda rows: TeacherProgress.insert_many(
    rows, fields=_TEACHER_FIELDS).on_conflict(
    conflict_target=[TeacherProgress.programme, TeacherProgress.account],
    update={TeacherProgress.course_minutes: EXCLUDED.course_minutes,
            TeacherProgress.credited_minutes: EXCLUDED.credited_minutes,
            TeacherProgress.completed: EXCLUDED.completed,
            TeacherProgress.last_at: _later(TeacherProgress.last_at)}))
_INSERT_TEACHERS = BulkWrite(lambda rows: TeacherProgress.insert_many(rows, fields=_TEACHER_FIELDS))


def credited_minutes(course_minutes: dict[int, int], caps: dict[int, int]) -> int:
    """学时 in minutes: each course's minutes up to its cap (a course no longer in the
    programme credits nothing)."""
    total = 0
    for course, minutes in course_minutes.items():  # a loop, not sum(min(…)): ingestion's hot path
        cap = caps.get(course, 0)
        total += minutes if minutes < cap else cap
    return total


def course_caps(programme: Programme) -> dict[int, int]:
    """The most minutes each course of the programme credits."""
    return {course_id: hours * programme.minutes_per_hour for course_id, hours in
            Course.select(Course.id, Course.max_hours).where(Course.programme == programme.id).tuples()}


def apply_records(programme: Programme, records: list[tuple[int, int, int, datetime.datetime]],
                  members: dict[int, Member]) -> None:
    """Roll newly stored raw records of one programme — (account id, course id, minutes,
    occurred at) — into every rollup level; `members` holds the approved membership of each
    teacher who has one.

    Call inside the transaction that stored them. Minutes outside the programme's dates
    count for nothing; a course credits at most its cap.
    """
    start, end = window(programme)
    delta: dict[int, dict[int, int]] = {}  # account → course → minutes added
    last: dict[int, datetime.datetime] = {}
    for account, course, minutes, occurred_at in records:
        if minutes > 0 and start <= occurred_at < end:
            courses = delta.get(account)
            if courses is None:
                delta[account] = {course: minutes}
                last[account] = occurred_at
            else:
                courses[course] = courses.get(course, 0) + minutes
                last[account] = max(last[account], occurred_at)
    if not delta:
        return
    transaction_lock(ROLLUP_LOCK)
    caps = course_caps(programme)
    accounts = sorted(delta)
    decode = TeacherProgress.course_minutes.python_value
    stored = {a: decode(text) for a, text in _STORED_COURSE_MINUTES(accounts, programme_id=programme.id)}

    encode = TeacherProgress.course_minutes.db_value
    programme_id, required = programme.id, programme.required_minutes
    teacher_rows = []
    by_school: dict[int, Figures] = defaultdict(Figures)
    counts = audience_test(programme)
    for account in accounts:
        courses = stored.get(account, {})
        old_credit = credited_minutes(courses, caps)
        for course, added in delta[account].items():
            courses[course] = courses.get(course, 0) + added
        new_credit = credited_minutes(courses, caps)
        teacher_rows.append((programme_id, account, encode(courses), new_credit,
                             new_credit >= required, last[account]))
        member = members.get(account)
        if member and new_credit != old_credit and counts(member.stage, member.region_path):
            # teacher_figures(new) minus teacher_figures(old), added in place (a hot loop)
            school = by_school[member.school_id]
            school.participants += (new_credit > 0) - (old_credit > 0)
            school.completed += (new_credit >= required) - (old_credit >= required)
            school.credited_minutes += new_credit - old_credit

    _UPSERT_TEACHERS(teacher_rows)
    _add_to_schools(programme_id, by_school, {m.school_id: m.region_path for m in members.values()})


def move_teacher(account_id: int, before: tuple[int, str] | None, after: tuple[int, str] | None) -> None:
    """A teacher's membership changed from (school id, 任教学段) `before` to `after` (None: no
    school): move the teacher's figures in every programme. Call inside that transaction."""
    if before == after:
        return
    transaction_lock(ROLLUP_LOCK)
    paths = dict(School.select(School.id, School.region_path)
                 .where(School.id.in_([m[0] for m in (before, after) if m])).tuples())
    programmes = list(Programme.select())
    credited = teacher_credits(account_id, [p.id for p in programmes])
    for programme in programmes:
        figures = teacher_figures(credited.get(programme.id, 0), programme)
        changes: dict[int, Figures] = defaultdict(Figures)
        if before and in_audience(programme, before[1], paths[before[0]]):
            changes[before[0]].add(figures, -1)
        if after and in_audience(programme, after[1], paths[after[0]]):
            changes[after[0]].add(figures)
        _add_to_schools(programme.id, changes, paths)


def teacher_credits(account_id: int, programme_ids: list[int]) -> dict[int, int]:
    """Credited minutes of one teacher per programme (the key leads with the programme, so the
    programmes are named)."""
    return dict(TeacherProgress.select(TeacherProgress.programme, TeacherProgress.credited_minutes)
                .where(TeacherProgress.programme.in_(programme_ids or [0])
                       & (TeacherProgress.account == account_id)).tuples())


def move_school(school: School, old_path: str, new_path: str) -> None:
    """A school moved to another region: its figures leave the old ancestors for the new."""
    transaction_lock(ROLLUP_LOCK)
    rows = list(SchoolProgress.select().where(SchoolProgress.school == school.id))
    ids = _region_ids({old_path, new_path})
    old = {ids[old_path[:e]] for e in range(0, len(old_path) + 1, 6) if old_path[:e] in ids}
    new = {ids[new_path[:e]] for e in range(0, len(new_path) + 1, 6) if new_path[:e] in ids}
    for row in rows:
        figures = Figures(row.teachers, row.participants, row.completed, row.credited_minutes)
        changes: dict[int, Figures] = defaultdict(Figures)
        for region_id in old - new:
            changes[region_id].add(figures, -1)
        for region_id in new - old:
            changes[region_id].add(figures)
        _upsert(RegionProgress, row.programme_id, changes)


# ---------------------------------------------------------------- recomputation from raw records

def _expected_teacher_rows(programme: Programme) -> dict[int, tuple]:
    """TeacherProgress as the raw records say: account → (course minutes, credited, completed,
    last activity)."""
    start, end = window(programme)
    caps = course_caps(programme)
    courses: dict[int, dict[int, int]] = defaultdict(dict)
    last: dict[int, datetime.datetime] = {}
    for account, course, minutes, at in (
            LearningRecord.select(LearningRecord.account, LearningRecord.course,
                                  fn.SUM(LearningRecord.minutes), fn.MAX(LearningRecord.occurred_at))
            .where((LearningRecord.programme == programme.id) & (LearningRecord.minutes > 0)
                   & (LearningRecord.occurred_at >= start) & (LearningRecord.occurred_at < end))
            .group_by(LearningRecord.account, LearningRecord.course).tuples().iterator()):
        courses[account][course] = int(minutes)
        last[account] = max(last.get(account, at), at)
    expected = {}
    for account, minutes in courses.items():
        credited = credited_minutes(minutes, caps)
        expected[account] = (minutes, credited, credited >= programme.required_minutes, last[account])
    return expected


def _expected_school_figures(programme: Programme) -> tuple[dict[int, Figures], dict[int, str]]:
    """SchoolProgress from approved memberships in the audience and TeacherProgress; and the
    region path of each school counted."""
    credited = dict(TeacherProgress.select(TeacherProgress.account, TeacherProgress.credited_minutes)
                    .where(TeacherProgress.programme == programme.id).tuples())
    query = (Membership.select(Membership.account, Membership.school, School.region_path)
             .join(School, on=(Membership.school == School.id))
             .where(Membership.state == APPROVED))
    if programme.region_id:
        query = query.where(School.in_subtree(programme.region.path))
    if programme.audience_stages:
        query = query.where(Membership.stage.in_(programme.audience_stages))
    by_school: dict[int, Figures] = defaultdict(Figures)
    paths: dict[int, str] = {}
    for account, school, path in query.tuples().iterator():
        by_school[school].add(teacher_figures(credited.get(account, 0), programme))
        paths[school] = path
    return by_school, paths


def _region_figures(by_school: dict[int, Figures], school_paths: dict[int, str]) -> dict[int, Figures]:
    """School figures summed into every region above the schools: first per region path (a
    county holds many schools), then into each region along the path."""
    by_path: dict[str, Figures] = defaultdict(Figures)
    for school_id, figures in by_school.items():
        by_path[school_paths[school_id]].add(figures)
    ids = _region_ids(set(by_path))
    by_region: dict[int, Figures] = defaultdict(Figures)
    for path, figures in by_path.items():
        for end in range(0, len(path) + 1, 6):
            if path[:end] in ids:
                by_region[ids[path[:end]]].add(figures)
    return by_region


@dataclass
class RebuildReport:
    """What a rebuild found: rows per rollup level that differed from the raw records."""
    programmes: int = 0
    differences: dict[str, int] = None

    def __post_init__(self):
        self.differences = self.differences or defaultdict(int)

    @property
    def clean(self) -> bool:
        return not any(self.differences.values())


def _stored_figures(model, key_field, programme_id: int) -> dict[int, Figures]:
    return {key: Figures(t, p, c, m) for key, t, p, c, m in
            model.select(key_field, model.teachers, model.participants, model.completed,
                         model.credited_minutes).where(model.programme == programme_id).tuples()}


def _count_differences(expected: dict, stored: dict) -> int:
    keys = {k for k, v in expected.items() if v} | {k for k, v in stored.items() if v}
    return sum(1 for k in keys if expected.get(k, Figures()) != stored.get(k, Figures()))


def rebuild_programme(programme: Programme, report: RebuildReport | None = None, *,
                      write: bool = True) -> RebuildReport:
    """Recompute one programme's rollups from its raw records (after a rule changed, or to
    check): counts the rows that differed, then replaces them (or, with write=False, only
    reports)."""
    report = report or RebuildReport()
    report.programmes += 1
    with database.atomic() as transaction:
        transaction_lock(ROLLUP_LOCK)
        expected_teachers = _expected_teacher_rows(programme)
        stored_teachers = {a: (minutes, credited, bool(done), at) for a, minutes, credited, done, at in
                           TeacherProgress.select(TeacherProgress.account, TeacherProgress.course_minutes,
                                                  TeacherProgress.credited_minutes,
                                                  TeacherProgress.completed, TeacherProgress.last_at)
                           .where(TeacherProgress.programme == programme.id).tuples()}
        report.differences["teacher"] += sum(
            1 for k in expected_teachers.keys() | stored_teachers.keys()
            if expected_teachers.get(k) != stored_teachers.get(k))
        TeacherProgress.delete().where(TeacherProgress.programme == programme.id).execute()
        encode = TeacherProgress.course_minutes.db_value
        rows = [(programme.id, a, encode(minutes), credited, done, at)
                for a, (minutes, credited, done, at) in expected_teachers.items()]
        _INSERT_TEACHERS(rows)

        by_school, school_paths = _expected_school_figures(programme)
        by_region = _region_figures(by_school, school_paths)
        report.differences["school"] += _count_differences(
            by_school, _stored_figures(SchoolProgress, SchoolProgress.school, programme.id))
        report.differences["region"] += _count_differences(
            by_region, _stored_figures(RegionProgress, RegionProgress.region, programme.id))
        SchoolProgress.delete().where(SchoolProgress.programme == programme.id).execute()
        RegionProgress.delete().where(RegionProgress.programme == programme.id).execute()
        _upsert(SchoolProgress, programme.id, by_school)
        _upsert(RegionProgress, programme.id, by_region)
        if not write:
            transaction.rollback()
    return report


def rebuild_all(write: bool = True) -> RebuildReport:
    """`flask --app app rollups rebuild`: every programme, with the differences found."""
    report = RebuildReport()
    for programme in Programme.select().order_by(Programme.id):
        rebuild_programme(programme, report, write=write)
    return report

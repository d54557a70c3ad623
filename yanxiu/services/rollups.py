"""Rollups of learning records (研修统计汇总): kept current as records and teachers change,
and rebuilt from the raw records on demand.

Four levels, each a small table a statistics page reads directly:
- CourseProgress: a teacher's in-date minutes per course;
- TeacherProgress: credited minutes per programme (each course capped), completion;
- SchoolProgress / RegionProgress: 教师数, 参训人数, 完成人数 and credited minutes over the
  approved teachers in the programme's audience, per school and per region (every ancestor
  of the school, the national root included).

Writers hold `ROLLUP_LOCK` (PostgreSQL advisory lock; SQLite's immediate transactions already
serialise writers), so read-compute-write here never loses an update.
"""
import datetime
from collections import defaultdict
from dataclasses import dataclass

from peewee import EXCLUDED, JOIN, Case, chunked, fn

from yanxiu.db import PreparedIn, database, execute_many, slot, transaction_lock
from yanxiu.formatting import SHANGHAI
from yanxiu.models import (Course, CourseProgress, LearningRecord, Membership, Programme, Region,
                           RegionProgress, School, SchoolProgress, TeacherProgress)
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


def in_audience(programme: Programme, stage: str, school_path: str) -> bool:
    """Whether a teacher of this 任教学段 at a school of this region path counts: the stage is
    in the audience, and a provincial programme counts its own province only."""
    if programme.region_id and not school_path.startswith(programme.region.path):
        return False
    stages = programme.audience_stages
    return not stages or stage in stages



def _region_ids(paths: set[str]) -> dict[str, int]:
    """Region id per path for every ancestor (the root's path is empty) of the given paths."""
    prefixes = {p[:end] for p in paths for end in range(0, len(p) + 1, 6)}
    found = {}
    for chunk in chunked(sorted(prefixes), CHUNK):
        found.update(Region.select(Region.path, Region.id).where(Region.path.in_(chunk)).tuples())
    return found


def _school_ancestors_query(keys):
    levels = [Region.alias() for _ in range(4)]  # county (or the 直属 region) up to 全国
    query = (School.select(School.id, *[level.id for level in levels])
             .join_from(School, levels[0], on=(School.region == levels[0].id)))
    for child, parent in zip(levels, levels[1:]):
        query = query.join_from(child, parent, JOIN.LEFT_OUTER, on=(child.parent == parent.id))
    return query.where(School.id.in_(keys)).tuples()


_SCHOOL_ANCESTORS = PreparedIn(_school_ancestors_query, CHUNK)


def _ancestors_of_schools(school_ids) -> dict[int, list[int]]:
    """Each school's region and every region above it (ids), from one join up the tree."""
    return {school_id: [r for r in regions if r is not None]
            for school_id, *regions in _SCHOOL_ANCESTORS(sorted(school_ids))}


def _add_to_schools(programme_id: int, by_school: dict[int, Figures]) -> None:
    """Add figures to schools and to every region above them, by increments."""
    by_school = {s: f for s, f in by_school.items() if f}
    if not by_school:
        return
    _upsert(SchoolProgress, SchoolProgress.school, programme_id, by_school)
    _upsert(RegionProgress, RegionProgress.region, programme_id, _region_figures(by_school))


FIGURE_COLUMNS = ("teachers", "participants", "completed", "credited_minutes")


def _upsert(model, key_field, programme_id: int, figures: dict[int, Figures]) -> None:
    """Add figures to existing rows (or create them), by increments."""
    rows = [(key, programme_id, f.teachers, f.participants, f.completed, f.credited_minutes)
            for key, f in figures.items() if f]
    if not rows:
        return
    fields = [key_field, model.programme] + [getattr(model, c) for c in FIGURE_COLUMNS]
    update = {getattr(model, c): getattr(model, c) + getattr(EXCLUDED, c) for c in FIGURE_COLUMNS}
    execute_many(model.insert_many(rows[:1], fields=fields)
                 .on_conflict(conflict_target=[model.programme, key_field], update=update), rows)


def _members(account_ids) -> dict[int, tuple[int, str, str]]:
    """(school id, 任教学段, school's region path) of each account's approved membership."""
    return {a: (s, st, p) for a, s, st, p in _APPROVED_MEMBERS(account_ids)}


_APPROVED_MEMBERS = PreparedIn(
    lambda keys: Membership.select(Membership.account, Membership.school, Membership.stage,
                                   School.region_path)
    .join(School, on=(Membership.school == School.id))
    .where(Membership.account.in_(keys) & (Membership.state == APPROVED)).tuples(), CHUNK)


def _later(column):
    """Upsert value: the later of the stored time and the incoming one (records arrive out of
    order), without reading the stored time first."""
    incoming = getattr(EXCLUDED, column.column_name)
    return Case(None, [(column.is_null() | (incoming > column), incoming)], column)


@dataclass
class RecordIn:
    """An accepted learning record, as the rollups need it."""
    account_id: int
    course_id: int
    minutes: int
    occurred_at: datetime.datetime


_COURSE_MINUTES = PreparedIn(
    lambda keys: CourseProgress.select(CourseProgress.account, CourseProgress.course, CourseProgress.minutes)
    .where((CourseProgress.programme == slot("programme_id")) & CourseProgress.account.in_(keys)).tuples(),
    CHUNK)


def apply_records(programme: Programme, records: list[RecordIn]) -> None:
    """Roll newly stored raw records of one programme into every rollup level.

    Call inside the transaction that stored them. Minutes outside the programme's dates
    count for nothing; a course credits at most its cap.
    """
    start, end = window(programme)
    delta: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    last: dict[tuple[int, int], datetime.datetime] = {}
    for r in records:
        if start <= r.occurred_at < end and r.minutes > 0:
            delta[r.account_id][r.course_id] += r.minutes
            key = (r.account_id, r.course_id)
            last[key] = max(last.get(key, r.occurred_at), r.occurred_at)
    if not delta:
        return
    transaction_lock(ROLLUP_LOCK)
    caps = {c.id: c.max_hours * programme.minutes_per_hour
            for c in Course.select().where(Course.programme == programme.id)}
    accounts = sorted(delta)
    stored: dict[int, dict[int, int]] = defaultdict(dict)
    for a, c, m in _COURSE_MINUTES(accounts, programme_id=programme.id):
        stored[a][c] = m

    course_rows, teacher_rows = [], []
    by_school: dict[int, Figures] = defaultdict(Figures)
    members = _members(accounts)
    for account in accounts:
        courses = stored[account]
        old_credit = sum(min(m, caps.get(c, 0)) for c, m in courses.items())
        for course, added in delta[account].items():
            courses[course] = courses.get(course, 0) + added
            course_rows.append((programme.id, account, course, courses[course], last[(account, course)]))
        new_credit = sum(min(m, caps.get(c, 0)) for c, m in courses.items())
        teacher_rows.append((programme.id, account, new_credit, new_credit >= programme.required_minutes,
                             max(last[(account, c)] for c in delta[account])))
        member = members.get(account)
        if member and in_audience(programme, member[1], member[2]) and new_credit != old_credit:
            change = teacher_figures(new_credit, programme)
            change.add(teacher_figures(old_credit, programme), -1)
            by_school[member[0]].add(change)

    course_fields = [CourseProgress.programme, CourseProgress.account, CourseProgress.course,
                     CourseProgress.minutes, CourseProgress.last_at]
    execute_many(CourseProgress.insert_many(course_rows[:1], fields=course_fields)
                 .on_conflict(conflict_target=[CourseProgress.programme, CourseProgress.account,
                                               CourseProgress.course],
                              update={CourseProgress.minutes: EXCLUDED.minutes,
                                      CourseProgress.last_at: _later(CourseProgress.last_at)}),
                 course_rows)
    teacher_fields = [TeacherProgress.programme, TeacherProgress.account,
                      TeacherProgress.credited_minutes, TeacherProgress.completed,
                      TeacherProgress.last_at]
    execute_many(TeacherProgress.insert_many(teacher_rows[:1], fields=teacher_fields)
                 .on_conflict(conflict_target=[TeacherProgress.programme, TeacherProgress.account],
                              update={TeacherProgress.credited_minutes: EXCLUDED.credited_minutes,
                                      TeacherProgress.completed: EXCLUDED.completed,
                                      TeacherProgress.last_at: _later(TeacherProgress.last_at)}),
                 teacher_rows)
    _add_to_schools(programme.id, by_school)


def move_teacher(account_id: int, before: tuple[int, str] | None, after: tuple[int, str] | None) -> None:
    """A teacher's membership changed from (school id, 任教学段) `before` to `after` (None: no
    school): move the teacher's figures in every programme. Call inside that transaction."""
    if before == after:
        return
    transaction_lock(ROLLUP_LOCK)
    paths = dict(School.select(School.id, School.region_path)
                 .where(School.id.in_([m[0] for m in (before, after) if m])).tuples())
    credited = dict(TeacherProgress.select(TeacherProgress.programme, TeacherProgress.credited_minutes)
                    .where(TeacherProgress.account == account_id).tuples())
    for programme in Programme.select():
        figures = teacher_figures(credited.get(programme.id, 0), programme)
        changes: dict[int, Figures] = defaultdict(Figures)
        if before and in_audience(programme, before[1], paths[before[0]]):
            changes[before[0]].add(figures, -1)
        if after and in_audience(programme, after[1], paths[after[0]]):
            changes[after[0]].add(figures)
        _add_to_schools(programme.id, changes)


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
        _upsert(RegionProgress, RegionProgress.region, row.programme_id, changes)


# ---------------------------------------------------------------- recomputation from raw records

def _expected_course_rows(programme: Programme):
    """CourseProgress as the raw records say: (account, course, minutes, last_at), sorted."""
    start, end = window(programme)
    return (LearningRecord
            .select(LearningRecord.account, LearningRecord.course, fn.SUM(LearningRecord.minutes),
                    fn.MAX(LearningRecord.occurred_at))
            .where((LearningRecord.programme == programme.id) & (LearningRecord.minutes > 0)
                   & (LearningRecord.occurred_at >= start) & (LearningRecord.occurred_at < end))
            .group_by(LearningRecord.account, LearningRecord.course)
            .order_by(LearningRecord.account, LearningRecord.course).tuples())


def _expected_teacher_rows(programme: Programme):
    """TeacherProgress from CourseProgress: (account, credited, completed, last_at), sorted."""
    cap = Course.max_hours * programme.minutes_per_hour
    capped = Case(None, [(CourseProgress.minutes > cap, cap)], CourseProgress.minutes)
    credited = fn.SUM(capped)
    return (CourseProgress
            .select(CourseProgress.account, credited, credited >= programme.required_minutes,
                    fn.MAX(CourseProgress.last_at))
            .join(Course, on=(CourseProgress.course == Course.id))
            .where(CourseProgress.programme == programme.id)
            .group_by(CourseProgress.account).order_by(CourseProgress.account).tuples())


def _expected_school_figures(programme: Programme) -> dict[int, Figures]:
    """SchoolProgress from approved memberships in the audience and TeacherProgress."""
    credited = dict(TeacherProgress.select(TeacherProgress.account, TeacherProgress.credited_minutes)
                    .where(TeacherProgress.programme == programme.id).tuples())
    query = (Membership.select(Membership.account, Membership.school)
             .join(School, on=(Membership.school == School.id))
             .where(Membership.state == APPROVED))
    if programme.region_id:
        query = query.where(School.in_subtree(programme.region.path))
    if programme.audience_stages:
        query = query.where(Membership.stage.in_(programme.audience_stages))
    by_school: dict[int, Figures] = defaultdict(Figures)
    for account, school in query.tuples().iterator():
        by_school[school].add(teacher_figures(credited.get(account, 0), programme))
    return by_school


def _region_figures(by_school: dict[int, Figures]) -> dict[int, Figures]:
    """School figures summed into every region above the schools."""
    by_region: dict[int, Figures] = defaultdict(Figures)
    for school_id, regions in _ancestors_of_schools(by_school).items():
        for region_id in regions:
            by_region[region_id].add(by_school[school_id])
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
        expected_courses = {(a, c): (m, at) for a, c, m, at in _expected_course_rows(programme)}
        stored_courses = {(a, c): (m, at) for a, c, m, at in
                          CourseProgress.select(CourseProgress.account, CourseProgress.course,
                                                CourseProgress.minutes, CourseProgress.last_at)
                          .where(CourseProgress.programme == programme.id).tuples()}
        report.differences["course"] += sum(
            1 for k in expected_courses.keys() | stored_courses.keys()
            if expected_courses.get(k) != stored_courses.get(k))
        CourseProgress.delete().where(CourseProgress.programme == programme.id).execute()
        rows = [(programme.id, a, c, m, at) for (a, c), (m, at) in expected_courses.items()]
        execute_many(CourseProgress.insert_many(rows[:1], fields=[
            CourseProgress.programme, CourseProgress.account, CourseProgress.course,
            CourseProgress.minutes, CourseProgress.last_at]), rows)

        expected_teachers = {a: (int(cr), bool(done), at) for a, cr, done, at in
                             _expected_teacher_rows(programme)}
        stored_teachers = {a: (cr, bool(done), at) for a, cr, done, at in
                           TeacherProgress.select(TeacherProgress.account,
                                                  TeacherProgress.credited_minutes,
                                                  TeacherProgress.completed, TeacherProgress.last_at)
                           .where(TeacherProgress.programme == programme.id).tuples()}
        report.differences["teacher"] += sum(
            1 for k in expected_teachers.keys() | stored_teachers.keys()
            if expected_teachers.get(k) != stored_teachers.get(k))
        TeacherProgress.delete().where(TeacherProgress.programme == programme.id).execute()
        rows = [(programme.id, a, cr, done, at) for a, (cr, done, at) in expected_teachers.items()]
        execute_many(TeacherProgress.insert_many(rows[:1], fields=[
            TeacherProgress.programme, TeacherProgress.account, TeacherProgress.credited_minutes,
            TeacherProgress.completed, TeacherProgress.last_at]), rows)

        by_school = _expected_school_figures(programme)
        by_region = _region_figures(by_school)
        report.differences["school"] += _count_differences(
            by_school, _stored_figures(SchoolProgress, SchoolProgress.school, programme.id))
        report.differences["region"] += _count_differences(
            by_region, _stored_figures(RegionProgress, RegionProgress.region, programme.id))
        SchoolProgress.delete().where(SchoolProgress.programme == programme.id).execute()
        RegionProgress.delete().where(RegionProgress.programme == programme.id).execute()
        _upsert(SchoolProgress, SchoolProgress.school, programme.id, by_school)
        _upsert(RegionProgress, RegionProgress.region, programme.id, by_region)
        if not write:
            transaction.rollback()
    return report


def rebuild_all(write: bool = True) -> RebuildReport:
    """`flask --app app rollups rebuild`: every programme, with the differences found."""
    report = RebuildReport()
    for programme in Programme.select().order_by(Programme.id):
        rebuild_programme(programme, report, write=write)
    return report

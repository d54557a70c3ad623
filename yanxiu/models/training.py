"""Training programmes (研修项目), their courses, learning records and the rollups of them.

Raw learning records are written once and never read by a statistics request: every figure
comes from the rollups, which ingestion and membership changes keep current and the rebuild
command recomputes from the raw records.
"""
import json
from functools import lru_cache

from peewee import (BooleanField, CharField, CompositeKey, DateField, DateTimeField,
                    ForeignKeyField, IntegerField, TextField)

from yanxiu.models.account import Account
from yanxiu.models.base import BaseModel, now
from yanxiu.models.region import Region, School

PROGRAMME_KINDS = {"winter": "寒假", "summer": "暑期", "topic": "专题"}


@lru_cache(maxsize=256)
def _stages(audience: str) -> tuple[str, ...]:
    """The 学段 of an audience text (ingestion asks once per teacher, so it is parsed once)."""
    return tuple(s for s in audience.split(",") if s)


class Programme(BaseModel):
    """研修项目: who must learn what, when, and how minutes turn into 学时.

    `region` is the issuing level: None for a national programme (the operator), or a
    province. `audience` lists 任教学段 joined by commas; empty means every teacher.
    """
    name = CharField(max_length=100, unique=True)
    kind = CharField(max_length=10)
    start_date = DateField()
    end_date = DateField()
    minutes_per_hour = IntegerField(default=45)  # 每学时分钟数: a setting, rules differ by province
    required_hours = IntegerField(default=10)  # 学时 needed to complete
    audience = CharField(max_length=200, default="")
    region = ForeignKeyField(Region, null=True, backref="+", on_delete="RESTRICT")
    created_by = ForeignKeyField(Account, backref="+", on_delete="RESTRICT")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)
    version = IntegerField(default=1)

    @property
    def kind_label(self) -> str:
        return PROGRAMME_KINDS.get(self.kind, self.kind)

    @property
    def audience_stages(self) -> list[str]:
        return list(_stages(self.audience))

    @property
    def required_minutes(self) -> int:
        return self.required_hours * self.minutes_per_hour


class Course(BaseModel):
    """A course of a programme: its length and the most 学时 it can credit."""
    programme = ForeignKeyField(Programme, backref="courses", on_delete="CASCADE")
    name = CharField(max_length=100)
    minutes = IntegerField()  # length of the course material
    max_hours = IntegerField()  # 最多可计学时

    class Meta:
        indexes = ((("programme", "name"), True),)


class ApiToken(BaseModel):
    """A bearer token for the records API, issued and revoked by the operator.

    Only the SHA-256 of the token is stored; `region` limits which teachers it may send
    records for (None: all of them).
    """
    name = CharField(max_length=100)
    token_hash = CharField(max_length=64, unique=True)
    hint = CharField(max_length=8)  # the first characters, so the operator can tell tokens apart
    region = ForeignKeyField(Region, null=True, backref="+", on_delete="RESTRICT")
    created_by = ForeignKeyField(Account, backref="+", on_delete="RESTRICT")
    created_at = DateTimeField(default=now)
    revoked_at = DateTimeField(null=True)
    revoked_by = ForeignKeyField(Account, null=True, backref="+", on_delete="RESTRICT")
    last_used_at = DateTimeField(null=True)


class LearningRecord(BaseModel):
    """One learning record as it arrived (raw), idempotent on `external_id`."""
    external_id = CharField(max_length=64, unique=True)
    account = ForeignKeyField(Account, backref="+", on_delete="RESTRICT")
    # Covered by the (programme, occurred_at) index; courses and tokens are never looked up
    # by record, so their indexes would only slow ingestion.
    programme = ForeignKeyField(Programme, backref="+", on_delete="RESTRICT", index=False)
    course = ForeignKeyField(Course, backref="+", on_delete="RESTRICT", index=False)
    minutes = IntegerField()
    occurred_at = DateTimeField()
    source = CharField(max_length=10)  # api | import
    token = ForeignKeyField(ApiToken, null=True, backref="+", on_delete="RESTRICT", index=False)
    received_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("programme", "occurred_at"), False),)


_decode_json = json.JSONDecoder().decode  # json.loads without its per-call checks


class CourseMinutesField(TextField):
    """A teacher's in-date minutes per course, {course id: minutes}, stored as compact JSON."""

    def db_value(self, value: dict[int, int] | str | None) -> str:
        if isinstance(value, str):  # already in stored form (bulk writers encode their rows)
            return value
        # JSON written directly: ingestion encodes a row per teacher of every batch.
        return "{" + ",".join(f'"{int(course)}":{int(minutes)}'
                              for course, minutes in sorted((value or {}).items())) + "}"

    def python_value(self, value: str | None) -> dict[int, int]:
        return {int(course): minutes for course, minutes in _decode_json(value or "{}").items()}


class TeacherProgress(BaseModel):
    """Rollup: a teacher's in-date minutes per course, credited minutes in a programme (each
    course capped), completion and last activity.

    Keyed by (programme, teacher) alone, a WITHOUT ROWID table on SQLite (migration 0008 says
    so; PostgreSQL has no such option): the key is the table, so an upsert writes one B-tree.
    Ingestion writes one row per teacher of a batch; the per-course minutes sit in that row
    rather than in a row per course, which would more than double the pages every batch dirties.
    """
    programme = ForeignKeyField(Programme, backref="+", on_delete="CASCADE", index=False)
    account = ForeignKeyField(Account, backref="+", on_delete="RESTRICT", index=False)
    course_minutes = CourseMinutesField(default=dict)
    credited_minutes = IntegerField(default=0)
    completed = BooleanField(default=False)
    last_at = DateTimeField(null=True)

    class Meta:
        primary_key = CompositeKey("programme", "account")


class SchoolProgress(BaseModel):
    """Rollup: a school's figures for a programme, over its approved teachers in the audience."""
    school = ForeignKeyField(School, backref="+", on_delete="CASCADE")
    programme = ForeignKeyField(Programme, backref="+", on_delete="CASCADE", index=False)
    teachers = IntegerField(default=0)  # 教师数
    participants = IntegerField(default=0)  # 参训人数
    completed = IntegerField(default=0)  # 完成人数
    credited_minutes = IntegerField(default=0)  # 总学时 × minutes_per_hour

    class Meta:
        indexes = ((("programme", "school"), True),)


class RegionProgress(BaseModel):
    """Rollup: the same figures over a region's whole subtree (the national root included),
    so a statistics page reads one row per sub-region whatever the size of the country."""
    region = ForeignKeyField(Region, backref="+", on_delete="CASCADE")
    programme = ForeignKeyField(Programme, backref="+", on_delete="CASCADE", index=False)
    teachers = IntegerField(default=0)
    participants = IntegerField(default=0)
    completed = IntegerField(default=0)
    credited_minutes = IntegerField(default=0)

    class Meta:
        indexes = ((("programme", "region"), True),)

"""Migrations: an empty database migrates to exactly the models' schema; an unmigrated
database is refused with the fixing command; SQLite connection settings and per-request
connections (SPEC §10, SECURITY.md "Reliability")."""
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from peewee import ForeignKeyField, SqliteDatabase
from playhouse.schema_diff import diff_models

from tests.conftest import PG_URL, TEST_CONFIG
from yanxiu import create_app
from yanxiu.db import (MIGRATE_COMMAND, MIGRATIONS_DIR, database, migration_runner, open_database,
                       pending_migrations, upgrade)
from yanxiu.models import ALL_MODELS
from yanxiu.scope import public

MIGRATION_FILES = sorted(p.stem for p in Path(MIGRATIONS_DIR).glob("[0-9][0-9][0-9][0-9]_*.py"))


# ---------------------------------------------------------------- empty databases

def _pg_admin():
    import psycopg2
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    return conn


def _pg_url_for(name: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path="/" + name))


class EmptyDatabases:
    """Hands out fresh, empty databases of the backend under test and drops them afterwards.

    On PostgreSQL each is a separate database `<test db>_mig_<random>` on the same server, so
    the session-wide migrated template of conftest (which lives in the test database) is untouched.
    """

    def __init__(self, backend: str, tmp_path):
        self.backend, self.tmp_path, self.created, self.opened = backend, tmp_path, [], []

    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_path / f'empty-{uuid.uuid4().hex[:8]}.db'}"
        base = urlsplit(PG_URL).path.lstrip("/") or "postgres"
        name = f"{base}_mig_{uuid.uuid4().hex[:8]}"
        conn = _pg_admin()
        try:
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        return _pg_url_for(name)

    def open(self, url: str | None = None):
        db = open_database(url or self.url())
        db.connect(reuse_if_open=True)
        self.opened.append(db)
        return db

    def cleanup(self):
        for db in [*self.opened, database]:
            try:
                if getattr(db, "obj", db) is not None and not db.is_closed():
                    db.close()
            except Exception:  # a connection left in a failed state still gets dropped below
                pass
        if self.created:
            conn = _pg_admin()
            try:
                for name in self.created:
                    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request, tmp_path):
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL runs only with YANXIU_TEST_DATABASE_URL")
    dbs = EmptyDatabases(request.param, tmp_path)
    yield dbs
    dbs.cleanup()


# ---------------------------------------------------------------- schema description

_PG_DELETE_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
                    "d": "SET DEFAULT"}


def describe(db) -> dict:
    """Tables → columns (type, nullability), indexes and foreign keys, read from the database."""
    schema = {}
    for table in sorted(set(db.get_tables()) - {"schema_migration"}):
        if isinstance(db, SqliteDatabase):
            columns = {row[1]: (row[2].upper(), not row[3])
                       for row in db.execute_sql(f'PRAGMA table_info("{table}")')}
            fks = {(row[3], row[2], row[4], row[6].upper())
                   for row in db.execute_sql(f'PRAGMA foreign_key_list("{table}")')}
        else:
            columns = {name: (f"{dtype}({length})" if length else dtype, nullable == "YES")
                       for name, dtype, length, nullable in db.execute_sql(
                           "SELECT column_name, data_type, character_maximum_length, is_nullable "
                           "FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name = %s", (table,))}
            fks = {(col, dest, dest_col, _PG_DELETE_RULES[rule]) for col, dest, dest_col, rule in
                   db.execute_sql(
                       "SELECT a.attname, c.confrelid::regclass::text, fa.attname, c.confdeltype "
                       "FROM pg_constraint c "
                       "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                       "JOIN pg_attribute fa ON fa.attrelid = c.confrelid "
                       "AND fa.attnum = c.confkey[1] "
                       "WHERE c.contype = 'f' AND c.conrelid = %s::regclass", (table,))}
        # The primary key is compared on its own: a WITHOUT ROWID table has no index for it.
        primary_key = tuple(c.name for c in db.get_columns(table) if c.primary_key)
        indexes = {(tuple(i.columns), bool(i.unique)) for i in db.get_indexes(table)
                   if not i.name.startswith("sqlite_autoindex_") and not i.name.endswith("_pkey")}
        schema[table] = {"columns": columns, "indexes": indexes, "foreign_keys": fks,
                         "primary_key": primary_key}
    return schema


def model_declarations() -> dict:
    """What the models declare about nullability and foreign keys, independent of any database."""
    declared = {}
    for model in ALL_MODELS:
        meta = model._meta
        declared[meta.table_name] = {
            "nullable": {f.column_name: f.null for f in meta.sorted_fields if not f.primary_key},
            "foreign_keys": {(f.column_name, f.rel_model._meta.table_name, f.rel_field.column_name,
                              (f.on_delete or "NO ACTION").upper())
                             for f in meta.sorted_fields if isinstance(f, ForeignKeyField)},
        }
    return declared


def _differences(left: dict, right: dict) -> list[str]:
    out = []
    for table in sorted(set(left) | set(right)):
        if table not in left or table not in right:
            out.append(f"table {table}: only in {'migrations' if table in left else 'models'}")
            continue
        for part in ("columns", "indexes", "foreign_keys", "primary_key"):
            a, b = left[table][part], right[table][part]
            if a != b:
                out.append(f"{table}.{part}: migrations {a!r} != models {b!r}")
    return out


# ---------------------------------------------------------------- schema tests

def test_migrations_build_exactly_the_models_schema(empty):
    migrated = empty.open()
    applied = upgrade(migrated)
    assert applied == MIGRATION_FILES
    assert pending_migrations(migrated) == []

    diff = diff_models(migrated, ALL_MODELS)
    assert not diff, f"migrations and models differ (write a migration):\n{diff}"

    # diff_models compares tables, columns and indexes by name; compare types, nullability
    # and foreign keys (with their ON DELETE) against a database built from the models.
    reference = empty.open()
    with reference.bind_ctx(ALL_MODELS):
        reference.create_tables(ALL_MODELS)
    assert _differences(describe(migrated), describe(reference)) == []

    # and the models say what they mean (not only what the reference database happens to do)
    declared = model_declarations()
    actual = describe(migrated)
    for table, decl in declared.items():
        nullable = {name: null for name, (_, null) in actual[table]["columns"].items()
                    if name in decl["nullable"]}
        assert nullable == decl["nullable"], table
        assert actual[table]["foreign_keys"] == decl["foreign_keys"], table


def test_second_upgrade_applies_nothing(empty):
    db = empty.open()
    assert upgrade(db) == MIGRATION_FILES
    before = describe(db)
    history = list(db.execute_sql("SELECT name FROM schema_migration ORDER BY name"))
    assert upgrade(db) == []
    assert describe(db) == before
    assert list(db.execute_sql("SELECT name FROM schema_migration ORDER BY name")) == history
    assert [m.applied is not None for m in migration_runner(db).status()] == \
        [True] * len(MIGRATION_FILES)


def test_every_migration_can_be_reverted_and_reapplied(empty):
    """down() of each file undoes its up(): a failed deploy can be rolled back."""
    db = empty.open()
    upgrade(db)
    full = describe(db)
    runner = migration_runner(db)
    for _ in MIGRATION_FILES:
        runner.down()
    assert describe(db) == {}
    assert upgrade(db) == MIGRATION_FILES
    assert describe(db) == full


def test_course_minutes_survive_folding_into_the_teacher_rollup_and_back(empty):
    """0008 folds course_progress into teacher_progress; its down() unfolds it again."""
    import datetime

    from yanxiu.models import Account, Course, Programme, TeacherProgress
    db = empty.open()
    upgrade(db)
    at = datetime.datetime(2025, 7, 20, 2, 30)
    with db.bind_ctx(ALL_MODELS):
        account = Account.create(username="t1", display_name="王丽", password_hash="x")
        programme = Programme.create(name="2025年暑期教师研修", kind="summer", start_date="2025-07-01",
                                     end_date="2025-08-31", created_by=account)
        first, second = (Course.create(programme=programme, name=name, minutes=90, max_hours=2)
                         for name in ("师德", "数字素养"))
        TeacherProgress.insert(programme=programme, account=account, course_minutes={first.id: 45, second.id: 120},
                               credited_minutes=135, completed=False, last_at=at).execute()
        runner = migration_runner(db)
        assert runner.down() == ["0008_teacher_course_minutes"]
        assert sorted(db.execute_sql("SELECT course_id, minutes FROM course_progress")) == \
            [(first.id, 45), (second.id, 120)]
        assert list(db.execute_sql("SELECT account_id, credited_minutes FROM teacher_progress")) == \
            [(account.id, 135)]
        assert runner.up() == ["0008_teacher_course_minutes"]
        row = TeacherProgress.get()
        assert (row.course_minutes, row.credited_minutes, row.last_at) == ({first.id: 45, second.id: 120}, 135, at)
        if isinstance(db, SqliteDatabase):  # the key is the table: one B-tree per upsert
            (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'teacher_progress'").fetchone()
            assert sql.rstrip().upper().endswith("WITHOUT ROWID")


# ---------------------------------------------------------------- the migration gate

PAGES = ["/", "/login", "/register", "/workbench", "/regions", "/regions/330000",
         "/account/password", "/healthz", "/no-such-page"]


def test_unmigrated_database_is_refused_until_db_upgrade(empty):
    url = empty.url()
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    client = app.test_client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 503, path
        assert MIGRATE_COMMAND in response.text, path
        assert "数据库结构未更新" in response.text, path
        assert "Traceback" not in response.text
    # a POST is refused too, not crashed on (CSRF answers first when the token is missing)
    assert client.post("/login", data={"username": "a", "password": "b"}).status_code in (400, 503)

    runner = app.test_cli_runner()
    status = runner.invoke(args=["db", "status"])
    assert status.exit_code == 1, status.output
    assert "[ ] 0001_initial" in status.output

    # the other commands that need a schema refuse too, naming the fix
    refused = runner.invoke(args=["regions", "load"])
    assert refused.exit_code == 1 and MIGRATE_COMMAND in refused.output

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    for name in MIGRATION_FILES:
        assert f"applied: {name}" in result.output

    status = runner.invoke(args=["db", "status"])
    assert status.exit_code == 0, status.output
    assert "[ ]" not in status.output and "[x] 0001_initial" in status.output
    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0 and "up to date" in again.output

    login = client.get("/login")
    assert login.status_code == 200 and "登录" in login.text
    assert client.get("/healthz").status_code == 200
    assert client.get("/workbench").status_code in (302, 303)


def test_gate_reopens_when_the_code_gets_ahead_again(empty, tmp_path, monkeypatch):
    """A new release's migration on an already-running database: the gate speaks up at start."""
    url = empty.url()
    db = empty.open(url)
    upgrade(db)
    db.close()
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    assert app.test_client().get("/login").status_code == 200

    extra = tmp_path / "migrations"
    extra.mkdir()
    for name in MIGRATION_FILES:
        shutil.copyfile(Path(MIGRATIONS_DIR) / f"{name}.py", extra / f"{name}.py")
    (extra / "9999_future.py").write_text("def up(migrator, db):\n    pass\n")
    monkeypatch.setattr("yanxiu.db.MIGRATIONS_DIR", str(extra))
    fresh = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    response = fresh.test_client().get("/login")
    assert response.status_code == 503 and "9999_future" in response.text
    assert fresh.test_cli_runner().invoke(args=["db", "status"]).exit_code == 1


# ---------------------------------------------------------------- connections

def _probe_route(app, name, view):
    view.__name__ = name
    app.add_url_rule(f"/_test/{name}", name, public(view))


def test_sqlite_connection_settings_on_a_request(app):
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite only")
    seen = {}

    def pragmas():
        for pragma in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous", "mmap_size"):
            seen[pragma] = database.execute_sql(f"PRAGMA {pragma}").fetchone()[0]
        seen["open"] = not database.is_closed()
        return "ok"

    _probe_route(app, "pragmas", pragmas)
    database.close()
    assert app.test_client().get("/_test/pragmas").status_code == 200
    assert seen["open"]
    assert seen["journal_mode"] == "wal"
    assert seen["foreign_keys"] == 1
    assert seen["busy_timeout"] >= 5000
    assert seen["synchronous"] == 1  # NORMAL, safe with WAL
    assert seen["mmap_size"] > 2**30  # pages read through a memory map
    assert database.is_closed(), "the request's connection stays open"


def test_sqlite_refuses_a_dangling_foreign_key(app):
    """foreign_keys=1 is not just set but enforced: a school on a missing region is refused."""
    if not isinstance(database.obj, SqliteDatabase):
        pytest.skip("SQLite only")
    from peewee import IntegrityError

    from yanxiu.models import School
    with pytest.raises(IntegrityError):
        School.create(code="9999999999", name="无处学校", region=424242, region_path="x")


def test_connection_is_closed_after_a_view_raises(app):
    def explode():
        database.execute_sql("SELECT 1")
        raise RuntimeError("boom")

    _probe_route(app, "explode", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    database.close()
    response = app.test_client().get("/_test/explode")
    assert response.status_code == 500
    assert database.is_closed(), "a failed request leaks its connection"

    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError):
        app.test_client().get("/_test/explode")
    assert database.is_closed()


def test_connection_is_closed_after_an_ordinary_request(app, tree):
    database.close()
    assert app.test_client().get("/login").status_code == 200
    assert database.is_closed()
    assert app.test_client().get("/healthz").status_code == 200
    assert database.is_closed()

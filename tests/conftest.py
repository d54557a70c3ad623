"""Fixtures: a migrated database per test (SQLite, or the PostgreSQL of
YANXIU_TEST_DATABASE_URL), the app, clients, a small fixture tree and login helpers."""
import os
import re
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("YANXIU_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("YANXIU_DATA_KEY", "test-data-key-not-for-production")

from peewee import SqliteDatabase, sort_models  # noqa: E402

from tests.pii_guard import PersonalDataGuard  # noqa: E402
from yanxiu import create_app  # noqa: E402
from yanxiu.db import database, open_database, upgrade  # noqa: E402
from yanxiu.models import ALL_MODELS  # noqa: E402

PG_URL = os.environ.get("YANXIU_TEST_DATABASE_URL", "")
PASSWORD = "Test@2025pw"
SHARED = Path(__file__).resolve().parents[2] / "shared"

TEST_CONFIG = {
    "TESTING": True,
    # argon2id still, at a cost tests can afford.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
}


def _dispose(db) -> None:
    """Close a database for good, pooled connections included."""
    if not db.is_closed():
        db.close()
    if hasattr(db, "close_all"):
        db.close_all()


def _drop_all_tables(db) -> None:
    tables = db.get_tables()
    if tables:
        db.execute_sql("DROP TABLE IF EXISTS %s CASCADE" % ", ".join(f'"{t}"' for t in tables))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A database with every migration applied, built once per test session."""
    if PG_URL:
        db = open_database(PG_URL)
        db.connect(reuse_if_open=True)
        _drop_all_tables(db)
        upgrade(db)
        _dispose(db)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = open_database(f"sqlite:///{path}")
    db.connect()
    upgrade(db)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _dispose(db)
    return path


_emptying: list[str] = []


def _pg_emptying_statement(db) -> str:
    """Empty every table and restart every id sequence, as TRUNCATE … RESTART IDENTITY would:
    DELETEs children first, which on a test's few rows take a millisecond where TRUNCATE's
    file work takes about 90 (times 1,500 tests)."""
    if not _emptying:
        tables = [m._meta.table_name for m in reversed(sort_models(ALL_MODELS))]
        assert set(tables) == set(db.get_tables()) - {"schema_migration"}, "a table no model names"
        sequences = [name for (name,) in db.execute_sql(
            "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()")]
        _emptying.append("; ".join([f'DELETE FROM "{t}"' for t in tables] + [
            "SELECT " + ", ".join(f"setval('\"{s}\"', 1, false)" for s in sequences)]))
    return _emptying[0]


@pytest.fixture
def database_url(migrated_template, tmp_path):
    """A fresh migrated database for one test."""
    if PG_URL:
        yield PG_URL
        db = open_database(PG_URL)
        db.connect(reuse_if_open=True)
        db.execute_sql(_pg_emptying_statement(db))
        _dispose(db)
        return
    path = tmp_path / "yanxiu.db"
    shutil.copyfile(migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def personal_data_guard():
    """SECURITY.md row 17 over the whole suite: a test whose responses or log records show a
    身份证号 or 手机号 in clear (the audited reveal aside) fails, naming where (tests/pii_guard.py)."""
    guard = PersonalDataGuard()
    with guard.capturing_logs():
        yield guard
    if guard.leaks:
        pytest.fail(guard.report(), pytrace=False)


@pytest.fixture
def app(database_url, personal_data_guard):
    """The app on a fresh database. No app context stays pushed: Flask keeps `g` (and
    Flask-Login its user) on the app context, so a shared one would leak between clients."""
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    personal_data_guard.watch(app)
    database.connect(reuse_if_open=True)
    yield app
    _dispose(database.obj)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client) -> str:
    """The CSRF token of the client's current session, read from a page like a browser would."""
    page = client.get("/workbench")
    if page.status_code != 200:
        page = client.get("/login")
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_post(client, url: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token, as the browser form would."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


def log_in(client, username: str, password: str = PASSWORD):
    return form_post(client, "/login", {"username": username, "password": password})


@pytest.fixture
def tree(app, tmp_path):
    """The small fixture tree (tests/fixture_tree.py): regions, schools, accounts, bindings."""
    from tests.fixture_tree import build_fixture_tree
    return build_fixture_tree(PASSWORD, tmp_path)


@pytest.fixture
def teachers(tree):
    """Teachers in every state on top of the tree (tests/fixture_teachers.py)."""
    from tests.fixture_teachers import build_teachers
    return build_teachers(tree, PASSWORD)


@pytest.fixture
def login_as(app, tree):
    """login_as('xh_admin') → a test client signed in as that fixture account."""
    def _login(username: str):
        client = app.test_client()
        response = log_in(client, username)
        assert response.status_code == 303, response.text
        return client
    return _login


def is_postgres() -> bool:
    return bool(PG_URL)


def is_sqlite_db() -> bool:
    return isinstance(database.obj, SqliteDatabase)

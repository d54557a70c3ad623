"""Backups and restores (SECURITY.md, Reliability): the restore drill on the demo dataset, the
safety backup, refusals, the connection pool after a restore; and the audit chain check
(SECURITY.md row 19) on the command line."""
import glob
import os
import re
import shutil
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from tests.conftest import PG_URL, TEST_CONFIG, _dispose, is_sqlite_db, log_in
from yanxiu import create_app
from yanxiu.db import database, upgrade
from yanxiu.models import ALL_MODELS, AuditLog, LearningRecord, Membership, School
from yanxiu.services import audit
from yanxiu.services import backup as backup_service
from yanxiu.services.audit import verify_chain
from yanxiu.services.backup import BackupError, create_backup, restore_backup
from yanxiu.services.demo import DEMO_PASSWORD, DEMO_SCHOOL_NAME, build_demo

DAMAGED_NAME = "被改坏的学校名"


def _require_pg_client() -> None:
    """On PostgreSQL, backups need pg_dump and pg_restore (of the server's major version)."""
    if not PG_URL or shutil.which("pg_dump") or glob.glob("/usr/lib/postgresql/*/bin/pg_dump"):
        return
    message = "pg_dump/pg_restore not found: install the PostgreSQL client programs"
    if os.environ.get("YANXIU_REQUIRE_BROWSER") == "1":  # CI: everything required
        pytest.fail(f"YANXIU_REQUIRE_BROWSER=1 but {message}", pytrace=False)
    pytest.skip(message)


def _use_tmp_instance(app, tmp_path):
    """Point the app's instance folder (where backups go by default) into the test's tmp dir."""
    _require_pg_client()
    app.instance_path = str(tmp_path / "instance")
    return tmp_path / "instance" / "backups"


@pytest.fixture
def backups(app, tmp_path):
    return _use_tmp_instance(app, tmp_path)


# The demo, built once for the module.

def _pg_database_url(name: str) -> str:
    return urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))


def _pg_admin(*statements: str) -> None:
    """CREATE / DROP DATABASE, which run outside a transaction."""
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


PG_BASE = urlsplit(PG_URL).path.lstrip("/") if PG_URL else ""
PG_DEMO, PG_DRILL = f"{PG_BASE}_backup_demo", f"{PG_BASE}_backup_drill"


@pytest.fixture(scope="module")
def demo_template(migrated_template, tmp_path_factory):
    """The demo dataset, built once for the module: a SQLite file each test copies, or a
    PostgreSQL database each test's database is created from (CREATE DATABASE … TEMPLATE)."""
    if PG_URL:
        _pg_admin(f'DROP DATABASE IF EXISTS "{PG_DEMO}"', f'CREATE DATABASE "{PG_DEMO}"')
        url = _pg_database_url(PG_DEMO)
    else:
        path = tmp_path_factory.mktemp("demo") / "demo.db"
        shutil.copyfile(migrated_template, path)
        url = f"sqlite:///{path}"
    create_app({**TEST_CONFIG, "DATABASE_URL": url})
    database.connect(reuse_if_open=True)
    upgrade()
    build_demo(scale=1)
    if is_sqlite_db():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _dispose(database.obj)
    yield url
    if PG_URL:
        _pg_admin(f'DROP DATABASE IF EXISTS "{PG_DEMO}"')


@pytest.fixture
def demo_app(demo_template, tmp_path, personal_data_guard):
    """The app on a fresh copy of the demo database, its instance folder in tmp_path."""
    if PG_URL:
        _pg_admin(f'DROP DATABASE IF EXISTS "{PG_DRILL}"',
                  f'CREATE DATABASE "{PG_DRILL}" TEMPLATE "{PG_DEMO}"')
        url = _pg_database_url(PG_DRILL)
    else:
        path = tmp_path / "yanxiu.db"
        shutil.copyfile(demo_template.split(":///", 1)[1], path)
        url = f"sqlite:///{path}"
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    personal_data_guard.watch(app)
    _use_tmp_instance(app, tmp_path)
    database.connect(reuse_if_open=True)
    yield app
    _dispose(database.obj)
    if PG_URL:
        _pg_admin(f'DROP DATABASE IF EXISTS "{PG_DRILL}"')


def _counts() -> dict[str, int]:
    return {model._meta.table_name: model.select().count() for model in ALL_MODELS}


def _backup_files(directory) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def _rename_a_school(tree, name: str = DAMAGED_NAME) -> School:
    """Rename the tree's first school; the school as it was."""
    school = next(iter(tree["schools"].values()))
    School.update(name=name).where(School.id == school.id).execute()
    return school


def _sqlite_integrity() -> list:
    return database.execute_sql("PRAGMA integrity_check").fetchall()


# The drill

def test_reliability_restore_drill_brings_the_demo_back(demo_app, tmp_path):
    runner = demo_app.test_cli_runner()
    before = _counts()

    made = runner.invoke(args=["backup"])
    assert made.exit_code == 0, made.output
    [name] = _backup_files(tmp_path / "instance" / "backups")
    path = tmp_path / "instance" / "backups" / name
    assert f"backup written: {path}" in made.output and "integrity check: ok" in made.output
    assert re.search(rf"membership +{before['membership']}\n", made.output)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds password hashes

    # Damage: teachers of the demo school gone with their records, the school renamed.
    school = School.get(School.name == DEMO_SCHOOL_NAME)
    teachers = [m.account_id for m in Membership.select().where(Membership.school == school)]
    assert teachers
    LearningRecord.delete().where(LearningRecord.account.in_(teachers)).execute()
    assert Membership.delete().where(Membership.school == school).execute() == len(teachers)
    School.update(name=DAMAGED_NAME).where(School.id == school.id).execute()
    assert _counts() != before

    restored = runner.invoke(args=["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "integrity check: ok" in restored.output
    [safety] = [n for n in _backup_files(path.parent) if n != name]
    assert "before-restore" in safety and safety in restored.output

    if is_sqlite_db():
        assert _sqlite_integrity() == [("ok",)]
    after = _counts()
    # Every table as it was; the audit log holds one more row: the restore itself.
    assert {**after, "audit_log": after["audit_log"] - 1} == before
    assert School.get_by_id(school.id).name == DEMO_SCHOOL_NAME
    last = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (last.action, last.target_id, last.actor_id) == ("backup.restored", name, None)
    assert verify_chain() == []

    client = demo_app.test_client()
    assert log_in(client, "school_admin", DEMO_PASSWORD).status_code == 303
    page = client.get("/workbench")
    assert page.status_code == 200 and DEMO_SCHOOL_NAME in page.text


def test_reliability_backup_is_reported_and_audited(app, tree, backups):
    report = create_backup(None, backups)
    assert report.path.parent == backups and report.path.exists()
    assert report.size == report.path.stat().st_size > 0
    assert report.problems == []
    live = _counts()
    assert report.counts["school"] == live["school"] > 0
    assert report.counts["account"] == live["account"] > 0
    # The audit row comes after the copy: the file holds the log as it was.
    assert report.counts["audit_log"] == live["audit_log"] - 1
    last = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (last.action, last.target_type, last.target_id, last.actor_id) == \
        ("backup.created", "backup", report.path.name, None)
    # Two backups in the same second get different names.
    assert create_backup(None, backups).path != report.path


def test_reliability_backup_to_a_given_file_or_directory(runner, tree, backups, tmp_path):
    target = tmp_path / "elsewhere" / "nightly.bak"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert target.exists() and str(target) in result.output
    folder = tmp_path / "folder"
    folder.mkdir()
    result = runner.invoke(args=["backup", str(folder)])
    assert result.exit_code == 0, result.output
    [name] = _backup_files(folder)
    assert name.startswith("yanxiu-") and name in result.output
    assert _backup_files(backups) == []


def test_reliability_backup_never_overwrites_a_file(runner, tree, backups, tmp_path):
    target = tmp_path / "precious.db"
    target.write_bytes(b"keep me")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert "不会覆盖" in result.output
    assert target.read_bytes() == b"keep me"


def test_reliability_restore_asks_first_and_changes_nothing_when_declined(runner, tree, backups):
    path = create_backup(None, backups).path
    school = _rename_a_school(tree)
    result = runner.invoke(args=["restore", str(path)], input="n\n")
    assert result.exit_code == 1
    assert "Replace the whole database" in result.output and "已取消" in result.output
    assert School.get_by_id(school.id).name == DAMAGED_NAME
    assert _backup_files(backups) == [path.name]  # no safety backup either


def test_reliability_restore_goes_ahead_when_confirmed(runner, tree, backups):
    path = create_backup(None, backups).path
    school = _rename_a_school(tree)
    result = runner.invoke(args=["restore", str(path)], input="y\n")
    assert result.exit_code == 0, result.output
    assert School.get_by_id(school.id).name == school.name != DAMAGED_NAME


def test_reliability_a_wrong_restore_is_undone_with_the_safety_backup(app, tree, backups):
    old = create_backup(None, backups).path
    school = _rename_a_school(tree, "今天的新名字")

    wrong = restore_backup(old, backups)  # oops: today's change is gone
    assert School.get_by_id(school.id).name == school.name
    assert wrong.safety.exists() and wrong.problems == []

    restore_backup(wrong.safety, backups)
    assert School.get_by_id(school.id).name == "今天的新名字"
    assert verify_chain() == []


def _not_a_database(path):
    path.write_bytes(b"this is not a backup\n" * 100)


def _a_foreign_sqlite_database(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()


@pytest.mark.parametrize("make", [_not_a_database, _a_foreign_sqlite_database])
def test_reliability_restore_refuses_a_file_that_is_no_backup(runner, tree, backups, tmp_path,
                                                              make):
    bogus = tmp_path / "bogus.db"
    make(bogus)
    before = _counts()
    result = runner.invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code == 1
    assert "不能用于恢复" in result.output
    assert _counts() == before
    assert _backup_files(backups) == []  # refused before any safety backup


def test_reliability_a_damaged_backup_changes_nothing(runner, tree, backups):
    path = create_backup(None, backups).path
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    school = _rename_a_school(tree)
    before = _counts()
    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 1
    assert School.get_by_id(school.id).name == DAMAGED_NAME
    assert _counts() == before


def test_reliability_pool_stays_usable_after_a_restore(app, tree, backups):
    """Connections the app holds or keeps idle in its pool still work after a restore, and see
    the restored data."""
    path = create_backup(None, backups).path
    school = _rename_a_school(tree)

    def name_seen(close: bool):
        database.connect(reuse_if_open=True)
        try:
            return School.get_by_id(school.id).name
        finally:
            if close:
                database.close()

    with ThreadPoolExecutor(max_workers=1) as holder, ThreadPoolExecutor(max_workers=4) as idle:
        assert holder.submit(name_seen, False).result() == DAMAGED_NAME  # keeps its connection
        assert set(idle.map(name_seen, [True] * 4)) == {DAMAGED_NAME}  # back to the pool

        restore_backup(path, backups)

        assert holder.submit(name_seen, True).result() == school.name
        assert set(idle.map(name_seen, [True] * 4)) == {school.name}
    assert School.get_by_id(school.id).name == school.name


@pytest.mark.skipif(not PG_URL, reason="SQLite backups use no client programs")
def test_reliability_missing_pg_client_is_a_clear_error(runner, tree, backups, tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(backup_service, "PG_ROOT", str(tmp_path / "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 1
    assert "找不到 pg_dump" in result.output and "pg_dump not found" in result.output
    assert _backup_files(backups) == []


def test_reliability_restore_of_the_live_file_itself_is_refused(app, tree, backups):
    if not is_sqlite_db():
        pytest.skip("a PostgreSQL database has no file to confuse with a backup")
    with pytest.raises(BackupError, match="onto itself"):
        restore_backup(database.obj.database, backups)


# SECURITY.md row 19: the audit chain

@pytest.fixture
def audited(tree):
    return [audit.record("test.act", target_type="school", target_id=n, after={"n": n})
            for n in range(3)]


def test_sec19_intact_audit_chain_verifies(runner, audited):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"audit chain OK: {AuditLog.select().count()} rows" in result.output


def test_sec19_editing_an_audit_row_breaks_the_chain(runner, audited):
    edited = audited[1]
    AuditLog.update(after='{"n": 99}').where(AuditLog.id == edited.id).execute()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "audit chain BROKEN at 1 rows" in result.output
    assert result.output.rstrip().endswith(f"ids: {edited.id}")


def test_sec19_deleting_an_audit_row_breaks_the_chain(runner, audited):
    AuditLog.delete().where(AuditLog.id == audited[1].id).execute()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert result.output.rstrip().endswith(f"ids: {audited[2].id}")

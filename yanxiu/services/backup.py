"""Backups (备份) and restores (恢复) of the database, taken while the app keeps running.

SQLite: sqlite3's online backup API copies a consistent snapshot of the live (WAL) database
into a self-contained file, and a restore copies a checked file back the same way, page by
page into the live database, so connections other processes hold stay valid.
PostgreSQL: `pg_dump -Fc` of the snapshot the row counts were read in, and `pg_restore --clean
--if-exists --no-owner` in one transaction. Connection settings reach the client programs
through libpq's environment (PGPASSWORD and friends), never their command line.

Every restore first takes a safety backup of the database it replaces, so a wrong restore can
be undone by restoring that file.
"""
import datetime
import glob
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from peewee import SQL, DatabaseError, Select, SqliteDatabase, Table, fn

from yanxiu import db
from yanxiu.db import database
from yanxiu.formatting import SHANGHAI
from yanxiu.models import (Account, AuditLog, Binding, LearningRecord, Membership, Notice,
                           PermissionCode, Programme, Region, School)
from yanxiu.services import audit

# The tables whose row counts a backup and a restore report.
COUNTED = [model._meta.table_name for model in (
    Region, School, Account, Binding, PermissionCode, Membership, Programme, LearningRecord,
    Notice, AuditLog)]
MIGRATIONS_TABLE = "schema_migration"
SQLITE_HEADER = b"SQLite format 3\x00"
PG_ROOT = "/usr/lib/postgresql"  # Debian's home of every installed PostgreSQL version
# libpq reads these from the environment: connection settings, the password above all, stay
# off the command line where any local user could read them in the process list.
LIBPQ_ENV = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
             "passfile": "PGPASSFILE", "sslmode": "PGSSLMODE", "sslcert": "PGSSLCERT",
             "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT",
             "connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS",
             "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, in Chinese and English."""


@dataclass
class Report:
    """What a backup holds, or what a restore brought back."""
    path: Path
    size: int
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)  # empty when the integrity check passed
    safety: Path | None = None  # restore: the backup taken of the database it replaced
    pending: list[str] = field(default_factory=list)  # restore: migrations the file lacks


def create_backup(target: Path | None, directory: Path) -> Report:
    """Back the live database up into `target` (a new file, or a directory to put it in;
    default: a timestamped file in `directory`), check the copy, audit the act."""
    report = _take_backup(_target_path(target, directory))
    if report.problems:
        raise BackupError(f"备份文件未通过完整性检查 the backup failed its integrity check: "
                          f"{report.path}: {'; '.join(report.problems[:5])}")
    _audit("backup.created", report.path, {"size": report.size})
    return report


def restore_backup(source: Path, directory: Path) -> Report:
    """Replace the live database with the backup in `source`, after checking the file and
    taking a safety backup into `directory`; check the result and audit the act."""
    source = Path(source).resolve()
    if db.is_sqlite() and source.exists() and _live_sqlite_path().exists() \
            and source.samefile(_live_sqlite_path()):
        raise BackupError("不能用数据库文件本身恢复 cannot restore the live database file onto itself")
    problems = _check_restore_source(source)
    if problems:
        raise BackupError(f"该文件不能用于恢复 this file cannot be restored: {source}: "
                          f"{'; '.join(problems[:5])}")
    # Kept whatever its own check says: a damaged live database is what restores are for.
    safety = _take_backup(_target_path(None, directory, "before-restore"))
    if db.is_sqlite():
        _sqlite_restore(source)
    else:
        _pg_restore(source)
    _release_pool()
    report = Report(source, source.stat().st_size, _counts(database.obj), _live_problems(),
                    safety=safety.path, pending=db.pending_migrations())
    _audit("backup.restored", source, {"safety_backup": safety.path.name})
    return report


def _target_path(target: Path | None, directory: Path, label: str = "") -> Path:
    """A file that does not exist yet: `target`, or a timestamped name in a directory."""
    if target is not None and not Path(target).is_dir():
        target = Path(target)
        if target.exists():
            raise BackupError(f"文件已存在，不会覆盖 the file exists and is not overwritten: {target}")
        return target.resolve()
    folder = Path(target if target is not None else directory)
    stamp = (datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + SHANGHAI)
    stem = "-".join(filter(None, ["yanxiu", stamp.strftime("%Y%m%d-%H%M%S"), label]))
    suffix = ".db" if db.is_sqlite() else ".dump"
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path.resolve()


def _take_backup(path: Path) -> Report:
    """Write the backup to a `.partial` file beside `path`, readable by its owner only, and
    give it its name once complete, so a file under the final name is always whole."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)  # left by a backup that was killed
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if db.is_sqlite():
            _sqlite_backup(partial)
            copy = SqliteDatabase(str(partial))
            try:
                counts, problems = _counts(copy), _sqlite_problems(copy)
            finally:
                copy.close()
        else:
            counts = _pg_dump(partial)
            problems = _pg_archive_problems(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Report(path, path.stat().st_size, counts, problems)


def _audit(action: str, path: Path, after: dict) -> None:
    """An audit row for the act, where the schema is current (a backup taken before
    migrating, or a restored older database, has no audit table of this code's shape)."""
    if not db.pending_migrations():
        target_id = path.name[:AuditLog.target_id.max_length]
        audit.record(action, target_type="backup", target_id=target_id,
                     after={"file": path.name, **after})


def _counts(target) -> dict[str, int]:
    """Rows in each counted table the database has."""
    present = set(target.get_tables())
    return {name: Table(name).select(fn.COUNT(SQL("*"))).bind(target).scalar()
            for name in COUNTED if name in present}


def _release_pool() -> None:
    """Return this thread's connection and close the idle pooled ones, so no connection
    carries state from before the restore (connections other threads hold stay valid: the
    backup API and PostgreSQL both keep them consistent)."""
    if not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_idle"):
        database.obj.close_idle()
    database.connect(reuse_if_open=True)


def _live_problems() -> list[str]:
    if db.is_sqlite():
        return _sqlite_problems(database.obj)
    tables = database.get_tables()
    return [] if MIGRATIONS_TABLE in tables else [f"缺少迁移表 no {MIGRATIONS_TABLE} table"]


# SQLite

def _live_sqlite_path() -> Path:
    return Path(database.obj.database).resolve()


def _sqlite_backup(partial: Path) -> None:
    """Copy the live database into `partial` in one step of the backup API: one read
    transaction, so one consistent snapshot, while writers go on in the WAL."""
    source = sqlite3.connect(_live_sqlite_path(), timeout=10)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)
        # A backup is one self-contained file: no -wal or -shm beside it.
        target.execute("PRAGMA journal_mode=DELETE")
    finally:
        target.close()
        source.close()


def _sqlite_restore(source: Path) -> None:
    """Copy the checked backup into the live database through the backup API: it takes the
    write lock (waiting for writers to finish), and connections open elsewhere see the
    restored content on their next statement."""
    backup = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    live = sqlite3.connect(_live_sqlite_path(), timeout=10)
    try:
        backup.backup(live)
        live.execute("PRAGMA journal_mode=WAL")
    finally:
        live.close()
        backup.close()


def _sqlite_problems(target) -> list[str]:
    """What `PRAGMA integrity_check` and `foreign_key_check` find; empty when all is well."""
    problems = [row[0] for row in target.execute_sql("PRAGMA integrity_check").fetchall()
                if row[0] != "ok"]
    problems += [f"外键失效 broken foreign key: {row[0]} rowid {row[1]} → {row[2]}"
                 for row in target.execute_sql("PRAGMA foreign_key_check").fetchall()]
    return problems


def _check_restore_source(source: Path) -> list[str]:
    if not source.is_file():
        return ["文件不存在 no such file"]
    if db.is_sqlite():
        return _sqlite_source_problems(source)
    try:
        listing = _run([_pg_binary("pg_restore"), "--list", str(source)])
    except BackupError as err:
        return [str(err)]
    if not re.search(rf"^\d+; \d+ \d+ TABLE \S+ {MIGRATIONS_TABLE} ", listing, re.MULTILINE):
        return [f"不是 yanxiu 的数据库备份 not a yanxiu backup: no {MIGRATIONS_TABLE} table"]
    return []


def _sqlite_source_problems(source: Path) -> list[str]:
    with open(source, "rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            return ["不是 SQLite 数据库文件 not an SQLite database file"]
    backup = SqliteDatabase(f"{source.as_uri()}?mode=ro", uri=True)
    try:
        problems = _sqlite_problems(backup)
        if MIGRATIONS_TABLE not in backup.get_tables():
            problems.append(f"不是 yanxiu 的数据库备份 not a yanxiu backup: no {MIGRATIONS_TABLE} table")
    except (sqlite3.DatabaseError, DatabaseError) as err:
        problems = [f"无法读取 unreadable: {err}"]
    finally:
        backup.close()
    return problems


# PostgreSQL

def _pg_dump(partial: Path) -> dict[str, int]:
    """Dump the database into `partial` from the snapshot the counts are read in, so the
    counts reported are exactly those of the file."""
    pg_dump = _pg_binary("pg_dump")
    with database.atomic(isolation_level="REPEATABLE READ"):
        snapshot = Select(columns=[fn.pg_export_snapshot()]).bind(database.obj).scalar()
        counts = _counts(database.obj)
        _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={partial}",
              f"--dbname={database.obj.database}"])
    return counts


def _pg_restore(source: Path) -> None:
    # Idle connections of this process hold no locks; closing this thread's keeps its
    # session out of the way of the DROPs.
    if not database.is_closed():
        database.close()
    _run([_pg_binary("pg_restore"), "--clean", "--if-exists", "--no-owner",
          "--single-transaction", "--exit-on-error", f"--dbname={database.obj.database}",
          str(source)])


def _pg_archive_problems(path: Path) -> list[str]:
    """An archive pg_restore can read the table of contents of is whole enough to restore."""
    try:
        _run([_pg_binary("pg_restore"), "--list", str(path)])
    except BackupError as err:
        return [str(err)]
    return []


def _pg_binary(name: str) -> str:
    """`name` of the server's major version under /usr/lib/postgresql, else on PATH, else
    the newest under /usr/lib/postgresql (pg_dump refuses a server newer than itself)."""
    major = int(Select(columns=[SQL("current_setting('server_version_num')::int")])
                .bind(database.obj).scalar()) // 10000
    candidates = [f"{PG_ROOT}/{major}/bin/{name}", shutil.which(name)]
    candidates += sorted(glob.glob(f"{PG_ROOT}/*/bin/{name}"), key=_pg_version, reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(
        f"找不到 {name}：请安装与数据库服务器主版本 {major} 相同的 PostgreSQL 客户端"
        f"（如 apt-get install postgresql-client-{major}），或把它加入 PATH。 "
        f"{name} not found: install the PostgreSQL {major} client programs, or put them on PATH.")


def _pg_version(path: str) -> int:
    version = Path(path).parts[-3]  # /usr/lib/postgresql/<version>/bin/<name>
    return int(version) if version.isdigit() else 0


def _run(command: list[str]) -> str:
    """Run a PostgreSQL client program with the app's connection settings in its environment;
    its output, or BackupError with its message."""
    env = dict(os.environ)
    params = database.obj.connect_params
    env.update({var: str(params[key]) for key, var in LIBPQ_ENV.items()
                if params.get(key) not in (None, "")})
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} 失败 failed (exit {done.returncode}): "
                          f"{done.stderr.strip()[-2000:]}")
    return done.stdout

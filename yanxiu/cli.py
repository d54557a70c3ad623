"""Command-line tasks on `flask --app app …`: migrations, region data, demo, operator, server,
backups and the audit chain."""
import getpass
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from yanxiu import db
from yanxiu.db import database

db_cli = AppGroup("db", help="数据库迁移 (database migrations)")
regions_cli = AppGroup("regions", help="行政区划数据 (region data)")
faq_cli = AppGroup("faq", help="热点问题答疑 (FAQ)")
rollups_cli = AppGroup("rollups", help="研修统计汇总 (training statistics rollups)")
audit_cli = AppGroup("audit", help="审计日志 (audit log)")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every pending migration."""
    applied = db.upgrade()
    click.echo("\n".join(f"applied: {name}" for name in applied) or "database is up to date")


@db_cli.command("status")
def db_status():
    """List migrations; exit 1 while any is pending."""
    pending = db.pending_migrations()
    for m in db.migration_runner().status():
        click.echo(f"[{'x' if m.applied else ' '}] {m.name}")
    sys.exit(1 if pending else 0)


@regions_cli.command("load")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
def regions_load(path):
    """Load the national region list (the bundled one, or PATH in the same CSV form)."""
    from pathlib import Path

    from yanxiu.services.regions import load_regions
    _require_migrated()
    report = load_regions(Path(path) if path else None)
    for error in report.errors:
        click.echo(error, err=True)
    if report.errors:
        sys.exit(1)
    click.echo(f"added {len(report.added)}, renamed {len(report.renamed)}, "
               f"moved {len(report.moved)}, unchanged {report.unchanged}")


@rollups_cli.command("rebuild")
@click.option("--check", is_flag=True, help="Only report differences; change nothing; exit 1 if any.")
def rollups_rebuild(check):
    """Recompute every rollup from the raw learning records and report what differed."""
    from yanxiu.services.rollups import rebuild_all
    _require_migrated()
    report = rebuild_all(write=not check)
    levels = {"teacher": "教师", "school": "学校", "region": "区域"}
    click.echo(f"programmes: {report.programmes}; rows that differed: " + ", ".join(
        f"{name} {report.differences.get(level, 0)}" for level, name in levels.items()))
    if check and not report.clean:
        sys.exit(1)


@click.command("demo")
@click.option("--scale", type=int, default=1, show_default=True,
              help="Multiply schools per county (benchmarks use a larger scale).")
def demo(scale):
    """Build the demo dataset of SPEC §11 (refuses a database holding real data)."""
    from yanxiu.services.demo import DemoRefused, build_demo
    db.upgrade()
    try:
        summary = build_demo(scale=scale)
    except DemoRefused as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(summary)
    _load_faq()


@faq_cli.command("load")
def faq_load():
    """Load the bundled starting set of questions into an empty FAQ (idempotent)."""
    _require_migrated()
    _load_faq()


def _load_faq():
    from yanxiu.services.faq import load_starting_set
    with db.startup_lock():
        added = load_starting_set()
    click.echo(f"FAQ: loaded {added} questions" if added else "FAQ: already has topics; nothing changed")


@click.command("create-operator")
@click.argument("username")
@click.option("--name", "display_name", default="平台运维", show_default=True)
def create_operator(username, display_name):
    """Create the first 平台运维 account (asks for its password)."""
    from yanxiu.services.bindings import create_operator as make
    from yanxiu.services.accounts import AccountError
    _require_migrated()
    password = os.environ.get("YANXIU_OPERATOR_PASSWORD") or getpass.getpass("密码: ")
    try:
        make(username, display_name, password)
    except AccountError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(f"operator {username} created")


@click.command("serve")
@click.option("--host", default=lambda: os.environ.get("YANXIU_HOST", "127.0.0.1"))
@click.option("--port", default=lambda: int(os.environ.get("YANXIU_PORT", "8000")), type=int)
@click.option("--threads", default=8, show_default=True)
def serve(host, port, threads):
    """Serve with waitress, the production WSGI server."""
    from waitress import serve as waitress_serve
    _require_migrated()
    click.echo(f"yanxiu: http://{host}:{port}/")
    waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads,
                   ident="yanxiu")


@click.command("backup")
@with_appcontext
@click.argument("path", required=False, type=click.Path(path_type=Path))
def backup(path):
    """Take an online backup of the database (the app may be running) into PATH, a new file or
    a directory; default: a timestamped file in instance/backups/."""
    from yanxiu.services.backup import BackupError, create_backup
    database.connect(reuse_if_open=True)
    try:
        report = create_backup(path, _backups_dir())
    except BackupError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(f"备份完成 backup written: {report.path} ({_size(report.size)})")
    click.echo("完整性检查 integrity check: ok")
    _echo_counts(report.counts)


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(path, yes):
    """Replace the database with the backup in PATH, after checking the file and taking a
    safety backup of the current database into instance/backups/."""
    from yanxiu.services.backup import BackupError, restore_backup
    if not yes and not click.confirm(f"用 {path} 替换当前数据库的全部内容？"
                                     f" Replace the whole database with {path}?"):
        click.echo("已取消，数据库未改动 cancelled; the database is unchanged", err=True)
        sys.exit(1)
    database.connect(reuse_if_open=True)
    try:
        report = restore_backup(path, _backups_dir())
    except BackupError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(f"恢复前的安全备份 safety backup of the replaced database: {report.safety}")
    click.echo(f"恢复完成 restored from: {report.path}")
    if report.problems:
        click.echo("完整性检查未通过 integrity check FAILED: " + "; ".join(report.problems[:20]),
                   err=True)
        _echo_counts(report.counts)
        sys.exit(1)
    click.echo("完整性检查 integrity check: ok")
    _echo_counts(report.counts)
    if report.pending:
        click.echo(f"数据库待迁移：{', '.join(report.pending)}。请先运行：{db.MIGRATE_COMMAND}",
                   err=True)


@audit_cli.command("verify")
def audit_verify():
    """Walk the audit log's hash chain; exit 1 naming the rows that do not match."""
    from yanxiu.models import AuditLog
    from yanxiu.services.audit import verify_chain
    _require_migrated()
    broken = verify_chain()
    if broken:
        shown = ", ".join(str(row) for row in broken[:50])
        more = f" … (+{len(broken) - 50})" if len(broken) > 50 else ""
        click.echo(f"审计日志哈希链断裂 audit chain BROKEN at {len(broken)} rows, ids: {shown}{more}",
                   err=True)
        sys.exit(1)
    click.echo(f"审计日志完整 audit chain OK: {AuditLog.select().count()} rows")


def _backups_dir() -> Path:
    return Path(current_app.instance_path) / "backups"


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB, {size} bytes"


def _echo_counts(counts: dict[str, int]) -> None:
    for table, rows in counts.items():
        click.echo(f"  {table:<16} {rows:>10}")


def _require_migrated():
    database.connect(reuse_if_open=True)
    pending = db.pending_migrations()
    if pending:
        click.echo(f"数据库待迁移：{', '.join(pending)}。请先运行：{db.MIGRATE_COMMAND}", err=True)
        sys.exit(1)


def init_app(app):
    for command in (db_cli, regions_cli, faq_cli, rollups_cli, audit_cli, demo, create_operator,
                    serve, backup, restore):
        app.cli.add_command(command)

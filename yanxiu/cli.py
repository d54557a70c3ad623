"""Command-line tasks on `flask --app app …`: migrations, region data, demo, operator, server."""
import getpass
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from yanxiu import db
from yanxiu.db import database

db_cli = AppGroup("db", help="数据库迁移 (database migrations)")
regions_cli = AppGroup("regions", help="行政区划数据 (region data)")
faq_cli = AppGroup("faq", help="热点问题答疑 (FAQ)")
rollups_cli = AppGroup("rollups", help="研修统计汇总 (training statistics rollups)")


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
    levels = {"course": "课程", "teacher": "教师", "school": "学校", "region": "区域"}
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


def _require_migrated():
    database.connect(reuse_if_open=True)
    pending = db.pending_migrations()
    if pending:
        click.echo(f"数据库待迁移：{', '.join(pending)}。请先运行：{db.MIGRATE_COMMAND}", err=True)
        sys.exit(1)


def init_app(app):
    for command in (db_cli, regions_cli, faq_cli, rollups_cli, demo, create_operator, serve):
        app.cli.add_command(command)

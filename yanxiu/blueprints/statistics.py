"""研修统计: a programme's figures for my region, drilled down to schools and teachers; each
page also printable (?print=1), exported (xlsx, csv) and as JSON (stats.json), all from one table."""
from flask import Blueprint, abort, jsonify, render_template, request

from yanxiu.export import FORMATS, export_table
from yanxiu.models import Programme, Region
from yanxiu.scope import (ALL_ADMINS, REGION_ADMINS, Scope, current_scope, region_or_404, roles,
                          school_or_404)
from yanxiu.services import programmes, statistics
from yanxiu.services.statistics import FIGURE_COLUMNS, SORT_KEYS, TEACHER_FILTERS
from yanxiu.web import render

bp = Blueprint("statistics", __name__, url_prefix="/statistics")


@bp.context_processor
def _helpers():
    return {"FIGURE_COLUMNS": FIGURE_COLUMNS, "TEACHER_FILTERS": TEACHER_FILTERS,
            "generated_at": statistics.generated_at}


def _programme(scope: Scope, programme_id: int) -> Programme:
    """A programme the scope may look at; anything else is 404."""
    programme = programmes.visible_programme(scope, programme_id)
    if programme is None:
        abort(404)
    return programme


def _filename(text: str) -> str:
    """A download name without the characters a worksheet title refuses (programme names are
    free text)."""
    return text.translate({ord(c): "_" for c in "\\/?*[]:"})


def _sort() -> tuple[str, bool]:
    sort = request.args.get("sort", "")
    return (sort if sort in SORT_KEYS else ""), request.args.get("dir") == "desc"


def _region_stats(programme_id: int, code: str):
    scope = current_scope()
    programme = _programme(scope, programme_id)
    region = region_or_404(scope, code)
    sort, descending = _sort()
    return statistics.region_statistics(programme, region, sort, descending), scope.trail_to(region)


def _school_stats(programme_id: int, school_id: int):
    scope = current_scope()
    programme = _programme(scope, programme_id)
    school = school_or_404(scope, school_id)
    trail = [] if scope.school_id is not None else scope.trail_to(school.region)
    return statistics.school_statistics(programme, school, request.args.get("status", "")), trail


@bp.route("")
@roles(*ALL_ADMINS)
def stats_home():
    """研修统计: the programmes I may look at, each with my scope's figures."""
    scope = current_scope()
    visible = list(programmes.visible_programmes(scope))
    own = Region.get_by_id(scope.region_id) if scope.school_id is None else None
    return render("statistics/home.html", programmes=visible, scope=scope, own_region=own,
                  summaries=statistics.programme_summaries(scope, visible))


@bp.route("/<int:programme_id>/<code>")
@roles(*REGION_ADMINS)
def stats_region(programme_id: int, code: str):
    """A region's figures: one row per sub-region or school, totals, chart; ?print=1 prints."""
    stats, trail = _region_stats(programme_id, code)
    context = {"stats": stats, "table": stats.table(), "trail": trail,
               "chart": statistics.completion_chart(stats.rows)}
    if request.args.get("print"):
        return render_template("statistics/print_region.html", **context)
    return render("statistics/region.html", "statistics/_region.html", **context)


@bp.route("/<int:programme_id>/<code>/export.<fmt>")
@roles(*REGION_ADMINS)
def stats_region_export(programme_id: int, code: str, fmt: str):
    """The region table on screen (same sort) as xlsx or csv, totals last."""
    if fmt not in FORMATS:
        abort(404)
    stats, _ = _region_stats(programme_id, code)
    table = stats.table()
    return export_table(_filename(f"{stats.region.name}研修统计（{stats.programme.name}）"), fmt,
                        table.headers, table.export_rows())


@bp.route("/<int:programme_id>/<code>/stats.json")
@roles(*REGION_ADMINS)
def stats_region_json(programme_id: int, code: str):
    """The region table on screen as JSON."""
    stats, trail = _region_stats(programme_id, code)
    return jsonify(statistics.region_document(stats, trail))


@bp.route("/<int:programme_id>/school/<int:school_id>")
@roles(*ALL_ADMINS)
def stats_school(programme_id: int, school_id: int):
    """A school's teachers with their 学时 and completion, filtered; ?print=1 prints."""
    stats, trail = _school_stats(programme_id, school_id)
    context = {"stats": stats, "table": stats.table(), "trail": trail}
    if request.args.get("print"):
        return render_template("statistics/print_school.html", **context)
    return render("statistics/school.html", "statistics/_school.html", **context)


@bp.route("/<int:programme_id>/school/<int:school_id>/export.<fmt>")
@roles(*ALL_ADMINS)
def stats_school_export(programme_id: int, school_id: int, fmt: str):
    """The teacher list on screen (same filter) and the school's totals as xlsx or csv."""
    if fmt not in FORMATS:
        abort(404)
    stats, _ = _school_stats(programme_id, school_id)
    table = stats.table()
    suffix = f"（{TEACHER_FILTERS[stats.status]}）" if stats.status else ""
    return export_table(_filename(f"{stats.school.name}研修统计（{stats.programme.name}）{suffix}"), fmt,
                        table.headers, table.export_rows())


@bp.route("/<int:programme_id>/school/<int:school_id>/stats.json")
@roles(*ALL_ADMINS)
def stats_school_json(programme_id: int, school_id: int):
    """The teacher list on screen and the school's totals as JSON."""
    stats, _ = _school_stats(programme_id, school_id)
    return jsonify(statistics.school_document(stats))

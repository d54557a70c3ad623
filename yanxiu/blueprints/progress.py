"""激活进度: activation of the admins and schools below my region; drill-down, export, print."""
from flask import Blueprint, abort, request

from yanxiu.export import FORMATS, export_table
from yanxiu.models import Region
from yanxiu.scope import REGION_ADMINS, current_scope, region_or_404, roles
from yanxiu.services import activation
from yanxiu.web import paginate, render

bp = Blueprint("progress", __name__, url_prefix="/progress")


def _region(code: str | None) -> Region:
    scope = current_scope()
    return region_or_404(scope, code) if code else Region.get_by_id(scope.region_id)


def _only_inactive() -> bool:
    return request.args.get("status") == "inactive"


def _has_sub_regions(region: Region) -> bool:
    return Region.select().where(Region.parent == region).exists()


@bp.route("")
@bp.route("/<code>")
@roles(*REGION_ADMINS)
def progress_view(code: str | None = None):
    """One row per sub-region (a county: its schools), drilled into with htmx or as pages."""
    region = _region(code)
    if not _has_sub_regions(region):
        return _schools_page(region)
    table = activation.region_progress(region, _only_inactive())
    return render("progress/page.html", "progress/_body.html", region=region,
                  trail=current_scope().trail_to(region), table=table, page=None,
                  only_inactive=_only_inactive())


@bp.route("/<code>/schools")
@roles(*REGION_ADMINS)
def progress_schools(code: str):
    """The schools hanging directly on a region with their admins, or 未激活."""
    return _schools_page(_region(code))


def _schools_page(region: Region):
    page = paginate(activation.school_activations(region, _only_inactive()))
    return render("progress/page.html", "progress/_body.html", region=region,
                  trail=current_scope().trail_to(region), table=None, page=page,
                  only_inactive=_only_inactive())


@bp.route("/<code>/export.<fmt>")
@roles(*REGION_ADMINS)
def progress_export(code: str, fmt: str):
    """The list on screen (all its pages) as xlsx or csv."""
    if fmt not in FORMATS:
        abort(404)
    region = _region(code)
    suffix = "（未激活）" if _only_inactive() else ""
    if request.args.get("list") == "schools" or not _has_sub_regions(region):
        rows = activation.school_table(activation.school_activations(region, _only_inactive()))
        return export_table(f"{region.name}学校激活情况{suffix}", fmt, activation.SCHOOL_HEADERS, rows)
    rows = activation.progress_table(activation.region_progress(region, _only_inactive()))
    return export_table(f"{region.name}激活进度{suffix}", fmt, activation.PROGRESS_HEADERS, rows)

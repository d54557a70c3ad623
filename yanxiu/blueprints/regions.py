"""区域管理: the admin's own subtree, expanded lazily one level per request."""
from flask import Blueprint, request

from yanxiu.models import Region
from yanxiu.scope import REGION_ADMINS, Scope, current_scope, region_or_404, roles
from yanxiu.services.regions import child_nodes, direct_schools, search_regions
from yanxiu.web import paginate, render

bp = Blueprint("regions", __name__, url_prefix="/regions")

SCHOOLS_PER_PAGE = 50


def _node_context(scope: Scope, region: Region) -> dict:
    return {"node": region, "nodes": child_nodes(region), "trail": scope.trail_to(region),
            "direct_school_count": direct_schools(region).count(), "query": "", "results": None}


@bp.route("")
@roles(*REGION_ADMINS)
def tree():
    """The tree rooted at the binding's region, or search results for `q`."""
    scope = current_scope()
    root = Region.get_by_id(scope.region_id)
    context = _node_context(scope, root)
    query = request.args.get("q", "").strip()
    if query:
        context.update(query=query, results=search_regions(scope.path, query))
    return render("regions/tree.html", "regions/_tree_body.html", **context)


@bp.route("/<code>")
@roles(*REGION_ADMINS)
def node(code: str):
    """One node's direct sub-regions and schools: a fragment for htmx, the full page otherwise."""
    scope = current_scope()
    return render("regions/tree.html", "regions/_nodes.html",
                  **_node_context(scope, region_or_404(scope, code)))


@bp.route("/<code>/schools")
@roles(*REGION_ADMINS)
def schools(code: str):
    """The schools hanging directly on a region, a page at a time."""
    scope = current_scope()
    region = region_or_404(scope, code)
    page = paginate(direct_schools(region), SCHOOLS_PER_PAGE)
    return render("regions/schools.html", "regions/_schools.html", node=region, page=page,
                  trail=scope.trail_to(region))

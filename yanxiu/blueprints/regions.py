"""区域树: the admin's own subtree, expanded lazily one level per request."""
from flask import Blueprint, request

from yanxiu.scope import REGION_ADMINS, current_scope, region_or_404, roles
from yanxiu.services.regions import child_nodes, search_regions
from yanxiu.models import Region
from yanxiu.web import render

bp = Blueprint("regions", __name__, url_prefix="/regions")


def _breadcrumb(scope, region: Region) -> list[Region]:
    """Ancestors of `region` from the scope's own region down (nothing above the scope)."""
    return [r for r in region.ancestors() if len(r.path) >= len(scope.path)]


@bp.route("")
@roles(*REGION_ADMINS)
def tree():
    """The tree rooted at the binding's region, or search results for `q`."""
    scope = current_scope()
    root = Region.get_by_id(scope.region_id)
    query = request.args.get("q", "").strip()
    if query:
        results = search_regions(scope.path, query)
        return render("regions/tree.html", "regions/_tree_body.html",
                      node=root, nodes=[], trail=[root], query=query, results=results)
    return render("regions/tree.html", "regions/_tree_body.html", node=root,
                  nodes=child_nodes(root), trail=[root], query="", results=None)


@bp.route("/<code>")
@roles(*REGION_ADMINS)
def node(code: str):
    """One node's direct sub-regions: a fragment for htmx, the full page otherwise."""
    scope = current_scope()
    region = region_or_404(scope, code)
    return render("regions/tree.html", "regions/_nodes.html", node=region,
                  nodes=child_nodes(region), trail=_breadcrumb(scope, region), query="",
                  results=None)

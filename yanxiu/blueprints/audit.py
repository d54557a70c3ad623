"""审计日志: the audit rows of the current scope, filtered, a page at a time, and their export."""
from flask import Blueprint, abort, request

from yanxiu.export import FORMATS, export_table
from yanxiu.scope import ALL_ADMINS, Scope, current_scope, roles
from yanxiu.services import audit_log
from yanxiu.services.audit_log import AuditFilters
from yanxiu.web import is_fragment_request, paginate, render

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.context_processor
def _helpers():
    return {"RESULT_LABELS": audit_log.RESULT_LABELS, "COLUMNS": audit_log.COLUMNS,
            "EXPORT_LIMIT": audit_log.EXPORT_LIMIT}


def _page(scope: Scope, filters: AuditFilters, errors: dict, **context):
    """The list page (or its table for htmx); with bad filters, their messages and 422."""
    if not is_fragment_request():  # the form's choices: the fragment holds no form
        context.update(action_choices=audit_log.action_choices(scope, filters.action),
                       target_type_choices=audit_log.target_type_choices(scope, filters.target_type))
    return render("audit/list.html", "audit/_table.html", status=422 if errors else 200,
                  filters=filters, filter_args=filters.args(), errors=errors, **context)


@bp.route("")
@roles(*ALL_ADMINS)
def audit_list():
    """审计日志: who did what, under which identity, to what, when and from where; newest first."""
    scope = current_scope()
    filters, errors = audit_log.parse_filters(request.args)
    if errors:
        return _page(scope, filters, errors, page=None, rows=[])
    page = paginate(audit_log.entries(scope, filters), per_page=audit_log.PER_PAGE)
    return _page(scope, filters, errors, page=page, rows=audit_log.present(page.items))


@bp.route("/export.<fmt>")
@roles(*ALL_ADMINS)
def audit_export(fmt: str):
    """The filtered rows (all pages, up to EXPORT_LIMIT) as xlsx or csv, masked as on screen."""
    if fmt not in FORMATS:
        abort(404)
    scope = current_scope()
    filters, errors = audit_log.parse_filters(request.args)
    if errors:
        return _page(scope, filters, errors, page=None, rows=[])
    rows, _ = audit_log.export_rows(scope, filters)
    return export_table("审计日志", fmt, audit_log.EXPORT_HEADERS, rows)

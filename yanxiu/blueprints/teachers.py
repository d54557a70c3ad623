"""教师管理: review, removal and reveal by the school admin; teacher lists and counts for
region admins (管理完善专任教师数据)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yanxiu.blueprints.auth import recent_auth_required
from yanxiu.export import FORMATS, export_table
from yanxiu.forms.schools import put_errors
from yanxiu.forms.teachers import BulkApproveForm, RejectForm, RemoveForm, RevealForm
from yanxiu.models import Membership, Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.teacher import (APPROVED, PENDING, REJECTED, REMOVED, STATE_LABELS, SUBJECTS,
                                   TEACHING_STAGES, TRANSFERRED)
from yanxiu.scope import ALL_ADMINS, REGION_ADMINS, current_scope, region_or_404, roles, school_or_404
from yanxiu.services import teachers
from yanxiu.services.teachers import (REVEALABLE, REVIEW_STATES, DecisionConflict, TeacherError,
                                      TeacherFilters)
from yanxiu.web import client_address, is_fragment_request, paginate, render

bp = Blueprint("teachers", __name__, url_prefix="/teachers")

# The column after the time, in the tabs whose rows ended with a reason.
REASON_LABELS = {REJECTED: "不通过原因", REMOVED: "移出原因", TRANSFERRED: "去向"}


@bp.context_processor
def _helpers():
    return {"STATE_LABELS": STATE_LABELS, "REVIEW_STATES": REVIEW_STATES, "REVEALABLE": REVEALABLE,
            "TEACHING_STAGES": TEACHING_STAGES, "SUBJECTS": SUBJECTS, "REASON_LABELS": REASON_LABELS}


def _layout(tab: str) -> dict:
    """What a list shows: the school admin reviews its own teachers, region admins read theirs
    with a 学校 column. `ncols` lets an inline form span the row."""
    review = current_user.role == SCHOOL_ADMIN
    bulk = review and tab == PENDING
    actions = review and tab in (PENDING, APPROVED)
    ncols = 8 + bulk + (not review) + (tab in REASON_LABELS) + actions
    return {"tab": tab, "review": review, "bulk": bulk, "actions": actions, "ncols": ncols}


def _school() -> School | None:
    """?school=<id>: narrows a region admin's list to one school it reads; any other is 404."""
    if not request.args.get("school"):
        return None
    return school_or_404(current_scope(), request.args.get("school", type=int))


def _search_text() -> str:
    """The first non-empty `q`: the search box, else the kept keyed-hash search after it."""
    return next((q for q in request.args.getlist("q") if q.strip()), "")


def _filters(school: School | None) -> TeacherFilters:
    args = request.args
    state = args.get("state", PENDING)
    return TeacherFilters(state=state if state in REVIEW_STATES else PENDING, q=_search_text(),
                          stage=args.get("stage", ""), subject=args.get("subject", ""),
                          school=school.id if school else None)


def _filter_args(filters: TeacherFilters) -> dict:
    """The current tab and filters as query arguments, for exports."""
    args = {"state": filters.state, "q": filters.q.strip(), "stage": filters.stage,
            "subject": filters.subject, "school": filters.school}
    return {key: value for key, value in args.items() if value}


@bp.route("")
@roles(*ALL_ADMINS)
def teacher_list():
    """教师管理: one tab (待审核 … 已调出) of the teachers I read, searched and filtered, a page at
    a time; the school admin reviews from here."""
    text = _search_text().strip()
    key = teachers.search_key(text)
    if key != text and teachers.is_search_key(key):
        # A full 手机号 or 身份证号 searched for: go on by its keyed hash, so that neither the
        # page nor its links nor the browser's history repeat it.
        return redirect(url_for("teachers.teacher_list", **{**request.args.to_dict(), "q": key}), 303)
    scope = current_scope()
    school = _school()
    filters = _filters(school)
    page = paginate(teachers.teacher_list(scope, filters))
    return render("teachers/list.html", "teachers/_list.html", page=page, filters=filters,
                  keyed=teachers.is_search_key(filters.q), school=school,
                  filter_args=_filter_args(filters),
                  tab_args={"school": school.id} if school else {},
                  counts=teachers.state_counts(scope, filters.school), **_layout(filters.state))


@bp.route("/export.<fmt>")
@roles(*ALL_ADMINS)
def teacher_export(fmt: str):
    """The tab on screen with its filters (all its pages) as xlsx or csv, personal data masked."""
    if fmt not in FORMATS:
        abort(404)
    filters = _filters(_school())
    rows = teachers.list_table(teachers.teacher_list(current_scope(), filters))
    return export_table(f"教师名单（{STATE_LABELS[filters.state]}）", fmt, teachers.LIST_HEADERS, rows)


def _row(membership_id: int) -> Membership:
    """One application or member in my scope as the lists show it; anything else is 404."""
    row = (current_scope().memberships().select_extend(School.name.alias("school_name"))
           .where(Membership.id == membership_id).objects().first())
    if row is None:
        abort(404)
    return row


def _answer(membership_id: int, tab: str, message: str, status: int = 200):
    """After a decision: the row as it is now with the tab counts (htmx; a refusal shows its
    message in the row), or back to the tab with the message as a flash."""
    if is_fragment_request():
        return render_template("teachers/_decided.html", m=_row(membership_id),
                               message=message if status != 200 else "", tab_args={},
                               counts=teachers.state_counts(current_scope()), **_layout(tab)), status
    flash(message, "success" if status == 200 else "error")
    return redirect(url_for("teachers.teacher_list", state=tab), 303)


@bp.route("/<int:membership_id>/row")
@roles(SCHOOL_ADMIN)
def teacher_row(membership_id: int):
    """One list row (htmx: an inline form cancelled); the row's tab otherwise."""
    row = _row(membership_id)
    tab = row.state if row.state in REVIEW_STATES else PENDING
    if is_fragment_request():
        return render_template("teachers/_row.html", m=row, **_layout(tab))
    return redirect(url_for("teachers.teacher_list", state=tab), 303)


@bp.route("/<int:membership_id>/approve", methods=["POST"])
@roles(SCHOOL_ADMIN)
def teacher_approve(membership_id: int):
    """审核通过: the row in its new state (htmx) or back to 待审核; 409 when decided first."""
    try:
        row = teachers.approve(current_user.binding, membership_id, address=client_address())
    except LookupError:
        abort(404)
    except DecisionConflict as err:
        return _answer(membership_id, PENDING, str(err), 409)
    except TeacherError as err:
        return _answer(membership_id, PENDING, str(err), 422)
    return _answer(row.id, PENDING, f"已通过{row.name}的申请")


@bp.route("/<int:membership_id>/reject", methods=["GET", "POST"])
@roles(SCHOOL_ADMIN)
def teacher_reject(membership_id: int):
    """不通过: the row turns into a reason form (htmx) or a page of its own; a reason is required."""
    row = _row(membership_id)
    form = RejectForm()
    status = 200
    if form.is_submitted():
        try:
            teachers.reject(current_user.binding, row.id, form.full_reason(), address=client_address())
        except DecisionConflict as err:
            return _answer(row.id, PENDING, str(err), 409)
        except TeacherError as err:
            put_errors(form, err.errors)
            status = 422
        else:
            return _answer(row.id, PENDING, f"已将{row.name}的申请设为不通过，教师将看到原因")
    elif row.state != PENDING:
        return _answer(row.id, PENDING, f"{row.name}的申请已处理（{row.state_label}）", 409)
    return render("teachers/reject.html", "teachers/_row_reject.html", status=status, m=row,
                  form=form, **_layout(PENDING))


@bp.route("/<int:membership_id>/remove", methods=["GET", "POST"])
@roles(SCHOOL_ADMIN)
def teacher_remove(membership_id: int):
    """移出: the row asks for the reason and a confirmation (htmx) or a page of its own."""
    row = _row(membership_id)
    form = RemoveForm()
    status = 200
    if form.is_submitted():
        try:
            teachers.remove_teacher(current_user.binding, row.id, form.reason.data,
                                    address=client_address())
        except DecisionConflict as err:
            return _answer(row.id, APPROVED, str(err), 409)
        except TeacherError as err:
            put_errors(form, err.errors)
            status = 422
        else:
            return _answer(row.id, APPROVED, f"已将{row.name}移出本校")
    elif row.state != APPROVED:
        return _answer(row.id, APPROVED, f"{row.name}已不是本校在册教师（{row.state_label}）", 409)
    return render("teachers/remove.html", "teachers/_row_remove.html", status=status, m=row,
                  form=form, **_layout(APPROVED))


@bp.route("/approve-many", methods=["POST"])
@roles(SCHOOL_ADMIN)
def teacher_approve_many():
    """批量通过: each ticked application on its own; who was approved and why others were not."""
    ids = BulkApproveForm().ids.data
    if not ids:
        flash("请先勾选要通过的申请", "error")
        return redirect(url_for("teachers.teacher_list", state=PENDING), 303)
    outcome = teachers.approve_many(current_user.binding, ids, address=client_address())
    if outcome.approved:
        flash(f"已通过 {len(outcome.approved)} 人：{'、'.join(outcome.approved)}", "success")
    if outcome.refused:
        flash(f"{len(outcome.refused)} 条未通过处理：{'；'.join(outcome.refused)}", "error")
    return redirect(url_for("teachers.teacher_list", state=PENDING), 303)


@bp.route("/<int:membership_id>/reveal", methods=["POST"])
@roles(*ALL_ADMINS)
@recent_auth_required(find=_row)
def teacher_reveal(membership_id: int):
    """查看完整: one 身份证号 or 手机号 in full, recorded in the audit log; the cell (htmx) or a page."""
    field = RevealForm().field.data
    try:
        value = teachers.reveal(current_user.binding, membership_id, field, address=client_address())
    except LookupError:
        abort(404)
    return render("teachers/reveal.html", "teachers/_revealed.html", value=value,
                  label=REVEALABLE[field], m=_row(membership_id))


@bp.route("/overview")
@roles(*REGION_ADMINS)
def teacher_overview():
    """教师数据: members (已通过) and 待审核 per sub-region, or per school of a county, drilled
    into with htmx or as pages."""
    scope = current_scope()
    code = request.args.get("region")
    region = region_or_404(scope, code) if code else Region.get_by_id(scope.region_id)
    trail = scope.trail_to(region)
    return render("teachers/overview.html", "teachers/_overview.html", region=region, trail=trail,
                  rows=teachers.teacher_counts_by_child(region))

"""学校管理: list, search and export; add; inline edit; the school page; archive or delete,
restore; transfer; the school admin's own school (本校信息)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yanxiu.db import as_id
from yanxiu.export import FORMATS, export_table
from yanxiu.forms.schools import (ConfirmForm, DescriptiveForm, RemoveForm, SchoolForm,
                                  TransferForm, put_errors)
from yanxiu.models import Region, School
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.region import ACTIVE, ARCHIVED, KIND_LABELS, OWNERSHIPS, SCHOOL, STAGES
from yanxiu.scope import ALL_ADMINS, REGION_ADMINS, current_scope, roles
from yanxiu.services import schools
from yanxiu.services.schools import (DESCRIPTIVE_FIELDS, FIELDS, SchoolError, SchoolFilters,
                                     StaleEdit)
from yanxiu.web import client_address, is_fragment_request, paginate, render

bp = Blueprint("schools", __name__, url_prefix="/schools")

FILTER_ARGS = ("q", "kind", "stage", "ownership", "activation", "archived", "sort")
SORT_LABELS = {"name": "名称", "code": "学校标识码", "region": "所在区域"}


@bp.context_processor
def _helpers():
    return {"kind_stage": schools.kind_stage, "admin_state": schools.admin_state,
            "KIND_LABELS": KIND_LABELS, "STAGES": STAGES, "OWNERSHIPS": OWNERSHIPS,
            "ACTIVATION_FILTERS": schools.ACTIVATION_FILTERS, "SORT_LABELS": SORT_LABELS}


def _filters() -> SchoolFilters:
    args = request.args
    return SchoolFilters(q=args.get("q", ""), kind=args.get("kind", ""), stage=args.get("stage", ""),
                         ownership=args.get("ownership", ""), activation=args.get("activation", ""),
                         archived=args.get("archived") == "1", sort=args.get("sort", "region"))


def _filter_args() -> dict:
    """The current filters as query arguments, for sort links and exports."""
    return {key: request.args[key] for key in FILTER_ARGS if request.args.get(key)}


def _school_or_404(school_id: int, managed: bool = False, status: str | None = None) -> School:
    """A school the current scope reads (or, with `managed`, manages); anything else is 404."""
    scope = current_scope()
    query = (scope.managed_schools() if managed else scope.schools()).where(School.id == school_id)
    if status:
        query = query.where(School.status == status)
    school = query.first()
    if school is None:
        abort(404)
    return school


def _row_context(items) -> dict:
    """What the list rows need besides the rows: which I manage, which I may transfer."""
    binding = current_user.binding
    ids = [s.id for s in items]
    managed = {i for (i,) in current_scope().managed_schools().select(School.id)
               .where(School.id.in_(ids)).tuples()} if ids else set()
    return {"managed": managed,
            "offer_transfer": lambda school: schools.may_offer_transfer(binding, school)}


def _row(school_id: int):
    """One school as a list row (with region and admin columns)."""
    return schools.with_admin(School.select().where(School.id == school_id)).first()


def _display_row(school_id: int, status: int = 200):
    row = _row(school_id)
    return render_template("schools/_row.html", s=row, **_row_context([row])), status


@bp.route("")
@roles(*REGION_ADMINS)
def school_list():
    """学校管理: the schools I read, searched, filtered and sorted, a page at a time."""
    scope = current_scope()
    page = paginate(schools.school_list(scope, _filters()))
    may_add = scope.region_id is not None and scope.may_manage_region(Region.get_by_id(scope.region_id))
    return render("schools/list.html", "schools/_table.html", page=page, filters=_filters(),
                  filter_args=_filter_args(), may_add=may_add, **_row_context(page.items))


@bp.route("/export.<fmt>")
@roles(*REGION_ADMINS)
def school_export(fmt: str):
    """The list on screen (all its pages) as xlsx or csv."""
    if fmt not in FORMATS:
        abort(404)
    filters = _filters()
    rows = schools.list_table(schools.school_list(current_scope(), filters))
    name = "学校和机构" + ("（已归档）" if filters.archived else "")
    return export_table(name, fmt, schools.LIST_HEADERS, rows)


@bp.route("/new", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def school_new():
    """新增学校: into the region I manage (a county; a province or city: its 直属 schools)."""
    scope = current_scope()
    region = Region.get_by_id(scope.region_id) if scope.region_id else None
    if region is None or not scope.may_manage_region(region):
        abort(404)
    form = SchoolForm()
    status = 200
    if form.validate_on_submit():
        try:
            school = schools.create_school(current_user.binding, region,
                                           {f: form[f].data for f in FIELDS},
                                           address=client_address())
        except SchoolError as err:
            put_errors(form, err.errors)
        else:
            flash(f"已新增“{school.name}”", "success")
            return redirect(url_for("schools.school_list"), 303)
    if form.is_submitted():
        status = 422
    return render("schools/new.html", status=status, form=form, region=region)


def _save(form, school: School, fields: list[str]):
    """Save the submitted form through update_school: (saved school or None, form, status)."""
    if not form.validate_on_submit():
        return None, form, 422
    # No version, or one no row can have (past 64 bits too), is a stale edit.
    version = as_id(form.version.data) or 0
    try:
        saved = schools.update_school(current_user.binding, school, {f: form[f].data for f in fields},
                                      version, address=client_address(), fields=fields)
    except StaleEdit as err:
        # Show what is stored now, with its version, so a second save is deliberate.
        current = type(form)(formdata=None, obj=School.get_by_id(school.id))
        current.form_errors = [str(err)]
        return None, current, 409
    except SchoolError as err:
        put_errors(form, err.errors)
        return None, form, 422
    return saved, form, 200


@bp.route("/<int:school_id>/edit")
@roles(*REGION_ADMINS)
def school_edit(school_id: int):
    """编辑: the row turned into a form (htmx), or the full edit page."""
    school = _school_or_404(school_id, managed=True, status=ACTIVE)
    form = SchoolForm(formdata=None, obj=school)
    return render("schools/edit.html", "schools/_row_form.html", s=_row(school.id), form=form)


@bp.route("/<int:school_id>", methods=["POST"])
@roles(*REGION_ADMINS)
def school_update(school_id: int):
    """Save an edit: the display row (htmx) or back to the list; 422 keeps the input with its
    errors, 409 shows the stored values when someone saved first."""
    school = _school_or_404(school_id, managed=True, status=ACTIVE)
    saved, form, status = _save(SchoolForm(), school, FIELDS)
    if saved is None:
        return render("schools/edit.html", "schools/_row_form.html", status=status,
                      s=_row(school.id), form=form)
    if is_fragment_request():
        return _display_row(saved.id)
    flash(f"已保存“{saved.name}”", "success")
    return redirect(url_for("schools.school_list"), 303)


@bp.route("/<int:school_id>/row")
@roles(*REGION_ADMINS)
def school_row(school_id: int):
    """One list row (htmx: an inline edit cancelled); the school page otherwise."""
    school = _school_or_404(school_id)
    if is_fragment_request():
        return _display_row(school.id)
    return _show(school)


def _show(school: School, status: int = 200, form=None):
    binding = current_user.binding
    if form is not None and school.kind != SCHOOL and "stage" in form:
        del form.stage  # an institution has no 学段
    managed = current_scope().managed_schools().where(School.id == school.id).exists()
    return render("schools/show.html", status=status, school=school, form=form,
                  trail=school.region.ancestors()[1:], admin=schools.school_admin_binding(school),
                  history=schools.school_history(school), managed=managed,
                  offer_transfer=school.status == ACTIVE and schools.may_offer_transfer(binding, school))


@bp.route("/<int:school_id>")
@roles(*ALL_ADMINS)
def school_show(school_id: int):
    """学校详情: info, admin binding, history; the actions for whoever manages it."""
    return _show(_school_or_404(school_id))


@bp.route("/mine", methods=["GET", "POST"])
@roles(SCHOOL_ADMIN)
def school_mine():
    """本校信息: my school's page and a form for its descriptive fields (not code, type or region)."""
    school = School.get_by_id(current_user.binding.school_id)
    if request.method == "POST":
        saved, form, status = _save(DescriptiveForm(), school, DESCRIPTIVE_FIELDS)
        if saved is not None:
            flash("本校信息已保存", "success")
            return redirect(url_for("schools.school_mine"), 303)
        return _show(School.get_by_id(school.id), status, form)
    return _show(school, form=DescriptiveForm(formdata=None, obj=school))


@bp.route("/<int:school_id>/delete", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def school_delete(school_id: int):
    """删除: asks for a reason; a school with bindings or codes is archived, an empty one removed."""
    school = _school_or_404(school_id, managed=True, status=ACTIVE)
    form = RemoveForm()
    if form.validate_on_submit():
        result = schools.remove_school(current_user.binding, school, reason=form.reason.data,
                                       address=client_address())
        flash(f"“{school.name}”已归档，可在“已归档”中查看和恢复" if result == "archived"
              else f"“{school.name}”已删除", "success")
        return redirect(url_for("schools.school_list"), 303)
    return render("schools/delete.html", status=422 if form.is_submitted() else 200, school=school,
                  form=form, archive=schools.school_has_dependents(school))


@bp.route("/<int:school_id>/restore", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def school_restore(school_id: int):
    """恢复: an archived school returns to the lists, after confirmation."""
    school = _school_or_404(school_id, managed=True, status=ARCHIVED)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            schools.restore_school(current_user.binding, school, address=client_address())
        except SchoolError as err:
            flash(str(err), "error")
        else:
            flash(f"“{school.name}”已恢复", "success")
        return redirect(url_for("schools.school_show", school_id=school.id), 303)
    return render("schools/restore.html", school=school, form=form)


@bp.route("/<int:school_id>/transfer", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def school_transfer(school_id: int):
    """转移: move a school between two sub-regions of my jurisdiction, with a reason."""
    school = _school_or_404(school_id, status=ACTIVE)
    form = TransferForm()
    if form.validate_on_submit():
        target = Region.get_or_none(Region.code == form.target.data)
        if target is None:
            form.target.errors = ["请选择转入区域"]
        else:
            source = school.region.name
            try:
                schools.transfer_school(current_user.binding, school, target,
                                        reason=form.reason.data, address=client_address())
            except SchoolError as err:
                put_errors(form, err.errors)
            else:
                flash(f"“{school.name}”已从{source}转移到{target.name}", "success")
                return redirect(url_for("schools.school_show", school_id=school.id), 303)
    return render("schools/transfer.html", status=422 if form.is_submitted() else 200,
                  school=school, form=form,
                  targets=schools.transfer_targets(current_user.binding, school))

"""研修项目管理: the operator's national and a province's provincial programmes and courses."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from yanxiu.db import as_id
from yanxiu.forms.programmes import CourseForm, ProgrammeForm
from yanxiu.forms.schools import put_errors
from yanxiu.models import Course, Programme
from yanxiu.scope import REGION_ADMINS, current_scope, roles
from yanxiu.services import programmes
from yanxiu.services.programmes import ProgrammeError
from yanxiu.web import client_address, render

bp = Blueprint("programmes", __name__, url_prefix="/programmes")

PROGRAMME_FIELDS = ("name", "kind", "start_date", "end_date", "minutes_per_hour", "required_hours",
                    "audience")


def _may_create() -> bool:
    try:
        programmes.programme_region(current_user.binding)
    except ProgrammeError:
        return False
    return True


def _programme_or_404(programme_id: int, manage: bool = False) -> Programme:
    """A programme the binding may see (or, with `manage`, change); anything else is 404."""
    binding = current_user.binding
    programme = programmes.visible_programme(current_scope(), programme_id)
    if programme is None or (manage and not programmes.may_manage(binding, programme)):
        abort(404)
    return programme


def _form_data(form: ProgrammeForm) -> dict:
    return {f: form[f].data for f in PROGRAMME_FIELDS}


@bp.route("")
@roles(*REGION_ADMINS)
def programme_list():
    """研修项目: the programmes I may see, newest first; mine to manage marked."""
    binding = current_user.binding
    rows = list(programmes.visible_programmes(current_scope()))
    return render("programmes/list.html", rows=rows, may_create=_may_create(),
                  managed={p.id for p in rows if programmes.may_manage(binding, p)})


@bp.route("/new", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def programme_new():
    """新建研修项目 at my level (national for the operator, provincial for a province)."""
    if not _may_create():
        abort(404)
    form = ProgrammeForm()
    if form.validate_on_submit():
        try:
            programme = programmes.create_programme(current_user.binding, _form_data(form),
                                                    address=client_address())
        except ProgrammeError as err:
            put_errors(form, err.errors)
        else:
            flash(f"已新建“{programme.name}”，请添加课程", "success")
            return redirect(url_for("programmes.programme_show", programme_id=programme.id), 303)
    return render("programmes/form.html", status=422 if form.is_submitted() else 200, form=form,
                  programme=None)


@bp.route("/<int:programme_id>")
@roles(*REGION_ADMINS)
def programme_show(programme_id: int):
    """A programme's rules and courses; its manager adds and edits courses here."""
    programme = _programme_or_404(programme_id)
    return _show(programme)


def _show(programme: Programme, status: int = 200, add_form: CourseForm | None = None,
          edit_form: CourseForm | None = None, editing: int | None = None):
    """The programme page; after a refused course save, that form with its errors."""
    return render("programmes/show.html", status=status, programme=programme,
                  courses=list(programme.courses.order_by(Course.id)),
                  form=add_form or CourseForm(formdata=None), edit_form=edit_form, editing=editing,
                  managed=programmes.may_manage(current_user.binding, programme))


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def programme_edit(programme_id: int):
    """修改项目规则: a changed rule recomputes the programme's figures."""
    programme = _programme_or_404(programme_id, manage=True)
    form = ProgrammeForm(obj=None if request.method == "POST" else _FormValues(programme))
    if form.validate_on_submit():
        # No version, or one no row can have (past 64 bits too), is a stale edit.
        version = as_id(form.version.data) or 0
        try:
            programmes.update_programme(current_user.binding, programme, _form_data(form), version,
                                        address=client_address())
        except ProgrammeError as err:
            put_errors(form, err.errors)
        else:
            flash("已保存；统计数据已按新规则重新计算", "success")
            return redirect(url_for("programmes.programme_show", programme_id=programme.id), 303)
    return render("programmes/form.html", status=422 if form.is_submitted() else 200, form=form,
                  programme=programme)


class _FormValues:
    """A programme as the form's `obj`: audience as a list, dates as ISO text."""

    def __init__(self, programme: Programme):
        for field in ("name", "kind", "minutes_per_hour", "required_hours", "version"):
            setattr(self, field, getattr(programme, field))
        self.start_date = str(programme.start_date)
        self.end_date = str(programme.end_date)
        self.audience = programme.audience_stages


@bp.route("/<int:programme_id>/courses", methods=["POST"])
@bp.route("/<int:programme_id>/courses/<int:course_id>", methods=["POST"])
@roles(*REGION_ADMINS)
def course_save(programme_id: int, course_id: int | None = None):
    """添加或修改课程; a changed cap recomputes the figures."""
    programme = _programme_or_404(programme_id, manage=True)
    course = None
    if course_id is not None:
        course = Course.get_or_none((Course.id == course_id) & (Course.programme == programme.id))
        if course is None:
            abort(404)
    form = CourseForm()
    if form.validate_on_submit():
        try:
            programmes.save_course(current_user.binding, programme,
                                   {f: form[f].data for f in ("name", "minutes", "max_hours")}, course,
                                   address=client_address())
        except ProgrammeError as err:
            put_errors(form, {k.removeprefix("course-"): v for k, v in err.errors.items()})
        else:
            flash("课程已保存", "success")
            return redirect(url_for("programmes.programme_show", programme_id=programme.id), 303)
    if course is None:
        return _show(programme, 422, add_form=form)
    return _show(programme, 422, edit_form=form, editing=course.id)

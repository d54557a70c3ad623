"""工作台: the landing page of every identity."""
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.scope import Scope, signed_in
from yanxiu.forms.notices import ReadForm
from yanxiu.services import notices, teachers
from yanxiu.services.workbench import (PROGRESS_COLUMNS, programme_progress, school_teachers,
                                       scope_figures, todo)
from yanxiu.web import render

bp = Blueprint("workbench", __name__)


@bp.route("/")
@signed_in
def index():
    """The site root leads to the workbench."""
    return redirect(url_for("workbench.home"))


@bp.route("/workbench")
@signed_in
def home():
    """工作台: who I am, where, my scope's figures, 研修进度 and to-dos (a teacher: the 个人中心
    state)."""
    binding = current_user.binding
    figures = school = tasks = staff = standing = progress = None
    unread = []
    if binding is None:
        standing = teachers.teacher_status(current_user.account)
    else:
        unread = list(notices.inbox(binding).limit(5))
        scope = Scope.of(binding)
        progress = programme_progress(scope)
        if binding.role == SCHOOL_ADMIN:
            school, staff = binding.school, school_teachers(scope)
        else:
            figures, tasks = scope_figures(scope), todo(scope, binding.region)
    return render("workbench/home.html", binding=binding, figures=figures, school=school,
                  staff=staff, tasks=tasks, standing=standing, unread=unread, read_form=ReadForm(),
                  progress=progress, progress_columns=PROGRESS_COLUMNS)

"""工作台: the landing page of every identity."""
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.scope import Scope, signed_in
from yanxiu.forms.notices import ReadForm
from yanxiu.services import notices
from yanxiu.services.workbench import scope_figures, todo
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
    """工作台: who I am, where, and my scope's figures."""
    binding = current_user.binding
    figures = school = tasks = None
    unread = []
    if binding is not None:
        unread = list(notices.inbox(binding).limit(5))
        if binding.role == SCHOOL_ADMIN:
            school = binding.school
        else:
            scope = Scope.of(binding)
            figures, tasks = scope_figures(scope), todo(scope, binding.region)
    return render("workbench/home.html", binding=binding, figures=figures, school=school,
                  tasks=tasks, unread=unread, read_form=ReadForm())

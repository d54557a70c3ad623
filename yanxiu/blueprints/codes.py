"""权限码管理 and 登录绑定: issue, list, revoke, re-issue, redeem; end subordinate bindings."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from yanxiu.blueprints.auth import recent_auth_required
from yanxiu.forms.codes import ConfirmForm, EndBindingForm, IssueCodeForm, RedeemCodeForm
from yanxiu.models import Binding, PermissionCode
from yanxiu.scope import REGION_ADMINS, current_scope, roles, signed_in
from yanxiu.services import codes
from yanxiu.services.accounts import switch_binding
from yanxiu.services.codes import CodeError, CodeThrottled, ReplacementNeeded
from yanxiu.web import client_address, paginate, render

bp = Blueprint("codes", __name__)

STATE_FILTERS = {"unused": "未使用", "used": "已使用", "expired": "已过期", "revoked": "已作废"}


def _code_or_404(code_id: int) -> PermissionCode:
    """A code whose scope lies inside the current binding's subtree."""
    code = codes.codes_issued_in_scope(current_scope().path).where(PermissionCode.id == code_id).first()
    if code is None:
        abort(404)
    return code


def _issue_form() -> IssueCodeForm:
    form = IssueCodeForm()
    form.grant.choices = [("", "请选择…")] + [(t.key, t.label) for t in
                                             codes.issuable_targets(current_user.binding)]
    if request.method == "GET" and request.args.get("grant"):
        form.grant.data = request.args["grant"]
    return form


def _list_page(form: IssueCodeForm, status: int = 200):
    state = request.args.get("state", "")
    page = paginate(codes.codes_issued_in_scope(current_scope().path, state))
    return render("codes/list.html", "codes/_rows.html", status=status, form=form, page=page,
                  state=state, filters=STATE_FILTERS, code_state=codes.code_state,
                  state_labels=codes.STATE_LABELS, scope_name=codes.scope_name)


@bp.route("/codes", methods=["GET"])
@roles(*REGION_ADMINS)
def code_list():
    """权限码管理: every code of my subtree with its state, and the issue form."""
    return _list_page(_issue_form())


@bp.route("/codes", methods=["POST"])
@roles(*REGION_ADMINS)
@recent_auth_required()
def code_issue():
    """Issue a code; the page shows it once, printable as a hand-over slip."""
    form = _issue_form()
    if form.validate_on_submit():
        target = codes.target_by_key(current_user.binding, form.grant.data)
        if target is None:
            form.grant.errors = ["请选择有效的发放对象"]
        else:
            try:
                issued = codes.issue_permission_code(
                    current_user.binding, target.role, region=target.region, school=target.school,
                    days=form.days.data, address=client_address())
            except CodeError as err:
                form.grant.errors = [str(err)]
            else:
                return render("codes/slip.html", issued=issued, scope_name=codes.scope_name)
    return _list_page(form, 422)


@bp.route("/codes/<int:code_id>/revoke", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def code_revoke(code_id: int):
    """作废: asks for confirmation, then revokes an unused code."""
    code = _code_or_404(code_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            codes.revoke_code(current_user.binding, code, address=client_address())
        except CodeError as err:
            flash(str(err), "error")
        else:
            flash("权限码已作废", "success")
        return redirect(url_for("codes.code_list"), 303)
    return render("codes/confirm.html", code=code, form=form, action="revoke",
                  scope_name=codes.scope_name)


@bp.route("/codes/<int:code_id>/reissue", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
@recent_auth_required(find=_code_or_404)
def code_reissue(code_id: int):
    """重新发放: the old code (if unused) is revoked and a new one shown once."""
    code = _code_or_404(code_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            issued = codes.reissue_code(current_user.binding, code, address=client_address())
        except CodeError as err:
            flash(str(err), "error")
            return redirect(url_for("codes.code_list"), 303)
        return render("codes/slip.html", issued=issued, scope_name=codes.scope_name)
    return render("codes/confirm.html", code=code, form=form, action="reissue",
                  scope_name=codes.scope_name)


@bp.route("/bind", methods=["GET", "POST"])
@signed_in
def bind():
    """登录绑定: enter a 权限码 to become the admin it names."""
    form = RedeemCodeForm()
    replacing = None
    status = 200
    if form.validate_on_submit():
        try:
            binding = codes.redeem_code(current_user.account, form.code.data,
                                        address=client_address(),
                                        confirm_replace=form.confirm_replace.data)
        except ReplacementNeeded as need:
            replacing = need
            status = 409
        except CodeThrottled as err:
            form.code.errors = [str(err)]
            status = 429
        except CodeError as err:
            form.code.errors = [str(err)]
            status = 422
        else:
            switch_binding(current_user.session, binding.id, address=client_address())
            flash(f"绑定成功：您现在是{binding.scope_name}的{binding.role_label}", "success")
            return redirect(url_for("workbench.home"), 303)
    elif form.is_submitted():
        status = 422
    return render("codes/bind.html", status=status, form=form, replacing=replacing)


@bp.route("/admins")
@roles(*REGION_ADMINS)
def binding_list():
    """下级管理员: the bindings I may end (those I could issue a code for)."""
    page = paginate(codes.subordinate_bindings(current_user.binding))
    return render("codes/admins.html", "codes/_admin_rows.html", page=page)


@bp.route("/admins/<int:binding_id>/end", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def binding_end(binding_id: int):
    """解绑: end a subordinate binding after confirmation; the account stays."""
    target = codes.subordinate_bindings(current_user.binding).where(Binding.id == binding_id).first()
    if target is None:
        abort(404)
    form = EndBindingForm()
    if form.validate_on_submit():
        try:
            codes.end_binding(target, ended_by=current_user.account, reason=form.reason.data,
                              address=client_address(), binding=current_user.binding)
        except CodeError as err:
            flash(str(err), "error")
        else:
            flash(f"已解除 {target.account.display_name} 的{target.role_label}身份", "success")
        return redirect(url_for("codes.binding_list"), 303)
    return render("codes/end_binding.html", status=422 if form.is_submitted() else 200,
                  target=target, form=form)

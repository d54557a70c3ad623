"""接口令牌: the operator issues, lists and revokes the bearer tokens of the records API."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from yanxiu.forms.tokens import IssueTokenForm, RevokeTokenForm
from yanxiu.models import ApiToken, Region
from yanxiu.models.account import OPERATOR
from yanxiu.scope import roles
from yanxiu.services import api_tokens
from yanxiu.services.api_tokens import TokenError
from yanxiu.web import client_address, paginate, render

bp = Blueprint("tokens", __name__, url_prefix="/tokens")


@bp.context_processor
def _helpers():
    return {"token_state": api_tokens.token_state, "state_labels": api_tokens.STATE_LABELS,
            "scope_name": api_tokens.scope_name}


def _issue_form() -> IssueTokenForm:
    form = IssueTokenForm()
    form.region.choices = [("", "全国（不限省份）")] + [(r.code, r.name) for r in api_tokens.provinces()]
    return form


def _list_page(form: IssueTokenForm, status: int = 200):
    page = paginate(api_tokens.token_list())
    return render("tokens/list.html", "tokens/_rows.html", status=status, form=form, page=page)


def _token_or_404(token_id: int) -> ApiToken:
    token = api_tokens.token_list().where(ApiToken.id == token_id).first()
    if token is None:
        abort(404)
    return token


@bp.route("", methods=["GET"])
@roles(OPERATOR)
def token_list():
    """接口令牌: every token with its state, and the issue form."""
    return _list_page(_issue_form())


@bp.route("", methods=["POST"])
@roles(OPERATOR)
def token_issue():
    """Issue a token; the answer shows it in clear, this once."""
    form = _issue_form()
    if form.validate_on_submit():
        region = Region.get_or_none(Region.code == form.region.data) if form.region.data else None
        try:
            token, clear = api_tokens.issue_token(current_user.binding, form.name.data, region,
                                                  address=client_address())
        except TokenError as err:
            form.name.errors = [str(err)]
        else:
            return render("tokens/issued.html", token=token, clear=clear)
    return _list_page(form, 422)


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@roles(OPERATOR)
def token_revoke(token_id: int):
    """吊销: asks for confirmation, then the token answers 401 from then on."""
    token = _token_or_404(token_id)
    form = RevokeTokenForm()
    if form.validate_on_submit():
        try:
            api_tokens.revoke_token(current_user.binding, token, address=client_address())
        except TokenError as err:
            flash(str(err), "error")
        else:
            flash(f"令牌“{token.name}”已吊销", "success")
        return redirect(url_for("tokens.token_list"), 303)
    return render("tokens/confirm.html", token=token, form=form)

"""登录、注册、登出、修改密码、切换身份."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from yanxiu.forms.auth import LoginForm, PasswordForm, RegisterForm, SwitchBindingForm
from yanxiu.scope import SessionUser, public, signed_in
from yanxiu.services import accounts
from yanxiu.services.accounts import AccountError, LoginThrottled
from yanxiu.web import client_address, render

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login.

    Browsers read a backslash as a slash, so `/\\evil.example` would leave the site.
    """
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable() and not urlsplit(target).netloc):
        return target
    return url_for("workbench.home")


def _field_error(form, err: AccountError) -> None:
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = [*field.errors, str(err)]
    else:
        form.form_errors.append(str(err))


def _sign_in(account) -> None:
    """A fresh session id at every login: drop the old cookie session entirely."""
    previous = current_user.session if current_user.is_authenticated else None
    token, user_session = accounts.start_session(account, address=client_address(),
                                                 replaces=previous)
    session.clear()
    login_user(SessionUser(user_session, token))


def _with_retry_after(response: tuple) -> tuple:
    """A throttled answer tells the client when the per-address window reopens."""
    body, status = response
    if status == 429:
        return body, status, {"Retry-After": str(int(accounts.ADDRESS_WINDOW.total_seconds()))}
    return response


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """登录: account and password, throttled per account and per address."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("workbench.home"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        try:
            account = accounts.authenticate(form.username.data, form.password.data,
                                            address=client_address())
        except LoginThrottled as err:
            form.form_errors.append(str(err))
            status = 429
        except AccountError as err:
            _field_error(form, err)
            status = 422
        else:
            _sign_in(account)
            return redirect(_safe_next(form.next.data), 303)
    elif form.is_submitted():
        status = 422
    return _with_retry_after(render("auth/login.html", form=form, status=status))


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    """注册: create a platform account, then sign in."""
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            account = accounts.register(form.username.data, form.display_name.data,
                                        form.password.data, address=client_address())
        except AccountError as err:
            _field_error(form, err)
            status = 422
        else:
            _sign_in(account)
            flash("注册成功，欢迎使用研修管理平台", "success")
            return redirect(url_for("workbench.home"), 303)
    elif form.is_submitted():
        status = 422
    return render("auth/register.html", form=form, status=status)


@bp.route("/logout", methods=["POST"])
@signed_in
def logout():
    """登出: end the session on the server, not only in the browser."""
    accounts.logout(current_user.session, address=client_address())
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def password_change():
    """修改密码: other sessions of the account end."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user.account, form.old_password.data,
                                     form.new_password.data, session=current_user.session,
                                     address=client_address())
        except LoginThrottled as err:
            form.form_errors.append(str(err))
            status = 429
        except AccountError as err:
            _field_error(form, err)
            status = 422
        else:
            flash("密码已修改，其他设备上的登录已失效", "success")
            return redirect(url_for("workbench.home"), 303)
    elif form.is_submitted():
        status = 422
    return _with_retry_after(render("auth/password.html", form=form, status=status))


@bp.route("/account/binding", methods=["POST"])
@signed_in
def binding_switch():
    """切换身份: act under another of the account's bindings."""
    form = SwitchBindingForm()
    if not form.validate_on_submit():
        flash("无法切换到该身份", "error")
        return redirect(url_for("workbench.home"), 303)
    try:
        binding = accounts.switch_binding(current_user.session, int(form.binding_id.data),
                                          address=client_address())
    except AccountError:
        flash("无法切换到该身份", "error")
    else:
        flash(f"已切换为：{binding.scope_name} {binding.role_label}", "success")
    return redirect(url_for("workbench.home"), 303)

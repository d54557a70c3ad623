"""登录（含两步验证）、注册、登出、修改密码、切换身份、账号安全, and the re-authentication
that guards sensitive acts."""
import functools
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from yanxiu.forms.auth import (LoginForm, PasswordForm, ReauthForm, RegisterForm,
                               SwitchBindingForm, TwoFactorCodeForm, TwoFactorDisableForm,
                               TwoFactorLoginForm)
from yanxiu.forms.codes import ConfirmForm
from yanxiu.scope import SessionUser, policy_of, public, signed_in
from yanxiu.services import accounts, two_factor
from yanxiu.services.accounts import AccountError, LoginThrottled
from yanxiu.web import client_address, is_fragment_request, render

bp = Blueprint("auth", __name__)

# The signed session cookie holds, between the password and the second factor, the account id
# and a deadline only; the server-side session starts after the second factor.
PENDING_LOGIN = "two_factor_login"
# What an admin who must set up two-factor login may still reach (SECURITY.md row 8).
ENROLMENT_ENDPOINTS = frozenset({"auth.two_factor_setup", "auth.two_factor_begin",
                                 "auth.two_factor_confirm", "auth.logout"})


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


def _refused(form, err: AccountError) -> int:
    """Put a refusal on the form; its status: 429 while throttled, else 422."""
    _field_error(form, err)
    return 429 if isinstance(err, LoginThrottled) else 422


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


def _await_second_factor(account, next_target: str):
    """Password right, second factor to come: no session yet (one this browser held before
    ends now), only the account id and a deadline in the signed cookie."""
    if current_user.is_authenticated:
        accounts.logout(current_user.session, address=client_address())
    logout_user()
    session.clear()
    until = two_factor.pending_login(account, address=client_address())
    session[PENDING_LOGIN] = {"account": account.id, "until": until}
    return redirect(url_for("auth.two_factor_login", next=next_target or None), 303)


def _pending_account_id() -> int | None:
    """The account whose password was right, while its deadline lasts."""
    pending = session.get(PENDING_LOGIN)
    try:
        account_id, until = int(pending["account"]), float(pending["until"])
    except (KeyError, TypeError, ValueError):
        return None
    return account_id if two_factor.clock() <= until else None


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
        except AccountError as err:
            status = _refused(form, err)
        else:
            if two_factor.is_enabled(account.id):
                return _await_second_factor(account, form.next.data)
            _sign_in(account)
            return redirect(_safe_next(form.next.data), 303)
    elif form.is_submitted():
        status = 422
    return _with_retry_after(render("auth/login.html", form=form, status=status))


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
def two_factor_login():
    """登录 · 两步验证: the authenticator's code (or a recovery code) after the password; only
    then does a session start."""
    account_id = _pending_account_id()
    if account_id is None:
        session.pop(PENDING_LOGIN, None)
        flash("验证已超时或未输入密码，请重新登录", "error")
        return redirect(url_for("auth.login"), 303)
    form = TwoFactorLoginForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        try:
            passed = two_factor.complete_login(account_id, form.code.data,
                                               address=client_address())
        except AccountError as err:
            status = _refused(form, err)
        else:
            _sign_in(passed.account)
            if passed.recovery_used:
                flash(f"您使用了一个恢复码，还剩 {passed.recovery_left} 个；"
                      "可在“账号安全”中重新生成恢复码", "error")
            return redirect(_safe_next(form.next.data), 303)
    elif form.is_submitted():
        status = 422
    return _with_retry_after(render("auth/two_factor_login.html", form=form, status=status))


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
            status = _refused(form, err)
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
        except AccountError as err:
            status = _refused(form, err)
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


@bp.before_app_request
def _require_admin_enrolment():
    """YANXIU_REQUIRE_ADMIN_2FA: a signed-in admin without two-factor login reaches nothing but
    its set-up page (and logout) until it is on."""
    if not current_app.config["REQUIRE_ADMIN_2FA"] or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    policy = policy_of(current_app.view_functions.get(request.endpoint))
    if policy is None or policy[0] not in ("signed_in", "roles"):
        return None
    if not current_user.is_authenticated or not two_factor.enrolment_required(
            current_user.account.id, bool(current_user.bindings), True):
        return None
    # The set-up page says why; no flash, which would pile up over several redirects.
    target = url_for("auth.two_factor_setup")
    if request.headers.get("HX-Request") == "true":
        return "", 200, {"HX-Redirect": target}
    return redirect(target, 303)


def _setup_page(status: int = 200, *, begin=None, confirm=None, recovery=None, disable=None):
    account = current_user.account
    return render("auth/two_factor.html", status=status, state=two_factor.status(account.id),
                  enrolment=two_factor.pending_enrolment(account),
                  required=current_app.config["REQUIRE_ADMIN_2FA"] and bool(current_user.bindings),
                  begin_form=begin or ConfirmForm(), confirm_form=confirm or TwoFactorCodeForm(),
                  recovery_form=recovery or TwoFactorCodeForm(prefix="recovery"),
                  disable_form=disable or TwoFactorDisableForm())


@bp.route("/account/two-factor")
@signed_in
def two_factor_setup():
    """账号安全 · 两步验证: whether it is on, and the steps to turn it on or off."""
    return _setup_page()


def recent_auth_required(find=None):
    """Sensitive acts (revealing personal data, issuing 权限码: SECURITY.md row 10) need the
    password, or a two-factor code, entered within the last five minutes (at login or since).

    Otherwise a POST is answered with a re-authentication form that posts back to the same URL,
    carrying the act's own fields; when it passes, the session records the time and the act goes
    on in that request. As an htmx fragment the form replaces itself with the act's answer.
    `find`, given the view's URL values, looks the act's object up in the caller's scope (and
    answers 404 outside it) before any form is offered: the form must not tell an object out
    of scope from one in it.
    """
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if request.method != "POST" or accounts.recently_authenticated(current_user.session):
                return view(*args, **kwargs)  # the view checks the scope itself
            if find is not None:
                find(**kwargs)
            return _reauthentication(view, args, kwargs)
        return guarded
    return decorate


def _reauthentication(view, args, kwargs):
    """The re-authentication form (or, once it passes, the act itself)."""
    with_code = two_factor.is_enabled(current_user.account.id)
    form = ReauthForm()
    if with_code:
        form.reauth_secret.label.text = "登录密码或两步验证码"
    status = 200
    if "reauth_secret" in request.form:
        if form.validate_on_submit():
            try:
                two_factor.reauthenticate(current_user.account, form.reauth_secret.data,
                                          session=current_user.session,
                                          address=client_address(),
                                          binding=current_user.session.current_binding_id)
            except AccountError as err:
                status = _refused(form, err)
            else:
                return view(*args, **kwargs)
        else:
            status = 422
    carried = [(name, value) for name, value in request.form.items(multi=True)
               if name not in ("csrf_token", "reauth_secret")]
    query = request.query_string.decode()
    action = request.path + (f"?{query}" if query else "")
    return _with_retry_after(render(
        "auth/reauth.html", "auth/_reauth.html", status=status, form=form, carried=carried,
        reauth_action=action, htmx=is_fragment_request(), with_code=with_code))


@bp.route("/account/two-factor/begin", methods=["POST"])
@signed_in
@recent_auth_required()
def two_factor_begin():
    """开启两步验证 step 1: a new secret, shown on the set-up page as text and QR code."""
    if ConfirmForm().validate_on_submit():
        try:
            two_factor.begin_enrolment(current_user.account, address=client_address(),
                                       binding=current_user.session.current_binding_id)
        except AccountError as err:
            flash(str(err), "error")
    return redirect(url_for("auth.two_factor_setup"), 303)


def _recovery_codes_step(form, issue, page_form: str, just_enabled: bool):
    """A code form whose act answers with new recovery codes (`issue(code)`): the codes, shown
    once, or the set-up page again with the reason (422, or 429 while throttled)."""
    status = 422
    if form.validate_on_submit():
        try:
            codes = issue(form.code.data)
        except AccountError as err:
            status = _refused(form, err)
        else:
            return render("auth/recovery_codes.html", codes=codes, just_enabled=just_enabled)
    return _with_retry_after(_setup_page(status, **{page_form: form}))


@bp.route("/account/two-factor/confirm", methods=["POST"])
@signed_in
def two_factor_confirm():
    """开启两步验证 step 2: the first code turns it on; the recovery codes are shown once."""
    account, binding = current_user.account, current_user.session.current_binding_id
    return _recovery_codes_step(
        TwoFactorCodeForm(), lambda code: two_factor.confirm_enrolment(
            account, code, address=client_address(), binding=binding), "confirm", just_enabled=True)


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@signed_in
def two_factor_recovery():
    """重新生成恢复码: a current code replaces every recovery code; the new ones are shown once."""
    account, binding = current_user.account, current_user.session.current_binding_id
    return _recovery_codes_step(
        TwoFactorCodeForm(prefix="recovery"), lambda code: two_factor.regenerate_recovery_codes(
            account, code, address=client_address(), binding=binding), "recovery", just_enabled=False)


@bp.route("/account/two-factor/disable", methods=["POST"])
@signed_in
def two_factor_disable():
    """关闭两步验证: the password and a current code (or a recovery code)."""
    form = TwoFactorDisableForm()
    status = 422
    if form.validate_on_submit():
        try:
            two_factor.disable(current_user.account, form.password.data, form.code.data,
                               address=client_address(),
                               binding=current_user.session.current_binding_id)
        except AccountError as err:
            status = _refused(form, err)
        else:
            flash("两步验证已关闭", "success")
            return redirect(url_for("auth.two_factor_setup"), 303)
    return _with_retry_after(_setup_page(status, disable=form))

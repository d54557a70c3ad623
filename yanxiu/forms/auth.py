"""Forms of login, registration, password change, 切换身份, two-factor login and re-authentication."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from yanxiu.services.accounts import PASSWORD_MAX


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"),
                                                Length(max=64, message="用户名过长")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"),
                                               Length(max=PASSWORD_MAX, message="密码过长")])
    next = HiddenField()


class RegisterForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"),
                                                Length(max=32, message="用户名不能超过 32 位")])
    display_name = StringField("姓名", validators=[DataRequired("请输入姓名"),
                                                  Length(max=30, message="姓名不能超过 30 个字")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])
    confirm = PasswordField("确认密码", validators=[
        DataRequired("请再次输入密码"), EqualTo("password", "两次输入的密码不一致")])


class PasswordForm(FlaskForm):
    old_password = PasswordField("原密码", validators=[DataRequired("请输入原密码")])
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[
        DataRequired("请再次输入新密码"), EqualTo("new_password", "两次输入的密码不一致")])


class SwitchBindingForm(FlaskForm):
    # A bounded digit string: anything else would overflow the database's integer.
    binding_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,18}$")])


_CODE = [DataRequired("请输入验证码"), Length(max=40, message="验证码过长")]


class TwoFactorLoginForm(FlaskForm):
    """The login's second step: the authenticator's 6-digit code or a recovery code."""
    code = StringField("验证码", validators=_CODE)
    next = HiddenField()


class TwoFactorCodeForm(FlaskForm):
    """One current code from the authenticator (confirming enrolment, new recovery codes)."""
    code = StringField("验证码", validators=_CODE)


class TwoFactorDisableForm(FlaskForm):
    password = PasswordField("登录密码", validators=[DataRequired("请输入登录密码"),
                                                 Length(max=PASSWORD_MAX, message="密码过长")])
    code = StringField("验证码", validators=_CODE)


class ReauthForm(FlaskForm):
    """Re-authentication before a sensitive act; its field name stays clear of the act's own."""
    reauth_secret = PasswordField("登录密码", validators=[
        DataRequired("请输入登录密码"), Length(max=PASSWORD_MAX, message="密码过长")])

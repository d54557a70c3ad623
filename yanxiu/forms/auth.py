"""Forms of login, registration, password change and 切换身份."""
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

"""Forms of 权限码: issue, revoke, redeem (绑定), end a binding."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from yanxiu.services.codes import DEFAULT_DAYS, MAX_DAYS


class IssueCodeForm(FlaskForm):
    grant = SelectField("发放对象", validate_choice=False,
                         validators=[DataRequired("请选择发放对象")])
    days = IntegerField("有效期（天）", default=DEFAULT_DAYS, validators=[
        DataRequired("请输入有效期"),
        NumberRange(1, MAX_DAYS, f"有效期须为 1–{MAX_DAYS} 天")])


class RedeemCodeForm(FlaskForm):
    code = StringField("权限码", validators=[DataRequired("请输入权限码"), Length(max=40, message="权限码过长")])
    confirm_replace = BooleanField("我确认替换现任管理员")


class EndBindingForm(FlaskForm):
    reason = StringField("解绑原因", validators=[DataRequired("请填写解绑原因"),
                                              Length(max=200, message="原因不能超过 200 字")])


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected confirmation (revoke, re-issue)."""

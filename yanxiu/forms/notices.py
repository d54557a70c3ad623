"""Forms of 督促."""
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length

from yanxiu.services.notices import BODY_MAX

DEFAULT_BODY = "请尽快完成管理员账号激活（登录平台后在“绑定管理员身份”中输入权限码），并督促本单位教师及时参加研修。"


class UrgeForm(FlaskForm):
    targets = SelectMultipleField("督促对象", validate_choice=False)
    body = TextAreaField("督促内容", default=DEFAULT_BODY, validators=[
        DataRequired("请填写督促内容"), Length(max=BODY_MAX, message=f"督促内容不能超过 {BODY_MAX} 字")])


class ReadForm(FlaskForm):
    """CSRF-protected "标为已读"."""

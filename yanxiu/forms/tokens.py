"""Forms of 接口令牌: issue (name, optional province) and the bare confirmation of a revoke."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class IssueTokenForm(FlaskForm):
    name = StringField("令牌名称", validators=[DataRequired("请填写令牌名称"),
                                            Length(max=100, message="令牌名称不能超过 100 字")])
    # Choices (全国, then the provinces by code) are set by the view from the region table.
    region = SelectField("适用范围", invalid_choice_message="请选择有效的适用范围")


class RevokeTokenForm(FlaskForm):
    """A bare CSRF-protected confirmation."""

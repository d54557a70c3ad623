"""Forms of 热点问题答疑: an entry, a topic, a bare confirmation."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from yanxiu.services.faq import ANSWER_MAX, QUESTION_MAX, TOPIC_NAME_MAX


class EntryForm(FlaskForm):
    # The service checks the topic exists; the form only asks that one is chosen.
    topic = SelectField("分类", validate_choice=False, validators=[DataRequired("请选择分类")])
    question = StringField("问题", validators=[
        DataRequired("请填写问题"),
        Length(max=QUESTION_MAX, message=f"问题不能超过 {QUESTION_MAX} 字")],
        render_kw={"maxlength": QUESTION_MAX})
    answer = TextAreaField("解答", validators=[
        DataRequired("请填写解答"),
        Length(max=ANSWER_MAX, message=f"解答不能超过 {ANSWER_MAX} 字")],
        render_kw={"rows": 10})


class TopicForm(FlaskForm):
    name = StringField("分类名称", validators=[
        DataRequired("请填写分类名称"),
        Length(max=TOPIC_NAME_MAX, message=f"分类名称不能超过 {TOPIC_NAME_MAX} 字")],
        render_kw={"maxlength": TOPIC_NAME_MAX})


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected confirmation (delete)."""

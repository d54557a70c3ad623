"""Forms of 个人中心: a teacher's real-name information and the school applied to.

The fields carry no validators of their own: yanxiu.services.teachers checks them, and the view
copies its errors onto the fields (as in the school forms).
"""
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField

from yanxiu.models.teacher import GENDERS, SUBJECTS, TEACHING_STAGES, TITLES


class UnechoedField(StringField):
    """A text input that never renders a value: 身份证号 and 手机号 are not sent back in clear,
    neither the stored one nor what was just typed."""

    def _value(self) -> str:
        return ""


def _choices(values: list[str], blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(v) for v in values]


class ProfileForm(FlaskForm):
    """实名信息: submitted to the school picked (`school_id`, a radio of the school picker)."""
    name = StringField("姓名")
    gender = RadioField("性别", choices=[SelectChoice(g) for g in GENDERS], validate_choice=False)
    id_number = UnechoedField("身份证号", render_kw={"maxlength": 20})
    phone = UnechoedField("手机号", render_kw={"maxlength": 13, "inputmode": "tel"})
    stage = SelectField("任教学段", choices=_choices(TEACHING_STAGES, "请选择…"), validate_choice=False)
    subject = SelectField("任教学科", choices=_choices(SUBJECTS, "请选择…"), validate_choice=False)
    title = SelectField("职称", choices=_choices(TITLES, "（不填）"), validate_choice=False)
    # Rendered by the picker as radios of one group, not by this field.
    school_id = StringField("学校")

    def personal_data(self) -> dict:
        """The fields as yanxiu.services.teachers.submit_application takes them."""
        return {f: self[f].data or "" for f in
                ("name", "gender", "id_number", "phone", "stage", "subject", "title")}

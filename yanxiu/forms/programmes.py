"""Forms of 研修项目管理: a programme and a course.

The fields carry no validators of their own: yanxiu.services.programmes checks them, and
the view copies its errors onto the fields (as the school forms do).
"""
from flask_wtf import FlaskForm
from wtforms import (HiddenField, SelectChoice, SelectField,
                     SelectMultipleField, StringField)
from wtforms.widgets import CheckboxInput, ListWidget

from yanxiu.models.teacher import TEACHING_STAGES
from yanxiu.models.training import PROGRAMME_KINDS


class ProgrammeForm(FlaskForm):
    name = StringField("项目名称")
    kind = SelectField("类型", choices=[SelectChoice(k, label) for k, label in PROGRAMME_KINDS.items()],
                       validate_choice=False)
    start_date = StringField("开始日期", render_kw={"type": "date"})
    end_date = StringField("结束日期", render_kw={"type": "date"})
    minutes_per_hour = StringField("每学时分钟数", default="45", render_kw={"inputmode": "numeric"})
    required_hours = StringField("完成所需学时", default="10", render_kw={"inputmode": "numeric"})
    audience = SelectMultipleField("面向学段（不选则面向全体教师）",
                                   choices=[SelectChoice(s) for s in TEACHING_STAGES],
                                   option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
                                   validate_choice=False)
    version = HiddenField()


class CourseForm(FlaskForm):
    name = StringField("课程名称")
    minutes = StringField("课程时长（分钟）", render_kw={"inputmode": "numeric"})
    max_hours = StringField("最多可计学时", render_kw={"inputmode": "numeric"})

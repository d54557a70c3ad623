"""Forms of 教师管理: reject (不通过), remove (移出), reveal (查看完整), bulk approve (批量通过).

The reasons carry no validators of their own: yanxiu.services.teachers checks them and the
view copies its errors onto the fields.
"""
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField

from yanxiu.services.teachers import REJECT_REASONS, REVEALABLE


class RejectForm(FlaskForm):
    """不通过: a listed reason, the admin's own words, or both."""
    preset = SelectField("常见原因", choices=[SelectChoice("", "请选择…")]
                         + [SelectChoice(r) for r in REJECT_REASONS], validate_choice=False)
    reason = StringField("补充说明")

    def full_reason(self) -> str:
        """The reason the teacher reads: the listed one and the words, joined (a value not in
        the list is ignored, not trusted)."""
        preset = self.preset.data if self.preset.data in REJECT_REASONS else ""
        return "：".join(part for part in (preset, (self.reason.data or "").strip()) if part)


class RemoveForm(FlaskForm):
    """移出: the reason is required (the service says so)."""
    reason = StringField("移出原因")


class RevealForm(FlaskForm):
    field = SelectField(choices=[SelectChoice(k, label) for k, label in REVEALABLE.items()],
                        validate_choice=False)


class BulkApproveForm(FlaskForm):
    ids = SelectMultipleField(validate_choice=False)

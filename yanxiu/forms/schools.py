"""Forms of 学校管理: add, edit (full, inline, the school admin's own), remove, restore, transfer.

The school fields carry no validators of their own: yanxiu.services.schools checks them (the
same rules serve the batch import), and the view copies its errors onto the fields.
"""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from yanxiu.masking import mask_phone
from yanxiu.models.region import KIND_LABELS, OWNERSHIPS, STAGES


class DescriptiveForm(FlaskForm):
    """What a school admin may change of its own school (not the code, type or region)."""
    name = StringField("名称")
    stage = SelectField("学段", choices=[SelectChoice("", "（机构不填）")] + [SelectChoice(s) for s in STAGES],
                        validate_choice=False)
    ownership = SelectField("办学性质", choices=[SelectChoice(o) for o in OWNERSHIPS], validate_choice=False)
    address = StringField("地址")
    contact_name = StringField("联系人")
    contact_phone = StringField("联系电话")
    version = HiddenField()

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        if formdata is None and obj is not None:
            # A stored phone is shown masked; saved unchanged, the service keeps the stored one.
            self.contact_phone.data = mask_phone(obj.contact_phone)


class SchoolForm(DescriptiveForm):
    """Every field of a school (add, and edit by its managing admin)."""
    code = StringField("学校标识码")
    kind = SelectField("类型", choices=[SelectChoice(k, label) for k, label in KIND_LABELS.items()],
                       validate_choice=False)


class RemoveForm(FlaskForm):
    reason = StringField("原因", validators=[DataRequired("请填写原因"),
                                           Length(max=200, message="原因不能超过 200 字")])


class TransferForm(FlaskForm):
    target = SelectField("转入区域", validate_choice=False,
                         validators=[DataRequired("请选择转入区域")])
    reason = StringField("转移原因", validators=[DataRequired("请填写转移原因"),
                                             Length(max=200, message="原因不能超过 200 字")])


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected confirmation (restore)."""



def put_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Put a service's errors on the form's fields; those of no visible field become form errors."""
    form.form_errors = []
    for field, message in errors.items():
        if field in form._fields and field not in ("csrf_token", "version"):
            form[field].errors = [message]
        else:
            form.form_errors.append(message)

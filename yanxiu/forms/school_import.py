"""Forms of 学校批量导入: the upload, and the bare confirmations."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class UploadForm(FlaskForm):
    file = FileField("选择文件（.xlsx 或 .csv，不超过 20 MB）",
                     validators=[FileRequired("请选择要上传的 .xlsx 或 .csv 文件")])


class BatchActionForm(FlaskForm):
    """A bare CSRF-protected 确认导入 or 放弃."""

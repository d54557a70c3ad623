"""学习记录批量导入 (operator): template, upload and row-by-row preview, confirm or discard."""
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, url_for
from flask_login import current_user

from yanxiu.export import FORMATS, export_table
from yanxiu.forms.school_import import BatchActionForm, UploadForm
from yanxiu.models import ImportBatch
from yanxiu.models.account import OPERATOR
from yanxiu.scope import roles
from yanxiu.services import imports, record_import
from yanxiu.services.imports import BatchClosed, BatchReport, ImportFileError
from yanxiu.web import is_fragment_request, render

bp = Blueprint("record_import", __name__, url_prefix="/records/import")

PROBLEMS_SHOWN = 500
SAMPLE_ROWS = 20


def _batch_or_404(batch_id: int) -> ImportBatch:
    batch = record_import.batch_of(current_user.binding, batch_id)
    if batch is None:
        abort(404)
    return batch


# What the shared import pages (templates/imports/) say for a records import.
TEXTS = {"prefix": "record_import", "title": "导入学习记录",
         "intro": "与数据接口（/api/v1/records）规则相同。",
         "required": "记录编号、项目编号、课程编号、学习分钟数、学习时间必须有，平台账号和身份证号至少有一列。",
         "unit": "条", "noun": "学习记录", "target": "", "written_to": "写入并计入统计",
         "done_endpoint": "programmes.programme_list", "done_label": "查看研修项目",
         "rows": "record_import/_valid_rows.html"}


def _upload_page(form: UploadForm, status: int = 200):
    return render("imports/upload.html", "imports/_upload.html", status=status, form=form, imp=TEXTS,
                  guide=record_import.template_guide())


def _preview_context(batch: ImportBatch) -> dict:
    return {"report": BatchReport.of(batch), "form": BatchActionForm(), "imp": TEXTS,
            "shown": PROBLEMS_SHOWN, "sample": SAMPLE_ROWS}


@bp.route("", methods=["GET"])
@roles(OPERATOR)
def import_start():
    """导入学习记录: the columns, the template and the upload form."""
    return _upload_page(UploadForm())


@bp.route("/template.<fmt>")
@roles(OPERATOR)
def import_template(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    if fmt == "csv":
        return export_table("学习记录导入模板", "csv", record_import.HEADERS, [])
    return Response(record_import.template_xlsx(), mimetype=FORMATS["xlsx"], headers={
        "Content-Disposition": "attachment; filename=template.xlsx; "
                               f"filename*=UTF-8''{quote('学习记录导入模板.xlsx')}"})


@bp.route("", methods=["POST"])
@roles(OPERATOR)
def import_upload():
    """Judge an uploaded file into a batch (storing no record) and show its preview."""
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = record_import.validate_upload(current_user.binding, upload.filename or "",
                                                  upload.read())
        except ImportFileError as err:
            form.file.errors = [str(err)]
        else:
            url = url_for("record_import.import_preview", batch_id=batch.id)
            if is_fragment_request():
                body, status = render("imports/preview.html", "imports/_preview.html",
                                      **_preview_context(batch))
                return body, status, {"HX-Push-Url": url}
            return redirect(url, 303)
    return _upload_page(form, 422)


@bp.route("/<int:batch_id>")
@roles(OPERATOR)
def import_preview(batch_id: int):
    return render("imports/preview.html", "imports/_preview.html",
                  **_preview_context(_batch_or_404(batch_id)))


@bp.route("/<int:batch_id>/report.<fmt>")
@roles(OPERATOR)
def import_report(batch_id: int, fmt: str):
    if fmt not in FORMATS:
        abort(404)
    report = BatchReport.of(_batch_or_404(batch_id))
    return export_table(f"学习记录导入问题报告-{batch_id}", fmt, imports.REPORT_HEADERS, report.report_rows())


@bp.route("/<int:batch_id>/confirm", methods=["POST"])
@roles(OPERATOR)
def import_confirm(batch_id: int):
    """确认导入: store the valid rows in one transaction, then show the result."""
    batch = _batch_or_404(batch_id)
    try:
        result = record_import.confirm_import(current_user.binding, batch)
    except BatchClosed as err:
        flash(str(err), "error")
    else:
        message = f"已导入 {result.created} 条学习记录"
        if result.skipped:
            message += f"；{len(result.skipped)} 行在预览后出现变化，未导入"
        flash(message, "success")
    return redirect(url_for("record_import.import_preview", batch_id=batch.id), 303)


@bp.route("/<int:batch_id>/discard", methods=["POST"])
@roles(OPERATOR)
def import_discard(batch_id: int):
    batch = _batch_or_404(batch_id)
    if imports.discard_import(batch):
        flash("已放弃本次导入，未写入任何数据", "success")
    else:
        flash("该批次已经导入或已放弃", "error")
    return redirect(url_for("record_import.import_start"), 303)

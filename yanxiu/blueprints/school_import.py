"""学校批量导入: template download, upload and row-by-row preview, confirm or discard."""
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, url_for
from flask_login import current_user

from yanxiu.export import FORMATS, export_table
from yanxiu.forms.school_import import BatchActionForm, UploadForm
from yanxiu.models import ImportBatch, Region
from yanxiu.models.account import SUPER, TRAINING
from yanxiu.scope import roles
from yanxiu.services import imports, school_import
from yanxiu.services.imports import BatchClosed, BatchReport, ImportFileError
from yanxiu.web import client_address, is_fragment_request, render

bp = Blueprint("school_import", __name__, url_prefix="/schools/import")

PROBLEMS_SHOWN = 500
SAMPLE_ROWS = 20


def _region_or_404() -> Region:
    """The region the current binding imports into; 404 for everyone who manages no schools."""
    region = school_import.import_region(current_user.binding)
    if region is None:
        abort(404)
    return region


def _batch_or_404(batch_id: int) -> ImportBatch:
    """A batch of the current account and binding only; anyone else's answers 404."""
    _region_or_404()
    batch = school_import.batch_of(current_user.binding, batch_id)
    if batch is None:
        abort(404)
    return batch


def _texts(region: Region) -> dict:
    """What the shared import pages (templates/imports/) say for a school import."""
    return {"prefix": "school_import", "title": "批量导入学校", "intro": f"导入到：{region.name}。",
            "required": "学校标识码、名称、学段三列必须有。", "unit": "所", "noun": "学校（机构）",
            "target": region.name, "written_to": f"写入{region.name}",
            "done_endpoint": "schools.school_list", "done_label": "查看学校列表",
            "rows": "school_import/_valid_rows.html"}


def _upload_page(form: UploadForm, status: int = 200):
    return render("imports/upload.html", "imports/_upload.html", status=status, form=form,
                  imp=_texts(_region_or_404()), guide=school_import.template_guide())


def _preview_context(batch: ImportBatch) -> dict:
    return {"report": BatchReport.of(batch), "form": BatchActionForm(), "imp": _texts(_region_or_404()),
            "shown": PROBLEMS_SHOWN, "sample": SAMPLE_ROWS, "labels": school_import.KIND_LABELS}


@bp.route("", methods=["GET"])
@roles(SUPER, TRAINING)
def import_start():
    """批量导入: how it works, the template, and the upload form."""
    return _upload_page(UploadForm())


@bp.route("/template.<fmt>")
@roles(SUPER, TRAINING)
def import_template(fmt: str):
    """The blank template (xlsx with dropdowns and a 填写说明 sheet, or csv)."""
    if fmt not in FORMATS:
        abort(404)
    _region_or_404()
    if fmt == "csv":
        return export_table("学校批量导入模板", "csv", school_import.HEADERS, [])
    return Response(school_import.template_xlsx(), mimetype=FORMATS["xlsx"], headers={
        "Content-Disposition": "attachment; filename=template.xlsx; "
                               f"filename*=UTF-8''{quote('学校批量导入模板.xlsx')}"})


@bp.route("", methods=["POST"])
@roles(SUPER, TRAINING)
def import_upload():
    """Validate an uploaded file into a batch (writing no school) and show its preview."""
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = school_import.validate_upload(current_user.binding, upload.filename or "",
                                                  upload.read())
        except ImportFileError as err:
            form.file.errors = [str(err)]
        else:
            url = url_for("school_import.import_preview", batch_id=batch.id)
            if is_fragment_request():
                body, status = render("imports/preview.html", "imports/_preview.html",
                                      **_preview_context(batch))
                return body, status, {"HX-Push-Url": url}
            return redirect(url, 303)
    return _upload_page(form, 422)


@bp.route("/<int:batch_id>")
@roles(SUPER, TRAINING)
def import_preview(batch_id: int):
    """The batch's row-by-row report: before confirmation a preview, afterwards the result."""
    batch = _batch_or_404(batch_id)
    return render("imports/preview.html", "imports/_preview.html",
                  **_preview_context(batch))


@bp.route("/<int:batch_id>/report.<fmt>")
@roles(SUPER, TRAINING)
def import_report(batch_id: int, fmt: str):
    """The full problem list (row, column, value, reason) as csv or xlsx."""
    if fmt not in FORMATS:
        abort(404)
    report = BatchReport.of(_batch_or_404(batch_id))
    return export_table(f"学校导入问题报告-{batch_id}", fmt, imports.REPORT_HEADERS,
                        report.report_rows())


@bp.route("/<int:batch_id>/confirm", methods=["POST"])
@roles(SUPER, TRAINING)
def import_confirm(batch_id: int):
    """确认导入: write the valid rows in one transaction, then show the result."""
    batch = _batch_or_404(batch_id)
    try:
        result = school_import.confirm_import(current_user.binding, batch, address=client_address())
    except BatchClosed as err:
        flash(str(err), "error")
    else:
        message = f"已导入 {result.created} 所"
        if result.skipped:
            message += f"；{len(result.skipped)} 行在预览后出现重复，未导入"
        flash(message, "success")
    return redirect(url_for("school_import.import_preview", batch_id=batch.id), 303)


@bp.route("/<int:batch_id>/discard", methods=["POST"])
@roles(SUPER, TRAINING)
def import_discard(batch_id: int):
    """放弃: drop the batch; nothing is written."""
    batch = _batch_or_404(batch_id)
    if imports.discard_import(batch):
        flash("已放弃本次导入，未写入任何数据", "success")
    else:
        flash("该批次已经导入或已放弃", "error")
    return redirect(url_for("school_import.import_start"), 303)

"""督促 and notices: send reminders down the tree, read them on the workbench."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yanxiu.forms.notices import ReadForm, UrgeForm
from yanxiu.models import Region
from yanxiu.scope import ALL_ADMINS, REGION_ADMINS, current_scope, region_or_404, roles
from yanxiu.services import notices
from yanxiu.services.notices import NoticeError
from yanxiu.web import client_address, is_fragment_request, paginate, render

bp = Blueprint("notices", __name__, url_prefix="/notices")


@bp.route("/urge/<code>", methods=["GET", "POST"])
@roles(*REGION_ADMINS)
def notice_urge(code: str):
    """督促: pick rows of a progress list (未激活 ones pre-selected) and send a reminder."""
    scope = current_scope()
    region = region_or_404(scope, code)
    schools_list = request.args.get("list") == "schools" or not Region.select().where(
        Region.parent == region).exists()
    candidates = notices.urge_candidates(region, schools_list)
    form = UrgeForm()
    keys = {f"{'school' if a.school else 'region'}:{(a.school or a.region).code}": inactive
            for a, inactive in candidates}
    form.targets.choices = list(keys)
    status = 200
    if request.method == "GET":
        form.targets.data = [k for k, inactive in keys.items() if inactive]
    elif form.validate_on_submit():
        try:
            if request.form.get("all_inactive"):
                addressees = notices.inactive_targets(region, schools_list)
            else:
                addressees = notices.parse_targets(scope, [k for k in form.targets.data if k in keys])
            notice = notices.send_urge(current_user.binding, addressees, form.body.data,
                                       address=client_address())
        except NoticeError as err:
            form.targets.errors = [str(err)]
            status = 422
        else:
            flash(f"督促已发送给 {len(addressees)} 个对象", "success")
            return redirect(url_for("notices.notice_sent_detail", notice_id=notice.id), 303)
    else:
        status = 422
    return render("notices/urge.html", status=status, form=form, region=region,
                  candidates=list(zip(keys, candidates)), schools_list=schools_list)


@bp.route("")
@roles(*ALL_ADMINS)
def notice_inbox():
    """收到的通知: every notice addressed to my region or school."""
    page = paginate(notices.inbox(current_user.binding, unread_only=False))
    return render("notices/inbox.html", "notices/_inbox.html", page=page, read_form=ReadForm())


@bp.route("/<int:recipient_id>/read", methods=["POST"])
@roles(*ALL_ADMINS)
def notice_read(recipient_id: int):
    """标为已读: htmx swaps the item in place; without JavaScript back to where I was."""
    if not ReadForm().validate_on_submit():
        abort(400)
    try:
        recipient = notices.mark_read(current_user.binding, recipient_id, address=client_address())
    except NoticeError:
        abort(404)
    if is_fragment_request():
        return render_template("notices/_item.html", item=recipient, read_form=ReadForm())
    return redirect(request.referrer if _same_site(request.referrer) else url_for("notices.notice_inbox"), 303)


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.route("/sent")
@roles(*REGION_ADMINS)
def notice_sent():
    """已发督促: what my subtree sent, with how many addressees have read it."""
    page = paginate(notices.sent_notices(current_scope()))
    return render("notices/sent.html", "notices/_sent_rows.html", page=page)


@bp.route("/sent/<int:notice_id>")
@roles(*REGION_ADMINS)
def notice_sent_detail(notice_id: int):
    """One sent notice: each addressee, read or not, by whom and when."""
    notice, recipients = notices.recipients_of(current_scope(), notice_id)
    if notice is None:
        abort(404)
    return render("notices/sent_detail.html", notice=notice, recipients=recipients)

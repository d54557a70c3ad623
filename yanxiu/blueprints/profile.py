"""个人中心: a teacher's real-name information, school application and its state.

Any signed-in account may be a teacher, whatever admin bindings it also holds. The school
picker works two ways (region cascade, search) as htmx fragments and, without JavaScript, as
GET forms that render this page opened at that region or with those results.
"""
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from yanxiu.forms.profile import ProfileForm
from yanxiu.forms.schools import ConfirmForm, put_errors
from yanxiu.models import Membership, Region, School
from yanxiu.models.region import COUNTY, NATION, NATION_CODE
from yanxiu.scope import signed_in
from yanxiu.services import statistics, teachers
from yanxiu.services.regions import direct_schools
from yanxiu.services.teachers import TeacherError
from yanxiu.web import client_address, is_fragment_request

bp = Blueprint("profile", __name__, url_prefix="/me")

CHILD_LABELS = {"province": "省份", "city": "地市", "county": "区县"}
SEARCH_LIMIT = 20
RE_ENTER = "为保护个人信息，请重新输入"
# The headline state as a badge (.state classes of the stylesheet).
STATE_BADGES = {"待审核": "unused", "已通过": "used", "未通过": "refused", "已移出": "expired",
                "未提交": "expired"}


@dataclass
class PickerLevel:
    """One step of the region cascade: the active sub-regions of `region` and the schools
    hanging directly on it; `below` is the next step when the cascade is open further."""
    region: Region
    children: list[Region]
    schools: list[School]
    selected: str = ""
    below: "PickerLevel | None" = None

    @property
    def children_label(self) -> str:
        return "或".join(dict.fromkeys(CHILD_LABELS[c.level] for c in self.children))

    @property
    def schools_label(self) -> str:
        return f"{self.region.name}的学校" if self.region.level == COUNTY else f"{self.region.name}直属学校"


def _cascade(chain: list[Region]) -> PickerLevel | None:
    """The cascade opened along `chain` (from 全国 down): each level nests the next."""
    level = None
    for i in reversed(range(len(chain))):
        region = chain[i]
        children = list(Region.select().where((Region.parent == region) & Region.is_active)
                        .order_by(Region.code))
        schools = [] if region.level == NATION else list(direct_schools(region))
        selected = chain[i + 1].code if i + 1 < len(chain) else ""
        level = PickerLevel(region, children, schools, selected, level)
    return level


def _region_chain() -> list[Region] | None:
    """The regions from 全国 down to the one the cascade is asked to open; None if none.

    htmx sends one `region`; the no-JS form sends one per level, read while each is a
    sub-region of the one before (a level changed above leaves stale choices below).
    An unknown or inactive region answers 404.
    """
    codes = request.args.getlist("region")
    if not codes or not codes[0]:
        return None
    region = Region.get_or_none((Region.code == codes[0]) & Region.is_active)
    chain = region.ancestors() if region is not None else []
    if not chain or not all(r.is_active for r in chain):
        abort(404)
    for code in codes[1:]:
        child = Region.get_or_none((Region.code == code) & (Region.parent == chain[-1])
                                   & Region.is_active)
        if child is None:
            break
        chain.append(child)
    return chain


def _trails(schools: list[School]) -> dict[int, str]:
    """省 › 市 › 县 of each school, from one query of the regions on their paths."""
    def codes(school):
        return [school.region_path[i:i + 6] for i in range(0, len(school.region_path), 6)]
    wanted = {c for s in schools for c in codes(s)}
    names = dict(Region.select(Region.code, Region.name).where(Region.code.in_(list(wanted)))
                 .tuples()) if wanted else {}
    return {s.id: " › ".join(names.get(c, c) for c in codes(s)) for s in schools}


def _school_or_none(school_id) -> School | None:
    """The school picked, if a teacher may apply to it (for showing it picked again)."""
    try:
        return teachers.applicable_school(school_id)
    except TeacherError:
        return None


def _hints(form: ProfileForm, basis: Membership | None, submitted: bool) -> dict[str, str]:
    """Hints of 身份证号 and 手机号: the stored value, masked; after a refused submission, that
    what was typed is not shown again and must be typed again (said in the error too)."""
    hints = {}
    for name, masked in (("id_number", basis and basis.id_masked),
                         ("phone", basis and basis.phone_masked)):
        field = form[name]
        typed = submitted and (field.data or "").strip()
        if typed and field.errors:
            field.errors = [f"{e}；{RE_ENTER}" for e in field.errors]
        if typed and not field.errors:
            hints[name] = RE_ENTER + (f"；留空则沿用已填写的 {masked}" if masked else "")
        elif masked:
            hints[name] = f"已填写 {masked}，不修改请留空"
    hints.setdefault("id_number", "18 位，最后一位可能是 X")
    hints.setdefault("phone", "11 位手机号")
    return hints


def _page(form: ProfileForm | None = None, status: int = 200, *, chain=None, q: str = "",
          results=None, long_number: bool = False, chosen: School | None = None):
    """个人中心 as a full page: state, history, and (unless an application is pending) the
    form with the school picker, opened at `chain` or showing search `results`."""
    account = current_user.account
    state = teachers.teacher_status(account)
    submitted = form is not None
    if form is None:
        # Prefilled from the latest application; never the 身份证号 or 手机号 themselves.
        form = ProfileForm(formdata=None, obj=state.latest)
        chosen = _school_or_none(state.latest.school_id) if state.latest else None
    if chain is None:
        root = Region.get_or_none(Region.code == NATION_CODE)
        chain = [root] if root else []
    history = list(Membership.select(Membership, School).join(School)
                   .where(Membership.account == account.id)
                   .order_by(Membership.id.desc()).limit(20))
    results = results or []
    listed = results + ([chosen] if chosen else [])
    return render_template("profile/home.html", state=state, badge=STATE_BADGES.get(state.label, ""),
                           history=history, training=statistics.teacher_programmes(account.id),
                           form=form, hints=_hints(form, state.latest, submitted),
                           chosen=chosen, cascade=_cascade(chain), q=q, results=results,
                           long_number=long_number,
                           trails=_trails(listed), limit=SEARCH_LIMIT), status


@bp.route("")
@signed_in
def profile_home():
    """个人中心: my state (待审核, 已通过, …), the form to apply or correct, my history."""
    return _page()


@bp.route("", methods=["POST"])
@signed_in
def profile_submit():
    """提交审核: my real-name information to the school picked; 422 keeps what I typed
    (except 身份证号 and 手机号) with the reasons on the fields."""
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            teachers.submit_application(current_user.account, form.school_id.data,
                                        form.personal_data(), address=client_address())
        except TeacherError as err:
            put_errors(form, {("school_id" if k == "school" else k): v
                              for k, v in err.errors.items()})
        else:
            flash("已提交，等待学校审核", "success")
            return redirect(url_for("profile.profile_home"), 303)
    return _page(form, 422, chosen=_school_or_none(form.school_id.data))


@bp.route("/withdraw", methods=["GET", "POST"])
@signed_in
def profile_withdraw():
    """撤回申请: asks for confirmation, then takes back my pending application."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            teachers.withdraw_application(current_user.account, address=client_address())
        except TeacherError as err:
            flash(str(err), "error")
        else:
            flash("已撤回申请，可修改后重新提交", "success")
        return redirect(url_for("profile.profile_home"), 303)
    pending = teachers.teacher_status(current_user.account).pending
    if pending is None:
        return redirect(url_for("profile.profile_home"), 303)
    return render_template("profile/withdraw.html", pending=pending, form=form)


@bp.route("/schools")
@signed_in
def profile_schools():
    """选择学校, by region: the level below `region` (htmx), or 个人中心 opened there."""
    chain = _region_chain()
    if is_fragment_request():
        if chain is None:
            return ""  # "请选择…" again: the levels below are cleared
        return render_template("profile/_level.html", level=_cascade(chain[-1:]), chosen=None)
    return _page(chain=chain)


@bp.route("/schools/search")
@signed_in
def profile_school_search():
    """选择学校, by name or 学校标识码: the matches as choices (htmx), or 个人中心 showing them."""
    q = request.args.get("q", "").strip()[:50]
    # Longer than any 学校标识码: maybe a 身份证号 or 手机号 typed here by mistake; not echoed.
    long_number = len(q) > 10 and q.rstrip("Xx").isdigit()
    if long_number:
        q = ""
    results = teachers.search_schools(q, limit=SEARCH_LIMIT)
    if is_fragment_request():
        return render_template("profile/_results.html", q=q, results=results, long_number=long_number,
                               trails=_trails(results), chosen=None, limit=SEARCH_LIMIT)
    return _page(q=q, results=results, long_number=long_number)

"""热点问题答疑: everyone reads and searches; the operator adds, edits and deletes."""
import re

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from yanxiu.forms.faq import ConfirmForm, EntryForm, TopicForm
from yanxiu.models import FaqEntry, FaqTopic
from yanxiu.models.account import OPERATOR
from yanxiu.scope import public, roles
from yanxiu.services import faq
from yanxiu.services.faq import FaqError
from yanxiu.web import client_address, render

bp = Blueprint("faq", __name__, url_prefix="/faq")


def _highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with every search term wrapped in <mark> (each piece escaped on its own)."""
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)),
                         re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _can_edit() -> bool:
    return current_user.is_authenticated and current_user.role == OPERATOR


def _get_or_404(model, object_id: int):
    found = model.get_or_none(model.id == object_id)
    if found is None:
        abort(404)
    return found


def _apply_error(form, err: FaqError) -> None:
    field = getattr(form, err.field, None) if err.field else None
    if field is None:
        field = next(iter(f for f in form if f.name != "csrf_token"))
    field.errors = [*field.errors, str(err)]


def _entry_form(entry: FaqEntry | None = None) -> EntryForm:
    form = EntryForm()
    form.topic.choices = [("", "请选择…")] + [(str(t.id), t.name) for t in faq.topics()]
    if request.method == "GET":
        if entry is not None:
            form.topic.data, form.question.data = str(entry.topic_id), entry.question
            form.answer.data = entry.answer
        elif request.args.get("topic"):
            form.topic.data = request.args["topic"]
    return form


@bp.route("")
@public
def faq_list():
    """热点问题答疑: every topic with its questions, or the questions matching `q`."""
    query = request.args.get("q", "").strip()[:faq.QUERY_MAX]
    terms = faq.search_terms(query)
    context = {"query": query, "terms": terms, "highlight": _highlight, "can_edit": _can_edit(),
               "limit": faq.SEARCH_LIMIT, "results": faq.search(query) if terms else None,
               "groups": None if terms else faq.topics_with_entries()}
    return render("faq/page.html", "faq/_results.html", **context)


@bp.route("/entries/new", methods=["GET", "POST"])
@roles(OPERATOR)
def entry_add():
    """新增问题: a question and its answer under a topic."""
    form = _entry_form()
    if form.validate_on_submit():
        try:
            entry = faq.create_entry(current_user.binding, form.topic.data, form.question.data,
                                     form.answer.data, address=client_address())
        except FaqError as err:
            _apply_error(form, err)
        else:
            flash("问题已添加", "success")
            return redirect(url_for("faq.faq_list", _anchor=f"q{entry.id}"), 303)
    return render("faq/entry_form.html", status=422 if form.is_submitted() else 200,
                  form=form, entry=None)


@bp.route("/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@roles(OPERATOR)
def entry_edit(entry_id: int):
    """修改问题: change its topic, question or answer."""
    entry = _get_or_404(FaqEntry, entry_id)
    form = _entry_form(entry)
    if form.validate_on_submit():
        try:
            faq.update_entry(current_user.binding, entry, form.topic.data, form.question.data,
                             form.answer.data, address=client_address())
        except FaqError as err:
            _apply_error(form, err)
        else:
            flash("问题已保存", "success")
            return redirect(url_for("faq.faq_list", _anchor=f"q{entry.id}"), 303)
    return render("faq/entry_form.html", status=422 if form.is_submitted() else 200,
                  form=form, entry=entry)


@bp.route("/entries/<int:entry_id>/delete", methods=["GET", "POST"])
@roles(OPERATOR)
def entry_delete(entry_id: int):
    """删除问题: asks for confirmation, then deletes."""
    entry = _get_or_404(FaqEntry, entry_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        faq.delete_entry(current_user.binding, entry, address=client_address())
        flash("问题已删除", "success")
        return redirect(url_for("faq.faq_list"), 303)
    return render("faq/confirm_delete.html", entry=entry, form=form)


@bp.route("/topics/new", methods=["GET", "POST"])
@roles(OPERATOR)
def topic_add():
    """新增分类."""
    form = TopicForm()
    if form.validate_on_submit():
        try:
            topic = faq.create_topic(current_user.binding, form.name.data, address=client_address())
        except FaqError as err:
            _apply_error(form, err)
        else:
            flash(f"分类“{topic.name}”已添加", "success")
            return redirect(url_for("faq.faq_list", _anchor=f"topic{topic.id}"), 303)
    return render("faq/topic_form.html", status=422 if form.is_submitted() else 200,
                  form=form, topic=None)


@bp.route("/topics/<int:topic_id>/rename", methods=["GET", "POST"])
@roles(OPERATOR)
def topic_rename(topic_id: int):
    """重命名分类."""
    topic = _get_or_404(FaqTopic, topic_id)
    form = TopicForm(data={"name": topic.name} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            faq.rename_topic(current_user.binding, topic, form.name.data, address=client_address())
        except FaqError as err:
            _apply_error(form, err)
        else:
            flash(f"分类已重命名为“{topic.name}”", "success")
            return redirect(url_for("faq.faq_list", _anchor=f"topic{topic.id}"), 303)
    return render("faq/topic_form.html", status=422 if form.is_submitted() else 200,
                  form=form, topic=topic)

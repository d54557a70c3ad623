"""No injection (SECURITY.md row 16): markup typed into any form field or stored in any text
column comes back escaped on every page and fragment; Jinja's autoescape is on and no template
or view turns it off for a value; no SQL is built from strings.

(tests/fuzz/test_forms.py adds hypothesis-drawn payloads on every form; scripts/static_checks.sh
runs the semgrep rules of .semgrep/ over the same properties.)"""
import ast
import html
import re
from pathlib import Path

import pytest

from tests.conftest import csrf_token
from tests.test_routes_policy import crawl, populate, route_urls
from yanxiu.models import (Account, ApiToken, Binding, Course, FaqEntry, FaqTopic, Membership, Notice,
                           Programme, Region, School)
from yanxiu.services import audit, faq

PACKAGE = Path(__file__).resolve().parents[1] / "yanxiu"
RAW = re.compile(r"<x\d+>")

# Every free-text column a person types or an import brings in, with the length it must fit.
TEXT_COLUMNS = [
    (Account, "display_name"), (Binding, "end_reason"), (Notice, "body"), (FaqTopic, "name"),
    (FaqEntry, "question"), (FaqEntry, "answer"), (Region, "name"), (School, "name"),
    (School, "address"), (School, "contact_name"), (School, "contact_phone"), (Membership, "name"),
    (Membership, "reason"), (Membership, "end_reason"), (Membership, "title"), (Programme, "name"),
    (Course, "name"), (ApiToken, "name"),
]
# Shown only through mask_phone, which keeps no markup of a value that is no phone number; and
# kept but never rendered (the 审计日志 shows the reason from its own row).
NOT_SHOWN = {"School.contact_phone", "Binding.end_reason"}


def payload(n: int, row_id: int) -> str:
    """A tag that must never reach a page raw, plus quotes for attribute contexts."""
    return f"<x{n}>'\"{row_id}"


@pytest.fixture
def planted(tree, teachers):
    """The populated fixture world with a payload in every text column of every row (written
    past the services, as a hostile import or a database edit could)."""
    from yanxiu.services import api_tokens
    populate(tree, teachers)
    faq.load_starting_set()
    api_tokens.issue_token(Binding.get(Binding.account == tree["accounts"]["operator"]), "令牌", None)
    Binding.update(end_reason="调离").where(Binding.id == Binding.select(Binding.id).limit(1)).execute()
    for n, (model, column) in enumerate(TEXT_COLUMNS):
        for row in model.select(model.id):
            model.update({getattr(model, column): payload(n, row.id)}).where(model.id == row.id).execute()
    audit.record("test.note", target_type="school", target_id=1, scope_path="330000",
                 after={"note": payload(99, 0)})
    return tree


def test_sec16_stored_payloads_in_every_text_column_come_back_escaped(planted, app, login_as):
    """Crawl every GET route and the links the pages lead to as the operator, a county, a school
    admin and teachers: no page or fragment carries a payload's tag raw, and every column
    (but NOT_SHOWN) is seen escaped somewhere — the crawl did reach where they are shown."""
    seeds = ["/workbench", "/faq?q=x", *route_urls(app)]
    shown, raw = set(), []
    for username in ("operator", "xh_admin", "school_admin", "teacher", "t_rejected", "t_removed"):
        for (url, htmx), response in crawl(login_as(username), seeds).items():
            if response.mimetype != "text/html":
                continue
            text = response.get_data(as_text=True)
            raw += [(username, url, htmx, m) for m in RAW.findall(text)]
            shown |= {int(n) for n in re.findall(r"&lt;x(\d+)&gt;", text)}
    assert raw == []
    expected = {n for n, (m, c) in enumerate(TEXT_COLUMNS) if f"{m.__name__}.{c}" not in NOT_SHOWN} | {99}
    missing = sorted(f"{TEXT_COLUMNS[n][0].__name__}.{TEXT_COLUMNS[n][1]}" if n < 99 else "AuditLog.after"
                     for n in expected - shown)
    assert missing == []


# Pages with a form, as the account that uses it; every text field of every POST form on them
# gets a payload.
FORM_PAGES = [
    (None, "/register"), (None, "/login"), ("xh_admin", "/account/password"),
    ("xh_admin", "/schools/new"), ("xh_admin", "/schools/{school}/edit"),
    ("hz_admin", "/schools/{other}/transfer"), ("xh_admin", "/schools/{doomed}/delete"),
    ("school_admin", "/schools/mine"), ("zj_super", "/codes"), ("teacher", "/bind"),
    ("zj_super", "/admins/{binding}/end"), ("school_admin", "/teachers/{pending}/reject"),
    ("school_admin", "/teachers/{approved}/remove"), ("t_rejected", "/me"),
    ("xh_admin", "/notices/urge/330106"), ("operator", "/faq/topics/new"),
    ("operator", "/faq/entries/new"), ("operator", "/programmes/new"), ("operator", "/programmes/{programme}"),
    ("operator", "/tokens"),
]
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
INPUT = re.compile(r"<input\b([^>]*)>", re.I)
TEXTAREA = re.compile(r"<textarea\b([^>]*)>", re.I)
SELECT = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.S | re.I)
TEXT_TYPES = {"text", "search", "tel", "email", "password", "url", "number", "date", ""}


def attr(attrs: str, name: str) -> str | None:
    found = re.search(rf'\b{name}="([^"]*)"', attrs)
    return html.unescape(found.group(1)) if found else None


def post_forms(page: str, url: str) -> list[tuple[str, dict, list[str]]]:
    """(action, fields with their rendered values, names of the text fields) of each POST form
    of the page at `url` (a form without an action posts back to it)."""
    forms = []
    for attrs, body in FORM.findall(page):
        if (attr(attrs, "method") or "get").lower() != "post":
            continue
        fields, texts = {}, []
        for a in INPUT.findall(body):
            name, kind = attr(a, "name"), (attr(a, "type") or "").lower()
            if not name or name == "csrf_token":
                continue
            if kind in TEXT_TYPES:
                texts.append(name)
            elif kind == "hidden":
                fields[name] = attr(a, "value") or ""
            elif kind in ("radio", "checkbox") and name not in fields:
                fields[name] = attr(a, "value") or ""
        texts += [attr(a, "name") for a in TEXTAREA.findall(body) if attr(a, "name")]
        for a, options in SELECT.findall(body):
            values = [v for v in re.findall(r'<option\b[^>]*value="([^"]*)"', options) if v]
            if attr(a, "name") and values:
                fields[attr(a, "name")] = html.unescape(values[0])
        forms.append((attr(attrs, "action") or url, fields, texts))
    return forms


def test_sec16_payloads_typed_into_every_text_field_come_back_escaped(app, tree, teachers, login_as):
    """Every POST form on the pages above, every text field filled with its own payload: neither
    the answer (a 422 form shown again, a flash, an htmx fragment) nor the page a redirect leads
    to carries a payload raw, and the values that are echoed come back escaped."""
    from tests.services.test_rollups import make_programme
    ids = {"school": tree["schools"]["3301060001"].id, "other": tree["schools"]["3301020001"].id,
           "doomed": tree["schools"]["3301060002"].id, "pending": teachers["memberships"]["t_pending"].id,
           "approved": teachers["memberships"]["teacher"].id, "programme": make_programme(tree).id,
           "binding": Binding.get(Binding.account == tree["accounts"]["zj_admin"]).id}
    serial, filled, echoed, raw = iter(range(1000)), [], set(), []
    for username, url in FORM_PAGES:
        client = login_as(username) if username else app.test_client()
        page = client.get(url.format(**ids))
        assert page.status_code == 200, url
        forms = [f for f in post_forms(page.text, url.format(**ids)) if f[2]]
        assert forms, f"{url}: no form with a text field"
        for action, fields, texts in forms:
            values = {name: payload(next(serial), 0) for name in texts}
            filled.append((url, action, texts))
            for headers in ({}, {"HX-Request": "true"}):
                answer = client.post(action, data={**fields, **values, "csrf_token": csrf_token(client)},
                                     headers=headers)
                assert answer.status_code < 500, (url, action, answer.status_code)
                bodies = [answer.get_data(as_text=True)]
                if answer.status_code in (302, 303):
                    bodies.append(client.get(answer.location).get_data(as_text=True))
                for body in bodies:
                    raw += [(url, action, m) for m in RAW.findall(body)]
                    echoed |= {int(n) for n in re.findall(r"&lt;x(\d+)&gt;", body)}
    assert raw == []
    assert sum(len(t) for _, _, t in filled) >= 30 and len(echoed) >= 15


# ---------------------------------------------------------------- static properties

def test_sec16_autoescape_is_on_and_no_template_marks_a_value_safe(app):
    assert app.jinja_env.autoescape("page.html") is True
    templates = list((PACKAGE / "templates").rglob("*.html"))
    assert len(templates) > 30
    for path in templates:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b", text), path
        assert "autoescape false" not in text.replace("  ", " "), path
    # Markup is built from literals only (faq.py's search highlight: Markup("<mark>%s</mark>") % value)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Markup" and node.args:
                assert isinstance(node.args[0], ast.Constant), f"{path}:{node.lineno}"


SQL_SINKS = {"execute_sql", "SQL", "raw"}


def _built_from_strings(node) -> bool:
    """An f-string, a % or + on strings, or a .format call."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return any(isinstance(side, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(side, "value", ""), str)
                   for side in (node.left, node.right))
    return isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "format"


def test_sec16_no_sql_is_built_from_strings():
    """Every SQL text handed to execute_sql, SQL() or .raw() in yanxiu/ is a literal or a name not
    assigned from string building; values travel as parameters, queries as peewee expressions."""
    checked, problems = 0, []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        built = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and _built_from_strings(node.value)
                 for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in SQL_SINKS:
                continue
            checked += 1
            sql = node.args[0]
            if _built_from_strings(sql) or (isinstance(sql, ast.Name) and sql.id in built):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert checked >= 5 and problems == []

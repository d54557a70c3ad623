"""Hostile text for the fuzz tests, and the checks they share.

The strategies draw random Unicode from every plane (surrogates aside: they cannot be sent
as UTF-8), combining marks, right-to-left text and overrides, emoji sequences, control
characters, mixed scripts, 10k+ character values, SQL, HTML/JS and template payloads and
formula-leading text, alone or glued to a valid value so that some submissions are accepted
and stored. No strategy draws a 身份证号 or 手机号 (tests/pii_guard.py would rightly fail a
page that echoes one); the forms that take them draw valid ones on purpose.

An HTML payload carries a random marker (`fz` + letters), so finding it raw in a page means
the page echoed what was sent unescaped, not that the page has a <script> of its own.
"""
import os
import re
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.pii_guard import find_personal_data
from yanxiu.models import ALL_MODELS

# 25 examples a test keeps the package near half a minute on one core; YANXIU_FUZZ_EXAMPLES=500
# digs deeper by hand.
FUZZ = settings(max_examples=int(os.environ.get("YANXIU_FUZZ_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

MARKER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=6).map(lambda s: "fz" + s)
MARKER_RE = re.compile(r"fz[a-z]{6}")

# (what is sent, what must never come back): `{m}` is the marker.
HTML_PAYLOADS = [
    ("<script>alert('{m}')</script>", "<script>alert('{m}')"),
    ('"><img src=x onerror=alert("{m}")>', '<img src=x onerror=alert("{m}")>'),
    ("'><svg onload=alert('{m}')>", "<svg onload=alert('{m}')>"),
    ('<a href="javascript:alert(\'{m}\')">{m}</a>', '<a href="javascript:alert(\'{m}\')">'),
    ("</textarea></title><script>{m}</script>", "<script>{m}</script>"),
    ("<iframe srcdoc='<b>{m}</b>'></iframe>", "<iframe srcdoc='<b>{m}</b>'>"),
    # Server-side template injection: the text must stay text, never be evaluated.
    ("{{{{7*7}}}}{m}{{{{ config }}}}", "49{m}"),
]

SQL_PAYLOADS = ["' OR 1=1 --", "'; DROP TABLE school; --", '" OR ""="', "1; SELECT 1 --",
                "%' OR '1'='1", "\\'; --", "admin'--", "' UNION SELECT password_hash FROM account --",
                "1) OR (1=1", "'||(SELECT 1)||'", "%", "_", "\\"]
FORMULA_PAYLOADS = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@x", "@SUM(A1:A2)", '=HYPERLINK("http://x")',
                    "\t=1", "=1+1", "＝1+1"]
CONTROL_CHARS = [chr(c) for c in range(0x20)] + ["\x7f", "\u2028", "\u2029", "\x85", "\ufeff",
                                                 "\u200b", "\u00a0", "\u3000"]
RTL_SAMPLES = ["שלום עולם", "مرحبا بالعالم", "\u202eevil\u202c", "\u200fأ\u200f", "\u202bעברית\u202c",
               "\u2067ابج\u2069"]
EMOJI_SAMPLES = ["👨‍👩‍👧‍👦", "🇨🇳", "👍🏽", "🏳️‍🌈", "❤️", "🀄", "𠀀𪚥", "🧑🏿‍🚀"]
SCRIPTS = ("Latin AaZz", "Кириллица", "Ελληνικά", "中文汉字", "ひらがなカタカナ", "한국어", "देवनागरी",
           "ภาษาไทย", "ქართული", "Ꭰꮳ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢")


def _no_personal_data(text: str) -> bool:
    return not find_personal_data(text)


any_unicode = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
combining = st.lists(st.tuples(st.characters(categories=["Ll", "Lo"]),
                               st.text(alphabet=st.characters(categories=["Mn", "Me"]), min_size=1,
                                       max_size=6)),
                     min_size=1, max_size=5).map(lambda pairs: "".join(a + b for a, b in pairs))
rtl = st.one_of(st.sampled_from(RTL_SAMPLES),
                st.text(alphabet=st.characters(min_codepoint=0x590, max_codepoint=0x6FF,
                                               exclude_categories=["Cn"]), min_size=1, max_size=12))
emoji = st.one_of(st.sampled_from(EMOJI_SAMPLES),
                  st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),
                          min_size=1, max_size=8))
control = st.text(alphabet=st.sampled_from(CONTROL_CHARS), min_size=1, max_size=6)
mixed_scripts = st.lists(st.sampled_from(SCRIPTS).flatmap(lambda s: st.sampled_from(list(s))),
                         min_size=2, max_size=16).map("".join)
sql = st.sampled_from(SQL_PAYLOADS)
formula = st.sampled_from(FORMULA_PAYLOADS)
html = st.tuples(st.sampled_from(HTML_PAYLOADS), MARKER).map(lambda p: p[0][0].format(m=p[1]))
# 10,000–12,000 characters: a short unit repeated (drawing them one by one would be slow).
huge = st.tuples(st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6),
                 st.integers(10_000, 12_000)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[:t[1]])

PIECES = st.one_of(any_unicode, combining, rtl, emoji, control, mixed_scripts, sql, formula, html)


@dataclass(frozen=True)
class Field:
    """What one form field is drawn from: `good`, valid values (alone, or with a payload glued
    on, which free-text fields store), and `bad`, hostile text. A form draws all good (so some
    submissions are stored), one bad field among good ones, or any mix."""
    good: st.SearchStrategy | None
    bad: st.SearchStrategy

    def any(self) -> st.SearchStrategy:
        return st.one_of(self.good, self.bad) if self.good is not None else self.bad


def hostile(*valid, edge: tuple = (), huge_ok: bool = True, pii: bool = False,
            glue: bool = True) -> Field:
    """One field: `valid` values (strings or strategies) and hostile text — pieces glued
    together, `edge` values (near misses: 0, a 31 February, a number past 64 bits), and values
    of 10k+ characters unless `huge_ok` is False. `glue`: a payload glued on a valid value is
    still valid (free text; not for codes, numbers, dates or choices). `pii`: the valid values
    are a 身份证号 or 手机号, kept on purpose."""
    glued = st.lists(PIECES, min_size=1, max_size=4).map("".join)
    bad = st.one_of([glued, PIECES] + ([huge] if huge_ok else [])).filter(_no_personal_data)
    if edge:
        bad = st.one_of(st.sampled_from(edge), bad)
    if not valid:
        return Field(None, bad)
    plain = st.one_of(*[v if isinstance(v, st.SearchStrategy) else st.just(v) for v in valid])
    glued_good = st.tuples(plain, st.one_of(html, sql, formula, emoji, combining)).map("".join)
    good = st.one_of(plain, plain, glued_good) if glue else plain
    return Field(good if pii else good.filter(_no_personal_data), bad)


def strict(*valid, **options) -> Field:
    """A field whose valid values take nothing glued on: codes, numbers, dates, choices."""
    return hostile(*valid, glue=False, **options)


def many(field: Field, max_size: int = 4) -> Field:
    """A multi-valued field (checkboxes, multi-selects)."""
    return Field(st.lists(field.good, max_size=max_size),
                 st.lists(field.any(), min_size=1, max_size=max_size))


# Listed with weights: Hypothesis' choice among a few options is not uniform, and a form's
# valid submissions need their share.
MODES = ("valid", "one hostile", "valid", "any", "one hostile", "valid")


def draw_fields(data, specs: dict[str, Field]) -> dict:
    """Draw a form: every field valid, one hostile among valid ones, or each either way."""
    mode = data.draw(st.sampled_from(MODES), label="mode")
    odd = data.draw(st.sampled_from(sorted(specs)), label="hostile field") if mode == "one hostile" else None
    out = {}
    for name, f in specs.items():
        if mode == "any":
            strategy = f.any()
        elif name == odd or f.good is None:
            strategy = f.bad
        else:
            strategy = f.good
        out[name] = data.draw(strategy, label=name)
    return out


def forbidden_fragments(values) -> list[str]:
    """What must never appear raw in a page after `values` were sent: each HTML payload they
    carry, unescaped (or, for the template payload, evaluated)."""
    found = []
    for value in values:
        for marker in set(MARKER_RE.findall(value)):
            for sent, bad in HTML_PAYLOADS:
                if sent.format(m=marker) in value:
                    found.append(bad.format(m=marker))
    return found


def assert_escaped(body: str, values, where: str = "") -> None:
    for fragment in forbidden_fragments(values):
        assert fragment not in body, f"{where}: payload came back unescaped: {fragment!r}"


def flat_values(data: dict) -> list[str]:
    out = []
    for value in data.values():
        out.extend(value if isinstance(value, list) else [value])
    return [v for v in out if isinstance(v, str)]


class World(dict):
    """What a fuzz test's examples share (fixture objects, clients); shown by name only in
    Hypothesis' reports, which would print it whole otherwise."""

    def __repr__(self) -> str:
        return "<world>"


def snapshot(*models) -> dict:
    """Every row of `models`, by key: compared before and after a refused submission."""
    return {m.__name__: list(m.select().order_by(*m._meta.get_primary_keys()).tuples()) for m in models}


def count_rows() -> dict:
    return {m.__name__: m.select().count() for m in ALL_MODELS}

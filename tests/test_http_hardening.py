"""HTTP hardening and page weight (SECURITY.md rows 13, 14, 21; SPEC §12): security headers on
every page, no browser caching of personal data, content-hashed immutable static files, no inline
script or style, gzip, byte budgets, generic error pages."""
import gzip
import hashlib
import json
import re
from html import unescape

import pytest

from tests.test_routes_policy import crawl, endpoints_of, get_endpoints, populate, route_urls
from yanxiu.scope import public
from yanxiu.services.regions import load_regions

GZIP = {"Accept-Encoding": "gzip"}
HX = {"HX-Request": "true"}
ANONYMOUS_PAGES = ["/login", "/register", "/healthz", "/no-such-page", "/regions", "/workbench"]
ADMINS = ["operator", "zj_super", "zj_admin", "hz_admin", "xh_admin", "school_admin", "multi",
          "teacher"]
KB = 1024


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_hardened(response, where: str):
    csp = csp_directives(response)
    assert csp, f"{where}: no Content-Security-Policy"
    header = response.headers["Content-Security-Policy"]
    assert "unsafe-" not in header, where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("base-uri") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts and "*" not in scripts and "data:" not in scripts, where
    assert "'self'" in csp.get("default-src", []), where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                                       "strict-origin-when-cross-origin"), where


def assert_not_cached(response, where: str):
    assert "no-store" in response.headers.get("Cache-Control", ""), where
    vary = [v.strip().lower() for v in response.headers.get("Vary", "").split(",")]
    assert "hx-request" in vary, where


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_TAG = re.compile(r"<style\b", re.I)
EVENT_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
HX_ON = re.compile(r"\shx-on[:-]", re.I)


def assert_no_inline_code(text: str, where: str):
    assert not INLINE_SCRIPT.search(text), f"{where}: inline <script>"
    assert not STYLE_ATTR.search(text), f"{where}: style= attribute"
    assert not STYLE_TAG.search(text), f"{where}: <style> element"
    assert not EVENT_ATTR.search(text), f"{where}: on*= event handler"
    assert not JS_URL.search(text), f"{where}: javascript: URL"
    assert not HX_ON.search(text), f"{where}: hx-on handler (needs eval)"


@pytest.fixture
def crawled(login_as, app, tree, teachers):
    """Every page and fragment each kind of account reaches (every GET route, each id and code
    parameter in and out of scope, and the links the pages lead to), plus the anonymous pages."""
    populate(tree, teachers)
    pages = {}
    anonymous = app.test_client()
    for url in ANONYMOUS_PAGES:
        for headers in ({}, HX):
            pages[("anonymous", url, bool(headers))] = anonymous.get(url, headers=headers)
    for username in ADMINS:
        responses = crawl(login_as(username), ["/workbench", *route_urls(app)])
        for (url, htmx), response in responses.items():
            pages[(username, url, htmx)] = response
    return pages


# ---------------------------------------------------------------- headers

def _problems(check, *args) -> str | None:
    try:
        check(*args)
    except AssertionError as err:
        return str(err).split("\n")[0]
    return None


def test_sec13_every_get_route_is_hardened(crawled, app):
    """One crawl (it is the slow part), every property of every page and fragment checked:
    security headers (row 13); no caching when signed in (row 14); no inline script or style;
    UTF-8 and zh-CN. Every GET route of app.url_map is among them."""
    assert len(crawled) > 100
    assert endpoints_of(app, {url for _, url, _ in crawled}) == get_endpoints(app)
    problems = {"headers": [], "caching": [], "inline code": [], "charset/lang": []}
    html_pages = 0
    for key, response in crawled.items():
        who, url, htmx = key
        problems["headers"].append(_problems(assert_hardened, response, str(key)))
        if who != "anonymous":
            problems["caching"].append(_problems(assert_not_cached, response, str(key)))
        if response.mimetype != "text/html":
            continue
        text = response.get_data(as_text=True)
        html_pages += 1
        problems["inline code"].append(_problems(assert_no_inline_code, text, str(key)))
        if 300 <= response.status_code < 400:
            continue  # werkzeug's redirect stub, never shown
        if response.mimetype_params.get("charset", "").lower() != "utf-8":
            problems["charset/lang"].append(f"{key}: not UTF-8")
        if "<html" in text and '<html lang="zh-CN">' not in text:
            problems["charset/lang"].append(f"{key}: not lang=zh-CN")
    assert html_pages > 50
    assert {k: [p for p in v if p] for k, v in problems.items()} == \
        {k: [] for k in problems}


def test_sec14_login_and_register_pages_are_not_cached_either(client):
    """They carry a CSRF token tied to the session."""
    for url in ("/login", "/register"):
        assert_not_cached(client.get(url), url)


# ---------------------------------------------------------------- static files

STATIC_REF = re.compile(r'(?:src|href)="(/static/[^"]+)"')


def static_refs(text: str) -> list[str]:
    return [unescape(u) for u in STATIC_REF.findall(text)]


def test_static_urls_carry_a_content_hash_and_are_immutable(login_as):
    client = login_as("zj_admin")
    page = client.get("/workbench")
    refs = static_refs(page.text)
    assert any(r.split("?")[0].endswith(".css") for r in refs)
    assert any(re.search(r"/htmx-[^/]*\.js$", r.split("?")[0]) for r in refs)
    for ref in refs:
        match = re.fullmatch(r"(/static/[^?]+)\?v=([0-9a-f]{8,})", ref)
        assert match, f"static URL without a content hash: {ref}"
        response = client.get(ref)
        assert response.status_code == 200, ref
        body = response.get_data()
        # the hash names this content: a new release changes the URL, so no stale cache
        assert hashlib.sha256(body).hexdigest().startswith(match.group(2)), ref
        cache = response.headers.get("Cache-Control", "")
        assert "immutable" in cache and "max-age=31536000" in cache, ref
        assert "no-store" not in cache
        assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_static_file_without_hash_is_not_cached_forever(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_htmx_is_a_2x_release_with_its_version_in_the_file_name(client):
    refs = [r for r in static_refs(client.get("/login").text) if "htmx" in r]
    assert len(refs) == 1
    name = refs[0].split("?")[0].rsplit("/", 1)[1]
    match = re.fullmatch(r"htmx-(2\.\d+\.\d+)(\.min)?\.js", name)
    assert match, name
    body = client.get(refs[0]).get_data(as_text=True)
    assert f'version:"{match.group(1)}"' in body.replace(" ", "")


def test_sec14_htmx_config_turns_off_history_cache_and_injected_styles(client, login_as):
    for page in (client.get("/login"), login_as("zj_admin").get("/workbench")):
        meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page.text)
        assert meta, "no htmx-config meta"
        config = json.loads(unescape(meta.group(1)))
        assert config["historyCacheSize"] == 0  # no personal data in localStorage
        assert config["includeIndicatorStyles"] is False  # would need an inline style
        assert config.get("allowEval") is False
        assert config.get("selfRequestsOnly", True) is True


# ---------------------------------------------------------------- compression and budgets

def gz_size(response) -> int:
    """Bytes on the wire; anything worth compressing must come gzip-compressed."""
    body = response.get_data()
    if response.headers.get("Content-Encoding") != "gzip":
        assert len(body) < 300, f"{response.request.path}: {len(body)} bytes sent uncompressed"
    return len(body)


def decoded(response) -> bytes:
    body = response.get_data()
    return gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


def test_pages_and_assets_compress_with_gzip(login_as):
    client = login_as("zj_admin")
    page = client.get("/regions", headers=GZIP)
    assert page.headers.get("Content-Encoding") == "gzip"
    text = gzip.decompress(page.get_data()).decode("utf-8")
    assert "区域管理" in text
    assert "accept-encoding" in page.headers.get("Vary", "").lower()
    compressed = 0
    for ref in static_refs(text):
        asset = client.get(ref, headers=GZIP)
        gz_size(asset)  # compressed unless tiny
        assert decoded(asset) == client.get(ref).get_data(), ref
        compressed += asset.headers.get("Content-Encoding") == "gzip"
    assert compressed >= 2  # the stylesheet and htmx at least
    # and a client that does not ask gets plain bytes
    assert client.get("/regions").headers.get("Content-Encoding") is None


def first_load(client, url: str) -> dict:
    """Wire bytes of a first visit: the page and every resource it makes the browser fetch."""
    page = client.get(url, headers=GZIP)
    assert page.status_code == 200, url
    text = gzip.decompress(page.get_data()).decode("utf-8")
    sizes = {"html": gz_size(page), "css": 0, "htmx": 0, "own_js": 0}
    requests = 1
    for ref in static_refs(text):
        response = client.get(ref, headers=GZIP)
        requests += 1
        path = ref.split("?")[0]
        if path.endswith(".css"):
            sizes["css"] += gz_size(response)
            css = decoded(response).decode("utf-8")
            assert "@font-face" not in css and "@import" not in css, path
            assert not re.search(r"url\((?!['\"]?data:)", css), f"{path} fetches more files"
        elif "htmx" in path:
            sizes["htmx"] += gz_size(response)
        elif path.endswith(".js"):
            sizes["own_js"] += gz_size(response)
        else:
            pytest.fail(f"unexpected resource on first load: {path}")
    # nothing else the browser would fetch: images, fonts, icons, other origins
    assert not re.search(r"<img\b", text), url
    icons = re.findall(r'<link rel="[^"]*icon[^"]*" href="([^"]+)"', text)
    assert all(h.startswith("data:") for h in icons), url
    assert not re.search(r'(src|href)="(https?:)?//', text), f"{url}: other-origin resource"
    sizes["requests"] = requests
    sizes["total"] = sizes["html"] + sizes["css"] + sizes["htmx"] + sizes["own_js"]
    return sizes


@pytest.fixture
def national(tree):
    """The fixture tree completed with the whole national list: realistic list lengths."""
    report = load_regions()
    assert not report.errors
    return tree


@pytest.mark.parametrize("username,url", [
    ("operator", "/workbench"), ("operator", "/regions"), ("operator", "/regions/440000"),
    ("zj_admin", "/regions"), ("zj_admin", "/regions/330100"), ("zj_super", "/codes"),
    ("zj_super", "/admins"), ("xh_admin", "/regions/330106/schools"),
    ("school_admin", "/workbench"), ("operator", "/regions?q=区"),
])
def test_first_load_of_an_admin_page_fits_the_budget(national, login_as, username, url):
    sizes = first_load(login_as(username), url)
    assert sizes["requests"] <= 4, sizes
    assert sizes["html"] <= 14 * KB, sizes
    assert sizes["css"] <= 10 * KB, sizes
    assert sizes["own_js"] <= 3 * KB, sizes
    assert sizes["htmx"] <= 20 * KB, sizes
    assert sizes["total"] <= 50 * KB, sizes


def test_repeat_visit_fetches_only_the_page(national, login_as):
    """Static files are immutable under hashed URLs, so a repeat visit is the HTML alone."""
    client = login_as("zj_admin")
    page = client.get("/regions/330100", headers=GZIP)
    assert gz_size(page) <= 15 * KB
    text = gzip.decompress(page.get_data()).decode("utf-8")
    for ref in static_refs(text):
        assert "immutable" in client.get(ref).headers["Cache-Control"]


@pytest.mark.parametrize("username,url", [
    ("zj_admin", "/regions/330000"), ("operator", "/regions/000000"),
    ("operator", "/regions/130100"), ("operator", "/regions/510000"),
    ("xh_admin", "/regions/330106/schools"),
])
def test_htmx_fragment_fits_the_budget(national, login_as, username, url):
    response = login_as(username).get(url, headers={**HX, **GZIP})
    assert response.status_code == 200
    text = gzip.decompress(response.get_data()).decode("utf-8")
    assert "<html" not in text and "<head" not in text  # a fragment, not the page
    assert gz_size(response) <= 10 * KB


# ---------------------------------------------------------------- error pages

def test_sec21_forced_exception_gives_a_generic_500_without_traceback(app, login_as):
    secret = "sk-very-secret-detail-42"

    def explode():
        raise RuntimeError(f"database password is {secret}")

    explode.__name__ = "explode"
    app.add_url_rule("/_test/explode", "explode", public(explode))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    for client in (app.test_client(), login_as("zj_admin")):
        for headers in ({}, HX):
            response = client.get("/_test/explode", headers=headers)
            assert response.status_code == 500
            assert response.mimetype == "text/html"
            text = response.text
            assert "服务器出错" in text
            for leak in ("Traceback", "RuntimeError", secret, 'File "', "werkzeug", ".py"):
                assert leak not in text, leak
            assert_hardened(response, "500")
            assert "no-store" in response.headers.get("Cache-Control", "")
    assert app.debug is False


def test_sec21_unknown_url_gives_a_generic_chinese_404(client, login_as):
    for c in (client, login_as("zj_admin")):
        response = c.get("/no/such/page")
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "页面不存在" in response.text
        assert "Not Found" not in response.text
        assert_hardened(response, "404")


def test_unknown_static_file_is_a_404(client):
    assert client.get("/static/nope.js").status_code == 404


def test_sec21_method_not_allowed_is_a_generic_chinese_page(login_as):
    response = login_as("zj_admin").delete("/workbench")
    assert response.status_code == 405
    assert "请求方式不支持" in response.text
    # RFC 9110: a 405 names the methods that work.
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_api_method_not_allowed_names_the_allowed_methods(client):
    """Found by schemathesis (tests/fuzz/test_api_schema.py): the API's JSON 405 lost `Allow`."""
    response = client.open("/api/v1/records", method="TRACE")
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


# ---------------------------------------------------------------- input no database can take

@pytest.mark.parametrize("url", ["/schools/99999999999999999999", "/codes/99999999999999999999/revoke",
                                 "/teachers?school=99999999999999999999",
                                 "/api/v1/statistics/99999999999999999999/000000"])
def test_an_id_past_64_bits_is_not_found_not_a_crash(login_as, url):
    """Found by the fuzz tests: an <int:…> past a 64-bit integer overflowed the database driver
    (a 500); it now matches no route, or no row."""
    response = login_as("xh_admin").get(url)
    assert response.status_code == 404


def test_form_input_with_nul_is_refused_before_any_write(login_as):
    """Found by the fuzz tests on PostgreSQL, which stores no U+0000: a form carrying one is
    refused whole (422, in Chinese) instead of failing inside the view."""
    from tests.conftest import form_post
    from yanxiu.models import School
    client = login_as("xh_admin")
    before = School.select().count()
    response = form_post(client, "/schools/new", {"code": "3301069901", "name": "空\x00字符学校",
                                                  "kind": "school", "stage": "小学"})
    assert response.status_code == 422 and "控制字符" in response.text
    assert School.select().count() == before
    assert client.get("/schools?q=a%00b").status_code == 400

"""The route meta-tests (SECURITY.md rows 1 and 12): every endpoint declares a policy, the
public allow-list is short and known, undeclared routes are refused, anonymous visitors are sent
to the login page, every POST route refuses a request without the CSRF token, and crawling every
GET route as every fixture account writes nothing."""
import html
import re
from collections import deque
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from tests.fixture_tree import ACCOUNTS
from yanxiu.db import database
from yanxiu.scope import policy_of, signed_in

# auth.two_factor_login: the login's second step, before any session (it checks the pending
# login in the signed cookie itself).
PUBLIC_ENDPOINTS = {"auth.login", "auth.two_factor_login", "auth.register", "system.health",
                    "faq.faq_list", "api.openapi_document"}

# Values tried for URL parameters: codes in and out of every fixture scope, ids that exist and
# ids that don't. An out-of-scope value must answer 404 (or a redirect), never a write.
STRING_SAMPLES = ["000000", "330000", "330100", "330106", "330200", "320000", "110101",
                  "3301060001", "3302030001", "nope"]
INT_SAMPLES = [1, 2, 3, 5, 999999]
FORMAT_SAMPLES = ["csv", "xlsx", "pdf"]

LINK = re.compile(r'\b(href|hx-get|action)="([^"]*)"')


def rules(app, method: str = "GET"):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static" and method in r.methods]


def sample_urls(app, with_params: bool = True) -> list[str]:
    """A URL for every GET route, each parameter filled with every sample value."""
    urls = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in rules(app):
            if not rule.arguments:
                urls.append(adapter.build(rule.endpoint, {}))
                continue
            if not with_params:
                continue
            combos = [{}]
            for arg in sorted(rule.arguments):
                converter = rule._converters[arg]
                samples = INT_SAMPLES if isinstance(converter, IntegerConverter) else STRING_SAMPLES
                combos = [{**c, arg: v} for c in combos for v in samples]
            urls.extend(adapter.build(rule.endpoint, c) for c in combos)
    return sorted(set(urls))


def _samples(rule, arg: str) -> list:
    if isinstance(rule._converters[arg], IntegerConverter):
        return INT_SAMPLES
    return FORMAT_SAMPLES if arg == "fmt" else STRING_SAMPLES


def route_urls(app, method: str = "GET") -> list[str]:
    """A few URLs for every route: each parameter takes each of its sample values at least
    once (the parameters cycled together, not crossed), so a crawl reaches every route with ids
    and codes in and out of every fixture scope at a cost it can afford (`sample_urls` crosses
    them: some 1,400 URLs)."""
    urls = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in rules(app, method):
            args = sorted(rule.arguments)
            samples = [_samples(rule, a) for a in args]
            for i in range(max((len(s) for s in samples), default=1)):
                urls.append(adapter.build(rule.endpoint, {a: s[i % len(s)] for a, s in zip(args, samples)},
                                          method=method))
    return sorted(set(urls))


def endpoints_of(app, urls, method: str = "GET") -> set[str]:
    """The endpoints the URLs reach (a URL matching no route reaches none)."""
    adapter = app.url_map.bind("localhost")
    found = set()
    for url in urls:
        try:
            found.add(adapter.match(urlsplit(url).path, method)[0])
        except NotFound:
            pass
    return found


def _same_site_links(page: str) -> list[tuple[str, bool]]:
    """(url, is_htmx) for every same-site GET link or GET form target in a page."""
    found = []
    for attr, raw in LINK.findall(page):
        url = html.unescape(raw)
        if attr == "action":
            continue  # forms are followed only when their method is GET (below)
        if url.startswith("/") and not url.startswith("//") and not url.startswith("/static/"):
            found.append((url.split("#")[0], attr == "hx-get"))
    for form in re.findall(r"<form\b[^>]*>", page):
        if re.search(r'method="post"', form, re.I):
            continue
        action = re.search(r'action="([^"]*)"', form)
        if action and action.group(1).startswith("/"):
            found.append((html.unescape(action.group(1)), False))
    return found


def crawl(client, seeds, limit: int | None = None) -> dict[tuple[str, bool], object]:
    """GET every seed and every same-site link found, as a page and as an htmx fragment: every
    seed, and up to 400 links beyond them (or `limit` requests in all)."""
    seeds = list(seeds)
    limit = 2 * len(seeds) + 400 if limit is None else limit
    queue = deque((url, htmx) for url in seeds for htmx in (False, True))
    seen, responses = set(), {}
    while queue and len(seen) < limit:
        url, htmx = queue.popleft()
        if (url, htmx) in seen:
            continue
        seen.add((url, htmx))
        response = client.get(url, headers={"HX-Request": "true"} if htmx else {})
        responses[(url, htmx)] = response
        if response.mimetype == "text/html":
            for link in _same_site_links(response.get_data(as_text=True)):
                if link not in seen and urlsplit(link[0]).path != "/logout":
                    queue.append(link)
    return responses


def database_snapshot() -> dict:
    """Every row of every table (a session's last_seen_at may move: that is its job)."""
    snap = {}
    for table in sorted(database.get_tables()):
        columns = [c.name for c in database.get_columns(table)
                   if not (table == "user_session" and c.name == "last_seen_at")]
        cols = ", ".join(f'"{c}"' for c in columns)
        snap[table] = list(database.execute_sql(f'SELECT {cols} FROM "{table}" ORDER BY 1'))
    return snap


# ---------------------------------------------------------------- declared policies

def test_sec01_every_route_has_a_policy(app):
    missing = [r.endpoint for r in app.url_map.iter_rules()
               if r.endpoint != "static" and policy_of(app.view_functions[r.endpoint]) is None]
    assert missing == []


def test_sec01_public_allow_list_is_short_and_known(app):
    public = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"
              and policy_of(app.view_functions[r.endpoint])[0] == "public"}
    assert public == PUBLIC_ENDPOINTS


def test_sec01_policies_are_known_kinds(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        policy = policy_of(app.view_functions[rule.endpoint])
        assert policy[0] in ("public", "signed_in", "roles", "api_token"), rule.endpoint
        if policy[0] == "roles":
            assert policy[1], f"{rule.endpoint} allows an empty role set"


def test_sec01_a_route_without_a_policy_is_refused_even_to_the_operator(app, login_as):
    calls = []

    def undeclared():
        calls.append(1)
        return "secret"

    def undeclared_post():
        calls.append(1)
        return "written"

    app.add_url_rule("/_test/undeclared", "undeclared", undeclared)
    app.add_url_rule("/_test/undeclared_post", "undeclared_post", undeclared_post,
                     methods=["POST"])
    anonymous = app.test_client()
    assert anonymous.get("/_test/undeclared").status_code == 404
    operator = login_as("operator")
    response = operator.get("/_test/undeclared")
    assert response.status_code == 404 and "secret" not in response.text
    assert operator.get("/_test/undeclared", headers={"HX-Request": "true"}).status_code == 404
    from tests.conftest import csrf_token
    token = csrf_token(operator)
    assert operator.post("/_test/undeclared_post",
                         data={"csrf_token": token}).status_code == 404
    assert calls == []


def test_sec01_a_declared_route_is_served(app, login_as):
    """The control for the test above: the same route with a policy answers."""
    def declared():
        return "visible"

    app.add_url_rule("/_test/declared", "declared", signed_in(declared))
    assert login_as("operator").get("/_test/declared").text == "visible"
    response = app.test_client().get("/_test/declared")
    assert response.status_code in (302, 303)


# ---------------------------------------------------------------- anonymous visitors

def _policy_kind(app, url: str, method: str = "GET") -> str:
    return policy_of(app.view_functions[app.url_map.bind("localhost").match(url, method)[0]])[0]


def test_sec01_anonymous_get_of_every_private_route_goes_to_login(app, tree):
    client = app.test_client()
    private = [u for u in route_urls(app) if _policy_kind(app, u) not in ("public", "api_token")]
    assert endpoints_of(app, private) == {r.endpoint for r in rules(app)
                                          if policy_of(app.view_functions[r.endpoint])[0] in ("signed_in", "roles")}
    assert "/workbench" in private and "/regions" in private
    for url in private:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code in (302, 303), (url, response.status_code)
            location = urlsplit(response.headers["Location"])
            assert location.path == "/login", url
            assert "<table" not in response.text


def test_sec01_bearer_routes_refuse_without_a_token_even_to_a_session(app, login_as):
    """The API's routes answer 401 (JSON, WWW-Authenticate: Bearer), never a login page, and a
    signed-in session is no credential for them."""
    urls = [u for u in sample_urls(app) if _policy_kind(app, u) == "api_token"]
    assert "/api/v1/programmes" in urls
    for client in (app.test_client(), login_as("operator")):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 401, (url, response.status_code)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.mimetype == "application/json"


def test_sec01_anonymous_public_pages_answer(app, tree):
    client = app.test_client()
    for url in ("/login", "/register", "/healthz"):
        assert client.get(url).status_code == 200, url


def test_sec01_anonymous_post_to_every_private_route_is_refused(app, tree):
    """No private POST runs for an anonymous visitor, with or without a CSRF token."""
    from tests.conftest import csrf_token
    client = app.test_client()
    token = csrf_token(client)
    before = database_snapshot()
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        urls = []
        for rule in rules(app, "POST"):
            if policy_of(app.view_functions[rule.endpoint])[0] == "public":
                continue
            values = {a: (1 if isinstance(rule._converters[a], IntegerConverter) else "330106")
                      for a in rule.arguments}
            urls.append(adapter.build(rule.endpoint, values))
    for url in urls:
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code in (302, 303, 400, 401, 404), (url, response.status_code)
    assert database_snapshot() == before


# ---------------------------------------------------------------- GET never writes

def issue_sample_codes(tree) -> None:
    """A few 权限码 so that the routes taking a code id have something to show."""
    from yanxiu.models import Binding
    from yanxiu.models.account import SCHOOL_ADMIN, SUPER, TRAINING
    from yanxiu.services.codes import issue_permission_code

    def binding(username):
        return Binding.get(Binding.account == tree["accounts"][username])

    issue_permission_code(binding("zj_super"), TRAINING, region=tree["regions"]["330000"])
    issue_permission_code(binding("zj_super"), SUPER, region=tree["regions"]["330100"])
    issue_permission_code(binding("xh_admin"), SCHOOL_ADMIN, school=tree["schools"]["3301060002"])
    issue_permission_code(binding("operator"), SUPER, region=tree["regions"]["320000"])


def populate(tree, teachers) -> None:
    """Something behind every kind of id the routes take: 权限码, teachers in every state (the
    `teachers` fixture), a programme with learning records, a 督促 notice."""
    import random

    from tests.services.test_rollups import make_programme, random_batch
    from yanxiu.models import Binding
    from yanxiu.services import notices, records

    issue_sample_codes(tree)
    programme = make_programme(tree)
    records.ingest(random_batch(random.Random(12), programme, list(teachers["accounts"]), 30, "crawl"))
    sender = Binding.get(Binding.account == tree["accounts"]["zj_admin"])
    notices.send_urge(sender, [notices.Addressee(region=tree["regions"]["330100"]),
                               notices.Addressee(school=tree["schools"]["3301060001"])], "请尽快激活")


def get_endpoints(app) -> set[str]:
    return {r.endpoint for r in rules(app)}


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_sec12_crawling_every_get_route_writes_nothing(login_as, app, tree, teachers, username):
    """Every GET route (each id and code parameter in and out of scope), page and htmx fragment,
    and every link the pages lead to: the database is the same before and after."""
    populate(tree, teachers)
    client = login_as(username)
    # Age the session so the crawl's first request does move last_seen_at (the one write a
    # GET may make): the snapshot must tolerate exactly that column and nothing else.
    import datetime

    from yanxiu.models import UserSession
    from yanxiu.models.base import now
    UserSession.update(last_seen_at=now() - datetime.timedelta(minutes=5)).execute()
    before = database_snapshot()
    responses = crawl(client, ["/workbench", *route_urls(app)])
    assert database_snapshot() == before, "a GET changed the database"
    assert endpoints_of(app, [url for url, _ in responses]) == get_endpoints(app)
    errors = {k: r.status_code for k, r in responses.items() if r.status_code >= 500}
    assert errors == {}
    # the crawl reached real pages, not only refusals
    assert sum(r.status_code == 200 for r in responses.values()) >= 4
    # and the session survived the crawl (nothing it followed signed it out)
    assert client.get("/workbench").status_code == 200


# ---------------------------------------------------------------- CSRF on every POST

def _poster(policy) -> str | None:
    """A fixture account the route's policy admits (None: anonymous), so that nothing but the
    missing token can be what refuses the request."""
    if policy[0] == "public":
        return None
    if policy[0] == "roles" and "operator" not in policy[1]:
        return "school_admin" if "school" in policy[1] else "zj_super"
    return "operator"


def test_sec12_every_post_route_refuses_a_request_without_a_csrf_token(app, login_as, tree, teachers):
    """Walks app.url_map: every POST route, as a page form and as htmx, without a token and with
    a forged one, answers 400 and the database stays as it was. The records API is the one
    exception: a bearer token, never a cookie, authenticates it (it answers 401 without one)."""
    populate(tree, teachers)
    clients = {None: app.test_client(), **{u: login_as(u) for u in ("operator", "zj_super", "school_admin")}}
    before = database_snapshot()
    checked, bearer = set(), set()
    adapter = app.url_map.bind("localhost")
    for url in route_urls(app, "POST"):
        endpoint = adapter.match(url, "POST")[0]
        policy = policy_of(app.view_functions[endpoint])
        if policy[0] == "api_token":
            response = clients["operator"].post(url, json={"records": []})
            assert response.status_code == 401, url
            bearer.add(endpoint)
            continue
        client = clients[_poster(policy)]
        for headers in ({}, {"HX-Request": "true"}, {"HX-Request": "true", "X-CSRFToken": "forged"}):
            for data in ({"reason": "CSRF", "name": "跨站请求"}, {"csrf_token": "forged"}):
                response = client.post(url, data=data, headers=headers)
                assert response.status_code == 400, (url, headers, data, response.status_code)
                if "HX-Request" not in headers:
                    assert "页面已过期" in response.text, url
        checked.add(endpoint)
    assert database_snapshot() == before, "a POST without a valid CSRF token changed the database"
    post_endpoints = {r.endpoint for r in rules(app, "POST")}
    assert checked | bearer == post_endpoints and bearer == {"api.record_submit"}
    # and the signed-in clients are still signed in: the refusals ended no session
    assert clients["operator"].get("/workbench").status_code == 200

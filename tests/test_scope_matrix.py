"""Role × route × object: every scoped page, fragment, export, write and API answer against an
independent oracle (SECURITY.md rows 2 and 3), on the fixture tree and on random trees that
hypothesis builds.

The oracle knows only the fixture tree's parent links and the SPEC §2 table; it never asks
yanxiu.scope, so a mistake there shows up as a difference here. It reads the database only for
data a scope does not decide (a membership's school and state, learning records).
"""
import csv
import io
import random
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token, form_post
from tests.fixture_tree import ACCOUNTS, REGIONS, SCHOOLS
from tests.services.test_rollups import make_programme, oracle, random_batch
from yanxiu.models import (Account, AuditLog, Binding, LearningRecord, Membership, Notice, NoticeRecipient,
                           PermissionCode, School)
from yanxiu.models.account import SCHOOL_ADMIN, SUPER
from yanxiu.models.teacher import APPROVED, PENDING, REJECTED, REMOVED, TRANSFERRED
from yanxiu.services import accounts, api_tokens, codes, programmes, records
from yanxiu.services import teachers as teacher_service

PARENT = {code: parent or "000000" for code, _, _, parent in REGIONS}
REGION_CODES = [code for code, *_ in REGIONS]
REGION_ROLES = {"operator", "super", "training"}
SCHOOL_REGION = {code: region for code, _, region, _ in SCHOOLS}
HX = {"HX-Request": "true"}
# Every fixture account under its first binding, and `multi` under its second (its school) too.
ACTORS = [*ACCOUNTS, "multi:school"]

REGION_ROUTES = ["/regions/{c}", "/regions/{c}/schools", "/progress/{c}", "/progress/{c}/schools",
                 "/progress/{c}/export.csv", "/progress/{c}/export.xlsx", "/notices/urge/{c}"]


def ancestors(code: str) -> set[str]:
    seen = {code}
    while code in PARENT:
        code = PARENT[code]
        seen.add(code)
    return seen


def binding_of(actor: str) -> tuple[str | None, str | None]:
    """(role, region or school code) an actor acts under, from the fixture table: the account's
    first binding, or with ":school" its school-admin binding."""
    username, _, as_school = actor.partition(":")
    bindings = ACCOUNTS[username][1]
    if as_school:
        return next(b for b in bindings if b[0] == SCHOOL_ADMIN)
    return bindings[0] if bindings else (None, None)


def region_of_account(actor: str) -> tuple[str | None, str | None]:
    """(role, region code) of the actor's binding; a school admin's is its school's region."""
    role, scope = binding_of(actor)
    return role, SCHOOL_REGION[scope] if role == SCHOOL_ADMIN else scope


def may_read_region(username: str, code: str) -> bool:
    role, scope = region_of_account(username)
    return role in REGION_ROLES and scope in ancestors(code)


@pytest.mark.parametrize("username", list(ACCOUNTS))
@pytest.mark.parametrize("route", REGION_ROUTES)
def test_sec02_region_routes_follow_the_oracle(login_as, username, route):
    client = login_as(username)
    for code in REGION_CODES:
        expected = 200 if may_read_region(username, code) else 404
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(route.format(c=code), headers=headers)
            assert response.status_code == expected, (username, route, code, headers)


def _issued_codes(tree) -> list[PermissionCode]:
    """One code of each kind, issued by whoever may."""
    binding = {u: Binding.get(Binding.account == tree["accounts"][u]) for u in ("operator", "zj_super", "xh_admin")}
    codes.issue_permission_code(binding["operator"], SUPER, region=tree["regions"]["320000"])
    codes.issue_permission_code(binding["zj_super"], SUPER, region=tree["regions"]["330200"])
    codes.issue_permission_code(binding["xh_admin"], SCHOOL_ADMIN, school=tree["schools"]["3301060001"])
    return list(PermissionCode.select())


def _code_region(code: PermissionCode) -> str:
    return code.school.region.code if code.school_id else code.region.code


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_sec02_code_pages_follow_the_oracle(login_as, tree, username):
    issued = _issued_codes(tree)
    client = login_as(username)
    for code in issued:
        expected = 200 if may_read_region(username, _code_region(code)) else 404
        for action in ("revoke", "reissue"):
            assert client.get(f"/codes/{code.id}/{action}").status_code == expected, (username, code.id)
    listing = client.get("/codes")
    if region_of_account(username)[0] in REGION_ROLES:
        for code in issued:
            name = code.school.name if code.school_id else code.region.name
            visible = may_read_region(username, _code_region(code))
            assert (f"<td>{name}</td>" in listing.text) == visible, (username, name)
    else:
        assert listing.status_code == 404


def may_end(username: str, target: Binding) -> bool:
    """SPEC §2: a super admin ends its region's training admins and its children's super admins;
    the county (or 直属 level) ends its schools' admins; the operator ends province super admins."""
    role, scope = region_of_account(username)
    if target.role == SCHOOL_ADMIN:
        return role in ("super", "training") and target.school.region.code == scope
    if role == "operator":
        return target.role == "super" and target.region.level == "province"
    if role == "super":
        return (target.role == "training" and target.region.code == scope) or \
            (target.role == "super" and PARENT.get(target.region.code) == scope)
    return False


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_sec02_unbinding_follows_the_oracle(login_as, tree, username):
    client = login_as(username)
    me = tree["accounts"][username]
    for target in list(Binding.select().where(Binding.account != me)):
        expected = 200 if may_end(username, target) else 404
        assert client.get(f"/admins/{target.id}/end").status_code == expected, (username, target.id)


@pytest.mark.parametrize("username", list(ACCOUNTS))
def test_sec02_notices_follow_the_oracle(login_as, tree, username):
    sender = Binding.get(Binding.account == tree["accounts"]["zj_admin"])
    from yanxiu.services.notices import Addressee, send_urge
    send_urge(sender, [Addressee(region=tree["regions"]["330100"]),
                       Addressee(school=tree["schools"]["3301060001"])], "矩阵测试")
    notice = Notice.get()
    client = login_as(username)
    expected = 200 if may_read_region(username, "330000") else 404
    assert client.get(f"/notices/sent/{notice.id}").status_code == expected
    role, scope = region_of_account(username)
    for recipient in list(NoticeRecipient.select()):
        addressed = (recipient.region_id and role in REGION_ROLES and recipient.region.code == scope) or \
            (recipient.school_id and role == SCHOOL_ADMIN
             and ACCOUNTS[username][1][0][1] == recipient.school.code)
        response = form_post(client, f"/notices/{recipient.id}/read")
        assert response.status_code == (303 if addressed else 404), (username, recipient.id)


# ---------------------------------------------------------------- teachers (教师管理)

def may_read_school(actor: str, school_code: str) -> bool:
    """A region admin reads the schools of its subtree; a school admin its own school."""
    role, scope = binding_of(actor)
    if role == SCHOOL_ADMIN:
        return scope == school_code
    return role in REGION_ROLES and scope in ancestors(SCHOOL_REGION[school_code])


def may_decide(actor: str, school_code: str) -> bool:
    """Only the school's own admin reviews and removes its teachers (SPEC §2, §7)."""
    return binding_of(actor) == (SCHOOL_ADMIN, school_code)


@pytest.fixture
def sign_in(login_as, tree):
    """sign_in('multi:school') → a client of `multi` switched to its school-admin binding."""
    def _sign_in(actor: str):
        username, _, as_school = actor.partition(":")
        client = login_as(username)
        if as_school:
            binding = Binding.get((Binding.account == tree["accounts"][username]) & Binding.school.is_null(False))
            assert form_post(client, "/account/binding", {"binding_id": binding.id}).status_code == 303
        return client
    return _sign_in


def poster(client):
    """POST with the session's CSRF token, read once (form_post reads a page every time)."""
    token = csrf_token(client)

    def post(url: str, data: dict | None = None, **kwargs):
        return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)
    return post


def memberships() -> list[tuple[int, str, str, str]]:
    """(id, state, school code, applicant's username) of every membership, by id."""
    return list(Membership.select(Membership.id, Membership.state, School.code, Account.username)
                .join_from(Membership, School)
                .join_from(Membership, Account, on=(Membership.account == Account.id))
                .order_by(Membership.id).tuples())


def membership_snapshot() -> dict[int, tuple]:
    return {row[0]: row[1:] for row in Membership.select(
        Membership.id, Membership.state, Membership.version, Membership.school, Membership.decided_at,
        Membership.ended_at, Membership.reason, Membership.end_reason).tuples()}


def listed_ids(text: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr id="m-(\d+)"', text)}


def tab_counts(text: str) -> list[int]:
    nav = re.search(r'<nav class="tabs" id="teacher-tabs".*?</nav>', text, re.S).group(0)
    return [int(n) for n in re.findall(r'<span class="n">(\d+)</span>', nav)]


def csv_records(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))[1:]


def overview_totals(text: str) -> tuple[int, int]:
    found = re.search(r'<tfoot><tr><th>合计</th><th class="num">(\d+)</th><th class="num">(\d+)</th>', text)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


REVIEW_TABS = [PENDING, APPROVED, REJECTED, REMOVED, TRANSFERRED]


@pytest.mark.parametrize("actor", ACTORS)
def test_sec03_teacher_reads_follow_the_oracle(sign_in, tree, teachers, actor):
    """Lists by school and tab, exports, the audited reveal, the decision pages and the overview."""
    rows = memberships()
    masked = dict(Membership.select(Membership.id, Membership.id_masked).tuples())
    school_ids = {code: school.id for code, school in tree["schools"].items()}
    client = sign_in(actor)
    post = poster(client)
    role, _ = binding_of(actor)

    # Without ?school: each tab lists exactly the rows of the schools the actor reads, counted alike.
    readable = [r for r in rows if may_read_school(actor, r[2])]
    for state in REVIEW_TABS:
        page = client.get(f"/teachers?state={state}")
        if role is None:
            assert page.status_code == 404, (actor, state)
            continue
        assert page.status_code == 200, (actor, state)
        assert listed_ids(page.text) == {r[0] for r in readable if r[1] == state}, (actor, state)
        assert tab_counts(page.text) == [sum(r[1] == s for r in readable) for s in REVIEW_TABS], actor

    # ?school=: one school's tab, for every school and state some membership is in.
    for school_code, state in sorted({(r[2], r[1]) for r in rows}):
        reads = may_read_school(actor, school_code)
        where = (actor, school_code, state)
        query = f"school={school_ids[school_code]}&state={state}"
        same = [r for r in rows if r[2] == school_code and r[1] == state]
        for headers in ({}, HX):
            page = client.get(f"/teachers?{query}", headers=headers)
            assert page.status_code == (200 if reads else 404), (where, headers)
            if reads:
                assert listed_ids(page.text) == {r[0] for r in same}, (where, headers)
        export = client.get(f"/teachers/export.csv?{query}")
        assert export.status_code == (200 if reads else 404), where
        if reads:
            assert sorted((c[2], c[8]) for c in csv_records(export)) == \
                sorted((masked[r[0]], school_code) for r in same), where

    for mid, state, school_code, username in rows:
        reads, decides = may_read_school(actor, school_code), may_decide(actor, school_code)
        where = (actor, username, school_code, state)
        audited = AuditLog.select().count()
        reveal = post(f"/teachers/{mid}/reveal", {"field": "id_number"}, headers=HX)
        assert reveal.status_code == (200 if reads else 404), where
        assert AuditLog.select().count() == audited + reads, where
        if reads:
            assert teachers["data"][username]["id_number"] in reveal.text, where

        row = client.get(f"/teachers/{mid}/row", headers=HX)
        assert row.status_code == (200 if decides else 404), where
        assert client.get(f"/teachers/{mid}/row").status_code == (303 if decides else 404), where
        for action, open_state in (("reject", PENDING), ("remove", APPROVED)):
            # A row no longer in the state the form acts on answers 409 (htmx) or back to its tab.
            fragment = client.get(f"/teachers/{mid}/{action}", headers=HX)
            assert fragment.status_code == (404 if not decides else 200 if state == open_state else 409), \
                (where, action)
            page = client.get(f"/teachers/{mid}/{action}")
            assert page.status_code == (404 if not decides else 200 if state == open_state else 303), \
                (where, action)

    for code in ["000000", *REGION_CODES]:
        page = client.get(f"/teachers/overview?region={code}")
        assert page.status_code == (200 if may_read_region(actor, code) else 404), (actor, code)
        if page.status_code == 200:
            inside = [r for r in rows if code in ancestors(SCHOOL_REGION[r[2]])]
            assert overview_totals(page.text) == (sum(r[1] == APPROVED for r in inside),
                                                  sum(r[1] == PENDING for r in inside)), (actor, code)
    assert client.get("/teachers/overview").status_code == (200 if role in REGION_ROLES else 404)


# The state a decision moves a row from, and to.
DECISIONS = {"approve": (PENDING, APPROVED), "reject": (PENDING, REJECTED), "remove": (APPROVED, REMOVED)}


@pytest.mark.parametrize("actor", ACTORS)
def test_sec02_teacher_decisions_follow_the_oracle(sign_in, tree, teachers, actor):
    """Approve, reject, remove and bulk approve: only the school's own admin changes a row; any
    other POST answers 404 and leaves every membership and the audit log as they were."""
    rows = memberships()
    client = sign_in(actor)
    post = poster(client)
    role, _ = binding_of(actor)

    foreign = [r[0] for r in rows if not may_decide(actor, r[2])]
    before, audited = membership_snapshot(), AuditLog.select().count()
    bulk = post("/teachers/approve-many", {"ids": foreign})
    assert bulk.status_code == (303 if role == SCHOOL_ADMIN else 404), actor
    assert membership_snapshot() == before and AuditLog.select().count() == audited, actor

    # Every decision is tried on every row; the first one tried is chosen so that each kind
    # succeeds somewhere (the school admin's second pending row is t_mover's move: a transfer).
    pending_met = 0
    for mid, state, school_code, username in rows:
        first = "remove"
        if state == PENDING and may_decide(actor, school_code):
            first, pending_met = ("reject", "approve")[pending_met % 2], pending_met + 1
        for action in [first, *(a for a in DECISIONS if a != first)]:
            before, audited = membership_snapshot(), AuditLog.select().count()
            answer = post(f"/teachers/{mid}/{action}", {"reason": "矩阵测试"})
            after = membership_snapshot()
            where = (actor, action, username, school_code, before[mid][0])
            if not may_decide(actor, school_code):
                assert answer.status_code == 404, where
                assert after == before and AuditLog.select().count() == audited, where
                continue
            assert answer.status_code == 303, where
            source, target = DECISIONS[action]
            decided = before[mid][0] == source
            assert after[mid][0] == (target if decided else before[mid][0]), where
            assert (AuditLog.select().count() > audited) == decided, where
            # A move may end the teacher's membership at the old school; nobody else's row changes.
            others = {r[0] for r in rows if r[3] != username}
            assert {k: after[k] for k in others} == {k: before[k] for k in others}, where


# ---------------------------------------------------------------- statistics (研修统计)

def province_of(code: str) -> str | None:
    """The province a region lies in (None for 全国)."""
    while code in PARENT and PARENT[code] != "000000":
        code = PARENT[code]
    return code if code in PARENT else None


def may_see_programme(actor: str, province: str | None) -> bool:
    """A national programme is everyone's; a provincial one its province's and the operator's."""
    role, region = region_of_account(actor)
    return role is not None and (province is None or region == "000000" or province in ancestors(region))


@pytest.fixture
def programme_pair(tree, teachers) -> list[tuple[object, str | None]]:
    """A national and a 浙江省 programme with records from teachers in and outside 浙江省
    (t_far approved at 玄武区), each as (programme, province code or None)."""
    far = teachers["memberships"]["t_far"]
    teacher_service.approve(Binding.get(Binding.school == far.school_id), far.id)
    national = make_programme(tree)
    provincial = programmes.create_programme(
        Binding.get(Binding.account == tree["accounts"]["zj_admin"]),
        {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01", "end_date": "2025-08-31",
         "required_hours": 1}, [{"name": "专题一", "minutes": 90, "max_hours": 2}])
    rng = random.Random(6)
    for programme in (national, provincial):
        batch = random_batch(rng, programme, list(teachers["accounts"]), 40, f"m{programme.id}")
        assert {r.status for r in records.ingest(batch)} == {records.ACCEPTED}
    return [(national, None), (provincial, "330000")]


def figures(totals: dict) -> tuple[int, int, int]:
    return totals["teachers"], totals["participants"], totals["completed"]


@pytest.mark.parametrize("actor", ACTORS)
def test_sec03_statistics_follow_the_oracle(sign_in, tree, programme_pair, actor):
    """Region pages (page, csv, JSON) and school pages of both programmes, and the
    totals of every JSON answered equal to a recomputation from raw records."""
    client = sign_in(actor)
    for programme, province in programme_pair:
        by_school, by_region = oracle(programme)
        visible = may_see_programme(actor, province)
        for code in ["000000", *REGION_CODES]:
            expected = 200 if visible and may_read_region(actor, code) else 404
            base = f"/statistics/{programme.id}/{code}"
            for url in (base, f"{base}/export.csv"):
                assert client.get(url).status_code == expected, (actor, url)
            answer = client.get(f"{base}/stats.json")
            assert answer.status_code == expected, (actor, base)
            if expected == 200:
                assert figures(answer.get_json()["totals"]) == by_region.get(code, (0, 0, 0, 0))[:3], \
                    (actor, base)
        for code, school in tree["schools"].items():
            expected = 200 if visible and may_read_school(actor, code) else 404
            base = f"/statistics/{programme.id}/school/{school.id}"
            assert client.get(base).status_code == expected, (actor, base)
            answer = client.get(f"{base}/stats.json")
            assert answer.status_code == expected, (actor, base)
            if expected == 200:
                document = answer.get_json()
                want = by_school.get(school.id, (0, 0, 0, 0))
                assert figures(document["totals"]) == want[:3] and len(document["rows"]) == want[0], \
                    (actor, base)


# ---------------------------------------------------------------- the records API (/api/v1)

def test_sec03_api_follows_the_oracle(client, tree, teachers, programme_pair):
    """A national token and two provincial ones: statistics outside the token's province are
    404; a record for a teacher or a programme outside it is refused item by item."""
    operator = Binding.get(Binding.account == tree["accounts"]["operator"])
    tokens = {province: api_tokens.issue_token(operator, f"令牌{province}",
                                               tree["regions"][province] if province else None)[1]
              for province in (None, "330000", "320000")}
    approved_at = {username: code for _, state, code, username in memberships() if state == APPROVED}
    accepted = set()
    for token_province, clear in tokens.items():
        batch, expected = [], []
        for programme, province in programme_pair:
            course = programme.courses.first().id
            for username in teachers["accounts"]:
                for by in ("account", "id_number"):
                    who = {"account": username} if by == "account" else \
                        {"id_number": teachers["data"][username]["id_number"]}
                    external = f"{token_province}-{programme.id}-{username}-{by}"
                    batch.append({"external_id": external, "teacher": who, "programme": programme.id,
                                  "course": course, "minutes": 30, "occurred_at": "2025-07-15T10:00:00+08:00"})
                    school = approved_at.get(username)
                    if by == "id_number" and school is None:
                        expected.append(("rejected", "teacher"))  # no approved teacher with that number
                    elif token_province and (school is None
                                             or province_of(SCHOOL_REGION[school]) != token_province):
                        expected.append(("rejected", "teacher"))
                    elif token_province and province not in (None, token_province):
                        expected.append(("rejected", "programme"))
                    else:
                        expected.append(("accepted", ""))
                        accepted.add(external)
        answer = client.post("/api/v1/records", json={"records": batch},
                             headers={"Authorization": f"Bearer {clear}"})
        assert answer.status_code == 200, token_province
        results = answer.get_json()["results"]
        assert [(r["status"], r.get("field", "")) for r in results] == expected, token_province
    assert {e for (e,) in LearningRecord.select(LearningRecord.external_id)
            .where(LearningRecord.token.is_null(False)).tuples()} == accepted

    for programme, province in programme_pair:
        by_region = oracle(programme)[1]
        for token_province, clear in tokens.items():
            for code in ["000000", *REGION_CODES]:
                inside = token_province is None or (province_of(code) == token_province
                                                    and province in (None, token_province))
                answer = client.get(f"/api/v1/statistics/{programme.id}/{code}",
                                    headers={"Authorization": f"Bearer {clear}"})
                assert answer.status_code == (200 if inside else 404), (token_province, programme.name, code)
                if inside:
                    assert figures(answer.get_json()["totals"]) == by_region.get(code, (0, 0, 0, 0))[:3], \
                        (token_province, programme.name, code)


# ---------------------------------------------------------------- random trees (row 3)

TREE_SETTINGS = settings(max_examples=25, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                         # no shrinking: each example takes a fresh province code of its own
                         phases=[Phase.explicit, Phase.reuse, Phase.generate])
FATES = [PENDING, APPROVED, REJECTED, REMOVED, "moved"]


@st.composite
def random_trees(draw) -> dict:
    """The shape of a random province: 1–2 cities of 0–2 counties; 0–2 schools on each county
    and 0–1 directly on the province and each city (直属); per school whether its admin is
    bound and the fate of 0–2 teachers (a moved teacher was approved here, then approved at
    another school of the tree); per region whether its super admin is bound; and the actor."""
    counties = draw(st.lists(st.integers(0, 2), min_size=1, max_size=2))
    keys = [("p",)] + [("c", c) for c in range(len(counties))] + \
        [("k", c, k) for c, n in enumerate(counties) for k in range(n)]
    schools = []
    for key in keys:
        for _ in range(draw(st.integers(0, 2 if key[0] == "k" else 1))):
            schools.append({"region": key, "admin": draw(st.booleans()),
                            "fates": draw(st.lists(st.sampled_from(FATES), max_size=2))})
    for school in schools:
        school["moves_to"] = [draw(st.integers(0, len(schools) - 1)) for f in school["fates"] if f == "moved"]
    supers = {key: draw(st.booleans()) for key in keys if key != ("p",)}
    bound = [i for i, s in enumerate(schools) if s["admin"]]
    if bound and draw(st.booleans()):
        actor = ("school", draw(st.sampled_from(bound)))
    else:
        actor = ("training", draw(st.sampled_from(keys)))
    return {"keys": keys, "schools": schools, "supers": supers, "actor": actor}


def under(key: tuple, inner: tuple) -> bool:
    """Whether region `inner` lies in the subtree of region `key` (from the keys of the shape:
    ("p",), ("c", city), ("k", city, county) — not from the database)."""
    if key == ("p",):
        return True
    return inner == key or (key[0] == "c" and inner[0] == "k" and inner[1] == key[1])


def build_random_tree(shape: dict, province: int, root) -> dict:
    """Create the shape under province code `province`0000; returns codes, ids and the oracle's
    rows [(membership id, school index, state)], all known from what was done, not read back."""
    from tests.fixture_teachers import teacher_data, valid_id_number
    from yanxiu.models import Region
    from yanxiu.services import accounts

    def code_of(key):
        return f"{province}{key[1] + 1 if len(key) > 1 else 0:02d}{key[2] + 1 if len(key) > 2 else 0:02d}"

    regions = {}
    for key in shape["keys"]:
        parent = root if key == ("p",) else regions[("p",) if key[0] == "c" else ("c", key[1])]
        level = {"p": "province", "c": "city", "k": "county"}[key[0]]
        code = code_of(key)
        regions[key] = Region.create(code=code, name=f"随机{level}{code}", level=level, parent=parent,
                                     path=parent.path + code)
    serial = iter(range(1000))
    prefix = f"r{province}x"

    def account(name):
        return accounts.register(f"{prefix}{name}{next(serial)}", "随机用户", "Test@2025pw")

    for key, bound in shape["supers"].items():
        if bound:
            Binding.create(account=account("sup"), role=SUPER, region=regions[key])
    schools, admins = [], []
    for n, spec in enumerate(shape["schools"]):
        region = regions[spec["region"]]
        schools.append(School.create(code=f"{region.code}{n:04d}", name=f"随机学校{region.code}{n}",
                                     region=region, region_path=region.path, stage="小学"))
        admins.append(Binding.create(account=account("adm"), role=SCHOOL_ADMIN, school=schools[-1]))
    rows = []
    for n, spec in enumerate(shape["schools"]):
        moves = iter(spec["moves_to"])
        for fate in spec["fates"]:
            seed = next(serial)
            teacher = account("t")
            data = teacher_data(seed, id_number=valid_id_number(seed, region=f"{province}0000"))
            row = teacher_service.submit_application(teacher, schools[n].id, data)
            if fate == PENDING:
                rows.append((row.id, n, PENDING))
                continue
            if fate == REJECTED:
                teacher_service.reject(admins[n], row.id, "非本校（机构）教师")
                rows.append((row.id, n, REJECTED))
                continue
            teacher_service.approve(admins[n], row.id)
            if fate == REMOVED:
                teacher_service.remove_teacher(admins[n], row.id, "调离教学岗位")
                rows.append((row.id, n, REMOVED))
            elif fate == APPROVED:
                rows.append((row.id, n, APPROVED))
            elif (target := next(moves)) == n:  # a move to its own school is no move
                rows.append((row.id, n, APPROVED))
            else:
                moved = teacher_service.submit_application(teacher, schools[target].id, data)
                teacher_service.approve(admins[target], moved.id)
                rows += [(row.id, n, TRANSFERRED), (moved.id, target, APPROVED)]
    for spec, binding in zip(shape["schools"], admins):
        if not spec["admin"]:
            Binding.update(state="ended").where(Binding.id == binding.id).execute()
    return {"regions": regions, "schools": schools, "admins": admins, "rows": rows}


def progress_totals(text: str) -> tuple[str, int, int]:
    found = re.search(r'<tfoot><tr><th>合计</th><th>([^<]*)</th><th>[^<]*</th>'
                      r'<th class="num">(\d+)</th><th class="num">(\d+)</th>', text)
    return found.group(1), int(found.group(2)), int(found.group(3))


@TREE_SETTINGS
@given(shape=random_trees())
def test_sec03_random_trees_list_and_count_what_the_oracle_says(login_as, tree, shape):
    """Hypothesis builds random provinces (each example a new one beside the earlier ones) and
    signs in as a random admin inside: the ids on every tab of 教师管理 and its export, the tab
    counts, the 教师概况 totals of every region in scope, the school list and the 激活进度 totals
    equal what the oracle computes from the shape alone — nothing from a sibling or an earlier
    province, nothing missing."""
    built = build_random_tree(shape, next(PROVINCES), tree["regions"]["000000"])
    regions, schools, rows = built["regions"], built["schools"], built["rows"]
    kind, which = shape["actor"]
    if kind == "school":
        actor_account = built["admins"][which].account
        inside = [which]
    else:
        actor_account = accounts.register(f"a{regions[which].code}x{next(SERIAL)}", "随机专管", "Test@2025pw")
        Binding.create(account=actor_account, role="training", region=regions[which])
        inside = [n for n, s in enumerate(shape["schools"]) if under(which, s["region"])]
    client = login_as(actor_account.username)
    mine = [r for r in rows if r[1] in inside]
    for state in REVIEW_TABS:
        page = client.get(f"/teachers?state={state}")
        assert page.status_code == 200, (shape, state)
        assert listed_ids(page.text) == {r[0] for r in mine if r[2] == state}, (shape, state)
        assert tab_counts(page.text) == [sum(r[2] == s for r in mine) for s in REVIEW_TABS], shape
        export = client.get(f"/teachers/export.csv?state={state}")
        assert len(csv_records(export)) == sum(r[2] == state for r in mine), (shape, state)
    if kind == "school":
        assert client.get(f"/progress/{regions[('p',)].code}").status_code == 404
        assert client.get("/schools").status_code == 404
        return
    # 学校管理 lists the active schools of the subtree
    listed = {int(i) for i in re.findall(r'<tr id="school-(\d+)"', client.get("/schools").text)}
    assert listed == {schools[n].id for n in inside}, shape
    for key in (k for k in shape["keys"] if under(which, k)):
        within = [r for r in rows if under(key, shape["schools"][r[1]]["region"])]
        overview = client.get(f"/teachers/overview?region={regions[key].code}")
        assert overview_totals(overview.text) == (sum(r[2] == APPROVED for r in within),
                                                  sum(r[2] == PENDING for r in within)), (shape, key)
    # 激活进度 of the actor's own region (a region without sub-regions lists its schools instead)
    children = [k for k in shape["keys"] if len(k) == len(which) + 1 and under(which, k) and k != which]
    progress = client.get(f"/progress/{regions[which].code}")
    assert progress.status_code == 200
    if children:
        supers = sum(shape["supers"][k] for k in children)
        assert progress_totals(progress.text) == (
            f"{supers}/{len(children)} 已激活", len(inside),
            sum(shape["schools"][n]["admin"] for n in inside)), shape
    else:
        assert f"共 {len(inside)} 所学校(机构)" in progress.text, shape
    # and nothing of the province is visible from a sibling province of the fixture tree
    outsider = login_as("js_admin")
    assert outsider.get(f"/progress/{regions[('p',)].code}").status_code == 404
    assert not listed_ids(outsider.get("/teachers?state=approved").text) & {r[0] for r in rows}


PROVINCES = iter(range(41, 100))
SERIAL = iter(range(10**6))

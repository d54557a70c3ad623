"""审计日志 over HTTP: who reads which rows (against an independent oracle), filters, the htmx
fragment and the full page, 422 for bad filters, pages, the export equal to the screen, and
personal data masked on both."""
import csv
import html
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import form_post
from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.fixture_tree import REGIONS, SCHOOLS
from tests.test_scope_matrix import ACTORS, HX, SCHOOL_REGION, ancestors, binding_of
from yanxiu.masking import mask_id_number, mask_phone
from yanxiu.models import AuditLog, Binding
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.services import audit, audit_log, schools

PHONE, ID_NUMBER = valid_mobile(2468), valid_id_number(135)


@pytest.fixture
def sign_in(login_as, tree):
    """sign_in('multi:school') → a client of `multi` switched to its school-admin binding."""
    def _sign_in(actor: str):
        username, _, as_school = actor.partition(":")
        client = login_as(username)
        if as_school:
            binding = Binding.get((Binding.account == tree["accounts"][username])
                                  & Binding.school.is_null(False))
            assert form_post(client, "/account/binding", {"binding_id": binding.id}).status_code == 303
        return client
    return _sign_in


def cells(tr: str) -> list[str]:
    found = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in found]


def table(text: str) -> list[tuple[int, list[str]]]:
    """(audit id, the seven column cells) of every row shown."""
    return [(int(i), cells(tr)[:7]) for i, tr in re.findall(r'<tr id="audit-(\d+)">(.*?)</tr>', text, re.S)]


def shown_ids(client, query: str = "") -> list[int]:
    """The ids of every row listed, following the pager."""
    ids, number = [], 1
    while True:
        page = client.get(f"/audit?{query}&page={number}")
        assert page.status_code == 200
        ids += [i for i, _ in table(page.text)]
        if "下一页" not in page.text:
            return ids
        number += 1


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def probe(tree, region_code: str | None, target_id: str, **kwargs) -> AuditLog:
    path = tree["regions"][region_code].path if region_code else ""
    kwargs.setdefault("target_type", "region")
    return audit.record(kwargs.pop("action", "region.renamed"), target_id=target_id,
                        scope_path=path, **kwargs)


# ---------------------------------------------------------------- who reads what

@pytest.fixture
def probes(tree) -> dict[int, tuple[str | None, str | None]]:
    """A row in every region, one about every school and one in no region:
    {id: (region code or None, school code or None)}."""
    found = {}
    for code, *_ in REGIONS:
        found[probe(tree, code, f"r{code}").id] = (code, None)
    for code, region in SCHOOL_REGION.items():
        school = tree["schools"][code]
        entry = audit.record("school.restored", target_type="school", target_id=school.id,
                             scope_path=school.region_path)
        found[entry.id] = (region, code)
    found[probe(tree, None, "nowhere").id] = (None, None)
    return found


def oracle_reads(actor: str, region: str | None, school: str | None) -> bool:
    role, scope = binding_of(actor)
    if role == "operator":
        return True
    if role == SCHOOL_ADMIN:
        return school == scope
    return role in ("super", "training") and region is not None and scope in ancestors(region)


@pytest.mark.parametrize("actor", ACTORS)
def test_the_log_follows_the_oracle(sign_in, probes, actor):
    client = sign_in(actor)
    if binding_of(actor)[0] is None:
        for url in ("/audit", "/audit/export.csv", "/audit/export.xlsx"):
            for headers in ({}, HX):
                assert client.get(url, headers=headers).status_code == 404, url
        return
    shown = shown_ids(client)
    expected = {i for i, where in probes.items() if oracle_reads(actor, *where)}
    if binding_of(actor)[0] == "operator":
        expected = {i for (i,) in AuditLog.select(AuditLog.id).tuples()}
    assert set(shown) == expected
    assert shown == sorted(shown, reverse=True)  # newest first
    exported = csv_rows(client.get("/audit/export.csv"))
    assert len(exported) == len(expected) + 1


def test_a_county_reads_its_rows_not_a_sibling_countys_and_the_province_both(login_as, tree):
    xihu = probe(tree, "330106", "xihu-row").id
    shangcheng = probe(tree, "330102", "shangcheng-row").id
    assert set(shown_ids(login_as("xh_admin"))) == {xihu}
    assert set(shown_ids(login_as("zj_admin"))) == {xihu, shangcheng}
    assert {xihu, shangcheng} <= set(shown_ids(login_as("operator")))


def test_a_school_admin_reads_its_teachers_rows_only(sign_in, tree, teachers):
    mine = {str(m.id) for m in teachers["memberships"].values() if m.school.code == SCHOOLS[0][0]}
    client = sign_in("school_admin")
    rows = table(client.get("/audit?target_type=membership").text)
    assert rows and {r[4] for _, r in rows} <= {f"教师申请 {i}" for i in mine}
    assert {r[3] for _, r in rows} >= {"教师提交审核", "审核通过"}


def test_the_nav_links_the_log_for_admins_only(login_as):
    assert 'href="/audit"' in login_as("xh_admin").get("/workbench").text
    assert 'href="/audit"' in login_as("school_admin").get("/workbench").text
    assert 'href="/audit"' not in login_as("teacher").get("/me").text


# ---------------------------------------------------------------- page, fragment, filters

def test_full_page_and_fragment(login_as, tree):
    probe(tree, "330106", "row-a")
    client = login_as("xh_admin")
    page = client.get("/audit")
    assert page.status_code == 200 and "<html" in page.text
    assert '<form class="filters" method="get" action="/audit"' in page.text
    assert 'hx-push-url="true"' in page.text and 'hx-target="#audit-table"' in page.text
    assert [c for _, c in table(page.text)][0][3:5] == ["区域更名", "区域 row-a"]
    fragment = client.get("/audit", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert '<form class="filters"' not in fragment.text
    assert table(fragment.text) == table(page.text)
    assert "Vary" in fragment.headers and "HX-Request" in fragment.headers["Vary"]


def test_filters_narrow_the_list(login_as, tree):
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    probe(tree, "330106", "mine", actor=tree["accounts"]["xh_admin"], binding=xh,
          action="school.restored", target_type="school")
    probe(tree, "330106", "refused", action="code.redeem_failed", target_type="permission_code",
          result="refused")
    probe(tree, "330106", "odd", action="custom.thing")
    client = login_as("xh_admin")

    def targets(query):
        return [c[4] for _, c in table(client.get(f"/audit?{query}", headers=HX).text)]
    assert targets("") == ["区域 odd", "权限码 refused", "学校(机构) mine"]
    assert targets("actor=xh_admin") == ["学校(机构) mine"]
    assert targets("actor=zj_admin") == []
    assert targets("action=code.redeem_failed") == ["权限码 refused"]
    assert targets("target_type=school") == ["学校(机构) mine"]
    assert targets("target_id=odd") == ["区域 odd"]
    assert targets("result=refused") == ["权限码 refused"]
    assert targets("result=ok&target_type=region") == ["区域 odd"]
    page = client.get("/audit?action=code.redeem_failed").text
    # the select offers the actions present, labelled, unknown ones raw
    assert '<option value="code.redeem_failed" selected>权限码绑定失败</option>' in page
    assert '<option value="custom.thing">custom.thing</option>' in page
    assert '<option value="school">学校(机构)</option>' in page
    assert "没有符合条件的记录" in client.get("/audit?actor=nobody").text


def test_date_filters_take_shanghai_days(login_as, tree, monkeypatch):
    import datetime
    monkeypatch.setattr(audit, "now", lambda: datetime.datetime(2025, 7, 1, 16, 30))
    probe(tree, "330106", "late")
    monkeypatch.undo()
    client = login_as("xh_admin")
    row = table(client.get("/audit?start=2025-07-02&end=2025-07-02").text)
    assert [c[0] for _, c in row] == ["2025-07-02 00:30:00"]
    assert table(client.get("/audit?end=2025-07-01").text) == []


@pytest.mark.parametrize("query,message", [
    ("start=2025-02-30", "开始日期“2025-02-30”无效"),
    ("end=abc", "结束日期“abc”无效"),
    ("start=2025-07-02&end=2025-07-01", "结束日期不能早于开始日期"),
    ("result=maybe", "结果只能选择"),
])
def test_bad_filters_answer_422_in_chinese(login_as, tree, query, message):
    probe(tree, "330106", "row")
    client = login_as("xh_admin")
    for headers in ({}, HX):
        response = client.get(f"/audit?{query}", headers=headers)
        assert response.status_code == 422 and message in response.text
        assert table(response.text) == []
    page = client.get(f"/audit?{query}").text
    assert 'aria-invalid="true"' in page
    export = client.get(f"/audit/export.csv?{query}")
    assert export.status_code == 422 and message in export.text


@pytest.mark.parametrize("query", ["page=abc", "page=-3", "page=99999", "actor=%00x",
                                   "start=%00", "action=" + "x" * 500, "target_id=<b>"])
def test_odd_arguments_never_fail(login_as, tree, query):
    probe(tree, "330106", "row")
    response = login_as("xh_admin").get(f"/audit?{query}")
    # A query holding U+0000 is refused before any view (yanxiu/security.py): 400, in Chinese.
    assert response.status_code in ((400,) if "%00" in query else (200, 422))
    assert "<b>" not in response.text


def test_unknown_export_format_is_404(login_as):
    assert login_as("xh_admin").get("/audit/export.pdf").status_code == 404


def test_details_are_escaped(login_as, tree):
    probe(tree, "330106", "xss", after={"name": "<script>alert(1)</script>"})
    text = login_as("xh_admin").get("/audit").text
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<details>" in text and "<summary>查看</summary>" in text


def test_empty_states(sign_in, tree):
    assert "还没有审计记录" in sign_in("school_admin").get("/audit").text
    text = sign_in("xh_admin").get("/audit?actor=nobody").text
    assert "没有符合条件的记录" in text and "导出 CSV" not in text


def test_pages_of_fifty_newest_first(login_as, tree):
    ids = [probe(tree, "330106", f"n{n}").id for n in range(120)]
    client = login_as("xh_admin")
    first = client.get("/audit")
    assert [i for i, _ in table(first.text)] == ids[::-1][:50]
    assert "第 1 / 3 页（共 120 条）" in first.text and "共 120 条记录" in first.text
    last = client.get("/audit?page=3")
    assert [i for i, _ in table(last.text)] == ids[::-1][100:]
    assert "上一页" in last.text and "下一页" not in last.text
    kept = client.get("/audit?target_type=region&page=2").text
    assert "page=3" in kept and "target_type=region" in html.unescape(kept)


# ---------------------------------------------------------------- export and personal data

def test_the_export_equals_the_screen(login_as, tree):
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    probe(tree, "330106", "one", actor=tree["accounts"]["xh_admin"], binding=xh, address="10.1.2.3",
          before={"name": "旧"}, after={"name": "新"})
    probe(tree, "330106", "two", result="refused", action="code.redeem_failed")
    probe(tree, "330106", "=cmd|' /C calc'!A0", target_type="")
    client = login_as("xh_admin")
    screen = [c for _, c in table(client.get("/audit").text)]
    assert len(screen) == 3
    exported = csv_rows(client.get("/audit/export.csv"))
    assert exported[0] == audit_log.EXPORT_HEADERS
    assert [r[:7] for r in exported[1:]] == [
        [c if not c.startswith("=") else "'" + c for c in row] for row in screen]
    assert exported[-1][7:] == ['{"name": "旧"}', '{"name": "新"}']
    assert exported[1][4] == "'=cmd|' /C calc'!A0" and exported[2][4] == "区域 two"
    book = load_workbook(io.BytesIO(client.get("/audit/export.xlsx").data))
    sheet = [[c if c is not None else "" for c in row] for row in book.active.iter_rows(values_only=True)]
    assert sheet == exported
    filtered = csv_rows(client.get("/audit/export.csv?result=refused"))
    assert [r[4] for r in filtered[1:]] == ["区域 two"]


def test_a_clear_phone_in_a_school_update_is_masked_on_screen_and_in_the_export(login_as, tree):
    """The school.updated row keeps the contact phone as written; the viewer and its exports
    show it masked (and the suite's personal-data guard fails the test otherwise)."""
    school = tree["schools"][SCHOOLS[0][0]]
    xh = Binding.get(Binding.account == tree["accounts"]["xh_admin"])
    schools.update_school(xh, school, {"contact_phone": PHONE}, school.version, fields=["contact_phone"])
    probe(tree, "330106", "id-in-text", after={"note": f"身份证 {ID_NUMBER}"})
    assert PHONE in AuditLog.get(AuditLog.action == "school.updated").after
    client = login_as("xh_admin")
    page = client.get("/audit").text
    assert mask_phone(PHONE) in page and PHONE not in page
    assert mask_id_number(ID_NUMBER) in page and ID_NUMBER not in page
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/audit/export.{fmt}")
        assert response.status_code == 200
    text = client.get("/audit/export.csv").data.decode("utf-8-sig")
    assert mask_phone(PHONE) in text and PHONE not in text and ID_NUMBER not in text
    assert mask_phone(PHONE) in login_as("zj_admin").get("/audit", headers=HX).text


def test_a_phone_typed_as_a_user_name_is_masked(login_as, tree):
    """A failed login records the name typed, which may be a mobile number."""
    audit.record("login.failed", target_type="account", target_id=PHONE, result="refused")
    page = login_as("operator").get("/audit?action=login.failed").text
    assert f"账号 {mask_phone(PHONE)}" in page and PHONE not in page


def test_an_export_over_the_limit_is_cut_with_a_message(login_as, tree, monkeypatch):
    for n in range(4):
        probe(tree, "330106", f"c{n}")
    monkeypatch.setattr(audit_log, "EXPORT_LIMIT", 3)
    client = login_as("xh_admin")
    assert "导出最多包含最新的 3 条记录" in client.get("/audit").text
    assert "导出最多包含最新的" not in client.get("/audit?target_id=c1").text
    rows = csv_rows(client.get("/audit/export.csv"))
    assert [r[4] for r in rows[1:4]] == ["区域 c3", "区域 c2", "区域 c1"]
    assert rows[4][0].startswith("（仅导出最新的 3 条，共 4 条")


# ---------------------------------------------------------------- one row per act (row 19)

ADDRESS = "10.19.0.7"


def test_sec19_each_kind_of_act_writes_one_row_with_who_binding_what_target_time_address_result(
        app, tree, teachers):
    """Logins (ok, failed), refusals, writes, a reveal, a code's issue and redemption, logout:
    each act done over HTTP from one address writes exactly one audit row naming who, under
    which binding, what, its target, when, from where and with what result — and the chain
    verifies afterwards."""
    from tests.conftest import PASSWORD, csrf_token
    from yanxiu.models import Account, Membership, PermissionCode, School
    from yanxiu.models.base import now
    from yanxiu.services import accounts

    def client_of(username=None):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = ADDRESS
        if username:
            assert form_post(client, "/login", {"username": username, "password": PASSWORD}).status_code == 303
        return client

    def binding(username):
        return Binding.select().join(Account).where(Account.username == username).order_by(Binding.id).get().id

    def act(do, action, who, under, target, result="ok", also=()):
        """Run `do`; exactly one new row of `action`, with these fields (`target` and `under` may
        be functions, asked after the act: the id of what it created), and the rows of the acts
        it goes on to (`also`: redeeming a code switches to the new binding, a second act)."""
        last = AuditLog.select(AuditLog.id).order_by(AuditLog.id.desc()).first()
        start = now()
        do()
        target = target() if callable(target) else target
        under = under() if callable(under) else under
        rows = list(AuditLog.select().where(AuditLog.id > (last.id if last else 0)).order_by(AuditLog.id))
        assert [r.action for r in rows] == [action, *also], action
        row = rows[0]
        account = Account.get(Account.username == who) if who else None
        assert (row.actor_id, row.binding_id, (row.target_type, row.target_id), row.address, row.result) == \
            (account.id if account else None, under, (target[0], str(target[1])), ADDRESS, result), action
        assert start <= row.at <= now(), action
        return row

    anonymous = client_of()
    xh_account = tree["accounts"]["xh_admin"]
    act(lambda: form_post(anonymous, "/login", {"username": "xh_admin", "password": "Wrong-pass-1"}),
        "login.failed", "xh_admin", None, ("account", "xh_admin"), "refused")
    clients = {}
    act(lambda: clients.setdefault("xh", client_of("xh_admin")), "login.ok", "xh_admin",
        binding("xh_admin"), ("account", xh_account.id))
    xh = clients["xh"]
    act(lambda: form_post(xh, "/schools/new", {"code": "3301069201", "name": "西湖区审计小学",
                                               "kind": "school", "stage": "小学", "ownership": "公办"}),
        "school.created", "xh_admin", binding("xh_admin"),
        lambda: ("school", School.get(School.code == "3301069201").id))
    created = School.get(School.code == "3301069201")
    act(lambda: form_post(xh, f"/schools/{created.id}", {
        "code": created.code, "name": "西湖区审计小学（改）", "kind": "school", "stage": "小学",
        "ownership": "公办", "version": created.version}),
        "school.updated", "xh_admin", binding("xh_admin"), ("school", created.id))
    act(lambda: xh.post("/account/binding", data={"binding_id": binding("zj_admin"),
                                                  "csrf_token": csrf_token(xh)}),
        "binding.switch", "xh_admin", binding("xh_admin"), ("binding", binding("zj_admin")), "refused")

    zj = client_of("zj_super")
    slips = []
    issued = act(lambda: slips.append(form_post(zj, "/codes", {"grant": "training:330000", "days": "30"})),
                 "code.issued", "zj_super", binding("zj_super"), lambda: ("permission_code", PermissionCode.get().id))
    assert issued.scope_path == tree["regions"]["330000"].path
    plain = re.search(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){3}", slips[0].text).group(0)
    accounts.register("newcomer", "新管理员", PASSWORD)
    newcomer = client_of("newcomer")
    act(lambda: form_post(newcomer, "/bind", {"code": "ABCD-EFGH-JKMN-PQRS"}),
        "code.redeem_failed", "newcomer", None, ("permission_code", ""), "refused")
    act(lambda: form_post(newcomer, "/bind", {"code": plain}),
        "code.redeemed", "newcomer", lambda: binding("newcomer"), ("permission_code", issued.target_id),
        also=("binding.switch",))

    school = client_of("school_admin")
    pending = teachers["memberships"]["t_pending"]
    act(lambda: form_post(school, f"/teachers/{pending.id}/approve"), "teacher.approved", "school_admin",
        binding("school_admin"), ("membership", pending.id))
    assert Membership.get_by_id(pending.id).state == "approved"
    act(lambda: form_post(school, f"/teachers/{pending.id}/reveal", {"field": "id_number"}, headers=HX),
        "teacher.revealed", "school_admin", binding("school_admin"), ("membership", pending.id))
    act(lambda: form_post(school, "/logout"), "logout", "school_admin", binding("school_admin"),
        ("account", tree["accounts"]["school_admin"].id))
    assert audit.verify_chain() == []


def test_sec19_nothing_in_the_product_deletes_or_rewrites_audit_rows():
    """Retention (≥ 6 months, 等保二级): no code path deletes or updates an audit row; rows only
    ever get appended (yanxiu/services/audit.py), and a restore brings back a backup's rows whole."""
    from pathlib import Path
    package = Path(__file__).resolve().parents[2] / "yanxiu"
    offenders = []
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"AuditLog\s*\.\s*(delete|update|delete_by_id|truncate_table|drop_table)\b", text) or \
                re.search(r"(DELETE\s+FROM|UPDATE|TRUNCATE)\s+\"?audit_log", text, re.I) or \
                (re.search(r"\.delete_instance\(", text) and "AuditLog" in text):
            offenders.append(str(path.relative_to(package.parent)))
    assert offenders == []

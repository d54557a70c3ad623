"""审计日志 viewer rules: who reads which rows, each filter, dates in Asia/Shanghai, labels, the
masking of personal data in before/after, and the export's cap."""
import datetime
import json

import pytest

from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.fixture_tree import SCHOOLS
from yanxiu.masking import mask_id_number, mask_in_text, mask_phone
from yanxiu.models import AuditLog, Binding, PermissionCode
from yanxiu.scope import Scope
from yanxiu.services import audit, audit_log, schools
from yanxiu.services.audit_log import AuditFilters, parse_filters

PHONE, ID_NUMBER = valid_mobile(4321), valid_id_number(77)
XIHU_FIRST, WENXIN = SCHOOLS[0][0], SCHOOLS[1][0]


def binding_of(tree, username: str, school: bool = False) -> Binding:
    query = Binding.select().where(Binding.account == tree["accounts"][username])
    return query.where(Binding.school.is_null(not school)).get()


def scope_of(tree, username: str, school: bool = False) -> Scope:
    return Scope.of(binding_of(tree, username, school))


def probe(tree, region_code: str | None, target_id: str, **kwargs) -> AuditLog:
    """One row in a region (None: no region, as logins are), named by its target id."""
    path = tree["regions"][region_code].path if region_code else ""
    kwargs.setdefault("target_type", "region")
    return audit.record(kwargs.pop("action", "region.renamed"), target_id=target_id,
                        scope_path=path, **kwargs)


def visible(scope: Scope, filters: AuditFilters = AuditFilters()) -> list[str]:
    return [e.target_id for e in audit_log.entries(scope, filters)]


@pytest.fixture
def regional(tree):
    for code in ("330106", "330102", "330203", "320102", "330000"):
        probe(tree, code, f"r{code}")
    probe(tree, None, "nowhere")


@pytest.mark.parametrize("username,expected", [
    ("xh_admin", {"r330106"}),
    ("hz_admin", {"r330106", "r330102"}),
    ("nb_admin", {"r330203"}),
    ("zj_admin", {"r330106", "r330102", "r330203", "r330000"}),
    ("js_admin", {"r320102"}),
    ("operator", {"r330106", "r330102", "r330203", "r320102", "r330000", "nowhere"}),
])
def test_a_region_admin_reads_its_subtree_only(tree, regional, username, expected):
    seen = set(visible(scope_of(tree, username))) - {str(a.id) for a in tree["accounts"].values()}
    assert seen == expected


def test_rows_come_newest_first(tree, regional):
    ids = [e.id for e in audit_log.entries(scope_of(tree, "operator"), AuditFilters())]
    assert ids == sorted(ids, reverse=True) and len(ids) == AuditLog.select().count()


def test_a_school_admin_reads_only_rows_about_its_own_school(tree):
    first, wenxin = tree["schools"][XIHU_FIRST], tree["schools"][WENXIN]
    xh, own = binding_of(tree, "xh_admin"), binding_of(tree, "school_admin", school=True)
    county = tree["regions"]["330106"].path
    schools.update_school(xh, first, {"address": "文一路 1 号"}, first.version,
                          fields=["address"])
    schools.update_school(xh, wenxin, {"address": "文二路 2 号"}, wenxin.version,
                          fields=["address"])
    mine = audit.record("binding.ended", target_type="binding", target_id=own.id, scope_path=county)
    acted = audit.record("notice.read", binding=own, target_type="notice", target_id="7",
                         scope_path=county)
    from yanxiu.models.account import SCHOOL_ADMIN
    from yanxiu.services.codes import issue_permission_code
    issue_permission_code(xh, SCHOOL_ADMIN, school=wenxin)
    probe(tree, "330106", "county-row")
    # Done under the school's binding but outside any region (a login): not the region's log.
    audit.record("login.ok", binding=own, target_type="account", target_id="x")

    seen = {(e.action, e.target_id) for e in audit_log.entries(scope_of(tree, "school_admin", True),
                                                               AuditFilters())}
    assert seen == {("school.updated", str(first.id)), ("binding.ended", str(own.id)),
                    ("notice.read", acted.target_id)}
    wenxin_code = PermissionCode.get(PermissionCode.school == wenxin)
    other = {(e.action, e.target_id) for e in audit_log.entries(scope_of(tree, "multi", True),
                                                                AuditFilters())}
    assert other == {("school.updated", str(wenxin.id)), ("code.issued", str(wenxin_code.id))}
    assert mine.id not in [e.id for e in audit_log.entries(scope_of(tree, "multi", True), AuditFilters())]
    # the county reads them all
    assert {"school.updated", "binding.ended", "notice.read", "code.issued", "region.renamed"} <= {
        e.action for e in audit_log.entries(scope_of(tree, "xh_admin"), AuditFilters())}


def test_a_school_admin_reads_its_teachers_applications_only(tree, teachers):
    scope = scope_of(tree, "school_admin", True)
    rows = list(audit_log.entries(scope, AuditFilters(target_type="membership")))
    mine = {str(m.id) for m in teachers["memberships"].values()
            if m.school.code == XIHU_FIRST}
    assert rows and {e.target_id for e in rows} <= mine
    assert {e.action for e in rows} >= {"teacher.applied", "teacher.approved"}


def test_each_filter_narrows(tree, regional):
    xh = binding_of(tree, "xh_admin")
    actor = tree["accounts"]["xh_admin"]
    probe(tree, "330106", "by-xh", actor=actor, binding=xh, action="school.restored",
          target_type="school")
    probe(tree, "330106", "refused", action="code.redeem_failed", target_type="permission_code",
          result="refused")
    scope = scope_of(tree, "xh_admin")
    assert visible(scope, AuditFilters(actor="xh_admin")) == ["by-xh"]
    assert visible(scope, AuditFilters(actor="nobody")) == []
    assert visible(scope, AuditFilters(action="school.restored")) == ["by-xh"]
    assert visible(scope, AuditFilters(target_type="permission_code")) == ["refused"]
    assert visible(scope, AuditFilters(target_id="r330106")) == ["r330106"]
    assert visible(scope, AuditFilters(target_type="school", target_id="r330106")) == []
    assert visible(scope, AuditFilters(result="refused")) == ["refused"]
    assert "refused" not in visible(scope, AuditFilters(result="ok"))
    # filters combine, and never reach outside the scope
    assert visible(scope_of(tree, "js_admin"), AuditFilters(actor="xh_admin")) == []


def test_dates_are_days_in_shanghai(tree, monkeypatch):
    # 2025-07-01 16:30 UTC is 2025-07-02 00:30 in Shanghai.
    for stamp, name in ((datetime.datetime(2025, 7, 1, 15, 59), "before-midnight"),
                        (datetime.datetime(2025, 7, 1, 16, 30), "after-midnight")):
        monkeypatch.setattr(audit, "now", lambda stamp=stamp: stamp)
        probe(tree, "330106", name)
    scope = scope_of(tree, "xh_admin")

    def on(start="", end=""):
        filters, errors = parse_filters({"start": start, "end": end})
        assert errors == {}
        return visible(scope, filters)
    assert on("2025-07-02", "2025-07-02") == ["after-midnight"]
    assert on("2025-07-01", "2025-07-01") == ["before-midnight"]
    assert on(start="2025-07-02") == ["after-midnight"]
    assert on(end="2025-07-01") == ["before-midnight"]
    assert on("2025-07-01", "2025-07-02") == ["after-midnight", "before-midnight"]
    assert audit.verify_chain() == []
    row = audit_log.present([AuditLog.get(AuditLog.target_id == "after-midnight")])[0]
    assert row.time == "2025-07-02 00:30:00"


@pytest.mark.parametrize("args,field,message", [
    ({"start": "2025-13-01"}, "start", "开始日期"),
    ({"end": "yesterday"}, "end", "结束日期"),
    ({"start": "0001-01-01"}, "start", "开始日期"),
    ({"end": "9999-12-31"}, "end", "结束日期"),
    ({"start": "2025-07-02", "end": "2025-07-01"}, "end", "不能早于"),
    ({"result": "maybe"}, "result", "成功"),
])
def test_bad_filters_are_named_in_chinese(args, field, message):
    _, errors = parse_filters(args)
    assert list(errors) == [field] and message in errors[field]


def test_filters_are_trimmed_and_capped():
    filters, errors = parse_filters({"actor": " zj\x00_admin ", "action": "x" * 99, "result": "ok",
                                     "start": "2025-07-01"})
    assert errors == {}
    assert filters.actor == "zj_admin" and len(filters.action) == 40
    assert filters.start_on == datetime.date(2025, 7, 1)
    assert filters.args() == {"actor": "zj_admin", "action": "x" * 40, "result": "ok",
                              "start": "2025-07-01"}


def test_labels_and_cells(tree):
    xh = binding_of(tree, "xh_admin")
    account = tree["accounts"]["xh_admin"]
    audit.record("school.restored", actor=account, binding=xh, target_type="school", target_id="9",
                 scope_path=tree["regions"]["330106"].path, address="10.0.0.1")
    audit.record("something.new", target_type="gadget", target_id="5", result="refused")
    known, unknown = audit_log.present(list(AuditLog.select().where(AuditLog.action.in_(
        ["school.restored", "something.new"])).order_by(AuditLog.id)))
    assert known.cells[1:] == ["西湖专管（xh_admin）", "西湖区 · 研修专项管理员", "恢复学校(机构)",
                               "学校(机构) 9", "成功", "10.0.0.1"]
    assert unknown.cells[1:] == ["—", "—", "something.new", "gadget 5", "拒绝", "—"]
    assert unknown.refused and not known.refused
    school_admin = audit_log.present([audit.record("x", binding=binding_of(tree, "school_admin", True))])
    assert school_admin[0].identity == "西湖区第一小学 · 学校管理员"


def test_targets_are_named_while_they_exist(tree):
    first = tree["schools"][XIHU_FIRST]
    rows = audit_log.present([
        audit.record("school.restored", target_type="school", target_id=first.id),
        audit.record("region.renamed", target_type="region", target_id="330106"),
        audit.record("school.deleted", target_type="school", target_id="999999"),
        audit.record("region.renamed", target_type="region", target_id="339999"),
    ])
    assert [r.target for r in rows] == [f"学校(机构) {first.id}（西湖区第一小学）", "区域 330106（西湖区）",
                                        "学校(机构) 999999", "区域 339999"]


def test_choices_list_what_is_present_with_labels(tree, regional):
    probe(tree, "330106", "odd", action="custom.thing", target_type="gadget")
    scope = scope_of(tree, "xh_admin")
    assert audit_log.action_choices(scope) == [("custom.thing", "custom.thing"),
                                              ("region.renamed", "区域更名")]
    assert ("login.ok", "登录") not in audit_log.action_choices(scope)
    assert ("login.ok", "登录") in audit_log.action_choices(scope, "login.ok")
    assert dict(audit_log.target_type_choices(scope)) == {"region": "区域", "gadget": "gadget"}


def test_mask_in_text_masks_mobiles_and_id_numbers_only():
    text = f"电话{PHONE}，身份证{ID_NUMBER}。"
    assert mask_in_text(text) == f"电话{mask_phone(PHONE)}，身份证{mask_id_number(ID_NUMBER)}。"
    for kept in ("0571-88123456", "3301060001", f"{PHONE}9", f"ab{PHONE}", "12345678901", ""):
        assert mask_in_text(kept) == kept
    assert mask_in_text(mask_in_text(text)) == mask_in_text(text)


def test_details_are_masked_pretty_and_compact():
    stored = json.dumps({"contact_phone": PHONE, "landline": "0571-88123456",
                         "phone": "0571-88123456", "id_number": ID_NUMBER,
                         "body": f"请联系{PHONE}", "rows": [{"n": int(PHONE)}], "ok": True},
                        ensure_ascii=False)
    pretty, compact = audit_log.masked_details(stored)
    assert PHONE not in pretty + compact and ID_NUMBER not in pretty + compact
    value = json.loads(compact)
    assert value == json.loads(pretty)
    assert value == {"contact_phone": mask_phone(PHONE), "landline": "0571-88123456",
                     "phone": mask_phone("0571-88123456"), "id_number": mask_id_number(ID_NUMBER),
                     "body": f"请联系{mask_phone(PHONE)}", "rows": [{"n": mask_phone(PHONE)}],
                     "ok": True}
    assert "\n  " in pretty and "\n" not in compact
    assert audit_log.masked_details("") == ("", "")
    assert audit_log.masked_details(f"not json {PHONE}") == (f"not json {mask_phone(PHONE)}",) * 2


def test_a_school_update_with_a_clear_phone_is_masked_when_shown(tree):
    first = tree["schools"][XIHU_FIRST]
    schools.update_school(binding_of(tree, "xh_admin"), first, {"contact_phone": PHONE},
                          first.version, fields=["contact_phone"])
    entry = AuditLog.get(AuditLog.action == "school.updated")
    assert PHONE in entry.after  # the log keeps what was written; the viewer masks it
    row = audit_log.present([entry])[0]
    assert PHONE not in " ".join(row.export_cells + [row.before, row.after])
    assert mask_phone(PHONE) in row.after and mask_phone(PHONE) in row.after_compact


def test_the_export_is_capped_with_a_last_line_saying_so(tree, monkeypatch):
    for n in range(5):
        probe(tree, "330106", f"row{n}")
    scope = scope_of(tree, "xh_admin")
    rows, total = audit_log.export_rows(scope, AuditFilters())
    assert total == 5 and [r[4] for r in rows] == [f"区域 row{n}" for n in range(4, -1, -1)]
    assert all(len(r) == len(audit_log.EXPORT_HEADERS) for r in rows)
    monkeypatch.setattr(audit_log, "EXPORT_LIMIT", 3)
    rows, total = audit_log.export_rows(scope, AuditFilters())
    assert total == 5 and len(rows) == 4
    assert [r[4] for r in rows[:3]] == ["区域 row4", "区域 row3", "区域 row2"]
    assert "仅导出最新的 3 条，共 5 条" in rows[3][0]

"""API tokens: issue (operator only, shown once, stored hashed), revoke, authenticate, the
shared per-address throttle, the audit, and the batch submission behind POST /api/v1/records."""
import datetime
import hashlib
import re

import pytest

from tests.services.test_rollups import binding_of, make_programme
from yanxiu.models import ApiToken, AuditLog, Course, LearningRecord, LoginFailure
from yanxiu.models.base import now
from yanxiu.services import accounts, api_tokens, programmes
from yanxiu.services.api_tokens import TokenError, TokenThrottled

ADDRESS = "198.51.100.7"


def first_course(programme) -> Course:
    return programme.courses.order_by(Course.id).first()


def record(programme, external_id="e1", **overrides) -> dict:
    """One valid item for the fixture teacher `teacher`, in the programme's first course."""
    item = {"external_id": external_id, "teacher": {"account": "teacher"}, "programme": programme.id,
            "course": first_course(programme).id, "minutes": 45,
            "occurred_at": "2025-07-15T20:30:00+08:00"}
    return item | overrides


def bearer(clear: str) -> str:
    return f"Bearer {clear}"


def issue(tree, name="国家研修平台", region=None):
    return api_tokens.issue_token(binding_of(tree, "operator"), name, region, address=ADDRESS)


def test_a_token_is_random_prefixed_and_stored_only_as_its_hash(tree):
    token, clear = issue(tree)
    assert re.fullmatch(r"yx_[A-Za-z0-9_-]{43}", clear)  # 43 × 6 bits ≥ 256 bits
    assert token.token_hash == hashlib.sha256(clear.encode()).hexdigest()
    assert token.hint == clear[:8] and token.region_id is None and token.revoked_at is None
    stored = ApiToken.get_by_id(token.id)
    assert clear not in str(stored.__data__)
    others = {issue(tree, f"平台{i}")[1] for i in range(20)}
    assert len(others) == 20 and clear not in others


def test_issue_and_revoke_are_audited_without_the_clear_token(tree):
    token, clear = issue(tree, region=tree["regions"]["330000"])
    api_tokens.revoke_token(binding_of(tree, "operator"), token, address=ADDRESS)
    rows = list(AuditLog.select().where(AuditLog.action.startswith("api_token.")).order_by(AuditLog.id))
    assert [r.action for r in rows] == ["api_token.issued", "api_token.revoked"]
    assert all(r.target_id == str(token.id) and r.address == ADDRESS for r in rows)
    assert rows[0].scope_path == tree["regions"]["330000"].path and "330000" in rows[0].after
    for row in AuditLog.select():
        assert clear not in str(row.__data__) and clear[8:20] not in str(row.__data__)


@pytest.mark.parametrize("username", ["zj_super", "zj_admin", "xh_admin", "school_admin"])
def test_only_the_operator_issues_and_revokes(tree, username):
    with pytest.raises(TokenError, match="平台运维"):
        api_tokens.issue_token(binding_of(tree, username), "越权令牌")
    token, _ = issue(tree)
    with pytest.raises(TokenError, match="平台运维"):
        api_tokens.revoke_token(binding_of(tree, username), token)
    assert ApiToken.select().count() == 1 and ApiToken.get().revoked_at is None


@pytest.mark.parametrize("name,region,message", [
    ("", None, "请填写令牌名称"), ("   ", None, "请填写令牌名称"), ("长" * 101, None, "100"),
    ("杭州平台", "330100", "省级"), ("西湖平台", "330106", "省级"),
])
def test_bad_issue_input_is_refused(tree, name, region, message):
    with pytest.raises(TokenError, match=message):
        issue(tree, name, tree["regions"][region] if region else None)
    assert ApiToken.select().count() == 0


def test_authenticate_finds_the_live_token_only(tree):
    token, clear = issue(tree)
    assert api_tokens.authenticate(bearer(clear), address=ADDRESS).id == token.id
    assert api_tokens.authenticate(f"bearer   {clear}", address=ADDRESS).id == token.id
    api_tokens.revoke_token(binding_of(tree, "operator"), token)
    assert api_tokens.authenticate(bearer(clear), address=ADDRESS) is None
    with pytest.raises(TokenError, match="已被吊销"):
        api_tokens.revoke_token(binding_of(tree, "operator"), ApiToken.get_by_id(token.id))


@pytest.mark.parametrize("header", [
    "Bearer yx_" + "A" * 43, "Bearer " + "A" * 46, "Basic dXNlcjpwYXNz", "yx_" + "A" * 43,
    "Bearer", "Bearer yx_short", "Bearer " + "x" * 5000,
])
def test_a_bad_credential_is_refused_and_counted(tree, header):
    issue(tree)
    assert api_tokens.authenticate(header, address=ADDRESS) is None
    assert LoginFailure.select().where(LoginFailure.address == ADDRESS).count() == 1
    refused = AuditLog.get(AuditLog.action == "api.auth_failed")
    assert refused.result == "refused" and refused.address == ADDRESS


def test_a_near_miss_of_a_real_token_is_refused(tree):
    _, clear = issue(tree)
    last = clear[-1]
    for wrong in (clear[:-1] + ("A" if last != "A" else "B"), clear + "x", clear[:-1], clear.upper()):
        if wrong != clear:
            assert api_tokens.authenticate(bearer(wrong), address=ADDRESS) is None


@pytest.mark.parametrize("header", [None, ""])
def test_no_credential_is_not_a_failure(tree, header):
    assert api_tokens.authenticate(header, address=ADDRESS) is None
    assert LoginFailure.select().count() == 0


def test_sec07_failed_bearer_tokens_are_throttled_per_address(tree):
    _, clear = issue(tree)
    for _ in range(accounts.ADDRESS_LIMIT):
        assert api_tokens.authenticate("Bearer yx_" + "B" * 43, address=ADDRESS) is None
    # Once full, even the right token is refused: a guess must not learn it was right.
    with pytest.raises(TokenThrottled, match="次数过多"):
        api_tokens.authenticate(bearer(clear), address=ADDRESS)
    assert api_tokens.authenticate(bearer(clear), address="198.51.100.8") is not None
    LoginFailure.update(at=now() - accounts.ADDRESS_WINDOW - datetime.timedelta(seconds=1)).execute()
    assert api_tokens.authenticate(bearer(clear), address=ADDRESS) is not None


def test_sec07_failed_logins_and_failed_tokens_share_the_address_limit(tree):
    _, clear = issue(tree)
    for _ in range(accounts.ADDRESS_LIMIT - 1):
        with pytest.raises(accounts.AccountError):
            accounts.authenticate("operator", "wrong-password-1", address=ADDRESS)
    assert api_tokens.authenticate("Bearer yx_" + "C" * 43, address=ADDRESS) is None
    with pytest.raises(TokenThrottled):
        api_tokens.authenticate(bearer(clear), address=ADDRESS)
    with pytest.raises(accounts.LoginThrottled):
        accounts.authenticate("operator", "Test@2025pw", address=ADDRESS)


@pytest.fixture
def programme(tree, teachers):
    return make_programme(tree)


def test_submit_keeps_the_good_items_and_audits_the_batch(tree, teachers, programme):
    token, _ = issue(tree)
    results = api_tokens.submit_records(token, [record(programme, "a"), record(programme, "b", minutes=-1),
                                                record(programme, "a")], address=ADDRESS)
    assert [r.status for r in results] == ["accepted", "rejected", "duplicate"]
    assert LearningRecord.get().token_id == token.id and LearningRecord.get().source == "api"
    assert ApiToken.get_by_id(token.id).last_used_at is not None
    row = AuditLog.get(AuditLog.action == "records.submitted")
    assert row.target_id == str(token.id) and row.address == ADDRESS
    assert '"accepted": 1' in row.after and '"rejected": 1' in row.after and '"duplicate": 1' in row.after


@pytest.mark.parametrize("overrides,reason", [
    ({"programme": 10**30}, "未找到该研修项目"), ({"programme": -10**30}, "未找到该研修项目"),
    ({"course": 2**63}, "该课程不属于"), ({"occurred_at": "0001-01-01T00:00:00"}, "occurred_at"),
    ({"occurred_at": "9999-12-31T23:59:00-05:00"}, "occurred_at"),
])
def test_values_beyond_any_range_are_refused_by_item(tree, teachers, programme, overrides, reason):
    token, _ = issue(tree)
    results = api_tokens.submit_records(token, [record(programme, "ok"), record(programme, "bad") | overrides])
    assert results[0].status == "accepted"
    assert results[1].status == "rejected" and reason in results[1].reason


def test_courses_of_lists_each_programmes_courses(tree, teachers, programme):
    other = programmes.create_programme(
        binding_of(tree, "zj_admin"), {"name": "浙江省专题研修", "kind": "topic", "start_date": "2025-07-01",
                                       "end_date": "2025-08-31"}, [])
    found = api_tokens.courses_of([programme, other])
    assert [c.name for c in found[programme.id]] == ["师德修养", "数字素养"]
    assert found[other.id] == [] and api_tokens.courses_of([]) == {}

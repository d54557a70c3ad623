"""API tokens (接口令牌) of the records API: issue, revoke, authenticate, and what a token may do.

A token is `yx_` plus 43 URL-safe characters (256 random bits). Only its SHA-256 is stored,
so authenticating is one look-up by hash: nothing is compared character by character, and
a copy of the database holds no usable token. The clear token exists once, in the answer
to the operator who issued it.

Failed bearer attempts share the login throttle of SECURITY.md row 7: each is a
LoginFailure row of its client address, and the per-address limit (5 a minute) counts
failed logins and failed tokens alike, so guessing moves no faster through the API.
"""
import hashlib
import re
import secrets

from peewee import JOIN

from yanxiu.db import database
from yanxiu.models import ApiToken, Course, LoginFailure, Programme, Region
from yanxiu.models.account import OPERATOR, Account, Binding
from yanxiu.models.base import now
from yanxiu.models.region import PROVINCE
from yanxiu.services import audit, records
from yanxiu.services.accounts import ADDRESS_LIMIT, ADDRESS_WINDOW

PREFIX = "yx_"
TOKEN_RE = re.compile(r"^yx_[A-Za-z0-9_-]{43}$")
BEARER_RE = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)
# The name failed bearer attempts are recorded under: no account can have it (USERNAME_RE).
BEARER_FAILURE = "(bearer)"
ACTIVE, REVOKED = "active", "revoked"
STATE_LABELS = {ACTIVE: "有效", REVOKED: "已吊销"}
# SQLite integers are 64-bit; a larger id would raise in the look-up instead of being refused.


class TokenError(ValueError):
    """A token could not be issued or revoked; the message is Chinese."""


class TokenThrottled(TokenError):
    """Too many failed credentials from this client address."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def token_state(token: ApiToken) -> str:
    """active (有效) or revoked (已吊销)."""
    return REVOKED if token.revoked_at else ACTIVE


def scope_name(token: ApiToken) -> str:
    """全国 for a national token, else its province."""
    return token.region.name if token.region_id else "全国"


def provinces() -> list[Region]:
    """The regions a token may be limited to: the active provinces, by code."""
    return list(Region.select().where((Region.level == PROVINCE) & Region.is_active).order_by(Region.code))


def token_list():
    """Every token, newest first, with its issuing account and region."""
    return (ApiToken.select(ApiToken, Account, Region)
            .join(Account, on=(ApiToken.created_by == Account.id))
            .switch(ApiToken).join(Region, JOIN.LEFT_OUTER, on=(ApiToken.region == Region.id))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


def _require_operator(binding: Binding) -> None:
    if binding is None or binding.role != OPERATOR:
        raise TokenError("只有平台运维可以管理接口令牌")


def issue_token(binding: Binding, name: str, region: Region | None = None, *,
                address: str = "") -> tuple[ApiToken, str]:
    """发放接口令牌: (the stored token, its clear text, shown once). `region` None makes a
    national token; a province limits it to that province's teachers and programmes."""
    _require_operator(binding)
    name = (name or "").strip()
    if not name:
        raise TokenError("请填写令牌名称")
    if len(name) > 100:
        raise TokenError("令牌名称不能超过 100 字")
    if region is not None and region.level != PROVINCE:
        raise TokenError("令牌只能限定到省级")
    clear = PREFIX + secrets.token_urlsafe(32)
    with database.atomic():
        token = ApiToken.create(name=name, token_hash=_hash(clear), hint=clear[:8], region=region,
                                created_by=binding.account_id)
        audit.record("api_token.issued", actor=binding.account_id, binding=binding,
                     target_type="api_token", target_id=token.id,
                     scope_path=region.path if region else "",
                     after={"name": name, "hint": token.hint, "region": region.code if region else ""},
                     address=address)
    return token, clear


def revoke_token(binding: Binding, token: ApiToken, *, address: str = "") -> None:
    """吊销: the token answers 401 from now on; revoking twice is refused."""
    _require_operator(binding)
    with database.atomic():
        changed = (ApiToken.update(revoked_at=now(), revoked_by=binding.account_id)
                   .where((ApiToken.id == token.id) & ApiToken.revoked_at.is_null()).execute())
        if not changed:
            raise TokenError("该令牌已被吊销")
        audit.record("api_token.revoked", actor=binding.account_id, binding=binding,
                     target_type="api_token", target_id=token.id,
                     scope_path=token.region.path if token.region_id else "",
                     before={"name": token.name, "hint": token.hint}, address=address)


def _refuse_if_throttled(address: str) -> None:
    failures = LoginFailure.select().where((LoginFailure.address == address)
                                           & (LoginFailure.at > now() - ADDRESS_WINDOW)).count()
    if failures >= ADDRESS_LIMIT:
        audit.record("api.throttled", target_type="api_token", address=address, result="refused")
        raise TokenThrottled("认证失败次数过多，请稍后再试（每个地址每分钟最多 5 次）")


def authenticate(header_value: str | None, *, address: str = "") -> ApiToken | None:
    """The live token an `Authorization: Bearer …` header names; None when the header is
    missing, malformed, unknown or revoked. Every credential presented in vain counts
    towards the address's throttle (TokenThrottled once it is full); a missing one doesn't."""
    if not header_value:
        return None
    _refuse_if_throttled(address)
    match = BEARER_RE.match(header_value[:200])
    token = None
    if match and TOKEN_RE.match(match.group(1)):
        token = (ApiToken.select(ApiToken, Region).join(Region, JOIN.LEFT_OUTER)
                 .where((ApiToken.token_hash == _hash(match.group(1)))
                        & ApiToken.revoked_at.is_null()).first())
    if token is None:
        LoginFailure.create(username=BEARER_FAILURE, address=address)
        audit.record("api.auth_failed", target_type="api_token", address=address, result="refused")
    return token


def courses_of(programmes: list[Programme]) -> dict[int, list[Course]]:
    """The courses of each programme, by programme id, in id order (one query)."""
    found = {p.id: [] for p in programmes}
    if found:
        for course in Course.select().where(Course.programme.in_(list(found))).order_by(Course.id):
            found[course.programme_id].append(course)
    return found


def submit_records(token: ApiToken, batch, *, address: str = "") -> list[records.ItemResult]:
    """A batch of learning records sent with `token` (see records.ingest); one audit row
    per batch with its counts. Raises records.BatchError for an unusable batch."""
    with database.atomic():
        results = records.ingest(batch, token=token, source="api")
        if results:
            counts = {status: sum(r.status == status for r in results)
                      for status in (records.ACCEPTED, records.DUPLICATE, records.REJECTED)}
            audit.record("records.submitted", target_type="api_token", target_id=token.id,
                         scope_path=token.region.path if token.region_id else "",
                         after=counts, address=address)
    return results

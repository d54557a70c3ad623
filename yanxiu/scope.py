"""Who may see and do what: the one place that knows.

Every view declares a policy (`public`, `signed_in`, `roles(...)`, or `api_token` for the
records API's bearer tokens); a view without one is refused (deny by default). Every query
of scoped data starts from the current binding's region path through the helpers below, and
an object outside it answers 404 so ids cannot be probed.
"""
from dataclasses import dataclass

from flask import abort, g, request
from flask_login import UserMixin, current_user
from peewee import JOIN

from yanxiu.db import Prepared, as_id, slot
from yanxiu.models import (Account, AuditLog, Binding, Membership, PermissionCode, Region, School,
                           UserSession)
from yanxiu.models.account import OPERATOR, ROLE_LABELS, SCHOOL_ADMIN, SUPER, TRAINING, TEACHER_LABEL
from yanxiu.models.region import in_subtree
from yanxiu.services import api_tokens
from yanxiu.web import client_address

REGION_ADMINS = (OPERATOR, SUPER, TRAINING)
ALL_ADMINS = (*REGION_ADMINS, SCHOOL_ADMIN)


_ACTIVE_BINDINGS = Prepared(
    lambda: Binding.select(Binding, Region, School)
    .join_from(Binding, Region, JOIN.LEFT_OUTER, on=(Binding.region == Region.id))
    .join_from(Binding, School, JOIN.LEFT_OUTER, on=(Binding.school == School.id))
    .where((Binding.account == slot("account_id")) & (Binding.state == "active"))
    .order_by(Binding.id))


class SessionUser(UserMixin):
    """The signed-in person: a live server-side session, its account and current binding."""

    def __init__(self, session: UserSession, token: str):
        self.session = session
        self.account: Account = session.account
        self._token = token
        self._bindings: list[Binding] | None = None

    def get_id(self) -> str:
        return self._token

    @property
    def bindings(self) -> list[Binding]:
        """All active bindings of the account (for 切换身份), with their region or school,
        loaded once per request."""
        if self._bindings is None:
            self._bindings = list(_ACTIVE_BINDINGS(account_id=self.account.id))
        return self._bindings

    @property
    def binding(self) -> Binding | None:
        """The binding the user acts under now (切换身份 changes it); None for a plain teacher."""
        current = self.session.current_binding_id
        return next((b for b in self.bindings if b.id == current), None) if current else None

    @property
    def role(self) -> str | None:
        return self.binding.role if self.binding else None

    @property
    def scope_trail(self) -> list:
        """The current binding's scope from the top: 浙江省 › 杭州市 › 西湖区 (› school)."""
        binding = self.binding
        if binding is None:
            return []
        trail = Region.chain(binding.scope_path)
        if len(trail) > 1:
            trail = trail[1:]  # 全国 is implied for everyone but the operator
        return trail + ([binding.school] if binding.role == SCHOOL_ADMIN else [])

    @property
    def identity_label(self) -> str:
        return ROLE_LABELS[self.role] if self.binding else TEACHER_LABEL


@dataclass(frozen=True)
class Scope:
    """The part of the tree a binding covers: a region path (all beneath it) or one school."""
    role: str
    path: str
    region_id: int | None
    school_id: int | None

    @classmethod
    def of(cls, binding: Binding) -> "Scope":
        if binding.role == SCHOOL_ADMIN:
            return cls(binding.role, binding.school.region_path, None, binding.school_id)
        return cls(binding.role, binding.region.path, binding.region_id, None)

    def regions(self):
        """Regions this scope may read (a school admin reads none through this)."""
        if self.school_id is not None:
            return Region.select().where(Region.id.is_null())
        return Region.select().where(Region.in_subtree(self.path))

    def schools(self):
        """Schools this scope may read."""
        if self.school_id is not None:
            return School.select().where(School.id == self.school_id)
        return School.select().where(School.in_subtree(self.path))

    def trail_to(self, region: Region) -> list[Region]:
        """Breadcrumb: from the scope's own region down to `region`, never above the scope."""
        if region.path == self.path:
            return [region]
        return Region.chain(region.path, top=self.path)

    def memberships(self):
        """Teachers' applications and memberships this scope may read (those of its schools)."""
        query = Membership.select().join(School, on=(Membership.school == School.id))
        if self.school_id is not None:
            return query.where(Membership.school == self.school_id)
        return query.where(School.in_subtree(self.path))

    def audit_entries(self):
        """审计日志 rows this scope may read: those whose region lies in its subtree (the
        operator's empty path: all). A school admin reads, of its region's rows, only those about
        its school, its teachers' applications, its admin bindings and 权限码, or done under one
        of its school's bindings."""
        query = AuditLog.select().where(in_subtree(AuditLog.scope_path, self.path))
        if self.school_id is None:
            return query

        def about(target_type: str, model, owner):
            # target_id is text; the ids are compared as text on SQLite and PostgreSQL alike.
            ids = model.select(model.id.cast("TEXT")).where(owner == self.school_id)
            return (AuditLog.target_type == target_type) & AuditLog.target_id.in_(ids)

        school_bindings = Binding.select(Binding.id).where(Binding.school == self.school_id)
        return query.where(
            ((AuditLog.target_type == "school") & (AuditLog.target_id == str(self.school_id)))
            | about("membership", Membership, Membership.school)
            | about("binding", Binding, Binding.school)
            | about("permission_code", PermissionCode, PermissionCode.school)
            | AuditLog.binding.in_(school_bindings))

    def managed_schools(self):
        """学校管理范围: the schools this scope adds, edits, archives and imports (SPEC §6).

        A county manages all its schools; a province or city only its 直属 schools (the
        rest of its subtree it reads); the operator and school admins manage none here.
        """
        if self.role not in (SUPER, TRAINING):
            return School.select().where(School.id.is_null())
        return School.select().where(School.region == self.region_id)

    def may_manage_region(self, region: Region) -> bool:
        """Whether schools may be added to (or imported into) `region` by this scope."""
        return self.role in (SUPER, TRAINING) and region.id == self.region_id

    def may_transfer(self, source: Region, target: Region) -> bool:
        """转移: both regions lie strictly below this region (province: across cities,
        city: across counties); a county has nothing below it and transfers nothing."""
        if self.role not in (SUPER, TRAINING):
            return False
        inside = [r for r in (source, target)
                  if r.path.startswith(self.path) and r.path != self.path]
        return len(inside) == 2 and source.id != target.id


def current_scope() -> Scope:
    """The scope of the current request's binding; 404 when the user has none."""
    binding = current_user.binding if current_user.is_authenticated else None
    if binding is None:
        abort(404)
    return Scope.of(binding)


_REGION_BY_CODE = Prepared(lambda: Region.select().where(Region.code == slot("code")).limit(1))


def region_or_404(scope: Scope, code: str) -> Region:
    """A region by code, only if it lies inside the scope."""
    region = _REGION_BY_CODE.first(code=code) if scope.school_id is None else None
    if region is None or not region.path.startswith(scope.path):
        abort(404)
    return region


_SCHOOL_BY_ID = Prepared(lambda: School.select().where(School.id == slot("id")).limit(1))


def school_or_404(scope: Scope, school_id: int | None) -> School:
    """A school by id, only if the scope reads it (`Scope.schools`)."""
    school = _SCHOOL_BY_ID.first(id=school_id) if as_id(school_id) is not None else None
    if school is None:
        abort(404)
    inside = (school.id == scope.school_id if scope.school_id is not None
              else school.region_path.startswith(scope.path))
    if not inside:
        abort(404)
    return school


def _declare(view, policy):
    view.policy = policy
    return view


def public(view):
    """Policy: anyone, signed in or not (login, register, health)."""
    return _declare(view, ("public",))


def signed_in(view):
    """Policy: any signed-in account, whatever its binding."""
    return _declare(view, ("signed_in",))


def roles(*allowed: str):
    """Policy: a signed-in account whose current binding has one of these roles."""
    def decorate(view):
        return _declare(view, ("roles", frozenset(allowed)))
    return decorate


def api_token(view):
    """Policy: a client of the records API, known by its bearer token (a session is no
    credential here); the live token is `g.api_token`, its region the scope."""
    return _declare(view, ("api_token",))


def enforce_policy(app):
    """Refuse every request whose view declares no policy or whose policy the user fails."""
    login_manager = app.login_manager

    @app.before_request
    def _check_policy():
        if request.endpoint is None or request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        policy = getattr(view, "policy", None)
        if policy is None:
            abort(404)
        if policy[0] == "public":
            return None
        if policy[0] == "api_token":
            _check_bearer()
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if policy[0] == "roles" and current_user.role not in policy[1]:
            abort(404)
        g.binding = current_user.binding
        return None


def _check_bearer() -> None:
    """401 without a live bearer token, 429 while the address is throttled; the API's error
    handlers word the answers."""
    try:
        g.api_token = api_tokens.authenticate(request.headers.get("Authorization"),
                                              address=client_address())
    except api_tokens.TokenThrottled as err:
        abort(429, description=str(err))
    if g.api_token is None:
        abort(401)


def policy_of(view) -> tuple | None:
    """The policy a view declared, for the route meta-test."""
    return getattr(view, "policy", None)



def may_issue_code(binding: Binding, role: str, region: Region | None = None,
                   school: School | None = None) -> bool:
    """Whether `binding` may issue a 权限码 for `role` on that region or school (SPEC §2).

    - the operator issues province super-admin codes;
    - a super admin issues its own region's training-admin codes and each direct
      sub-region's super-admin code;
    - a county-level admin (super or training) issues school-admin codes for its schools,
      a province or city admin for the schools directly under it (直属).
    """
    if role == SCHOOL_ADMIN:
        return (school is not None and region is None
                and binding.role in (SUPER, TRAINING) and school.region_id == binding.region_id)
    if school is not None or region is None:
        return False
    if binding.role == OPERATOR:
        return role == SUPER and region.level == "province"
    if binding.role == SUPER:
        if role == TRAINING:
            return region.id == binding.region_id
        if role == SUPER:
            return region.parent_id == binding.region_id
    return False

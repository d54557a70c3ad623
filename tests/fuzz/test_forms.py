"""Every form of the app under hostile input (SECURITY.md rows 12, 15, 16).

Each FormSpec posts one form, as the role that uses it, with values drawn from
tests/fuzz/payloads.py (plus the CSRF token, always). Whatever is drawn:
- the answer is one the route documents (accepted: its redirect or page; refused: 422 with the
  form again; 409/404 where the route says so), never a 500 or a CSRF 400;
- no HTML payload comes back unescaped, neither in the answer nor on the page an accepted
  submission leads to (where flashes and lists show what was stored);
- a refused submission leaves the rows of the tables the form writes exactly as they were, and
  an accepted one wrote whole rows (checked per form against what was sent).

Hypothesis keeps the database between examples of one test, so every example compares its own
before/after snapshots, and `prepare` puts back what an earlier example changed when the next
one needs it (a pending application to reject, a binding to end).
"""
import itertools
from dataclasses import dataclass
from typing import Callable

import pyotp
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import PASSWORD, csrf_token
from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.fuzz.payloads import (FUZZ, Field, World, assert_escaped, draw_fields, flat_values,
                                 hostile, many, snapshot, strict)
from tests.services.test_rollups import binding_of, make_programme
from yanxiu.models import (Account, ApiToken, AuditLog, Binding, CodeFailure, Course, FaqEntry,
                           FaqTopic, LoginFailure, Membership, Notice, NoticeRecipient,
                           PermissionCode, Programme, RecoveryCode, Region, School, TwoFactor,
                           UserSession)
from yanxiu.models.account import SCHOOL_ADMIN
from yanxiu.models.region import KIND_LABELS, OWNERSHIPS, STAGES
from yanxiu.models.teacher import APPROVED, GENDERS, PENDING, SUBJECTS, TEACHING_STAGES, TITLES
from yanxiu.models.training import PROGRAMME_KINDS
from yanxiu.services import accounts, codes, faq, schools, teachers, two_factor
from yanxiu.services.teachers import REJECT_REASONS

# POST routes with no field to fuzz: bare confirmations, the CSRF token alone (one of them gets
# junk fields in test_bare_confirmations_ignore_junk_fields). Uploads and the API are fuzzed
# in test_import_rows.py and test_api_schema.py.
BARE = {"auth.logout", "auth.two_factor_begin", "codes.code_revoke", "codes.code_reissue",
        "faq.entry_delete", "profile.profile_withdraw", "notices.notice_read",
        "schools.school_restore", "teachers.teacher_approve", "tokens.token_revoke"}
ELSEWHERE = {"api.record_submit", "school_import.import_upload", "school_import.import_confirm",
             "school_import.import_discard", "record_import.import_upload",
             "record_import.import_confirm", "record_import.import_discard"}

_serial = itertools.count(1)


@dataclass
class FormSpec:
    """One form: who posts it where, what is drawn for its fields, and what it may write."""
    endpoint: str
    user: str | None  # None: not signed in
    prepare: Callable[[dict], dict]  # per example: {"url": ..., and values the draw needs}
    draw: Callable  # (data, ctx) → the form fields
    tables: tuple  # the models the form writes: unchanged unless accepted
    ok: tuple = (303,)  # the statuses of an accepted submission
    also: tuple = ()  # other documented answers that write nothing (409 conflict, 404)
    accepted: Callable | None = None  # (world, ctx, values, before) → asserts the rows are whole
    name: str = ""
    # What the page an accepted submission redirects to may answer (after a login: whatever
    # same-site path `next` named, a missing one too).
    after: tuple = (200, 302, 303)

    def __post_init__(self):
        self.name = self.name or self.endpoint


def fields(**specs) -> Callable:
    """The draw of a form's fields (payloads.Field, or a function of ctx giving one)."""
    def draw(data, ctx):
        return draw_fields(data, {name: f(ctx) if callable(f) else f for name, f in specs.items()})
    return draw


def new_audit(before_id: int, action: str) -> list[AuditLog]:
    return list(AuditLog.select().where((AuditLog.id > before_id) & (AuditLog.action == action)))


def stripped(value: str) -> str:
    return (value or "").strip()


# ---------------------------------------------------------------- auth

def _reset_failures(world) -> dict:
    LoginFailure.delete().execute()
    CodeFailure.delete().execute()
    return {}


def _login_prepare(world):
    _reset_failures(world)
    return {"url": "/login"}


def _login_accepted(world, ctx, values, before):
    location = ctx["response"].headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert UserSession.select().count() == len(before["UserSession"]) + 1


NEXTS = ("/me", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
         "https://evil.example/", "/\t/evil.example")


def _register_draw(data, ctx):
    values = fields(username=strict(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,20}", fullmatch=True)),
                    display_name=hostile("李明", "Anna·Li", "阿依古丽·买买提"),
                    password=strict("Fuzz2025pw!x", "长密码Fuzz2025" * 5))(data, ctx)
    values["confirm"] = data.draw(st.one_of(st.just(values["password"]), st.just(values["password"]),
                                            hostile().bad), label="confirm")
    return values


def _register_accepted(world, ctx, values, before):
    account = Account.get(Account.username == stripped(values["username"]))
    assert account.display_name == stripped(values["display_name"])
    assert account.id not in {row[0] for row in before["Account"]}
    assert accounts.password_matches(account, values["password"])


def _password_prepare(world):
    _reset_failures(world)
    Account.update(password_hash=accounts.hash_password(PASSWORD)).where(
        Account.username == "teacher").execute()
    return {"url": "/account/password"}


def _password_draw(data, ctx):
    values = fields(old_password=strict(PASSWORD),
                    new_password=strict("Fuzz2025pw!x", "新密码Fuzz2025"))(data, ctx)
    values["confirm"] = data.draw(st.one_of(st.just(values["new_password"]), st.just(values["new_password"]),
                                            hostile().bad), label="confirm")
    return values


def _password_accepted(world, ctx, values, before):
    assert accounts.password_matches(Account.get(Account.username == "teacher"), values["new_password"])


def _switch_prepare(world):
    ids = [str(b.id) for b in Binding.select().where(Binding.account == world["tree"]["accounts"]["multi"])]
    return {"url": "/account/binding", "ids": ids}


def _switch_accepted(world, ctx, values, before):
    """Refused or not, the answer is a redirect; the bindings never change and the session
    acts under one of the account's own bindings."""
    assert snapshot(Binding) == {"Binding": before["Binding"]}
    multi = world["tree"]["accounts"]["multi"]
    current = {s.current_binding_id for s in UserSession.select().where(
        (UserSession.account == multi) & UserSession.ended_at.is_null())}
    assert current <= {b.id for b in Binding.select().where(Binding.account == multi)} | {None}


# ---------------------------------------------------------------- two-factor login

TWO_FACTOR_USER = "js_admin"  # signed in first, then two-factor login is turned on for it


def enable_two_factor(account) -> str:
    """Turn two-factor login on for `account` (a fresh secret); returns the secret."""
    TwoFactor.delete().where(TwoFactor.account == account).execute()
    RecoveryCode.delete().where(RecoveryCode.account == account).execute()
    two_factor.begin_enrolment(account, address="")
    secret = two_factor.pending_enrolment(account).secret
    two_factor.confirm_enrolment(account, pyotp.TOTP(secret).now(), address="")
    return secret


def _enrol_prepare(world):
    _reset_failures(world)
    account = world["tree"]["accounts"]["teacher"]
    TwoFactor.delete().where(TwoFactor.account == account).execute()
    RecoveryCode.delete().where(RecoveryCode.account == account).execute()
    two_factor.begin_enrolment(account, address="")
    secret = two_factor.pending_enrolment(account).secret
    return {"url": "/account/two-factor/confirm", "valid": pyotp.TOTP(secret).now()}


def _enrol_accepted(world, ctx, values, before):
    account = world["tree"]["accounts"]["teacher"]
    assert two_factor.is_enabled(account.id)
    assert two_factor.recovery_codes_left(account.id) == two_factor.RECOVERY_COUNT


def _two_factor_prepare(url: str):
    def prepare(world):
        _reset_failures(world)
        account = world["tree"]["accounts"][TWO_FACTOR_USER]
        if not two_factor.is_enabled(account.id):
            world["secret"] = enable_two_factor(account)
        # A code of the next time-step: the current one may have been used already.
        totp = pyotp.TOTP(world["secret"])
        return {"url": url, "valid": totp.at(two_factor.clock() + totp.interval)}
    return prepare


def _recovery_accepted(world, ctx, values, before):
    account = world["tree"]["accounts"][TWO_FACTOR_USER]
    assert two_factor.recovery_codes_left(account.id) == two_factor.RECOVERY_COUNT
    assert snapshot(RecoveryCode)["RecoveryCode"] != before["RecoveryCode"]  # replaced, not kept


def _disable_accepted(world, ctx, values, before):
    assert not two_factor.is_enabled(world["tree"]["accounts"][TWO_FACTOR_USER].id)


def _second_step_prepare(world):
    """A fresh browser whose password was right: the second step is pending."""
    ctx = _two_factor_prepare("/login/two-factor")(world)
    client = world["new_client"]()
    response = client.post("/login", data={"username": TWO_FACTOR_USER, "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.headers["Location"].startswith("/login/two-factor")
    return {**ctx, "client": client}


def _reauth_prepare(world):
    """An act guarded by re-authentication (issuing a 权限码), the last proof long ago."""
    xh = world["tree"]["accounts"]["xh_admin"]
    UserSession.update(authenticated_at=None).where(UserSession.account == xh).execute()
    _reset_failures(world)
    return {"url": "/codes"}


def _reauth_accepted(world, ctx, values, before):
    """200 is the re-authentication form again or the issued code's slip: in the first case
    nothing was written, in the second exactly one code."""
    added = PermissionCode.select().count() - len(before["PermissionCode"])
    assert added in (0, 1)
    assert added == 0 or ("权限码" in ctx["response"].get_data(as_text=True))


# ---------------------------------------------------------------- codes and bindings

def _bind_prepare(world):
    _reset_failures(world)
    school = _fresh_school(world)
    xh = binding_of(world["tree"], "xh_admin")
    target = codes.target_by_key(xh, f"school:{school.code}")
    issued = codes.issue_permission_code(xh, target.role, region=target.region, school=target.school)
    return {"url": "/bind", "code": issued.plain, "school": school.id}


def _bind_accepted(world, ctx, values, before):
    teacher = world["tree"]["accounts"]["teacher"]
    assert Binding.select().where((Binding.account == teacher) & (Binding.state == "active")
                                  & (Binding.school == ctx["school"])).exists()


def _issue_prepare(world):
    keys = [t.key for t in codes.issuable_targets(binding_of(world["tree"], "xh_admin"))]
    return {"url": "/codes", "keys": keys}


def _issue_accepted(world, ctx, values, before):
    added = [row for row in PermissionCode.select().order_by(PermissionCode.id)
             if row.id not in {r[0] for r in before["PermissionCode"]}]
    assert len(added) == 1
    target = codes.target_by_key(binding_of(world["tree"], "xh_admin"), values["grant"])
    assert added[0].role == target.role


def _end_prepare(world):
    binding = Binding.create(account=world["tree"]["accounts"]["teacher"], role=SCHOOL_ADMIN,
                             school=_fresh_school(world))
    return {"url": f"/admins/{binding.id}/end", "binding": binding.id}


def _end_accepted(world, ctx, values, before):
    ended = Binding.get_by_id(ctx["binding"])
    assert ended.state == "ended" and ended.end_reason == values["reason"][:200]


# ---------------------------------------------------------------- schools

def school_fields(valid_name: str, with_code: bool = True):
    out = {"name": hostile(valid_name, "学校" + valid_name),
           "stage": strict(*STAGES, ""), "ownership": strict(*OWNERSHIPS, ""),
           "address": hostile("杭州市西湖区文三路 1 号", ""), "contact_name": hostile("张老师", ""),
           "contact_phone": strict("0571-88001234", "", edge=("0571-8800123", "1381234567"))}
    if with_code:
        out["code"] = strict(st.from_regex(r"33010[6-9][0-9]{4}", fullmatch=True),
                             edge=("3301060001", "330106000"))
        out["kind"] = strict(*KIND_LABELS, *KIND_LABELS.values())
    return out


def _school_new_accepted(world, ctx, values, before):
    clean, errors = schools.clean_school_fields(values)
    assert not errors
    school = School.get(School.code == clean["code"])
    assert {f: getattr(school, f) for f in schools.FIELDS} == {f: clean[f] for f in schools.FIELDS}
    assert new_audit(ctx["audit_id"], "school.created")


def _school_edit_prepare(code: str):
    def prepare(world):
        school = School.get_by_id(world["tree"]["schools"][code].id)  # its code may have changed
        return {"url": f"/schools/{school.id}" if code != "3301060001" else "/schools/mine",
                "version": str(school.version), "school": school.id}
    return prepare


def _school_saved(names):
    def accepted(world, ctx, values, before):
        school = School.get_by_id(ctx["school"])
        data = {**{f: getattr(school, f) for f in schools.FIELDS}, **{f: values[f] for f in names}}
        clean, errors = schools.clean_school_fields(data)
        assert {f: getattr(school, f) for f in names} == {f: clean[f] for f in names}
        assert new_audit(ctx["audit_id"], "school.updated")
    return accepted


def _fresh_school(world) -> School:
    region = world["tree"]["regions"]["330106"]
    n = next(_serial)
    return School.create(code=f"3399{n:06d}", name=f"待撤并学校{n}", region=region,
                         region_path=region.path, stage="小学")


def _delete_prepare(world):
    school = _fresh_school(world)
    return {"url": f"/schools/{school.id}/delete", "school": school.id}


def _delete_accepted(world, ctx, values, before):
    school = School.get_or_none(School.id == ctx["school"])
    assert school is None or school.status == "archived"


def _transfer_prepare(world):
    school = _fresh_school(world)
    return {"url": f"/schools/{school.id}/transfer", "school": school.id}


def _transfer_accepted(world, ctx, values, before):
    school = School.get_by_id(ctx["school"])
    assert school.region.code == values["target"]
    assert school.region_path == school.region.path


# ---------------------------------------------------------------- notices, FAQ

def _urge_accepted(world, ctx, values, before):
    notice = Notice.select().order_by(Notice.id.desc()).get()
    assert notice.body == stripped(values["body"])
    assert NoticeRecipient.select().where(NoticeRecipient.notice == notice).count() >= 1


def _faq_prepare(kind: str):
    def prepare(world):
        topic, entry = world["topic"], world["entry"]
        url = {"entry_add": "/faq/entries/new", "entry_edit": f"/faq/entries/{entry.id}/edit",
               "topic_add": "/faq/topics/new", "topic_rename": f"/faq/topics/{topic.id}/rename"}[kind]
        return {"url": url, "topic": str(topic.id)}
    return prepare


def _entry_accepted(world, ctx, values, before):
    entry = (FaqEntry.get_by_id(world["entry"].id) if ctx["url"].endswith("/edit")
             else FaqEntry.select().order_by(FaqEntry.id.desc()).get())
    assert entry.question == stripped(values["question"])
    assert entry.answer == stripped(values["answer"])
    assert entry.topic_id == int(values["topic"])  # as int() reads it: " +1 " is topic 1


def _topic_accepted(world, ctx, values, before):
    assert FaqTopic.select().where(FaqTopic.name == stripped(values["name"])).exists()


# ---------------------------------------------------------------- teachers

def _profile_prepare(world):
    account = world["applicant"]
    pending = Membership.get_or_none((Membership.account == account) & (Membership.state == PENDING))
    if pending is not None:
        teachers.withdraw_application(account)
    ids = [str(s.id) for s in School.select().order_by(School.id)]
    return {"url": "/me", "schools": ids}


def _profile_draw(data, ctx):
    seed = data.draw(st.integers(100, 999), label="seed")
    return fields(name=hostile("李明", "阿依古丽·买买提"), gender=strict(*GENDERS),
                  id_number=strict(valid_id_number(seed), pii=True),
                  phone=strict(valid_mobile(seed), pii=True),
                  stage=strict(*TEACHING_STAGES), subject=strict(*SUBJECTS),
                  title=strict("", *TITLES),
                  school_id=lambda c: strict(*c["schools"],
                                             edge=("0", "-1", "99999999999999999999")))(data, ctx)


def _profile_accepted(world, ctx, values, before):
    row = Membership.get((Membership.account == world["applicant"]) & (Membership.state == PENDING))
    assert row.name == stripped(values["name"]) and row.school_id == int(values["school_id"])
    assert row.phone_masked != values["phone"] and row.id_masked != values["id_number"]


def _membership_prepare(username: str, state: str, action: str):
    def prepare(world):
        row = world["teachers"]["memberships"][username]
        Membership.update(state=state, decided_at=None, reason="", ended_at=None, end_reason="").where(
            Membership.id == row.id).execute()
        return {"url": f"/teachers/{row.id}/{action}", "membership": row.id}
    return prepare


def _decided(state: str, column: str):
    def accepted(world, ctx, values, before):
        row = Membership.get_by_id(ctx["membership"])
        assert row.state == state
        assert stripped(values["reason"]) in getattr(row, column)
    return accepted


def _approve_many_prepare(world):
    ctx = _membership_prepare("t_pending", PENDING, "")(world)
    return {"url": "/teachers/approve-many", "membership": ctx["membership"]}


def _approve_many_accepted(world, ctx, values, before):
    """Only the pending application of this school can have changed, and only to approved."""
    for row in Membership.select().order_by(Membership.id):
        if row.id != ctx["membership"]:
            assert row.state == dict((r[0], r[3]) for r in before["Membership"])[row.id]
    assert Membership.get_by_id(ctx["membership"]).state in (PENDING, APPROVED)


def _reveal_prepare(world):
    row = world["teachers"]["memberships"]["teacher"]
    return {"url": f"/teachers/{row.id}/reveal"}


# ---------------------------------------------------------------- programmes, tokens

def programme_fields():
    return {"name": hostile(st.from_regex(r"fuzz项目[0-9]{1,6}", fullmatch=True)),
            "kind": strict(*PROGRAMME_KINDS),
            "start_date": strict("2025-07-01", edge=("2025-02-30", "0001-01-01", "9999-12-31", "2025-7-1")),
            "end_date": strict("2025-08-31", edge=("2025-06-30", "10000-01-01")),
            "minutes_per_hour": strict("45", "٤٥", edge=("0", "-1", "1e3", "99999999999999999999")),
            "required_hours": strict("10", edge=("0", "3.5", "99999999999999999999")),
            "audience": many(strict(*TEACHING_STAGES))}


def _programme_new_accepted(world, ctx, values, before):
    programme = Programme.select().order_by(Programme.id.desc()).get()
    assert programme.name == stripped(values["name"]) and programme.kind == stripped(values["kind"])
    assert programme.start_date <= programme.end_date
    assert new_audit(ctx["audit_id"], "programme.created")


def _programme_edit_prepare(world):
    programme = Programme.get_by_id(world["programme"].id)
    return {"url": f"/programmes/{programme.id}/edit", "version": str(programme.version)}


def _programme_saved(world, ctx, values, before):
    programme = Programme.get_by_id(world["programme"].id)
    assert programme.name == stripped(values["name"])
    assert programme.start_date <= programme.end_date


def course_fields():
    return {"name": hostile("师德修养", st.from_regex(r"fuzz课程[0-9]{1,6}", fullmatch=True)),
            "minutes": strict("120", edge=("0", "-5", "99999999999999999999", "1.5")),
            "max_hours": strict("2", "0", edge=("-1", "99999999999999999999"))}


def _course_prepare(edit: bool):
    def prepare(world):
        programme = world["programme"]
        course = programme.courses.order_by(Course.id).first()
        url = f"/programmes/{programme.id}/courses" + (f"/{course.id}" if edit else "")
        return {"url": url, "course": course.id}
    return prepare


def _course_saved(edit: bool):
    def accepted(world, ctx, values, before):
        course = (Course.get_by_id(ctx["course"]) if edit
                  else Course.select().order_by(Course.id.desc()).get())
        assert course.name == stripped(values["name"])
        assert course.minutes == int(stripped(values["minutes"]))
    return accepted


def _token_accepted(world, ctx, values, before):
    token = ApiToken.select().order_by(ApiToken.id.desc()).get()
    assert token.name == stripped(values["name"])
    region = Region.get_or_none(Region.code == values["region"]) if values["region"] else None
    assert token.region_id == (region.id if region else None)


def _version(ctx):
    """The version the form was loaded with; a stale or broken one is the hostile side."""
    stale = st.sampled_from(["0", "-1", "abc", "99999999999999999999"])
    return Field(st.just(ctx["version"]), st.one_of(stale, hostile().bad))


SPECS = [
    FormSpec("auth.login", None, _login_prepare,
             fields(username=strict("teacher", "xh_admin"), password=strict(PASSWORD),
                    next=hostile(*NEXTS)),
             (Account, UserSession), accepted=_login_accepted, after=(200, 302, 303, 404)),
    FormSpec("auth.register", None, lambda w: {"url": "/register"}, _register_draw, (Account,),
             accepted=_register_accepted),
    FormSpec("auth.password_change", "teacher", _password_prepare, _password_draw, (Account,),
             accepted=_password_accepted),
    FormSpec("auth.binding_switch", "multi", _switch_prepare,
             fields(binding_id=lambda c: strict(*c["ids"], edge=("0", "-1", "99999999999999999999"))),
             (Binding,), accepted=_switch_accepted),
    FormSpec("auth.two_factor_login", None, _second_step_prepare,
             fields(code=lambda c: strict(c["valid"], edge=("000000", "abcd-efgh-jkmn-pqrs")),
                    next=hostile(*NEXTS)),
             (UserSession,), accepted=_login_accepted, after=(200, 302, 303, 404)),
    FormSpec("auth.two_factor_confirm", "teacher", _enrol_prepare,
             fields(code=lambda c: strict(c["valid"], " " + c["valid"], edge=("000000",))),
             (TwoFactor, RecoveryCode), ok=(200,), accepted=_enrol_accepted),
    FormSpec("auth.two_factor_recovery", TWO_FACTOR_USER,
             _two_factor_prepare("/account/two-factor/recovery-codes"),
             fields(**{"recovery-code": lambda c: strict(c["valid"], edge=("000000",))}),
             (TwoFactor, RecoveryCode), ok=(200,), accepted=_recovery_accepted),
    FormSpec("auth.two_factor_disable", TWO_FACTOR_USER, _two_factor_prepare("/account/two-factor/disable"),
             fields(password=strict(PASSWORD), code=lambda c: strict(c["valid"], edge=("000000",))),
             (TwoFactor, RecoveryCode), accepted=_disable_accepted),
    FormSpec("codes.code_issue", "xh_admin", _reauth_prepare,
             fields(reauth_secret=strict(PASSWORD), grant=strict("school:3301060001"), days=strict("30")),
             (PermissionCode,), ok=(200,), accepted=_reauth_accepted, name="reauth"),
    FormSpec("codes.bind", "teacher", _bind_prepare,
             fields(code=lambda c: strict(c["code"], c["code"].replace("-", "").lower(),
                                           edge=("ABCD-EFGH-JKMN-PQRS",)),
                    confirm_replace=strict("y", "")),
             (Binding, PermissionCode), also=(409,), accepted=_bind_accepted),
    FormSpec("codes.code_issue", "xh_admin", _issue_prepare,
             fields(grant=lambda c: strict(*c["keys"], edge=("school:3201020001", "training:330000")),
                    days=strict("30", "1", "180", edge=("0", "181", "-5", "1e3", "99999999999999999999"))),
             (PermissionCode,), ok=(200,), accepted=_issue_accepted),
    FormSpec("codes.binding_end", "xh_admin", _end_prepare, fields(reason=hostile("调离岗位")),
             (Binding,), accepted=_end_accepted),
    FormSpec("schools.school_new", "xh_admin", lambda w: {"url": "/schools/new"},
             fields(**school_fields("西湖区fuzz学校")), (School,), accepted=_school_new_accepted),
    FormSpec("schools.school_update", "xh_admin", _school_edit_prepare("3301060002"),
             fields(**school_fields("西湖区文新中学"), version=_version), (School,), also=(409,),
             accepted=_school_saved(schools.FIELDS)),
    FormSpec("schools.school_mine", "school_admin", _school_edit_prepare("3301060001"),
             fields(**school_fields("西湖区第一小学", with_code=False), version=_version), (School,),
             also=(409,), accepted=_school_saved(schools.DESCRIPTIVE_FIELDS)),
    FormSpec("schools.school_delete", "xh_admin", _delete_prepare, fields(reason=hostile("学校撤并")),
             (School,), accepted=_delete_accepted),
    FormSpec("schools.school_transfer", "hz_admin", _transfer_prepare,
             fields(target=strict("330102", edge=("330106", "330200", "320102", "000000", "")),
                    reason=hostile("区划调整")),
             (School,), accepted=_transfer_accepted),
    FormSpec("notices.notice_urge", "hz_admin", lambda w: {"url": "/notices/urge/330100"},
             fields(targets=many(strict("region:330102", "region:330106", "school:3301060001",
                                         edge=("region:330200", "region:330100"))),
                    body=hostile("请尽快完成激活")),
             (Notice, NoticeRecipient), accepted=_urge_accepted),
    FormSpec("faq.entry_add", "operator", _faq_prepare("entry_add"),
             fields(topic=lambda c: strict(c["topic"], edge=("0", "-1", "99999999999999999999")),
                    question=hostile("如何注册？"), answer=hostile("点击右上角“注册”。")),
             (FaqEntry, FaqTopic), accepted=_entry_accepted),
    FormSpec("faq.entry_edit", "operator", _faq_prepare("entry_edit"),
             fields(topic=lambda c: strict(c["topic"], edge=("0",)), question=hostile("如何登录？"),
                    answer=hostile("输入用户名和密码。")),
             (FaqEntry, FaqTopic), accepted=_entry_accepted),
    FormSpec("faq.topic_add", "operator", _faq_prepare("topic_add"),
             fields(name=hostile(st.from_regex(r"新分类[0-9]{1,6}", fullmatch=True))),
             (FaqTopic,), accepted=_topic_accepted),
    FormSpec("faq.topic_rename", "operator", _faq_prepare("topic_rename"),
             fields(name=hostile(st.from_regex(r"改名分类[0-9]{1,6}", fullmatch=True))),
             (FaqTopic,), accepted=_topic_accepted),
    FormSpec("profile.profile_submit", "fuzz_teacher", _profile_prepare, _profile_draw, (Membership,),
             accepted=_profile_accepted),
    FormSpec("teachers.teacher_reject", "school_admin", _membership_prepare("t_pending", PENDING, "reject"),
             fields(preset=strict(*REJECT_REASONS, ""), reason=hostile("材料不全", "")),
             (Membership,), accepted=_decided("rejected", "reason")),
    FormSpec("teachers.teacher_remove", "school_admin", _membership_prepare("teacher", APPROVED, "remove"),
             fields(reason=hostile("调离本校")), (Membership,), accepted=_decided("removed", "end_reason")),
    FormSpec("teachers.teacher_approve_many", "school_admin", _approve_many_prepare,
             fields(ids=lambda c: many(strict(str(c["membership"]),
                                               edge=("0", "-1", "99999999999999999999")), 3)),
             (Membership,), accepted=_approve_many_accepted),
    FormSpec("teachers.teacher_reveal", "school_admin", _reveal_prepare,
             fields(field=strict("id_number", "phone")), (Membership,), ok=(200,), also=(404,)),
    FormSpec("programmes.programme_new", "operator", lambda w: {"url": "/programmes/new"},
             fields(**programme_fields()), (Programme, Course), accepted=_programme_new_accepted),
    FormSpec("programmes.programme_edit", "operator", _programme_edit_prepare,
             fields(**programme_fields(), version=_version), (Programme, Course),
             accepted=_programme_saved),
    FormSpec("programmes.course_save", "operator", _course_prepare(False), fields(**course_fields()),
             (Course,), accepted=_course_saved(False), name="course_add"),
    FormSpec("programmes.course_save", "operator", _course_prepare(True), fields(**course_fields()),
             (Course,), accepted=_course_saved(True), name="course_edit"),
    FormSpec("tokens.token_issue", "operator", lambda w: {"url": "/tokens"},
             fields(name=hostile("国家研修平台"), region=strict("", "330000", "320000", edge=("330100", "000000"))),
             (ApiToken,), ok=(200,), accepted=_token_accepted),
]


@pytest.fixture
def world(app, tree, teachers, login_as):
    """The tree with teachers, a programme with courses, a FAQ topic and entry, an applicant
    without a school, and a signed-in client per role (made on first use)."""
    operator = binding_of(tree, "operator")
    topic = faq.create_topic(operator, "fuzz分类")
    entry = faq.create_entry(operator, topic.id, "原问题", "原解答")
    applicant = accounts.register("fuzz_teacher", "应聘老师", PASSWORD)
    clients, tokens = {}, {}

    def client_for(user):
        if user not in clients:
            clients[user] = login_as(user) if user else app.test_client()
        return clients[user]

    def post(user, url, values, client=None):
        """POST as the browser would, with the session's CSRF token (read again after a
        redirect: a login or registration starts a new session)."""
        if client is not None:
            return client.post(url, data={**values, "csrf_token": csrf_token(client)})
        client = client_for(user)
        if user not in tokens:
            tokens[user] = csrf_token(client)
        response = client.post(url, data={**values, "csrf_token": tokens[user]})
        if response.status_code in (302, 303):
            tokens.pop(user)
        return response

    world = World({"tree": tree, "teachers": teachers, "programme": make_programme(tree),
                   "topic": topic, "entry": entry, "applicant": applicant,
                   "client_for": client_for, "post": post, "new_client": app.test_client})
    client_for(TWO_FACTOR_USER)
    world["secret"] = enable_two_factor(tree["accounts"][TWO_FACTOR_USER])
    return world


def _where(spec, values) -> str:
    shown = {k: (v[:80] + f"…({len(v)} chars)" if isinstance(v, str) and len(v) > 80 else v)
             for k, v in values.items()}
    return f"{spec.name} {shown!r}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@FUZZ
@given(data=st.data())
def test_a_form_survives_hostile_input(world, spec, data):
    ctx = spec.prepare(world)
    client = ctx.get("client") or world["client_for"](spec.user)
    values = spec.draw(data, ctx)
    before = snapshot(*spec.tables)
    ctx["audit_id"] = AuditLog.select().order_by(AuditLog.id.desc()).first().id
    response = world["post"](spec.user, ctx["url"], values, ctx.get("client"))
    ctx["response"] = response
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: how many got stored
    where = _where(spec, values)
    assert response.status_code in spec.ok + (422,) + spec.also, f"{where}: {response.status_code}"
    sent = flat_values(values)
    assert_escaped(response.get_data(as_text=True), sent, where)
    if response.status_code not in spec.ok:
        assert snapshot(*spec.tables) == before, f"{where}: refused ({response.status_code}) but rows changed"
        return
    if response.status_code in (302, 303):
        page = client.get(response.headers["Location"])
        assert page.status_code in spec.after, f"{where}: the page after → {page.status_code}"
        assert_escaped(page.get_data(as_text=True), sent, where + " (page after)")
    if spec.accepted:
        spec.accepted(world, ctx, values, before)


def test_every_post_route_is_fuzzed(app):
    """A new form must be added to SPECS (or, field-less, to BARE): none is forgotten."""
    posted = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    covered = {s.endpoint for s in SPECS} | BARE | ELSEWHERE
    assert posted - covered == set()
    assert covered - posted == set()


@FUZZ
@given(junk=st.dictionaries(hostile("x", "id", "role", "state", "school_id", huge_ok=False).any(),
                            hostile("1", "admin").any(), max_size=3))
def test_bare_confirmations_ignore_junk_fields(world, junk):
    """A bare confirmation with junk fields (mass assignment, SECURITY.md row 4) answers as
    without them: a redirect, never a 500, and no field is taken (junk with U+0000 is refused
    whole, as all such input is)."""
    client = world["client_for"]("fuzz_teacher")
    response = client.post("/me/withdraw", data={**junk, "csrf_token": csrf_token(client)})
    nul = any("\x00" in text for pair in junk.items() for text in pair)
    assert response.status_code == (422 if nul else 303)
    assert Account.get(Account.username == "fuzz_teacher").username == "fuzz_teacher"

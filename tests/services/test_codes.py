"""权限码 rules (SECURITY.md row 5): who may issue what, strength and storage, single use under
concurrency, expiry, revocation, replacement."""
import datetime
import hashlib
import math
import secrets
import threading

import pytest

from yanxiu.db import database
from yanxiu.models import AuditLog, Binding, CodeFailure, PermissionCode
from yanxiu.models.account import SCHOOL_ADMIN, SUPER, TRAINING
from yanxiu.models.base import now
from yanxiu.services import accounts, codes
from yanxiu.services.codes import CodeError, CodeThrottled, ReplacementNeeded


def binding_of(tree, username):
    return Binding.get(Binding.account == tree["accounts"][username])


def new_account(name):
    return accounts.register(name, "新管理员", "Test@2025pw")


def issue(tree, username, role, region=None, school=None, **kw):
    r = tree["regions"][region] if region else None
    s = tree["schools"][school] if school else None
    return codes.issue_permission_code(binding_of(tree, username), role, region=r, school=s, **kw)


@pytest.mark.parametrize("username,role,region,school", [
    ("operator", SUPER, "330000", None),
    ("zj_super", TRAINING, "330000", None),
    ("zj_super", SUPER, "330100", None),
    ("xh_admin", SCHOOL_ADMIN, None, "3301060001"),
    ("zj_admin", SCHOOL_ADMIN, None, "3300000001"),   # 省直属
])
def test_sec05_issues_go_downward_within_ones_own_subtree(tree, username, role, region, school):
    issued = issue(tree, username, role, region, school)
    assert len(issued.plain) == 19 and issued.plain.count("-") == 3
    stored = PermissionCode.get_by_id(issued.code.id)
    assert issued.plain.replace("-", "") not in stored.code_hash
    assert stored.state == "unused"
    assert (stored.expires_at - now()).days in (29, 30)
    assert AuditLog.select().where(AuditLog.action == "code.issued").count() == 1


@pytest.mark.parametrize("username,role,region,school", [
    ("xh_admin", SUPER, "330100", None),          # a county issuing a city code
    ("xh_admin", TRAINING, "330106", None),       # a training admin issues no admin codes
    ("xh_admin", SCHOOL_ADMIN, None, "3301020001"),  # another county's school
    ("zj_admin", SCHOOL_ADMIN, None, "3301060001"),  # a county school is the county's job
    ("zj_super", SUPER, "330106", None),          # not a direct sub-region
    ("zj_super", SUPER, "320000", None),          # outside its subtree
    ("hz_admin", TRAINING, "330100", None),       # training admins don't create admins
    ("operator", TRAINING, "330000", None),       # the operator issues province super codes only
    ("operator", SUPER, "330100", None),
    ("school_admin", SCHOOL_ADMIN, None, "3301060001"),
])
def test_sec05_refused_issues_write_nothing(tree, username, role, region, school):
    with pytest.raises(CodeError):
        issue(tree, username, role, region, school)
    assert PermissionCode.select().count() == 0


def test_sec05_codes_carry_at_least_60_bits_from_a_csprng_and_are_stored_hashed(tree, monkeypatch):
    """16 symbols of a 31-symbol alphabet (79 bits), each drawn with `secrets` (the operating
    system's CSPRNG); the database keeps a SHA-256 of the code and nowhere the code itself."""
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 31
    assert codes.CODE_LENGTH * math.log2(len(codes.ALPHABET)) >= 60
    drawn = []

    def choice(seq):
        drawn.append(seq)
        return real_choice(seq)

    real_choice = secrets.choice
    monkeypatch.setattr(codes.secrets, "choice", choice)
    plain = [issue(tree, "zj_super", TRAINING, "330000").plain for _ in range(40)]
    assert len(drawn) == 40 * codes.CODE_LENGTH and set(drawn) == {codes.ALPHABET}
    raw = [p.replace("-", "") for p in plain]
    assert len(set(raw)) == 40
    assert all(len(r) == 16 and set(r) <= set(codes.ALPHABET) for r in raw)
    assert set("".join(raw)) == set(codes.ALPHABET)  # 640 draws use every symbol
    stored = {c.id: c.code_hash for c in PermissionCode.select()}
    assert sorted(stored.values()) == sorted(hashlib.sha256(r.encode()).hexdigest() for r in raw)
    for table in database.get_tables():
        dump = str(database.execute_sql(f'SELECT * FROM "{table}"').fetchall())
        for r, p in zip(raw, plain):
            assert r not in dump and p not in dump, table


def test_sec05_redeem_creates_binding_once(tree):
    issued = issue(tree, "zj_super", TRAINING, "330000")
    account = new_account("newadmin")
    binding = codes.redeem_code(account, issued.plain.lower().replace("-", " "))
    assert (binding.role, binding.region_id, binding.state) == (TRAINING, tree["regions"]["330000"].id, "active")
    code = PermissionCode.get_by_id(issued.code.id)
    assert (code.state, code.used_by_id, code.binding_id) == ("used", account.id, binding.id)
    with pytest.raises(CodeError, match="已被使用"):
        codes.redeem_code(new_account("another"), issued.plain)


def test_sec05_expired_revoked_and_mistyped_codes_are_refused_and_counted(tree):
    account = new_account("newadmin")
    expired = issue(tree, "zj_super", TRAINING, "330000")
    PermissionCode.update(expires_at=now() - datetime.timedelta(minutes=1)).execute()
    with pytest.raises(CodeError, match="已过期"):
        codes.redeem_code(account, expired.plain)
    revoked = issue(tree, "zj_super", TRAINING, "330000")
    codes.revoke_code(binding_of(tree, "zj_super"), revoked.code)
    with pytest.raises(CodeError, match="已作废"):
        codes.redeem_code(account, revoked.plain)
    with pytest.raises(CodeError, match="格式不正确"):
        codes.redeem_code(account, "ABCD-EFGH")
    with pytest.raises(CodeError, match="不存在"):
        codes.redeem_code(account, "ABCD-EFGH-JKMN-PQRS")
    assert CodeFailure.select().count() == 4
    assert Binding.select().where(Binding.account == account).count() == 0


def test_sec05_failed_redemptions_are_throttled(tree):
    account = new_account("guesser")
    good = issue(tree, "zj_super", TRAINING, "330000")
    for _ in range(5):
        with pytest.raises(CodeError):
            codes.redeem_code(account, "ABCD-EFGH-JKMN-PQRS", address="10.0.0.9")
    with pytest.raises(CodeThrottled):
        codes.redeem_code(account, good.plain, address="10.0.0.9")
    assert PermissionCode.get_by_id(good.code.id).state == "unused"


def test_revoke_only_unused_codes(tree):
    issued = issue(tree, "zj_super", TRAINING, "330000")
    codes.redeem_code(new_account("newadmin"), issued.plain)
    with pytest.raises(CodeError):
        codes.revoke_code(binding_of(tree, "zj_super"), PermissionCode.get_by_id(issued.code.id))


def test_code_for_a_scope_already_held_is_refused(tree):
    issued = issue(tree, "xh_admin", SCHOOL_ADMIN, school="3301060001")
    with pytest.raises(CodeError, match="无需重复绑定"):
        codes.redeem_code(tree["accounts"]["school_admin"], issued.plain)
    assert PermissionCode.get_by_id(issued.code.id).state == "unused"


def test_school_admin_is_replaced_only_after_confirmation(tree):
    issued = issue(tree, "xh_admin", SCHOOL_ADMIN, school="3301060001")
    old = binding_of(tree, "school_admin")
    newcomer = new_account("newhead")
    with pytest.raises(ReplacementNeeded) as refused:
        codes.redeem_code(newcomer, issued.plain)
    assert "西湖校管" in str(refused.value)
    assert Binding.get_by_id(old.id).state == "active"
    binding = codes.redeem_code(newcomer, issued.plain, confirm_replace=True)
    old = Binding.get_by_id(old.id)
    assert old.state == "ended" and old.ended_by_id == newcomer.id and old.ended_at is not None
    active = Binding.select().where((Binding.school == tree["schools"]["3301060001"])
                                    & (Binding.state == "active"))
    assert [b.id for b in active] == [binding.id]


def test_sec05_one_code_redeemed_from_many_threads_has_one_winner(tree, database_url):
    issued = issue(tree, "zj_super", TRAINING, "330000")
    contenders = [new_account(f"racer{i}") for i in range(8)]
    database.close()
    results, barrier = [], threading.Barrier(len(contenders))

    def attempt(account):
        barrier.wait()
        try:
            codes.redeem_code(account, issued.plain, address=f"10.1.0.{account.id}")
            results.append("won")
        except CodeError:
            results.append("lost")
        finally:
            database.close()

    threads = [threading.Thread(target=attempt, args=(a,)) for a in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]
    assert Binding.select().where(Binding.role == TRAINING, Binding.account.in_(contenders)).count() == 1


def test_end_binding_keeps_history(tree):
    target = binding_of(tree, "xh_admin")
    codes.end_binding(target, ended_by=tree["accounts"]["hz_admin"], reason="调离")
    ended = Binding.get_by_id(target.id)
    assert (ended.state, ended.end_reason) == ("ended", "调离")
    assert AuditLog.select().where(AuditLog.action == "binding.ended").count() == 1
    with pytest.raises(CodeError):
        codes.end_binding(ended, ended_by=tree["accounts"]["hz_admin"], reason="again")


"""Decisions two people can race on happen exactly once (SECURITY.md row 20): many threads
approve, reject or withdraw one application at the same moment — one wins, the others are told,
the row ends in the winner's state with one audit row; and two schools approving the same
身份证号 for two accounts cannot both succeed (the partial unique index decides)."""
import threading

from tests.fixture_teachers import teacher_data
from yanxiu.db import database
from yanxiu.models import AuditLog, Binding, Membership
from yanxiu.models.teacher import APPROVED, PENDING, REJECTED, WITHDRAWN
from yanxiu.services import accounts
from yanxiu.services.teachers import (DecisionConflict, TeacherError, approve, reject,
                                      submit_application, withdraw_application)

THREADS = 8
DECISIONS = ("teacher.approved", "teacher.rejected", "teacher.withdrawn")


def binding_of(tree, username, school_code):
    return Binding.get((Binding.account == tree["accounts"][username])
                       & (Binding.school == tree["schools"][school_code]))


def race(attempts) -> list[tuple[str, object]]:
    """Run every (label, function) at once, each in its own thread with its own database
    connection; returns (label, "won" or the exception raised) per attempt."""
    database.close()
    # The timeout turns a thread that never arrives into a failure instead of a hung suite.
    results, barrier = [], threading.Barrier(len(attempts), timeout=60)

    def run(label, attempt):
        database.connect(reuse_if_open=True)  # before the barrier, so they start together
        barrier.wait()
        try:
            attempt()
            results.append((label, "won"))
        except Exception as err:  # whatever a loser got, the test then says what it must be
            results.append((label, err))
        finally:
            database.close()

    threads = [threading.Thread(target=run, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def decision_rows(*membership_ids) -> list[str]:
    return [a.action for a in AuditLog.select().where(
        AuditLog.action.in_(DECISIONS) & AuditLog.target_id.in_([str(i) for i in membership_ids]))]


def test_sec20_approve_and_reject_from_many_threads_have_one_winner(teachers, tree):
    row = teachers["memberships"]["t_pending"]
    admin = binding_of(tree, "school_admin", "3301060001")
    attempts = [("approve", lambda: approve(admin, row.id, address="10.2.0.1"))
                if i % 2 else
                ("reject", lambda: reject(admin, row.id, "非本校（机构）教师"))
                for i in range(THREADS)]
    results = race(attempts)
    winners = [label for label, outcome in results if outcome == "won"]
    assert len(winners) == 1, results
    losers = [outcome for _, outcome in results if outcome != "won"]
    assert len(losers) == THREADS - 1 and all(isinstance(e, DecisionConflict) for e in losers), losers
    assert all("您的操作未执行" in str(e) for e in losers)
    state, action = {"approve": (APPROVED, "teacher.approved"),
                     "reject": (REJECTED, "teacher.rejected")}[winners[0]]
    final = Membership.get_by_id(row.id)
    assert (final.state, final.version) == (state, row.version + 1)
    assert decision_rows(row.id) == [action]


def test_sec20_approve_and_withdraw_race_has_one_winner(teachers, tree):
    row = teachers["memberships"]["t_pending"]
    admin = binding_of(tree, "school_admin", "3301060001")
    teacher = teachers["accounts"]["t_pending"]
    attempts = [("approve", lambda: approve(admin, row.id)) if i % 2 else
                ("withdraw", lambda: withdraw_application(teacher)) for i in range(THREADS)]
    results = race(attempts)
    winners = [label for label, outcome in results if outcome == "won"]
    assert len(winners) == 1, results
    for label, outcome in results:
        if outcome == "won":
            continue
        # the admin is told someone decided first; the teacher that there is nothing to withdraw
        assert isinstance(outcome, DecisionConflict if label == "approve" else TeacherError), results
    final = Membership.get_by_id(row.id)
    expected = {"approve": (APPROVED, "teacher.approved"), "withdraw": (WITHDRAWN, "teacher.withdrawn")}
    assert final.state == expected[winners[0]][0]
    assert decision_rows(row.id) == [expected[winners[0]][1]]


def test_sec20_one_id_number_approved_at_two_schools_at_once_has_one_winner(teachers, tree):
    """Two accounts applied with the same 身份证号 to two schools (allowed while neither is
    approved); both school admins approve at the same moment, several times over."""
    data = teacher_data(99)
    schools = [("3301060001", "school_admin"), ("3301060002", "multi")]
    rows, admins = [], []
    for i, (code, username) in enumerate(schools):
        account = accounts.register(f"same_id_{i}", "同号老师", "Test@2025pw")
        rows.append(submit_application(account, tree["schools"][code].id, data))
        admins.append(binding_of(tree, username, code))
    attempts = [(i % 2, lambda i=i: approve(admins[i % 2], rows[i % 2].id))
                for i in range(THREADS)]
    results = race(attempts)
    winners = [which for which, outcome in results if outcome == "won"]
    assert len(winners) == 1, results
    won = winners[0]
    for which, outcome in results:
        if outcome == "won":
            continue
        assert isinstance(outcome, TeacherError), results
        # on the winner's row the others were late; on the other row the number is taken
        assert isinstance(outcome, DecisionConflict) == (which == won), results
    states = [Membership.get_by_id(r.id).state for r in rows]
    assert states[won] == APPROVED and states[1 - won] == PENDING
    assert Membership.select().where((Membership.id_index == rows[0].id_index)
                                     & (Membership.state == APPROVED)).count() == 1
    assert decision_rows(rows[0].id, rows[1].id) == ["teacher.approved"]

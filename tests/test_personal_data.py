"""Personal data (SECURITY.md rows 17 and 18): the suite-wide guard of tests/pii_guard.py can
fail, teachers in every state crawled by every kind of account show only masked values, the
audited reveal is the one exception, and the database keeps no 身份证号 or 手机号 in clear."""
import hashlib
import json
import logging
import re

import pytest
from flask import jsonify, redirect

from tests.conftest import form_post
from tests.fixture_teachers import valid_id_number, valid_mobile
from tests.pii_guard import find_personal_data, mask
from tests.test_routes_policy import crawl
from yanxiu.crypto import personal_data_cipher
from yanxiu.db import database
from yanxiu.export import export_table
from yanxiu.masking import mask_id_number, mask_phone
from yanxiu.models import AuditLog
from yanxiu.scope import public
from yanxiu.services.teachers import REVIEW_STATES

ID_NUMBER = valid_id_number(42)
PHONE = valid_mobile(42)
WRONG_CHECK_DIGIT = ID_NUMBER[:17] + next(d for d in "0123456789X" if d != ID_NUMBER[17])
VALUES = {"clear": (ID_NUMBER, PHONE), "masked": (mask_id_number(ID_NUMBER), mask_phone(PHONE))}
SHAPES = ["html", "json", "csv", "xlsx", "redirect", "header", "log"]


def _answer(shape: str, form: str):
    """One 身份证号 or 手机号, clear or masked, in each shape a leak could take."""
    id_number, phone = VALUES[form]
    if shape == "html":
        return f"<table><tr><td>身份证号</td><td>{id_number}</td></tr></table>"
    if shape == "json":
        return jsonify(name="李明", phone=phone)
    if shape == "csv":
        return export_table("教师名单", "csv", ["姓名", "身份证号"], [["李明", id_number]])
    if shape == "xlsx":
        return export_table("教师名单", "xlsx", ["姓名", "手机号"], [["李明", phone]])
    if shape == "redirect":
        return redirect(f"/teachers?q={phone}", 303)
    if shape == "header":
        return "", 204, {"HX-Trigger": json.dumps({"revealed": id_number})}
    logging.getLogger("yanxiu.test").warning("approved %s", id_number)
    return "ok"


@pytest.fixture
def leaky(app):
    """The test app with one extra route answering `_answer` (registered before any request)."""
    app.add_url_rule("/_test/pii/<shape>/<form>", "pii_test", public(_answer))
    return app.test_client()


@pytest.mark.parametrize("shape", SHAPES)
def test_sec17_guard_flags_clear_personal_data(leaky, personal_data_guard, shape):
    assert leaky.get(f"/_test/pii/{shape}/clear").status_code in (200, 204, 303)
    leaks = list(personal_data_guard.leaks)
    personal_data_guard.leaks.clear()  # found, as it should be: this test must not fail for it
    assert leaks
    where = "log record of yanxiu.test" if shape == "log" else f"GET /_test/pii/{shape}/clear (pii_test)"
    for report in leaks:
        assert report.startswith(where)
        assert mask(ID_NUMBER) in report or mask(PHONE) in report
        assert ID_NUMBER not in report and PHONE not in report


@pytest.mark.parametrize("shape", SHAPES)
def test_sec17_guard_lets_masked_personal_data_pass(leaky, personal_data_guard, shape):
    response = leaky.get(f"/_test/pii/{shape}/masked")
    assert response.status_code in (200, 204, 303)
    if shape in ("html", "csv"):
        assert mask_id_number(ID_NUMBER) in response.get_data(as_text=True)
    assert personal_data_guard.leaks == []


def test_sec17_guard_reads_info_log_records_outside_requests(personal_data_guard):
    logging.getLogger("yanxiu").info("reveal of %s", PHONE)
    logging.getLogger("yanxiu").info("reveal of %s", mask_phone(PHONE))
    leaks = list(personal_data_guard.leaks)
    personal_data_guard.leaks.clear()
    assert len(leaks) == 1 and mask(PHONE) in leaks[0] and PHONE not in leaks[0]


def test_sec17_guard_report_masks_the_url_too(leaky, personal_data_guard):
    leaky.get(f"/_test/pii/html/clear?q={PHONE}")
    leaks = list(personal_data_guard.leaks)
    personal_data_guard.leaks.clear()
    assert leaks and all(PHONE not in leak and ID_NUMBER not in leak for leak in leaks)


@pytest.mark.parametrize("text,found", [
    (ID_NUMBER, ["身份证号"]),
    (f"身份证号{ID_NUMBER}。", ["身份证号"]),  # Chinese text around it is no boundary
    (WRONG_CHECK_DIGIT, []),
    ("330106198513400011", []),  # no 13th month
    ("330000330100330106", []),  # a region path: 18 digits, no birth date in them
    (mask_id_number(ID_NUMBER), []),
    (f"联系电话：{PHONE}", ["手机号"]),
    (mask_phone(PHONE), []),
    ("0571-88123456", []),
    ("12345678901", []),  # no mobile starts with 12
    (f"{PHONE}9", []),  # 12 digits
    (f"style.css?v={PHONE}a", []),  # the hex of a static URL
    (f"sha256:ab{ID_NUMBER}cd", []),
    ("3301060001", []),  # 学校标识码
])
def test_sec17_what_counts_as_personal_data(text, found):
    assert [kind for kind, _, _ in find_personal_data(text)] == found


def test_sec17_a_crawl_of_teachers_in_every_state_shows_only_masked_values(teachers, login_as,
                                                                      personal_data_guard):
    """Every page, fragment and export each kind of account reaches, with teachers in every
    state, carries no 身份证号 or 手机号 in clear — and does show the masked ones."""
    seeds = ["/workbench", "/teachers", "/teachers/overview", "/me", "/me/schools"]
    seeds += [f"/teachers?state={s}" for s in REVIEW_STATES]
    seeds += [f"/teachers/export.{fmt}?state={s}" for fmt in ("csv", "xlsx") for s in REVIEW_STATES]
    shown = ""
    for username in ("operator", "xh_admin", "school_admin", "multi", "teacher", "t_pending",
                     "t_rejected", "t_mover"):
        for response in crawl(login_as(username), seeds).values():
            if response.mimetype in ("text/html", "text/csv"):
                shown += response.get_data(as_text=True)
    data = teachers["data"]
    assert mask_id_number(data["t_pending"]["id_number"]) in shown
    assert mask_phone(data["t_other"]["phone"]) in shown
    assert personal_data_guard.leaks == []


def test_sec17_the_audited_reveal_is_the_one_exception(teachers, login_as, personal_data_guard):
    client = login_as("school_admin")
    row = teachers["memberships"]["t_pending"]
    clear = teachers["data"]["t_pending"]
    for field, value in (("id_number", clear["id_number"]), ("phone", clear["phone"])):
        response = form_post(client, f"/teachers/{row.id}/reveal", {"field": field},
                             headers={"HX-Request": "true"})
        assert response.status_code == 200 and value in response.text
    assert personal_data_guard.leaks == []
    assert AuditLog.select().where((AuditLog.action == "teacher.revealed")
                                   & (AuditLog.target_id == str(row.id))).count() == 2


# ---------------------------------------------------------------- at rest (row 18)

def _raw_rows(table: str) -> list[dict]:
    cursor = database.execute_sql(f'SELECT * FROM "{table}"')
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def test_sec18_a_raw_select_shows_no_id_number_or_phone_in_clear(teachers):
    clear = {v for d in teachers["data"].values() for v in (d["id_number"], d["phone"])}
    memberships = _raw_rows("membership")
    assert len(memberships) == 8
    for table in database.get_tables():
        rows = memberships if table == "membership" else _raw_rows(table)
        for row in rows:
            for column, value in row.items():
                assert not any(c in str(value) for c in clear), f"{table}.{column} holds one in clear"
    for row in memberships:
        assert re.fullmatch(r"[1-9]\d{5}\*{8}\d{3}[\dX]", row["id_masked"]), row["id_masked"]
        assert re.fullmatch(r"1[3-9]\d\*{4}\d{4}", row["phone_masked"]), row["phone_masked"]
    by_id = {row["id"]: row for row in memberships}
    rows = teachers["memberships"]
    number = teachers["data"]["t_mover"]["id_number"]
    old, new = by_id[rows["t_mover_old"].id], by_id[rows["t_mover"].id]
    assert old["id_masked"] == new["id_masked"] == mask_id_number(number)
    # The same number twice: one keyed look-up hash, two ciphertexts (a fresh nonce each time).
    assert old["id_index"] == new["id_index"] and old["phone_index"] == new["phone_index"]
    assert old["id_cipher"] != new["id_cipher"] and old["phone_cipher"] != new["phone_cipher"]
    assert old["id_index"] not in (hashlib.sha256(number.encode()).hexdigest(),
                                   hashlib.md5(number.encode()).hexdigest())
    assert personal_data_cipher().decrypt(new["id_cipher"]) == number

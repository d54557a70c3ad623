"""实名信息 rules: 身份证号 (GB 11643), 手机号, names; masking; encryption at rest."""
import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from yanxiu.crypto import PersonalDataCipher
from yanxiu.masking import mask_id_number
from yanxiu.services.identity import IdentityError, check_id_number, check_mobile, check_person_name

def with_check_digit(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


VALID = ["11010519491231002X", with_check_digit("33011419850715211"), with_check_digit("46902719900101001")]


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_pass_and_normalise(number):
    assert check_id_number(f" {number.lower()} ") == number.upper()


@st.composite
def valid_id_numbers(draw):
    region = draw(st.sampled_from(["110105", "330106", "330102", "320102", "440300", "650102"]))
    birth = draw(st.dates(min_value=datetime.date(1940, 1, 1), max_value=datetime.date(2010, 12, 31)))
    seq = draw(st.integers(min_value=0, max_value=999))
    return with_check_digit(f"{region}{birth:%Y%m%d}{seq:03d}")


@settings(max_examples=200, deadline=None)
@given(valid_id_numbers())
def test_sec15_every_single_digit_mutation_of_an_id_number_is_refused(number):
    """Property: for a random valid number, each of its 17 × 9 + 10 single-character
    mutations (every position, every other digit; X at the check position) is refused."""
    assert check_id_number(number) == number
    mutations = 0
    for position in range(18):
        alphabet = "0123456789X" if position == 17 else "0123456789"
        for replacement in alphabet:
            if replacement == number[position]:
                continue
            mutated = number[:position] + replacement + number[position + 1:]
            with pytest.raises(IdentityError):
                check_id_number(mutated)
            mutations += 1
    assert mutations == 17 * 9 + 10


@pytest.mark.parametrize("number,message", [
    ("1101051949123100", "18 位"), ("11010519491231002Y", "格式"),
    ("110105194913310023", "出生日期"), ("110105194912310021", "校验位"),
])
def test_sec15_bad_id_numbers_say_why(number, message):
    with pytest.raises(IdentityError, match=message) as err:
        check_id_number(number)
    assert number not in str(err.value)


def test_future_birth_date_is_refused():
    with pytest.raises(IdentityError, match="晚于今天"):
        check_id_number(with_check_digit("11010520300101001"), today=datetime.date(2026, 11, 29))


@pytest.mark.parametrize("text,ok", [("13812345678", True), ("138 1234 5678", True),
                                     ("12812345678", False), ("1381234567", False)])
def test_sec15_mobile_allow_list(text, ok):
    if ok:
        assert check_mobile(text) == "13812345678"
    else:
        with pytest.raises(IdentityError):
            check_mobile(text)


@pytest.mark.parametrize("name,ok", [("王丽", True), ("阿依古丽·买买提", True), ("王", False),
                                     ("·王丽", False), ("王丽1", False), ("王" * 31, False)])
def test_sec15_person_names_allow_list(name, ok):
    if ok:
        assert check_person_name(name) == name
    else:
        with pytest.raises(IdentityError):
            check_person_name(name)


def test_sec17_masking():
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_sec18_encryption_round_trip_and_keyed_blind_index():
    cipher = PersonalDataCipher("k1")
    token = cipher.encrypt("11010519491231002X")
    assert "11010519491231002X" not in token and cipher.decrypt(token) == "11010519491231002X"
    assert cipher.encrypt("11010519491231002X") != token  # fresh nonce each time
    assert cipher.blind_index("11010519491231002X") == cipher.blind_index("11010519491231002X")
    assert PersonalDataCipher("k2").blind_index("11010519491231002X") != cipher.blind_index("11010519491231002X")
    with pytest.raises(Exception):
        PersonalDataCipher("k2").decrypt(token)

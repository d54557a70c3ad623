"""Real-name data rules (实名信息): 身份证号, 手机号 and names, checked before anything is stored."""
import datetime
import re

from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
PERSON_NAME_RE = re.compile(r"^[\u4e00-\u9fffA-Za-z]([\u4e00-\u9fffA-Za-z·]{0,28})[\u4e00-\u9fffA-Za-z]$")


class IdentityError(ValueError):
    """An invalid real-name value; the message is Chinese and never repeats the value in full."""


def check_id_number(text: str, today: datetime.date | None = None) -> str:
    """A valid 18-digit 身份证号 (GB 11643: format, birth date, check digit), upper-case X.

    The region part is not checked against a code list: codes change over time, and a
    person keeps the number issued at birth.
    """
    number = ric.compact(text or "").replace(" ", "").upper()
    if len(number) != 18:
        raise IdentityError("身份证号须为 18 位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentityError("身份证号格式不正确：前 17 位须为数字，最后一位为数字或 X")
    try:
        birth = ric.get_birth_date(number)
    except InvalidComponent:
        raise IdentityError("身份证号中的出生日期不正确") from None
    if number[17] != ric.calc_check_digit(number):
        raise IdentityError("身份证号校验位不正确，请逐位核对")
    if birth > (today or datetime.date.today()):
        raise IdentityError("身份证号中的出生日期晚于今天")
    return number


def check_mobile(text: str) -> str:
    """An 11-digit mainland mobile number."""
    number = re.sub(r"[\s-]", "", text or "")
    if not MOBILE_RE.match(number):
        raise IdentityError("手机号须为 11 位，以 1 开头")
    return number


def check_person_name(text: str) -> str:
    """姓名: 2–30 Chinese or Latin letters, · allowed inside (少数民族姓名如 阿依古丽·买买提)."""
    name = (text or "").strip()
    if not PERSON_NAME_RE.match(name):
        raise IdentityError("姓名须为 2–30 个汉字或字母，可含间隔号 ·")
    return name

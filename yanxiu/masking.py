"""Personal data as pages, exports and logs show it: masked by default."""
import re

# A digit run touching a Latin letter belongs to a token (a hash, a static URL), not a number.
_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678; 0571-88123456 → 0571-****3456 (area code kept)."""
    if not phone:
        return ""
    area, dash, number = phone.rpartition("-")
    keep = 0 if dash else 3
    if len(number) < keep + 4:
        return "*" * len(phone)
    masked = number[:keep] + "*" * (len(number) - keep - 4) + number[-4:]
    return f"{area}-{masked}" if dash else masked


def mask_id_number(number: str | None) -> str:
    """110105194912310021 → 110105********0021 (region code and last four kept)."""
    if not number:
        return ""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_in_text(text: str | None) -> str:
    """Free text (an audit row's before/after, a typed user name) with every 11-digit mobile
    and every 18-digit 身份证号 in it masked: 电话13812345678 → 电话138****5678."""
    if not text:
        return ""
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE.sub(lambda m: mask_phone(m.group()), text)

"""Personal data as pages, exports and logs show it: masked by default."""


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

"""How values read on screen and in exports alike: dates in Asia/Shanghai, rates as percentages."""
import datetime

SHANGHAI = datetime.timedelta(hours=8)  # China keeps no daylight saving time


def local_date(value: datetime.datetime | None) -> str:
    """A stored UTC time as 2025-07-01 in Asia/Shanghai."""
    return (value + SHANGHAI).strftime("%Y-%m-%d") if value else ""


def local_datetime(value: datetime.datetime | None) -> str:
    """A stored UTC time as 2025-07-01 08:30 in Asia/Shanghai."""
    return (value + SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def percent(rate: float | None) -> str:
    """0.8512 → 85.1%; no denominator → —."""
    return "—" if rate is None else f"{rate * 100:.1f}%"

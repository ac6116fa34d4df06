"""Human-readable times and sizes, as docker and podman print them (go-units)."""

from __future__ import annotations

import re

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|([+-])(\d\d):(\d\d))?")


def parse_time(text: str) -> float:
    """RFC 3339 (with nanoseconds, which datetime cannot parse) -> epoch seconds; 0.0 for "" or junk,
    a date that does not exist included (datetime.fromisoformat raised there)."""
    m = _RFC3339.fullmatch(text) if text else None
    if not m:
        return 0.0
    y, mo, d, h, mi, sec = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h < 24 and mi < 60 and sec < 60):
        return 0.0
    offset = 0 if m.group(9) is None else (int(m.group(10)) * 60 + int(m.group(11))) * 60
    seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
    seconds -= offset if m.group(9) == "+" else -offset
    return seconds + (float("0." + m.group(7)) if m.group(7) else 0.0)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "3 seconds", "About a minute", ..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # Go: int(d.Hours() + 0.5), not Python's round-half-even
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def human_size(n: float) -> str:
    """Decimal units with 3 significant digits, as podman (``4.5 MB``)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.3g} {units[i]}"

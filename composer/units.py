"""Canonical compose values (Go durations, byte sizes) to plain numbers. Pure."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_BYTE_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
}
_BYTES: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")


def duration_seconds(value: Any) -> float:
    """A Go duration ("1m30s", "500ms", "2s") or a number of seconds, as float seconds.

    Raises:
        ValueError: *value* is not a duration.
    """
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text in ("0", ""):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {value!r}")
    return sign * total


def byte_size(value: Any) -> int:
    """A byte count ("10485760", 1024, "512m", "1g") as an int.

    Raises:
        ValueError: *value* is not a size.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    m = _BYTES.fullmatch(text)
    if not m or m.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(f"invalid size {value!r}")
    return int(float(m.group(1)) * _BYTE_UNITS[m.group(2).lower()])


_MAC: Final = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}", re.IGNORECASE)


def mac_address(value: Any) -> str | None:
    """A unicast ethernet address as 02:42:ac:11:00:02 (Go's net.ParseMAC forms with : or -), or
    None: the kernel refuses any other as an interface's address."""
    text = str(value)
    if not _MAC.fullmatch(text) or int(text[:2], 16) & 1:
        return None
    return text.replace("-", ":").lower()

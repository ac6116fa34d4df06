"""Pure value parsers shared by the canonical form and the checks: durations, byte sizes, ports.

Each one follows the Go library docker compose uses, so that what we accept, reject and print
matches it: durations as github.com/xhit/go-str2duration in, Go's time.Duration.String() out; byte
sizes as go-units RAMInBytes; port specs as go-connections/nat.ParsePortSpecs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "UnitError",
    "parse_duration",
    "format_duration",
    "normalize_duration",
    "parse_bytes",
    "parse_port_spec",
    "PortBinding",
]


class UnitError(ValueError):
    """A value does not parse; str() is a lower-case one-line reason naming the value."""


# --- durations --------------------------------------------------------------------------------

_NS: Final[dict[str, int]] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 24 * 3600 * 1_000_000_000,
    "w": 7 * 24 * 3600 * 1_000_000_000,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(raw: object) -> int:
    """Parse a compose duration ("1m30s", "1.5s", "2d", "0") into nanoseconds.

    Raises:
        UnitError: not a duration (a bare number other than 0 has no unit and is rejected,
            as Go's parser does).
    """
    text = str(raw) if not isinstance(raw, bool) else ""
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise UnitError(f"invalid duration {text!r}")
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            what = "missing unit in duration" if re.fullmatch(r"[\d.]+", s[pos:]) else "invalid duration"
            raise UnitError(f"{what} {text!r}")
        number, unit = m.group(1), m.group(2)
        whole, _, frac = number.partition(".")
        value = int(whole or "0") * _NS[unit]
        if frac:
            value += int(frac) * _NS[unit] // (10 ** len(frac))
        total += value
        pos = m.end()
    return sign * total


def _fmt_frac(value: int, scale: int) -> str:
    """value/scale as Go prints it: integer part, then the fraction without trailing zeros."""
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(scale)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_duration(ns: int) -> str:
    """Nanoseconds as Go's time.Duration.String(): "1m30s", "1.5s", "500ms", "1h2m0s", "0s"."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            out = f"{u}ns"
        elif u < 1_000_000:
            out = _fmt_frac(u, 1_000) + "µs"
        else:
            out = _fmt_frac(u, 1_000_000) + "ms"
    else:
        hours, rest = divmod(u, 3600 * 1_000_000_000)
        minutes, rest = divmod(rest, 60 * 1_000_000_000)
        out = _fmt_frac(rest, 1_000_000_000) + "s"
        if hours or minutes:
            out = f"{minutes}m" + out
        if hours:
            out = f"{hours}h" + out
    return "-" + out if neg else out


def normalize_duration(raw: object) -> str:
    """A compose duration in the form docker compose prints it."""
    return format_duration(parse_duration(raw))


# --- byte sizes -------------------------------------------------------------------------------

_BYTES: Final = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_MULT: Final[dict[str, int]] = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(raw: object) -> int:
    """A byte size ("64m", "1gb", "1.5k", 1024) as an int, with binary multipliers (go-units).

    Raises:
        UnitError: not a size.
    """
    if isinstance(raw, bool):
        raise UnitError(f"invalid size {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw)
    text = str(raw)
    m = _BYTES.match(text)
    if m is None:
        raise UnitError(f"invalid size {text!r}")
    number = float(m.group(1)) if m.group(1).count(".") <= 1 else None
    if number is None:
        raise UnitError(f"invalid size {text!r}")
    unit = (m.group(2) or "").lower()
    return int(number * _MULT.get(unit, 1))


# --- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortBinding:
    """One short-syntax port after range expansion, as compose's ServicePortConfig."""

    target: int
    published: str  # "" when not published; may stay a range "8000-8010" for a single target
    host_ip: str
    protocol: str


def _split_range(text: str, what: str, spec: str) -> tuple[int, int]:
    start_s, sep, end_s = text.partition("-")
    try:
        start = int(start_s)
        end = int(end_s) if sep else start
    except ValueError:
        raise UnitError(f"invalid {what} port {text!r} in {spec!r}") from None
    if not (0 <= start <= 65535 and 0 <= end <= 65535):
        raise UnitError(f"invalid {what} port {text!r} in {spec!r}; ports are 0-65535")
    if end < start:
        raise UnitError(f"invalid port range {text!r} in {spec!r}; expected START-END")
    return start, end


def parse_port_spec(spec: str) -> list[PortBinding]:
    """Parse `[ip:[host[-end]]:]container[-end][/proto]` as nat.ParsePortSpecs does.

    Ranges of equal length pair up; a single container port with a host range keeps the host
    range as its published value. Bindings come out ordered as compose orders them (by
    "port/proto" string).

    Raises:
        UnitError: malformed spec, bad port number, or mismatched ranges.
    """
    raw, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise UnitError(f"invalid protocol {proto!r} in port {spec!r}")
    ip = ""
    host = ""
    if raw.startswith("["):  # [ipv6]:host:container
        close = raw.find("]")
        if close < 0:
            raise UnitError(f"invalid ip address in port {spec!r}")
        ip = raw[1:close]
        rest = raw[close + 1 :]
        if not rest.startswith(":"):
            raise UnitError(f"invalid port {spec!r}")
        parts = rest[1:].split(":")
        if len(parts) != 2:
            raise UnitError(f"invalid port {spec!r}")
        host, container = parts
    else:
        parts = raw.split(":")
        if len(parts) == 1:
            container = parts[0]
        elif len(parts) == 2:
            host, container = parts
        elif len(parts) == 3:
            ip, host, container = parts
        else:  # an unbracketed ipv6 address: the last two fields are host and container
            ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    if not container:
        raise UnitError(f"no port specified in {spec!r}")
    if ip and not _valid_ip(ip):
        raise UnitError(f"invalid ip address {ip!r} in port {spec!r}")
    start, end = _split_range(container, "container", spec)
    hstart = hend = 0
    if host:
        hstart, hend = _split_range(host, "host", spec)
        if (end - start) != (hend - hstart) and end != start:
            raise UnitError(f"invalid ranges specified for container and host ports in {spec!r}")
    out: list[tuple[str, PortBinding]] = []
    for i, port in enumerate(range(start, end + 1)):
        if not host:
            published = ""
        elif end == start and hend != hstart:
            published = host
        else:
            published = str(hstart + i)
        out.append((f"{port}/{proto}", PortBinding(port, published, ip, proto)))
    out.sort(key=lambda kv: kv[0])
    return [b for _, b in out]


def _valid_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

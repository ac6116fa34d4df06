"""`composer events`: the project's container events, read from the engine's event log.

There is no daemon to stream them: the verbs and the containers' monitors append each event to a
log as it happens (runtime.events), and this command replays and follows it as docker compose
reads the daemon's stream: its project's containers by label, one-offs left out, the services
named, and the lines printed as cmd/compose/events.go prints them.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Mapping
from datetime import datetime

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context
from composer.errors import ComposerError

HELP = {"events": "Receive real time events from containers"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", dest="as_json", help="output events as a stream of json"
    )
    parser.add_argument("--since", default=None, help="show all events created since timestamp")
    parser.add_argument("--until", default=None, help="stream events until this timestamp")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def compose_event(
    project: str, services: tuple[str, ...] | list[str], attributes: Mapping[str, str]
) -> tuple[str, dict[str, str]] | None:
    """(service, attributes shown) of an event docker compose prints for *project*, else None:
    another project's, a one-off's, another service's. The com.docker.compose.* labels are left
    out of the attributes, as docker compose strips them (pkg/compose/events.go)."""
    if attributes.get(L.PROJECT) != project or attributes.get(L.ONEOFF) == "True":
        return None
    service = attributes.get(L.SERVICE, "")
    if services and service not in services:
        return None
    return service, {k: v for k, v in attributes.items() if not k.startswith(L.PREFIX)}


def go_time(ns: int, fixed: bool = False) -> str:
    """Go's time.Time as JSON (RFC3339Nano: trailing zeros of the fraction cut), local zone; with
    *fixed*, all nine digits (docker's RFC3339NanoFixed, the time of `docker events`' lines)."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
    frac = f"{ns % 1_000_000_000:09d}"
    frac = frac if fixed else frac.rstrip("0")
    off = dt.strftime("%z")
    zone = "Z" if off in ("+0000", "") else f"{off[:3]}:{off[3:]}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + zone


def event_line(
    time_ns: int, action: str, cid: str, service: str, attrs: Mapping[str, str], as_json: bool
) -> str:
    """One event as docker compose prints it: `--json` is Go's json.Marshal of a map (sorted keys,
    no spaces, <>& escaped); text is api.Event.String(), `<local time, µs> container <action> <id>
    (k=v, ...)` (Go's map order is random: sorted here)."""
    if as_json:
        from composer.cli.docker_format import go_json

        doc = {"action": action, "attributes": dict(sorted(attrs.items())), "id": cid,
               "service": service, "time": go_time(time_ns), "type": "container"}
        return go_json(doc)
    stamp = datetime.fromtimestamp(time_ns // 1_000_000_000).strftime("%Y-%m-%d %H:%M:%S")
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return f"{stamp}.{time_ns % 1_000_000_000 // 1000:06d} container {action} {cid} ({pairs})"


# Go's time.ParseDuration: a sign, then numbers (a fraction allowed) each with its unit
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}
_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?([zZ]|[+-]\d\d:\d\d)?")


def docker_timestamp(value: str, now_ns: int) -> int:
    """--since/--until as docker's client reads them (timestamp.GetTimestamp), in ns: a Go
    duration counts back from now (to the second: "10m" is ten minutes ago), an RFC 3339 time
    (or a prefix of one: a date, an hour...) in the local zone when it names none, or a Unix time
    with up to nine fraction digits."""
    if value != "0" and _DURATION.fullmatch(value):
        sign = -1 if value.startswith("-") else 1
        total = sum(float(n) * _UNIT_NS[u] for n, u in re.findall(r"(\d+\.?\d*|\.\d+)([a-zµμ]+)", value))
        return (now_ns - sign * int(total)) // 1_000_000_000 * 1_000_000_000
    m = _TIME.fullmatch(value)
    if m:
        y, mo, d, h, mi, s = (int(g or 0) for g in m.group(1, 2, 3, 4, 5, 6))
        try:
            naive = datetime(y, mo, d, h, mi, s)
        except ValueError:
            raise ComposerError(f'parsing time "{value}": day or month out of range') from None
        zone = m.group(8)
        if zone is None:  # docker's client: the reference time's (now's) zone
            offset = time.localtime(now_ns // 1_000_000_000).tm_gmtoff
        elif zone in ("z", "Z"):
            offset = 0
        else:
            offset = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        epoch = int((naive - datetime(1970, 1, 1)).total_seconds()) - offset
        return epoch * 1_000_000_000 + int((m.group(7) or "0").ljust(9, "0"))
    if "-" in value:
        raise ComposerError(f'parsing time "{value}": cannot parse as RFC 3339')
    sec, dot, frac = value.partition(".")
    if sec.isdigit() and (not dot or frac.isdigit()):
        return int(sec) * 1_000_000_000 + int(frac[:9].ljust(9, "0") if dot else 0)
    raise ComposerError(f'failed to parse value as time or duration: "{value}"')


def _stamp(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def check_window(since_text: str | None, until_text: str | None) -> tuple[int | None, int | None]:
    """--since and --until in ns (None when not given), refused as docker's daemon refuses them."""
    now = time.time_ns()
    since = docker_timestamp(since_text, now) if since_text else None
    until = docker_timestamp(until_text, now) if until_text else None
    if since is not None and until is not None and until < since:
        raise ComposerError(f"Error response from daemon: `since` time ({_stamp(since)}) cannot be "
                            f"after `until` time ({_stamp(until)})")
    return since, until


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    since, until = check_window(args.since, args.until)
    engine = ctx.engine()
    # docker compose prints api.Event's String(), which ends in a newline, with Println: a plain
    # event is followed by an empty line
    end = "\n" if args.as_json else "\n\n"
    pname, services = pname.lower(), tuple(args.services)
    for ev in engine.events(since=since, until=until):
        shown = compose_event(pname, services, ev.attributes)
        if shown is None:
            continue
        sys.stdout.write(event_line(ev.time, ev.action, ev.id, shown[0], shown[1], args.as_json) + end)
        sys.stdout.flush()
    return 0

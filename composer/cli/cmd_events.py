"""`composer events`: container events of the project, found by polling the engine (no daemon, no bus).

The pure part, `diff_events(before, after)`, turns two snapshots into docker-style actions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from datetime import datetime

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from runtime.spec import ContainerInfo

HELP = {"events": "Receive real time events from containers"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", dest="as_json", help="output events as a stream of json"
    )
    parser.add_argument("--since", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--until", default=None, help="stop after this time (RFC 3339 or duration)")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


_UP = ("running", "paused")
_DOWN = ("exited", "dead", "restarting")  # restarting: died, the monitor runs it again after a pause


def diff_events(
    before: Mapping[str, ContainerInfo], after: Mapping[str, ContainerInfo]
) -> list[tuple[str, ContainerInfo]]:
    """Docker's actions between two snapshots (id -> info): create, start, die, pause, unpause,
    health_status: <h>, destroy. What happened between two looks is inferred from the stamps (a
    new started_at is a start even if the container is down again), so a short-lived container
    still shows its start and die."""
    out: list[tuple[str, ContainerInfo]] = []
    for cid, c in after.items():
        old = before.get(cid)
        if old is None:
            out.append(("create", c))
            ran = bool(c.started_at) and c.status != "created"
            if c.status in _UP or ran:
                out.append(("start", c))
            if c.status in _DOWN and ran:
                out.append(("die", c))
        else:
            was_up = old.status in _UP
            started = old.restart_count != c.restart_count or bool(
                c.started_at and old.started_at != c.started_at)
            if started:
                if was_up:
                    out.append(("die", c))  # the run seen last time ended before this one
                out.append(("start", c))
            elif old.status == "paused" and c.status == "running":
                out.append(("unpause", c))
            elif old.status == "running" and c.status == "paused":
                out.append(("pause", c))
            elif not was_up and c.status in _UP:
                out.append(("start", c))
            # "created" after a run: stopped, and a new monitor waits at the gate (restart, start)
            if (c.status in _DOWN or c.status == "created") and (was_up or started):
                out.append(("die", c))
        if c.health and c.health != (old.health if old else ""):
            out.append((f"health_status: {c.health}", c))
    for cid, c in before.items():
        if cid not in after:
            out.append(("destroy", c))
    return out


def attributes(action: str, c: ContainerInfo) -> dict[str, str]:
    """docker's event attributes without the com.docker.compose.* labels (as docker compose strips
    them): the container's other labels, image, name, and exitCode on die."""
    out = {k: v for k, v in c.labels.items() if not k.startswith(L.PREFIX)}
    out.update(image=c.image, name=c.name)
    if action == "die":
        out["exitCode"] = str(c.exit_code or 0)
    return out


def event_time(action: str, c: ContainerInfo, now_ns: int) -> int:
    """When it happened, in ns: the container's own stamp where it has one (a poll sees it late)."""
    stamp = {"create": c.created_at, "start": c.started_at, "die": c.finished_at}.get(action, "")
    when = _epoch_ns(stamp) if stamp else 0
    return when if 0 < when <= now_ns else now_ns


def _epoch_ns(stamp: str) -> int:
    """RFC 3339 with up to nine fraction digits -> ns since the epoch (0 for junk)."""
    from composer.cli.humanize import parse_time

    head, dot, rest = stamp.partition(".")
    if not dot:
        return int(parse_time(stamp) * 1e9)
    n = len(rest) - len(rest.lstrip("0123456789"))
    whole = parse_time(head + rest[n:])  # the zone suffix, without the fraction
    return int(whole) * 1_000_000_000 + int(rest[:n][:9].ljust(9, "0")) if whole else 0


def go_time(ns: int) -> str:
    """Go's time.Time as JSON (RFC 3339 with trailing zeros of the fraction cut), local zone."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    off = dt.strftime("%z")
    zone = "Z" if off in ("+0000", "") else f"{off[:3]}:{off[3:]}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + zone


def event_line(action: str, c: ContainerInfo, as_json: bool, now_ns: int | None = None) -> str:
    """One event as docker compose prints it: `--json` is Go's json.Marshal of a map (sorted keys,
    no spaces, <>& escaped); text is `<local time, µs> container <action> <id> (k=v, ...)`."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    attrs = attributes(action, c)
    when = event_time(action, c, now_ns)
    if as_json:
        doc = {"action": action, "attributes": attrs, "id": c.id,
               "service": c.labels.get(L.SERVICE, ""), "time": go_time(when), "type": "container"}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    stamp = datetime.fromtimestamp(when // 1_000_000_000).strftime("%Y-%m-%d %H:%M:%S")
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return f"{stamp}.{when % 1_000_000_000 // 1000:06d} container {action} {c.id} ({pairs})"


def _until(text: str | None) -> float | None:
    """--until: an absolute time, or a duration counted from now (events are about the future)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if C.parse_time(text) is not None:
        return C.parse_time(text).timestamp()  # type: ignore[union-attr]
    now = time.time()
    return now + (now - (C.since_to_epoch(text, now) or now))


# How often the engine is looked at: there is no daemon to push events, and one look at a project of
# 10 containers costs ~3 ms of CPU, so 0.5 s keeps `events` under 1% of a core.
INTERVAL = 0.5


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    until = _until(args.until)

    def look() -> dict[str, ContainerInfo]:  # one-off containers are not the project's events
        return {c.id: c for c in C.project_containers(engine, pname, args.services, oneoff=False)}

    snap = look()
    while until is None or time.time() < until:
        time.sleep(INTERVAL if until is None else max(0.0, min(INTERVAL, until - time.time())))
        now = look()
        lines = [event_line(action, c, args.as_json) for action, c in diff_events(snap, now)]
        if lines:
            # docker compose prints api.Event's String(), which ends in a newline, with Println:
            # a plain event is followed by an empty line
            end = "\n" if args.as_json else "\n\n"
            sys.stdout.write("".join(f"{line}{end}" for line in lines))
            sys.stdout.flush()
        snap = now
    return 0

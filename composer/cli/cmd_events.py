"""`composer events`: container events of the project, found by polling the engine (no daemon, no bus).

The pure part, `diff_events(before, after)`, turns two snapshots into docker-style actions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context

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


def diff_events(
    before: Mapping[str, ContainerInfo], after: Mapping[str, ContainerInfo]
) -> list[tuple[str, ContainerInfo]]:
    """Docker's actions between two snapshots (id -> info): create, start, die, pause, unpause,
    health_status: <h>, destroy."""
    out: list[tuple[str, ContainerInfo]] = []
    for cid, c in after.items():
        old = before.get(cid)
        if old is None:
            out.append(("create", c))
            if c.status in ("running", "paused"):
                out.append(("start", c))
            continue
        if old.status != c.status:
            if c.status == "running" and old.status == "paused":
                out.append(("unpause", c))
            elif c.status == "running":
                out.append(("start", c))
            elif c.status == "paused":
                out.append(("pause", c))
            elif c.status in ("exited", "dead") and old.status in ("running", "paused", "restarting"):
                out.append(("die", c))
        elif old.restart_count != c.restart_count or (c.started_at and old.started_at != c.started_at):
            out.extend((("die", c), ("start", c)))  # restarted between two looks
        if c.health and c.health != old.health:
            out.append((f"health_status: {c.health}", c))
    for cid, c in before.items():
        if cid not in after:
            out.append(("destroy", c))
    return out


def _line(action: str, c: ContainerInfo, as_json: bool) -> str:
    now = datetime.now(UTC)
    attrs = {"image": c.image, "name": c.name}
    if as_json:
        return json.dumps(
            {
                "time": now.isoformat().replace("+00:00", "Z"),
                "type": "container",
                "action": action,
                "id": c.id,
                "service": c.labels.get(L.SERVICE, ""),
                "attributes": attrs,
            }
        )
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return f"{now.strftime('%Y-%m-%d %H:%M:%S.%f')} container {action} {c.id} ({pairs})"


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


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    until = _until(args.until)
    snap = {c.id: c for c in C.project_containers(engine, pname, args.services, oneoff=None)}
    while until is None or time.time() < until:
        time.sleep(0.25)
        now = {c.id: c for c in C.project_containers(engine, pname, args.services, oneoff=None)}
        for action, c in diff_events(snap, now):
            print(_line(action, c, args.as_json))
        sys.stdout.flush()
        snap = now
    return 0

"""`composer container events`: the engine's container events as `docker events` prints them
(docker/cli cli/command/system/events.go), read from the event log (runtime.events)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence

from composer.cli.cmd_events import go_time
from composer.cli.docker_format import go_json
from composer.errors import ComposerError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from runtime.events import Event

_KEYS = ("container", "event", "label", "image", "type")


def parse_filters(items: Sequence[str]) -> dict[str, list[str]]:
    """--filter KEY=VALUE, as docker's (the same key twice: either value)."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in _KEYS:
            raise ComposerError(f"invalid filter '{item}'; expected one of "
                                + ", ".join(f"{k}=..." for k in _KEYS))
        out.setdefault(key, []).append(value)
    return out


def matches(ev: Event, filters: Mapping[str, list[str]]) -> bool:
    """docker's daemon/events/filter.go for container events."""
    attrs = ev.attributes
    for key, values in filters.items():
        if key == "type":
            ok = "container" in values
        elif key == "event":  # "health_status" matches "health_status: healthy"
            ok = any(ev.action == v or ev.action.split(":", 1)[0] == v for v in values)
        elif key == "container":  # docker's FuzzyMatch: a prefix of the id or the name
            ok = any(ev.id.startswith(v) or attrs.get("name", "").startswith(v) for v in values)
        elif key == "image":
            ok = attrs.get("image") in values
        else:  # label=K or label=K=V
            ok = any(attrs.get(k) == v if eq else k in attrs
                     for k, eq, v in (x.partition("=") for x in values))
        if not ok:
            return False
    return True


def event_text(ev: Event) -> str:
    """docker/cli's prettyPrintEvent: RFC3339NanoFixed local time, type, action, id, (k=v, ...)."""
    stamp = go_time(ev.time, fixed=True)
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
    return f"{stamp} container {ev.action} {ev.id}" + (f" ({attrs})" if attrs else "")


def event_json(ev: Event) -> str:
    """`--format json` ({{json .}}): events.Message with the legacy fields an API 1.51 daemon
    still sends (status, id, from)."""
    doc = {"status": ev.action, "id": ev.id, "from": ev.attributes.get("image", ""),
           "Type": "container", "Action": ev.action,
           "Actor": {"ID": ev.id, "Attributes": dict(sorted(ev.attributes.items()))},
           "scope": "local", "time": ev.time // 1_000_000_000, "timeNano": ev.time}
    return go_json(doc)


def run(events: Iterable[Event], filters: Mapping[str, list[str]], as_json: bool) -> int:
    for ev in events:
        if matches(ev, filters):
            sys.stdout.write((event_json(ev) if as_json else event_text(ev)) + "\n")
            sys.stdout.flush()
    return 0

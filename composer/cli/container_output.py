"""What `composer container ls/inspect/top/port` print: durations and statuses as podman words
them, tables, Go templates of --format, --filter, and the JSON documents of ls (inspect's:
container_inspect.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence

from composer.cli.container_flags import UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.spec import ContainerInfo


def human_duration(seconds: float) -> str:
    from composer.cli.humanize import human_duration as text

    return text(seconds)


def parse_time(raw: str) -> float:
    from composer.cli.humanize import parse_time as parse

    return parse(raw)


def status_text(info: ContainerInfo, now: float) -> str:
    if info.status == "created":
        return "Created"
    if info.status in ("running", "paused", "restarting"):
        text = f"Up {human_duration(now - parse_time(info.started_at))}"
        if info.status == "paused":
            return text + " (Paused)"
        if info.status == "restarting":
            return "Restarting"
        return text + (f" ({info.health})" if info.health else "")
    ago = human_duration(now - parse_time(info.finished_at)) + " ago" if info.finished_at else ""
    return f"Exited ({info.exit_code if info.exit_code is not None else -1}) {ago}".rstrip()


def host_address(ip: str, port: int) -> str:
    """HOST:PORT as docker prints it: v6 addresses in brackets (``[::1]:8080``)."""
    ip = ip or "0.0.0.0"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def ports_text(info: ContainerInfo) -> str:
    return ", ".join(
        f"{host_address(asked.host_ip, actual)}->{asked.container_port}/{asked.protocol}"
        for asked, actual in info.ports
    )


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns separated by two spaces, as podman's tabwriter output."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def truncate(text: str, width: int, no_trunc: bool) -> str:
    return text if no_trunc or len(text) <= width else text[: width - 3] + "..."


def render_template(template: str, obj: Any) -> str:
    """A small subset of Go templates for ``--format``: ``{{.A.B}}``, ``{{json .A}}``, ``{{.A}}``."""
    def lookup(path: str) -> Any:
        value = obj
        for key in [k for k in path.split(".") if k]:
            value = value.get(key, "") if isinstance(value, Mapping) else getattr(value, key, "")
        return value

    def repl(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(lookup(expr[5:].strip()))
        value = lookup(expr)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return "<no value>" if value is None else str(value)

    return re.sub(r"\{\{(.*?)\}\}", repl, template.replace("\\n", "\n").replace("\\t", "\t"))


def matches(info: ContainerInfo, filters: Sequence[str]) -> bool:
    for f in filters:
        key, _, value = f.partition("=")
        if key == "label":
            k, eq, v = value.partition("=")
            if k not in info.labels or (eq and info.labels[k] != v):
                return False
        elif key == "name":
            if not re.search(value, info.name):
                return False
        elif key == "status":
            if info.status != value:
                return False
        elif key == "id":
            if not info.id.startswith(value):
                return False
        elif key == "pod":
            if info.pod != value:
                return False
        else:
            raise UsageError(f"invalid filter {f!r}; expected label, name, status, id or pod")
    return True


def ps_json(info: ContainerInfo) -> dict[str, Any]:
    """One entry of ``ls --format json`` (podman's field names)."""
    return {
        "Id": info.id, "Names": [info.name], "Image": info.image, "ImageID": info.image_id,
        "Command": list(info.command), "Created": int(parse_time(info.created_at)),
        "CreatedAt": info.created_at, "State": info.status, "Status": status_text(info, time.time()),
        "ExitCode": info.exit_code or 0, "Exited": info.status in ("exited", "dead"),
        "ExitedAt": int(parse_time(info.finished_at)), "StartedAt": int(parse_time(info.started_at)),
        "Pid": info.pid, "Labels": dict(info.labels), "Pod": info.pod or "",
        "Networks": sorted(info.networks),
        "Ports": [{"host_ip": p.host_ip, "container_port": p.container_port, "host_port": h,
                   "range": 1, "protocol": p.protocol} for p, h in info.ports],
    }

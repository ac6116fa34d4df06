"""What `composer container ls/top/port` print: ls's rows as docker ps's (its --format fields,
default table and JSON), its --filter, podman's two-space tables of the others (inspect's
documents: container_inspect.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from composer.cli.container_flags import UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from runtime.spec import ContainerInfo


def parse_time(raw: str) -> float:
    from composer.cli.humanize import parse_time as parse

    return parse(raw)


def host_address(ip: str, port: int) -> str:
    """HOST:PORT as docker prints it: v6 addresses in brackets (``[::1]:8080``)."""
    ip = ip or "0.0.0.0"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns separated by two spaces, as podman's tabwriter output."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


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


# docker ps (docker/cli cli/command/formatter/container.go): its default table, and the titles of
# the fields a template may name (ContainerContext's methods but Label and Platform)
PS_TABLE = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
              "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
              "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
              "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "HealthStatus": "HEALTH STATUS"}
PS_FIELDS = ("Command", "CreatedAt", "HealthStatus", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
             "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status")


def ps_row(info: ContainerInfo, now: float, trunc: bool) -> dict[str, str]:
    """What docker ps's ContainerContext gives a template, `{{json .}}` (--format json) included:
    its methods, keys sorted. The cells are docker compose ps's (the same docker/cli formatter)."""
    from composer.cli.cmd_ps import ps_json as compose_row

    row = compose_row(info, now, trunc)
    return {"Command": row["Command"], "CreatedAt": row["CreatedAt"], "HealthStatus": row["Health"],
            "ID": row["ID"], "Image": row["Image"], "Labels": row["Labels"],
            "LocalVolumes": row["LocalVolumes"], "Mounts": row["Mounts"], "Names": row["Names"],
            "Networks": row["Networks"], "Ports": row["Ports"], "RunningFor": row["RunningFor"],
            "Size": row["Size"], "State": row["State"], "Status": row["Status"]}

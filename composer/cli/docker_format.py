"""The cells docker compose prints for containers, as its Go code words them: docker/cli's
formatter (DisplayablePorts, Ellipsis, strconv.Quote of the command), moby's container list
(Command, Ports), Go's tabwriter and Go's JSON, so that scripts parsing one parse the other."""

from __future__ import annotations

import json
import re
import time

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from runtime.spec import ContainerInfo

_UP = ("running", "paused", "restarting")


def command(c: ContainerInfo) -> str:
    """moby's container list: the path, then each argument, single-quoted when it holds a space."""
    if not c.command:
        return ""
    args = [f"'{a}'" if " " in a else a for a in c.command[1:]]
    return " ".join([c.command[0], *args])


def ellipsis(text: str, width: int) -> str:
    """docker/cli formatter.Ellipsis: cut to *width* characters, the last one an ellipsis."""
    if width <= 0:
        return ""
    if width == 1:
        return text[:1]
    return text if len(text) <= width else text[: width - 1] + "…"


_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: a double-quoted string, with backslash escapes for what does not print."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def go_json(value: Any, escape_html: bool = True, indent: int | None = None) -> str:
    """Go's json.Marshal: compact (MarshalIndent's lines with *indent*), keys as given, <>& escaped
    as \\u003c \\u003e \\u0026 (not with *escape_html* false: an Encoder's SetEscapeHTML(false), as
    docker's `json` template function), U+2028 and U+2029 escaped always."""
    text = json.dumps(value, indent=indent, separators=(",", ": ") if indent else (",", ":"),
                      ensure_ascii=False)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def _scaled(size: float, base: float, units: Sequence[str]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits ("1.23MiB", "7.6GiB", "0B")."""
    n, unit = _scaled(size, 1024.0, _BINARY)
    return f"{n:.4g}{unit}"


def human_size(size: float) -> str:
    """go-units HumanSizeWithPrecision(size, 3): decimal units ("1.5kB", "0B")."""
    n, unit = _scaled(size, 1000.0, _DECIMAL)
    return f"{n:.3g}{unit}"


def go_time_string(epoch: float) -> str:
    """Go's time.Unix(s, 0).String() in the local zone: "2026-01-02 03:04:05 +0100 CET"."""
    t = time.localtime(int(epoch))
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", t) + (t.tm_zone or "UTC")


def exposed_ports(spec_expose: Sequence[str]) -> list[tuple[int, str]]:
    """(port, protocol) of each port an `expose` list names, a range as each of its ports."""
    out = []
    for item in spec_expose:
        m = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", item.strip())
        if m:
            first = int(m.group(1))
            for port in range(first, int(m.group(2) or first) + 1):
                out.append((port, m.group(3) or "tcp"))
    return out


def publishers(c: ContainerInfo) -> list[dict[str, Any]]:
    """docker compose's Publishers: each binding of a running container (the default host address
    is bound on v4 and v6, as docker 28 lists it: 0.0.0.0 and ::), and each exposed port that is not
    published, with no address and port 0; ordered by container port, as compose sorts them."""
    if c.status not in _UP:
        return []  # a stopped container has no port bindings in docker's list
    out: list[dict[str, Any]] = []
    bound: set[tuple[int, str]] = set()
    for asked, host_port in c.ports:
        bound.add((asked.container_port, asked.protocol))
        for ip in ([asked.host_ip] if asked.host_ip else ["0.0.0.0", "::"]):
            out.append({"URL": ip, "TargetPort": asked.container_port, "PublishedPort": host_port,
                        "Protocol": asked.protocol})
    for port, proto in exposed_ports(c.spec.expose if c.spec else ()):
        if (port, proto) not in bound:
            bound.add((port, proto))
            out.append({"URL": "", "TargetPort": port, "PublishedPort": 0, "Protocol": proto})
    out.sort(key=lambda p: p["TargetPort"])  # compose's sort.Slice: by container port only
    return out


def _host_port(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def displayable_ports(pubs: Sequence[dict[str, Any]]) -> str:
    """docker/cli formatter.DisplayablePorts: runs of consecutive ports bound to the same port
    number grouped ("0.0.0.0:8000-8001->8000-8001/tcp"), first those and the bare exposed ports,
    then the ports mapped to another number, all by container port, address, host port, protocol."""
    ports = sorted(pubs, key=lambda p: (p["TargetPort"], p["URL"], p["PublishedPort"], p["Protocol"]))
    groups: dict[str, list[int]] = {}  # key -> [first, last], in the order keys were made
    result: list[str] = []
    mappings: list[str] = []
    for p in ports:
        current, key = p["TargetPort"], p["Protocol"]
        if p["URL"]:
            if p["PublishedPort"] != current:
                mappings.append(f"{_host_port(p['URL'], str(p['PublishedPort']))}->{current}/{p['Protocol']}")
                continue
            key = f"{p['URL']}/{p['Protocol']}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(_form_group(key, *group))
            groups[key] = [current, current]  # as Go's map: the key keeps its first place
    result.extend(_form_group(key, *g) for key, g in groups.items())
    return ", ".join(result + mappings)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{_host_port(ip, group)}->{group}"
    return f"{group}/{proto}"


def filter_match(values: Sequence[str], source: str) -> bool:
    """moby's filters.Match: a value equal to *source*, or a regular expression found in it (one
    that does not compile matches nothing)."""
    for v in values:
        try:
            if v == source or re.search(v, source):
                return True
        except re.error:
            continue
    return False


def tabwriter(rows: Sequence[Sequence[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter over tab-separated rows: every cell but a row's last padded to its
    column's width (the widest cell plus *padding*, at least *minwidth*), the last one as is."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [max([minwidth] + [len(r[i]) + padding for r in rows if i < len(r) - 1])
              for i in range(ncols - 1)]
    lines = []
    for r in rows:
        cells = [cell.ljust(widths[i]) if i < len(r) - 1 else cell for i, cell in enumerate(r)]
        lines.append("".join(cells) + "\n")
    return "".join(lines)

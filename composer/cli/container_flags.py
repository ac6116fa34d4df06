"""Pure parsers of `composer container run/create/exec` flag values: sizes, durations, -e, -l, -p,
-v, --tmpfs, --ulimit, --restart, --add-host, --entrypoint, --security-opt; and random names.
Tested on plain strings; a bad value raises UsageError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.spec import Mount, PortMapping


class UsageError(Exception):
    """A bad flag value; reported as ``composer container: <message>`` with exit code 125."""


_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40}


def parse_bytes(raw: str, what: str) -> int:
    """``"512m"`` -> 536870912 (docker's RAMInBytes: binary units, case-insensitive); -1 stays."""
    import re  # here: a plain `run` parses no size, and re (with enum) is ~1.5 ms to import

    m = re.fullmatch(r"\s*(-1|\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", raw)
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise UsageError(f"invalid {what} {raw!r}; expected a size like 512m or 1g")
    if m.group(1) == "-1":
        return -1
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(raw: str, what: str) -> float:
    """Go durations (``"1m30s"``, ``"500ms"``) or plain seconds -> float seconds."""
    s = raw.strip()
    try:
        return float(s)
    except ValueError:
        pass
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise UsageError(f"invalid {what} {raw!r}; expected a duration like 30s or 1m30s")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_env(items: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``-e K=V`` sets, ``-e K`` copies K from the caller's environment (skipped when unset)."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid environment variable {item!r}; expected KEY=VALUE")
        if eq:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


def read_env_file(path: str, environ: Mapping[str, str]) -> dict[str, str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"env file {path}: {exc.strerror}") from None
    items = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return parse_env(items, environ)


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid label {item!r}; expected KEY=VALUE")
        out[key] = value
    return out


def parse_publish(raw: str) -> list[PortMapping]:
    """``[ip:][hostport:]containerport[/proto]``, ports may be ranges of equal length."""
    from runtime.spec import PortMapping

    spec, _, proto = raw.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise UsageError(f"invalid port {raw!r}: protocol must be tcp or udp")
    host_ip = ""
    if spec.startswith("["):   # [v6]:host:ctr
        end = spec.find("]")
        host_ip, spec = spec[1:end], spec[end + 2:]
    pieces = spec.split(":")
    if len(pieces) == 3:
        host_ip, host, ctr = pieces
    elif len(pieces) == 2:
        host, ctr = pieces
    elif len(pieces) == 1:
        host, ctr = "", pieces[0]
    else:
        raise UsageError(f"invalid port {raw!r}; expected [ip:][hostport:]containerport[/proto]")

    def rng(text: str) -> list[int]:
        lo, _, hi = text.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise UsageError(f"invalid port {raw!r}; expected numbers") from None
        if not (0 < a <= b <= 65535):
            raise UsageError(f"invalid port {raw!r}; ports are 1-65535")
        return list(range(a, b + 1))

    ctr_ports = rng(ctr)
    host_ports = rng(host) if host else [0] * len(ctr_ports)
    if len(host_ports) != len(ctr_ports):
        if len(host_ports) > 1 and len(ctr_ports) == 1:
            host_ports = host_ports[:1]   # docker: pick from the range; we take its first port
        else:
            raise UsageError(f"invalid port {raw!r}: host and container ranges differ in length")
    return [PortMapping(container_port=c, host_port=h, protocol=proto, host_ip=host_ip)  # type: ignore[arg-type]
            for c, h in zip(ctr_ports, host_ports, strict=True)]


def parse_volume(raw: str, cwd: str) -> Mount:
    """``-v [src:]dst[:opts]``: a path source is a bind, a name a named volume, none anonymous."""
    from runtime.spec import Mount

    parts = raw.split(":")
    if len(parts) == 1:
        src, dst, opts = "", parts[0], ""
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            (src, dst), opts = parts, ""
        else:
            src, (dst, opts) = "", parts
    elif len(parts) == 3:
        src, dst, opts = parts
    else:
        raise UsageError(f"invalid volume {raw!r}; expected [SOURCE:]TARGET[:OPTIONS]")
    if not dst.startswith("/"):
        raise UsageError(f"invalid volume {raw!r}: the target must be an absolute path")
    options = [o for o in opts.split(",") if o]
    read_only = "ro" in options
    propagation = next((o for o in options if o in ("private", "rprivate", "shared", "rshared",
                                                      "slave", "rslave")), "rprivate")
    for o in options:
        if o not in ("ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared",
                     "slave", "rslave", "bind", "rbind"):
            raise UsageError(f"invalid volume {raw!r}: unknown option {o!r}")
    if src.startswith(("/", ".", "~")):
        path = os.path.normpath(os.path.join(cwd, os.path.expanduser(src)))
        return Mount(type="bind", source=path, target=dst, read_only=read_only, propagation=propagation)
    return Mount(type="volume", source=src, target=dst, read_only=read_only, nocopy="nocopy" in options)


def parse_tmpfs(raw: str) -> Mount:
    """``--tmpfs /dst[:size=64m,mode=1777,ro]``."""
    from runtime.spec import Mount

    dst, _, opts = raw.partition(":")
    if not dst.startswith("/"):
        raise UsageError(f"invalid tmpfs {raw!r}: the target must be an absolute path")
    size = mode = None
    read_only = False
    for o in (o for o in opts.split(",") if o):
        key, _, value = o.partition("=")
        if key == "size":
            size = parse_bytes(value, "tmpfs size")
        elif key == "mode":
            try:
                mode = int(value, 8)
            except ValueError:
                raise UsageError(f"invalid tmpfs {raw!r}: mode must be octal") from None
        elif key == "ro":
            read_only = True
        elif key not in ("rw", "noexec", "exec", "nosuid", "suid", "nodev", "dev"):
            raise UsageError(f"invalid tmpfs {raw!r}: unknown option {key!r}")
    return Mount(type="tmpfs", target=dst, tmpfs_size=size, tmpfs_mode=mode, read_only=read_only)


def parse_ulimit(raw: str) -> tuple[str, tuple[int, int]]:
    """``nofile=1024[:2048]`` (-1 for unlimited)."""
    name, eq, value = raw.partition("=")
    soft_s, _, hard_s = value.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise UsageError(f"invalid ulimit {raw!r}; expected NAME=SOFT[:HARD]") from None
    if not eq or not name:
        raise UsageError(f"invalid ulimit {raw!r}; expected NAME=SOFT[:HARD]")
    return name, (soft, hard)


def parse_restart(raw: str) -> tuple[str, int]:
    name, _, count = raw.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise UsageError(f"invalid restart policy {raw!r}; expected no, always, on-failure[:N] or "
                         f"unless-stopped")
    if count and (name != "on-failure" or not count.isdigit()):
        raise UsageError(f"invalid restart policy {raw!r}: only on-failure takes a retry count")
    return name, int(count or 0)


def parse_add_host(raw: str) -> tuple[str, str]:
    host, sep, addr = raw.partition(":")
    if "=" in raw and (not sep or "=" in host):
        host, sep, addr = raw.partition("=")
    if not sep or not host or not addr:
        raise UsageError(f"invalid --add-host {raw!r}; expected HOST:IP")
    return host, addr.strip("[]")


def parse_entrypoint(raw: str | None) -> tuple[str, ...] | None:
    """``--entrypoint '["a","b"]'`` (JSON) or a single program; ``""`` clears the image's."""
    if raw is None:
        return None
    if raw == "":
        return ()
    if raw.lstrip().startswith("["):
        try:
            from runtime.json_accel import loads

            value = loads(raw)

        except ValueError:
            raise UsageError(f"invalid entrypoint {raw!r}: not a JSON array") from None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise UsageError(f"invalid entrypoint {raw!r}: expected an array of strings")
    return (raw,)


def parse_security_opts(items: Sequence[str]) -> dict[str, Any]:
    """``seccomp=unconfined|PATH``, ``no-new-privileges[=true|false]``, ``label=...``, ``apparmor=...``
    (the last two have no effect here: composer uses neither SELinux nor AppArmor)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=" if "=" in item else ":")
        if key == "seccomp":
            out["seccomp"] = "unconfined" if value == "unconfined" else value
        elif key in ("no-new-privileges", "no_new_privileges"):
            if value not in ("", "true", "false"):
                raise UsageError(f"invalid security option {item!r}")
            out["no_new_privileges"] = value != "false"
        elif key in ("label", "apparmor", "mask", "unmask", "proc-opts"):
            continue
        else:
            raise UsageError(f"invalid security option {item!r}")
    return out


def random_name() -> str:
    """A podman-like name: adjective_surname."""
    adjectives = ("brave", "calm", "eager", "fond", "gifted", "happy", "jolly", "keen", "lucid",
                  "merry", "nifty", "proud", "quirky", "serene", "tender", "upbeat", "vivid", "wise")
    nouns = ("turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "liskov",
             "hamilton", "dijkstra", "noether", "curie", "euler", "gauss", "shannon", "wozniak")
    a, n = os.urandom(2)  # as secrets.choice, without importing hashlib for it
    return f"{adjectives[a % len(adjectives)]}_{nouns[n % len(nouns)]}"

"""`composer container ...`: podman-like commands on single containers (run, create, start, stop,
kill, restart, rm, ls, logs, inspect, exec, wait, top, pause, unpause, cp, port).

The flag parsers (sizes, durations, -p, -v, --ulimit, ...) are pure functions at the top, tested on
plain strings; the command handlers below them only talk to ``Engine.containers``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

# Imported where used, not here: secrets (hashlib), shlex, subprocess, humanize (datetime). A
# `container run` loads only what creating and starting a container needs (FINDINGS F5, F16).
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from composer.cli.context import Context
    from runtime.containers import ContainerManager
    from runtime.engine import Engine
    from runtime.spec import ContainerInfo, ContainerSpec, Mount, PortMapping
    from runtime.warm_monitor import WarmMonitor

HELP = {"container": "Manage containers: run, create, start, stop, kill, rm, ls, logs, inspect, exec, ..."}

DEFAULT_NETWORK = "composer"   # podman's is "podman": one bridge for containers run without --network


class UsageError(Exception):
    """A bad flag value; reported as ``composer container: <message>`` with exit code 125."""


# ---- pure flag parsers ----------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40}


def parse_bytes(raw: str, what: str) -> int:
    """``"512m"`` -> 536870912 (docker's RAMInBytes: binary units, case-insensitive); -1 stays."""
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
            value = json.loads(raw)
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


# ---- human output ---------------------------------------------------------------------------

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


def _truncate(text: str, width: int, no_trunc: bool) -> str:
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


# ---- specs from flags -----------------------------------------------------------------------

def build_spec(args: argparse.Namespace, ctx: Context, image_config: Mapping[str, Any] | None = None,
               ) -> ContainerSpec:
    """The ContainerSpec of ``container run/create`` flags. Pure apart from reading --env-file."""
    from runtime.spec import (
        ContainerSpec,
        Healthcheck,
        NetworkAttachment,
        PortMapping,
        Resources,
        RestartPolicy,
    )

    env: dict[str, str] = {}
    for path in args.ctr_env_files:
        env.update(read_env_file(path, ctx.environ))
    env.update(parse_env(args.env, ctx.environ))
    mounts = [parse_volume(v, ctx.cwd) for v in args.volumes] + [parse_tmpfs(t) for t in args.tmpfs]
    ports: list[PortMapping] = [p for raw in args.publish for p in parse_publish(raw)]
    if args.publish_all:
        exposed = list((image_config or {}).get("ExposedPorts") or {}) + list(args.expose)
        taken = {(p.container_port, p.protocol) for p in ports}
        for item in exposed:
            num, _, proto = str(item).partition("/")
            key: tuple[int, Any] = (int(num), proto or "tcp")
            if key not in taken:
                ports.append(PortMapping(container_port=key[0], protocol=key[1]))
                taken.add(key)
    ulimits = dict(parse_ulimit(u) for u in args.ulimit)
    sysctls = {}
    for item in args.sysctl:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise UsageError(f"invalid sysctl {item!r}; expected NAME=VALUE")
        sysctls[k] = v
    restart_name, retries = parse_restart(args.restart)
    health = None
    if args.no_healthcheck:
        health = Healthcheck(test=("NONE",))
    elif args.health_cmd:
        kw: dict[str, Any] = {}
        if args.health_interval:
            kw["interval"] = parse_duration(args.health_interval, "health interval")
        if args.health_timeout:
            kw["timeout"] = parse_duration(args.health_timeout, "health timeout")
        if args.health_retries is not None:
            kw["retries"] = args.health_retries
        if args.health_start_period:
            kw["start_period"] = parse_duration(args.health_start_period, "health start period")
        health = Healthcheck(test=("CMD-SHELL", args.health_cmd), **kw)
    network = ",".join(args.network) or "bridge"  # repeated --network flags join as NAME,NAME
    networks: tuple[NetworkAttachment, ...] = ()
    network_mode = network
    if network not in ("bridge", "none", "host") and not network.startswith("container:"):
        names = [n for n in network.split(",") if n]
        networks = tuple(NetworkAttachment(network=n, aliases=tuple(args.network_alias),
                                           ipv4_address=args.ip if i == 0 else None,
                                           priority=len(names) - i)
                         for i, n in enumerate(names))
        network_mode = "bridge"
    elif network == "bridge":
        networks = (NetworkAttachment(network=DEFAULT_NETWORK, aliases=tuple(args.network_alias),
                                      ipv4_address=args.ip),)
    resources = Resources(
        memory=parse_bytes(args.memory, "memory") if args.memory else None,
        memory_reservation=parse_bytes(args.memory_reservation, "memory reservation")
        if args.memory_reservation else None,
        memory_swap=parse_bytes(args.memory_swap, "memory swap") if args.memory_swap else None,
        cpus=args.cpus, cpu_shares=args.cpu_shares, cpuset=args.cpuset_cpus,
        pids_limit=args.pids_limit,
    )
    security = parse_security_opts(args.security_opt)
    command = tuple(args.cmd_args) if args.cmd_args else None
    return ContainerSpec(
        name=args.name or random_name(), image=args.image, command=command,
        entrypoint=parse_entrypoint(args.entrypoint), env=env, working_dir=args.workdir,
        user=args.user, group_add=tuple(args.group_add), hostname=args.hostname,
        labels=parse_labels(args.label), pod=args.pod, mounts=tuple(mounts),
        read_only=args.read_only, privileged=args.privileged, cap_add=tuple(args.cap_add),
        cap_drop=tuple(args.cap_drop), sysctls=sysctls, ulimits=ulimits, devices=tuple(args.device),
        init=args.init, tty=args.tty, stdin_open=args.interactive, stop_signal=args.stop_signal,
        stop_timeout=float(args.stop_timeout) if args.stop_timeout is not None else 10.0,
        restart=RestartPolicy(name=restart_name, max_retries=retries),  # type: ignore[arg-type]
        healthcheck=health, resources=resources,
        shm_size=parse_bytes(args.shm_size, "shm size") if args.shm_size else None,
        network_mode=network_mode, networks=networks, ports=tuple(ports), expose=tuple(args.expose),
        dns=tuple(args.dns), dns_search=tuple(args.dns_search), dns_opt=tuple(args.dns_option),
        extra_hosts=tuple(parse_add_host(h) for h in args.add_host),
        **security,
    )


# ---- argparse -------------------------------------------------------------------------------

def _add_create_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("--name", help="container name (default: a random one)")
    a("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="set an environment variable")
    a("--env-file", action="append", default=[], dest="ctr_env_files", metavar="FILE",
      help="read environment variables from FILE")
    a("-v", "--volume", action="append", default=[], dest="volumes", metavar="[SRC:]DST[:OPTS]",
      help="bind mount a path or mount a named volume")
    a("--tmpfs", action="append", default=[], metavar="DST[:OPTS]", help="mount a tmpfs")
    a("--cap-add", action="append", default=[], metavar="CAP", help="add a capability")
    a("--cap-drop", action="append", default=[], metavar="CAP", help="drop a capability")
    a("--privileged", action="store_true", help="every capability, no seccomp filter")
    a("--read-only", action="store_true", help="mount the root filesystem read-only")
    a("-u", "--user", help="user[:group] to run as")
    a("--group-add", action="append", default=[], metavar="GROUP", help="additional group")
    a("-w", "--workdir", help="working directory inside the container")
    a("--init", action="store_true", help="run an init (tini) as PID 1")
    a("-m", "--memory", help="memory limit (e.g. 512m)")
    a("--memory-reservation", help="memory soft limit")
    a("--memory-swap", help="memory plus swap limit (-1 unlimited)")
    a("--cpus", type=float, help="number of CPUs (e.g. 0.5)")
    a("--cpu-shares", type=int, help="relative CPU weight")
    a("--cpuset-cpus", help="CPUs to run on (0-1, 0,2)")
    a("--pids-limit", type=int, help="process limit (0 or -1: unlimited)")
    a("--shm-size", help="size of /dev/shm")
    a("--restart", default="no", help="restart policy: no, always, on-failure[:N], unless-stopped")
    a("--health-cmd", help="healthcheck command (run with /bin/sh -c)")
    a("--health-interval", help="time between checks (e.g. 30s)")
    a("--health-timeout", help="time a check may take")
    a("--health-retries", type=int, help="failures before unhealthy")
    a("--health-start-period", help="grace period before failures count")
    a("--no-healthcheck", action="store_true", help="disable the image's healthcheck")
    a("--entrypoint", help="override the image's entrypoint (a program or a JSON array)")
    a("-l", "--label", action="append", default=[], metavar="KEY=VALUE", help="set a label")
    a("-h", "--hostname", help="container hostname")
    a("--network", "--net", dest="network", action="append", default=[],
      help="bridge (default), none, host, container:ID or network names (repeatable)")
    a("--network-alias", action="append", default=[], metavar="ALIAS", help="extra name on the network")
    a("--ip", help="IPv4 address on the (first) network")
    a("-p", "--publish", action="append", default=[], metavar="[IP:][HOST:]CTR[/PROTO]",
      help="publish a container port")
    a("-P", "--publish-all", action="store_true", help="publish every exposed port to a random port")
    a("--expose", action="append", default=[], metavar="PORT", help="expose a port")
    a("--dns", action="append", default=[], metavar="IP", help="DNS server")
    a("--dns-search", action="append", default=[], metavar="DOMAIN", help="DNS search domain")
    a("--dns-option", action="append", default=[], metavar="OPT", help="DNS option")
    a("--add-host", action="append", default=[], metavar="HOST:IP", help="add a line to /etc/hosts")
    a("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]", help="resource limit")
    a("--sysctl", action="append", default=[], metavar="NAME=VALUE", help="namespaced kernel parameter")
    a("--security-opt", action="append", default=[], metavar="OPT",
      help="seccomp=unconfined|PATH, no-new-privileges[=false]")
    a("--device", action="append", default=[], metavar="HOST[:CTR[:PERMS]]", help="add a host device")
    a("--stop-signal", help="signal that stops the container")
    a("--stop-timeout", type=float, help="seconds to wait before SIGKILL on stop")
    a("--pod", help="add the container to this pod")
    a("-i", "--interactive", action="store_true", help="keep stdin open")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    a("image", metavar="IMAGE")
    a("cmd_args", nargs=REMAINDER, metavar="COMMAND", help="command and arguments")


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background, print the id")
    p.add_argument("--rm", dest="auto_remove", action="store_true", help="remove the container when it exits")
    _add_create_flags(p)


def _add_create_verb_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--help", action="help", help="show this help message and exit")
    _add_create_flags(p)


class _FastArgs:
    """FAST_ARGS for main.fast_args, built on first use: `container run` and `create` parse without
    argparse (~20 ms CPU of a `container run`), their tables read from the functions above."""

    def get(self, word: str) -> dict[str, Any] | None:
        if word != "container":
            return None
        from composer.cli.fastspec import spec_of

        return {"subcommands": ("container_cmd", {
            "run": spec_of(_add_run_flags, "image", "cmd_args"),  # type: ignore[arg-type]
            "create": spec_of(_add_create_verb_flags, "image", "cmd_args"),  # type: ignore[arg-type]
        })}


FAST_ARGS = _FastArgs()
REMAINDER = "..."  # argparse.REMAINDER (argparse is imported only when a line needs it)


VERBS = frozenset({
    "run", "create", "start", "stop", "restart", "kill", "rm", "remove", "ls", "list", "ps", "logs",
    "inspect", "exec", "wait", "top", "pause", "unpause", "cp", "port",
})


def chosen_verb(name: str, argv: Sequence[str]) -> str | None:
    """The verb after command *name* in *argv* (the process's own command line), or None when
    there is none or it is not one of ours (then every verb's parser is built, for the help)."""
    from composer.cli.main import command_word

    if command_word(argv) != name:
        return None
    rest = list(argv)
    rest = rest[rest.index(name) + 1:]
    verb = next((t for t in rest if not t.startswith("-")), None)
    return verb if verb in VERBS else None


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="container_cmd", metavar="SUBCOMMAND", required=True)
    # Only the chosen verb gets its parser (run/create alone have ~60 flags): `composer container
    # ls` should not pay for building the others. With no verb every one is built (--help lists all).
    only = chosen_verb(name, sys.argv[1:])

    def cmd(names: Sequence[str], help: str) -> list[argparse.ArgumentParser]:
        return [sub.add_parser(n, help=help, add_help=(n != "run" and n != "create"))
                for n in names if only is None or n == only]

    for p in cmd(["run"], "run a command in a new container"):
        _add_run_flags(p)
    for p in cmd(["create"], "create a container (do not start it)"):
        _add_create_verb_flags(p)
    for p in cmd(["start"], "start containers"):
        p.add_argument("-a", "--attach", action="store_true", help="attach output, exit with its code")
        p.add_argument("-i", "--interactive", action="store_true", help="attach stdin (with -a)")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["stop", "restart"], "stop (restart) containers"):
        p.add_argument("-t", "--time", type=float, dest="timeout", help="seconds before SIGKILL")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["kill"], "send a signal to containers"):
        p.add_argument("-s", "--signal", default="SIGKILL", dest="signal_name")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["rm", "remove"], "remove containers"):
        p.add_argument("-f", "--force", action="store_true", help="remove even when running")
        p.add_argument("-v", "--volumes", dest="remove_volumes", action="store_true",
                       help="also remove anonymous volumes")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["ls", "list", "ps"], "list containers"):
        p.add_argument("-a", "--all", dest="show_all", action="store_true", help="include stopped ones")
        p.add_argument("-q", "--quiet", action="store_true", help="print only ids")
        p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
        p.add_argument("--format", dest="out_format", default="table", help="table, json or a Go template")
        p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="label=K[=V], name=N, status=S, id=ID, pod=P")
    for p in cmd(["logs"], "print a container's logs"):
        p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
        p.add_argument("-n", "--tail", type=int, help="only the last N lines")
        p.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with its time")
        p.add_argument("--since", help="only lines after this time (RFC 3339, epoch or duration)")
        p.add_argument("--until", help="only lines before this time")
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["inspect"], "show containers as JSON"):
        p.add_argument("-f", "--format", dest="out_format", default="json", help="json or a Go template")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["exec"], "run a process in a running container"):
        p.add_argument("-i", "--interactive", action="store_true")
        p.add_argument("-t", "--tty", action="store_true")
        p.add_argument("-d", "--detach", action="store_true")
        p.add_argument("-u", "--user")
        p.add_argument("-w", "--workdir")
        p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]")
        p.add_argument("--env-file", action="append", default=[], dest="ctr_env_files", metavar="FILE")
        p.add_argument("--privileged", action="store_true")
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("cmd_args", nargs=REMAINDER, metavar="COMMAND")
    for p in cmd(["wait"], "wait for containers to stop; print their exit codes"):
        p.add_argument("--condition", default="stopped", help="stopped (default), next-exit or removed")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["top"], "list a container's processes"):
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["pause", "unpause"], "pause (unpause) every process of containers"):
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["cp"], "copy files between a container and the host (CONTAINER:PATH)"):
        p.add_argument("src", metavar="SRC")
        p.add_argument("dst", metavar="DST")
    for p in cmd(["port"], "list a container's published ports"):
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("port_filter", nargs="?", metavar="PORT[/PROTO]")


# ---- handlers -------------------------------------------------------------------------------

def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from runtime.errors import InvalidSpec

    cmd = {"list": "ls", "ps": "ls", "remove": "rm"}.get(args.container_cmd, args.container_cmd)
    handler: Callable[[argparse.Namespace, Context], int] = HANDLERS[cmd]
    try:
        return handler(args, ctx)
    except UsageError as exc:
        raise InvalidSpec(str(exc)) from None


def _mgr(ctx: Context) -> ContainerManager:
    return ctx.engine().containers


def _each(refs: Iterable[str], fn: Callable[[str], object], *, echo: bool = True) -> int:
    """Apply *fn* to every ref (as podman: go on after an error, report it, exit 125 at the end)."""
    from runtime.errors import EngineError

    code = 0
    for ref in refs:
        try:
            fn(ref)
            if echo:
                print(ref, flush=True)
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr, flush=True)
            code = exc.exit_code
    return code


def _ensure_default_network(engine: Engine, spec: ContainerSpec) -> None:
    from runtime.errors import Conflict, NotFound
    from runtime.spec import NetworkSpec

    if not any(a.network == DEFAULT_NETWORK for a in spec.networks):
        return
    try:
        engine.networks.get(DEFAULT_NETWORK)
    except NotFound:
        with contextlib.suppress(Conflict):   # created meanwhile by another command
            engine.networks.create(NetworkSpec(name=DEFAULT_NETWORK))


def _check_sysctls(spec: ContainerSpec) -> None:
    """Refuse host-wide sysctls before anything is created (they would change the host)."""
    if not spec.sysctls:
        return  # the usual case: do not pay for importing the security defaults
    from runtime.errors import InvalidSpec
    from runtime.security.defaults import check_sysctl

    for key in spec.sysctls:
        try:
            check_sysctl(key, network_mode_host=spec.network_mode == "host")
        except InvalidSpec as exc:
            raise InvalidSpec(f"container {spec.name}: {exc}") from None


def _create(args: argparse.Namespace, ctx: Context, *, start: bool = False,
            warm: WarmMonitor | None = None) -> ContainerInfo:
    engine = ctx.engine()
    config: Mapping[str, Any] = {}
    if args.publish_all:
        config = engine.images.resolve(args.image).config
    spec = build_spec(args, ctx, config)
    _check_sysctls(spec)
    _ensure_default_network(engine, spec)
    info = engine.containers.create(spec, start=start, warm=warm)
    for warning in engine.containers.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return info


def _warm_monitor(args: argparse.Namespace) -> WarmMonitor | None:
    """Start the container's monitor now (if it will have one of its own): its interpreter starts
    on the other core while we import and set the container up (runtime/warm_monitor.py)."""
    from runtime import warm_monitor
    from runtime.paths import Paths

    return warm_monitor.start(Paths.from_env(), args.pod)  # the paths Engine() takes


def _cmd_create(args: argparse.Namespace, ctx: Context) -> int:
    warm = _warm_monitor(args)
    try:
        print(_create(args, ctx, warm=warm).id)
    finally:
        if warm is not None:
            warm.discard()  # the create failed before it could take it
    return 0


def _cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    warm = _warm_monitor(args)
    from runtime.containers import StartError

    mgr = _mgr(ctx)
    try:  # started by its monitor as soon as it is set up: no start round trip
        info = _create(args, ctx, start=True, warm=warm)
    except StartError as exc:
        if args.auto_remove:
            mgr.remove(exc.container_id, force=True, volumes=True)
        raise
    finally:
        if warm is not None:
            warm.discard()  # the create failed before it could take it
    if args.detach:
        if args.auto_remove:
            _spawn_reaper(info.id)
        print(info.id)
        return 0
    return _attach(mgr, info.id, remove=args.auto_remove, stdin=args.interactive)


def _spawn_reaper(cid: str) -> None:
    """``run -d --rm``: a detached helper removes the container once it has exited."""
    import subprocess

    code = ("import sys\nfrom runtime.engine import Engine\n"
            "e = Engine()\nc = e.containers\n"
            "try:\n    c.wait(sys.argv[1])\n    c.remove(sys.argv[1], force=True, volumes=True)\n"
            "finally:\n    e.close()\n")
    subprocess.Popen([sys.executable, "-c", code, cid], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                     cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _attach(mgr: ContainerManager, cid: str, *, remove: bool, stdin: bool = False) -> int:
    """Copy the container's output to ours (and with *stdin* our stdin to its) until it exits;
    return its exit code."""
    if stdin:
        forward_stdin(mgr, cid)
    try:
        last = _stream_log(mgr, cid)
        code = last.exit_code if last.exit_code is not None else 0  # as mgr.wait(): it has stopped
    except KeyboardInterrupt:
        mgr.stop(cid, timeout=2)
        code = 130
    finally:
        if remove:
            mgr.remove(cid, force=True, volumes=True)
    return code


def forward_stdin(mgr: ContainerManager, cid: str) -> None:
    """Copy our stdin into the container's in a daemon thread (it may block on a terminal forever);
    EOF closes the container's stdin."""
    import threading

    from runtime.errors import EngineError

    def pump() -> None:
        with contextlib.suppress(EngineError, OSError):
            mgr.attach_stdin(cid, 0)

    threading.Thread(target=pump, name=f"stdin-{cid[:12]}", daemon=True).start()


def _stream_log(mgr: ContainerManager, cid: str, poll: float = 0.02) -> ContainerInfo:
    """Follow the log file from its start (it is new) until the container stops running; return
    its info at that point. Between reads it waits on a pidfd of the container's init, so that an
    exit is seen at once instead of at the next *poll* tick."""
    from runtime.logs import LineFramer, decode_line

    path = mgr.log_path(cid)
    framer = LineFramer()
    pos = 0
    gone = 0  # the init that has exited: its monitor writes the exit file in a moment
    while True:
        info = mgr.get(cid)
        running = info.status in ("running", "paused", "restarting", "created")
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
        except FileNotFoundError:
            data = b""
        for line in framer.feed(data):
            rec = decode_line(line)
            if rec is not None:
                _emit(rec.stream, rec.text + (b"" if rec.partial else b"\n"))
        if not running and not data:
            return info
        if not data:
            if info.pid and info.pid != gone:
                if _wait_exit(info.pid, poll):
                    gone = info.pid
            elif info.pid:  # its init has exited: the monitor writes the exit file in a moment
                mgr.await_exit_file(info.id, poll)
            else:
                time.sleep(poll)


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to *timeout* for process *pid* to exit; True when it has (or is already gone)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # no pidfd (old kernel): sleep as before
        time.sleep(timeout)
        return False
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def _emit(stream: str, data: bytes) -> None:
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.buffer.write(data)
    out.flush()


def _cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    if args.attach:
        if len(args.refs) != 1:
            raise UsageError("start --attach takes exactly one container")
        info = mgr.start(args.refs[0])
        return _attach(mgr, info.id, remove=False, stdin=bool(getattr(args, "interactive", False)))
    return _each(args.refs, mgr.start)


def _cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return _each(args.refs, lambda r: mgr.stop(r, args.timeout))


def _cmd_restart(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return _each(args.refs, lambda r: mgr.restart(r, args.timeout))


def _cmd_kill(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return _each(args.refs, lambda r: mgr.kill(r, args.signal_name))


def _cmd_rm(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return _each(args.refs, lambda r: mgr.remove(r, force=args.force, volumes=args.remove_volumes))


def _cmd_pause(args: argparse.Namespace, ctx: Context) -> int:
    return _each(args.refs, _mgr(ctx).pause)


def _cmd_unpause(args: argparse.Namespace, ctx: Context) -> int:
    return _each(args.refs, _mgr(ctx).unpause)


def _matches(info: ContainerInfo, filters: Sequence[str]) -> bool:
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


def _cmd_ls(args: argparse.Namespace, ctx: Context) -> int:
    import shlex

    infos = [i for i in _mgr(ctx).list(all=args.show_all) if _matches(i, args.filter)]
    if args.quiet:
        for i in infos:
            print(i.id if args.no_trunc else i.id[:12])
        return 0
    if args.out_format == "json":
        print(json.dumps([ps_json(i) for i in infos], indent=4))
        return 0
    if args.out_format not in ("table", ""):
        for i in infos:
            print(render_template(args.out_format, ps_json(i) | {"ID": i.id[:12], "Names": i.name}))
        return 0
    now = time.time()
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]]
    for i in infos:
        rows.append([i.id if args.no_trunc else i.id[:12], i.image,
                     _truncate(shlex.join(i.command), 20, args.no_trunc),
                     human_duration(now - parse_time(i.created_at)) + " ago",
                     status_text(i, now), ports_text(i), i.name])
    print(table(rows))
    return 0


def _since(raw: str | None) -> float | None:
    """--since/--until: RFC 3339, epoch seconds, or a duration before now."""
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    if "T" in raw or "-" in raw:
        t = parse_time(raw)
        if t:
            return t
    return time.time() - parse_duration(raw, "time")


def _cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    records = _mgr(ctx).logs(args.ref, follow=args.follow, tail=args.tail,
                             since=_since(args.since), until=_since(args.until))
    for rec in records:
        prefix = (rec.time + " ").encode() if args.timestamps else b""
        _emit(rec.stream, prefix + rec.text + (b"" if rec.partial else b"\n"))
    return 0


def inspect_json(info: ContainerInfo) -> dict[str, Any]:
    """A docker/podman-shaped inspect document."""
    spec = info.spec
    running = info.status in ("running", "paused", "restarting")
    env = [f"{k}={v}" for k, v in (spec.env.items() if spec else ())]
    mounts = [{"Type": m.type, "Source": m.source, "Destination": m.target, "RW": not m.read_only,
               "Propagation": m.propagation if m.type == "bind" else ""}
              for m in (spec.mounts if spec else ())]
    ports: dict[str, list[dict[str, str]]] = {}
    for p, h in info.ports:
        ports.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(h)})
    return {
        "Id": info.id,
        "Created": info.created_at,
        "Path": info.command[0] if info.command else "",
        "Args": list(info.command[1:]),
        "State": {
            "Status": info.status, "Running": running, "Paused": info.status == "paused",
            "Restarting": info.status == "restarting", "OOMKilled": info.oom_killed,
            "Dead": info.status == "dead", "Pid": info.pid, "ExitCode": info.exit_code or 0,
            "StartedAt": info.started_at, "FinishedAt": info.finished_at,
            **({"Health": {"Status": info.health}} if info.health else {}),
        },
        "Image": info.image_id,
        "ImageName": info.image,
        "Name": info.name,
        "RestartCount": info.restart_count,
        "Pod": info.pod or "",
        "Mounts": mounts,
        "Config": {
            "Hostname": (spec.hostname if spec and spec.hostname else info.id[:12]),
            "User": spec.user or "" if spec else "",
            "Env": env,
            "Cmd": list(spec.command) if spec and spec.command is not None else None,
            "Entrypoint": list(spec.entrypoint) if spec and spec.entrypoint is not None else None,
            "Image": info.image,
            "WorkingDir": spec.working_dir or "" if spec else "",
            "Labels": dict(info.labels),
            "Tty": bool(spec and spec.tty),
            "OpenStdin": bool(spec and spec.stdin_open),
            "StopSignal": spec.stop_signal or "SIGTERM" if spec else "SIGTERM",
            "StopTimeout": spec.stop_timeout if spec else 10,
        },
        "HostConfig": {
            "Privileged": bool(spec and spec.privileged),
            "ReadonlyRootfs": bool(spec and spec.read_only),
            "CapAdd": list(spec.cap_add) if spec else [],
            "CapDrop": list(spec.cap_drop) if spec else [],
            "NetworkMode": spec.network_mode if spec else "",
            "RestartPolicy": {"Name": spec.restart.name if spec else "no",
                              "MaximumRetryCount": spec.restart.max_retries if spec else 0},
            "Memory": (spec.resources.memory or 0) if spec else 0,
            "NanoCpus": int((spec.resources.cpus or 0) * 1e9) if spec else 0,
            "PidsLimit": (spec.resources.pids_limit or 0) if spec else 0,
            "Init": bool(spec and spec.init),
            "Sysctls": dict(spec.sysctls) if spec else {},
            "Ulimits": [{"Name": k, "Soft": s, "Hard": h}
                        for k, (s, h) in (spec.ulimits.items() if spec else ())],
        },
        "NetworkSettings": {
            "Ports": ports,
            "Networks": {n: {"IPAddress": ip} for n, ip in info.networks.items()},
        },
    }


def _cmd_inspect(args: argparse.Namespace, ctx: Context) -> int:
    from runtime.errors import EngineError

    mgr = _mgr(ctx)
    docs, code = [], 0
    for ref in args.refs:
        try:
            docs.append(inspect_json(mgr.get(ref)))
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exc.exit_code
    if args.out_format in ("json", ""):
        print(json.dumps(docs, indent=4))
    else:
        for d in docs:
            print(render_template(args.out_format, d))
    return code


def _cmd_exec(args: argparse.Namespace, ctx: Context) -> int:
    from runtime.spec import ExecSpec

    if not args.cmd_args:
        raise UsageError("exec needs a command")
    env: dict[str, str] = {}
    for path in args.ctr_env_files:
        env.update(read_env_file(path, ctx.environ))
    env.update(parse_env(args.env, ctx.environ))
    spec = ExecSpec(command=tuple(args.cmd_args), env=env, user=args.user, working_dir=args.workdir,
                    tty=args.tty, stdin_open=args.interactive, privileged=args.privileged,
                    detach=args.detach)
    import subprocess

    stdin = 0 if args.interactive else subprocess.DEVNULL
    sys.stdout.flush()
    return _mgr(ctx).exec(args.ref, spec, stdin=stdin, stdout=1, stderr=2)


def _cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    condition = {"stopped": "not-running", "exited": "not-running"}.get(args.condition, args.condition)

    def one(ref: str) -> None:
        print(mgr.wait(ref, condition=condition), flush=True)
    return _each(args.refs, one, echo=False)


def _cmd_top(args: argparse.Namespace, ctx: Context) -> int:
    procs = _mgr(ctx).top(args.ref)
    rows = [["UID", "PID", "PPID", "CMD"]] + [[p["UID"], p["PID"], p["PPID"], p["CMD"]] for p in procs]
    print(table(rows))
    return 0


def split_cp_arg(arg: str) -> tuple[str | None, str]:
    """``"web:/etc/hosts"`` -> ("web", "/etc/hosts"); host paths (with no colon before the first
    slash, or starting with . or /) -> (None, path)."""
    if arg.startswith(("/", ".")):
        return None, arg
    ref, sep, path = arg.partition(":")
    if not sep or "/" in ref:
        return None, arg
    return ref, path


def _cmd_cp(args: argparse.Namespace, ctx: Context) -> int:
    src_ref, src = split_cp_arg(args.src)
    dst_ref, dst = split_cp_arg(args.dst)
    mgr = _mgr(ctx)
    if src_ref and not dst_ref:
        mgr.copy_from(src_ref, src, os.path.join(ctx.cwd, dst))
    elif dst_ref and not src_ref:
        mgr.copy_to(dst_ref, os.path.join(ctx.cwd, src), dst)
    else:
        raise UsageError("cp: exactly one of SRC and DST must be CONTAINER:PATH")
    return 0


def _cmd_port(args: argparse.Namespace, ctx: Context) -> int:
    info = _mgr(ctx).get(args.ref)
    want = args.port_filter
    if want and "/" not in want:
        want += "/tcp"
    for p, h in info.ports:
        key = f"{p.container_port}/{p.protocol}"
        if want and key != want:
            continue
        host = host_address(p.host_ip, h)
        print(host if want else f"{key} -> {host}")
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "run": _cmd_run, "create": _cmd_create, "start": _cmd_start, "stop": _cmd_stop,
    "restart": _cmd_restart, "kill": _cmd_kill, "rm": _cmd_rm, "ls": _cmd_ls, "logs": _cmd_logs,
    "inspect": _cmd_inspect, "exec": _cmd_exec, "wait": _cmd_wait, "top": _cmd_top,
    "pause": _cmd_pause, "unpause": _cmd_unpause, "cp": _cmd_cp, "port": _cmd_port,
}

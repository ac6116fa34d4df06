"""`composer network ...`: bridge networks (podman-like: create, ls, inspect, rm, prune, connect,
disconnect)."""

from __future__ import annotations

import argparse
import sys

from composer.cli.context import Context

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from typing import Any

    from runtime.engine import Engine
    from runtime.spec import NetworkInfo

HELP = {"network": "Manage networks: create, ls, inspect, rm, prune, connect, disconnect"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="network_cmd", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("create", help="create a bridge network")
    p.add_argument("--subnet", action="append", default=[], dest="subnets", metavar="CIDR",
                   help="subnet (repeatable; default: a free one from 10.89.0.0/24 up)")
    p.add_argument("--gateway", action="append", default=[], dest="gateways", metavar="IP",
                   help="gateway of the subnet given at the same position")
    p.add_argument("--ip-range", action="append", default=[], dest="ip_ranges", metavar="CIDR",
                   help="allocate container addresses from this range (same position as --subnet)")
    p.add_argument("--internal", action="store_true", help="no traffic in or out of the network")
    p.add_argument("--ipv6", action="store_true", help="add an IPv6 subnet")
    p.add_argument("--attachable", action="store_true",
                   help="recorded for docker compatibility (every bridge network is attachable)")
    p.add_argument("--label", action="append", default=[], dest="net_labels", metavar="KEY=VALUE")
    p.add_argument("-o", "--opt", action="append", default=[], dest="net_opts", metavar="KEY=VALUE",
                   help="driver option: mtu, com.docker.network.bridge.name")
    p.add_argument("-d", "--driver", default="bridge", choices=["bridge"], help="only bridge")
    p.add_argument("net_name", metavar="NAME")

    for alias in ("ls", "list"):
        p = sub.add_parser(alias, help="list networks")
        p.add_argument("-q", "--quiet", action="store_true", help="print only the network ids")
        p.add_argument("--no-trunc", action="store_true", help="do not truncate the ids")
        p.add_argument("--format", dest="out_format", default="table",
                       help="table (default), json, or a Go template such as 'table {{.Name}}\t{{.Driver}}'")
        p.add_argument("-f", "--filter", action="append", default=[], dest="net_filters", metavar="KEY=VALUE",
                       help="driver=, id=, label=K[=V], name=, scope=, type=custom|builtin, dangling=")

    p = sub.add_parser("inspect", help="show network details as a JSON array")
    p.add_argument("-f", "--format", dest="out_format", default="json",
                   help="json (default), or a Go template such as {{.Id}} or {{json .IPAM.Config}}")
    p.add_argument("names", nargs="+", metavar="NAME")

    for alias in ("rm", "remove"):
        p = sub.add_parser(alias, help="remove networks")
        p.add_argument("names", nargs="+", metavar="NAME")

    p = sub.add_parser("prune", help="remove networks without containers")
    p.add_argument("-f", "--force", action="store_true", help="do not ask (composer never asks)")
    p.add_argument("--filter", action="append", default=[], dest="net_filters", metavar="label=K[=V]")

    p = sub.add_parser("connect", help="connect a container to a network")
    p.add_argument("--alias", action="append", default=[], dest="net_aliases")
    p.add_argument("--ip", dest="ipv4", help="IPv4 address")
    p.add_argument("--ip6", dest="ipv6", help="IPv6 address")
    p.add_argument("net_name", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")

    p = sub.add_parser("disconnect", help="disconnect a container from a network")
    p.add_argument("net_name", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from composer.errors import ComposerError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise ComposerError(f"network: invalid {what} {item!r}; expected KEY=VALUE")
        out[key] = value if sep else ""
    return out


def _label_filters(filters: list[str]) -> dict[str, str]:
    from composer.errors import ComposerError

    out: dict[str, str] = {}
    for f in filters:
        kind, _, rest = f.partition("=")
        if kind != "label" or not rest:
            raise ComposerError(f"network: unsupported filter {f!r}; expected label=KEY[=VALUE]")
        out.update(_pairs([rest], "filter"))
    return out


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    cmd = {"list": "ls", "remove": "rm"}.get(args.network_cmd, args.network_cmd)
    handler = {"create": _create, "ls": _ls, "inspect": _inspect, "rm": _rm, "prune": _prune,
               "connect": _connect, "disconnect": _disconnect}[cmd]
    return handler(ctx.engine(), args)


def _create(engine: Engine, args: argparse.Namespace) -> int:
    from composer.errors import ComposerError
    from runtime.spec import IPAMConfig, NetworkSpec

    if len(args.gateways) > len(args.subnets) or len(args.ip_ranges) > len(args.subnets):
        raise ComposerError("network create: each --gateway and --ip-range needs its --subnet")
    ipam = tuple(IPAMConfig(subnet=sub, gateway=_at(args.gateways, i), ip_range=_at(args.ip_ranges, i))
                 for i, sub in enumerate(args.subnets))
    info = engine.networks.create(NetworkSpec(
        name=args.net_name, labels=_pairs(args.net_labels, "label"), internal=args.internal,
        enable_ipv6=args.ipv6, ipam=ipam, driver_opts=_pairs(args.net_opts, "option"),
        attachable=args.attachable))
    for line in engine.networks.warnings:
        print(f"WARNING: {line}", file=sys.stderr)
    print(info.name)
    return 0


def _at(items: Sequence[str | None], i: int) -> str | None:
    return items[i] if i < len(items) else None


def live_containers(engine: Engine) -> set[str]:
    """The ids of the containers with a live endpoint: running or paused ones, as moby's endpoints
    (a container's is made at its start and released at its exit)."""
    return {c.id for c in engine.containers.list(all=False) if c.status in ("running", "paused")}


def inspect_json(info: NetworkInfo, live: Collection[str] = ()) -> dict[str, Any]:
    """One network as docker's `network inspect` shows it (moby api/types/network Inspect); the
    Linux bridge's name is in Options as com.docker.network.bridge.name, as docker shows its own.
    Containers: those of *live* (live_containers), not the created or stopped ones attached."""
    from composer.cli.go_text_template import GoMap, GoStruct

    v4 = [s for s in info.subnets if ":" not in s]
    config = [GoStruct({"Subnet": sub, "IPRange": _at(info.ip_ranges, i) or "",
                        "Gateway": _at(info.gateways, i) or ""},
                       omitempty=("Subnet", "IPRange", "Gateway"))
              for i, sub in enumerate(info.subnets)]
    containers = {cid: {"Name": m.name, "EndpointID": m.endpoint_id, "MacAddress": m.mac,
                        "IPv4Address": f"{m.ipv4}/{m.prefix4}" if m.ipv4 else "",
                        "IPv6Address": f"{m.ipv6}/{m.prefix6}" if m.ipv6 else ""}
                  for cid, m in info.members.items() if cid in live}
    return {
        "Name": info.name,
        "Id": info.id,
        "Created": info.created_at or "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv4": bool(v4) or not info.subnets,
        "EnableIPv6": info.enable_ipv6 or len(v4) < len(info.subnets),
        # docker network create sends its (empty) --ipam-opt map; compose sends none: null
        "IPAM": {"Driver": "default", "Options": None if _COMPOSE_NETWORK in info.labels else GoMap(),
                 "Config": config},
        "Internal": info.internal,
        "Attachable": info.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": GoMap(containers),
        "Options": GoMap({**info.driver_opts, _BRIDGE_NAME: info.bridge}),
        "Labels": GoMap(info.labels),
    }


_COMPOSE_NETWORK = "com.docker.compose.network"
_BRIDGE_NAME = "com.docker.network.bridge.name"

# docker/cli's network formatter: the default table, and the columns' titles
_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
            "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")


def ls_json(info: NetworkInfo, trunc: bool = True) -> dict[str, str]:
    """What docker's networkContext gives a template: its methods, in `{{json .}}`'s (sorted) order."""
    doc = inspect_json(info)
    return {
        "CreatedAt": _go_time(info.created_at),
        "Driver": "bridge",
        "ID": info.id[:12] if trunc else info.id,
        "IPv4": str(doc["EnableIPv4"]).lower(),
        "IPv6": str(doc["EnableIPv6"]).lower(),
        "Internal": str(info.internal).lower(),
        "Labels": ",".join(sorted(f"{k}={v}" for k, v in info.labels.items())),
        "Name": info.name,
        "Scope": "local",
    }


def _go_time(rfc3339: str) -> str:
    """Go's time.Time.String() of a UTC RFC 3339 time: "2026-01-02 03:04:05.5 +0000 UTC"."""
    if not rfc3339:
        return "0001-01-01 00:00:00 +0000 UTC"
    day, _, clock = rfc3339.removesuffix("Z").partition("T")
    whole, _, frac = clock.partition(".")
    frac = frac.rstrip("0")
    return f"{day} {whole}{'.' + frac if frac else ''} +0000 UTC"


def _ls_filters(items: list[str]) -> dict[str, list[str]]:
    """docker's network ls --filter: KEY=VALUE, the keys the daemon accepts."""
    from composer.errors import UsageError

    out: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"network ls: bad format of filter {item!r}; expected KEY=VALUE")
        key = key.strip().lower()
        if key not in _FILTERS:
            raise UsageError(f"network ls: invalid filter {key!r}; expected one of {', '.join(_FILTERS)}")
        if key == "type" and value not in ("custom", "builtin"):
            raise UsageError(f"network ls: invalid filter type={value!r}; expected custom or builtin")
        if key == "dangling" and value.lower() not in ("true", "1", "false", "0"):
            raise UsageError(f"network ls: invalid filter dangling={value!r}; expected true or false")
        out.setdefault(key, []).append(value)
    return out


def _selected(info: NetworkInfo, want: dict[str, list[str]], live: set[str]) -> bool:
    """Every filter key holds (values of one key: any of them; labels: all of them), as moby's;
    dangling: no container of *live* attached (moby's HasContainerAttachments: its endpoints)."""
    for label in want.get("label", ()):
        k, eq, v = label.partition("=")
        if k not in info.labels or (eq and info.labels[k] != v):
            return False
    from composer.cli.docker_format import filter_match as _match

    return all((
        "driver" not in want or "bridge" in want["driver"],
        "scope" not in want or "local" in want["scope"],
        "type" not in want or "custom" in want["type"],  # no network of composer's is built in
        "name" not in want or _match(want["name"], info.name),
        "id" not in want or _match(want["id"], info.id),
        "dangling" not in want or any((v.lower() in ("true", "1")) == live.isdisjoint(info.members)
                                      for v in want["dangling"]),
    ))


def _ls(engine: Engine, args: argparse.Namespace) -> int:
    want = _ls_filters(args.net_filters)
    live = live_containers(engine) if "dangling" in want else set()
    nets = [n for n in engine.networks.list() if _selected(n, want, live)]
    trunc = not args.no_trunc
    fmt = args.out_format or "table"
    if args.quiet and fmt == "table":
        fmt = "{{.ID}}"  # docker's quiet format; a template of the user's wins
    rows = [ls_json(n, trunc) for n in nets]
    if fmt == "json":
        from composer.cli.docker_format import go_json

        sys.stdout.write("".join(go_json(r) + "\n" for r in rows))
        return 0
    from composer.cli.go_template import render_rows

    sys.stdout.write(render_rows(_TABLE if fmt == "table" else fmt, rows, list(_HEADERS), _HEADERS,
                                 [n.labels for n in nets]))
    return 0


def _inspect(engine: Engine, args: argparse.Namespace) -> int:
    from composer.cli.go_text_template import print_inspect
    from runtime.errors import NotFound

    engine.networks.repair()  # a crashed command's containers are not shown as users
    found, rc = [], 0
    live = live_containers(engine)
    for n in args.names:
        try:
            found.append(inspect_json(engine.networks.get(n), live))
        except NotFound as exc:
            print(f"Error: {exc}", file=sys.stderr)
            rc = exc.exit_code
    print_inspect(found, args.out_format)
    return rc


def _rm(engine: Engine, args: argparse.Namespace) -> int:
    from runtime.errors import EngineError

    rc = 0
    for n in args.names:
        try:
            engine.networks.remove(n)
            print(n)
        except EngineError as exc:
            print(str(exc), file=sys.stderr)
            rc = exc.exit_code
    return rc


def _prune(engine: Engine, args: argparse.Namespace) -> int:
    for n in engine.networks.prune(_label_filters(args.net_filters) or None):
        print(n)
    return 0


def _connect(engine: Engine, args: argparse.Namespace) -> int:
    from runtime.spec import NetworkAttachment

    cid = engine.containers.get(args.container).id
    engine.networks.connect(cid, NetworkAttachment(network=args.net_name, aliases=tuple(args.net_aliases),
                                                   ipv4_address=args.ipv4, ipv6_address=args.ipv6))
    return 0


def _disconnect(engine: Engine, args: argparse.Namespace) -> int:
    cid = engine.containers.get(args.container).id
    engine.networks.disconnect(cid, args.net_name)
    return 0

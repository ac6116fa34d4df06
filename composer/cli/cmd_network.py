"""`composer network ...`: bridge networks (podman-like: create, ls, inspect, rm, prune, connect,
disconnect)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from composer.cli.context import Context

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
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
        p.add_argument("-q", "--quiet", action="store_true", help="print only the names")
        p.add_argument("--format", dest="out_format", choices=["table", "json"], default="table")
        p.add_argument("--filter", action="append", default=[], dest="net_filters", metavar="label=K[=V]")

    p = sub.add_parser("inspect", help="show network details as a JSON array")
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


def _at(items: list[str], i: int) -> str | None:
    return items[i] if i < len(items) else None


def _doc(info: NetworkInfo) -> dict[str, Any]:
    d = asdict(info)
    d["driver"] = "bridge"
    d["labels"] = dict(info.labels)
    d["containers"] = dict(info.containers)
    d["driver_opts"] = dict(info.driver_opts)
    return d


def _ls(engine: Engine, args: argparse.Namespace) -> int:
    nets = engine.networks.list(_label_filters(args.net_filters) or None)
    if args.quiet:
        for n in nets:
            print(n.name)
    elif args.out_format == "json":
        print(json.dumps([_doc(n) for n in nets], indent=2))
    else:
        rows = [("NETWORK ID", "NAME", "DRIVER", "SUBNETS")]
        rows += [(n.id[:12], n.name, "bridge", ",".join(n.subnets)) for n in nets]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "   " + r[3])
    return 0


def _inspect(engine: Engine, args: argparse.Namespace) -> int:
    from runtime.errors import NotFound

    engine.networks.repair()  # a crashed command's containers are not shown as users
    found, rc = [], 0
    for n in args.names:
        try:
            found.append(_doc(engine.networks.get(n)))
        except NotFound as exc:
            print(str(exc), file=sys.stderr)
            rc = 125
    print(json.dumps(found, indent=2))
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

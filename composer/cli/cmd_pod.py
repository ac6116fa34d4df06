"""`composer pod ...`: podman-like pods (create, ls, inspect, stop, rm). A pod groups containers
under one cgroup parent; a compose project is one pod."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from composer.cli.context import Context, each_ref

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.spec import PodInfo

HELP = {"pod": "Manage pods: create, ls, inspect, stop, rm"}


def pod_status(statuses: Sequence[str]) -> str:
    """podman's pod status from its containers' statuses."""
    if not statuses:
        return "Created"
    running = sum(s in ("running", "restarting") for s in statuses)
    if running == len(statuses):
        return "Running"
    if running:
        return "Degraded"
    if all(s == "paused" for s in statuses):
        return "Paused"
    if all(s == "created" for s in statuses):
        return "Created"
    return "Exited"


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pod_cmd", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("create", help="create a pod")
    p.add_argument("--name", dest="pod_name", help="pod name (default: a random one)")
    p.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("positional_name", nargs="?", metavar="NAME")
    for alias in ("ls", "list", "ps"):
        p = sub.add_parser(alias, help="list pods")
        p.add_argument("-q", "--quiet", action="store_true", help="print only ids")
        p.add_argument("--no-trunc", action="store_true")
        p.add_argument("--format", dest="out_format", choices=["table", "json"], default="table")
    p = sub.add_parser("inspect", help="show pods as JSON")
    p.add_argument("names", nargs="+", metavar="POD")
    p = sub.add_parser("stop", help="stop every container of pods")
    p.add_argument("-t", "--time", type=float, dest="timeout", help="seconds before SIGKILL")
    p.add_argument("names", nargs="+", metavar="POD")
    for alias in ("rm", "remove"):
        p = sub.add_parser(alias, help="remove pods")
        p.add_argument("-f", "--force", action="store_true", help="also stop and remove their containers")
        p.add_argument("names", nargs="+", metavar="POD")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    cmd = {"list": "ls", "ps": "ls", "remove": "rm"}.get(args.pod_cmd, args.pod_cmd)
    return {"create": _create, "ls": _ls, "inspect": _inspect, "stop": _stop, "rm": _rm}[cmd](args, ctx)


def _statuses(ctx: Context, pod: PodInfo) -> list[str]:
    from runtime.errors import NotFound

    out: list[str] = []
    for cid in pod.containers:
        try:
            out.append(ctx.engine().containers.get(cid).status)
        except NotFound:
            continue
    return out


def _create(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.container_flags import parse_labels, random_name
    from runtime.spec import PodSpec

    name = args.pod_name or args.positional_name or random_name()
    info = ctx.engine().pods.create(PodSpec(name=name, labels=parse_labels(args.label)))
    print(info.id)
    return 0


def pod_json(ctx: Context, pod: PodInfo) -> dict[str, Any]:
    statuses = _statuses(ctx, pod)
    return {"Id": pod.id, "Name": pod.name, "Status": pod_status(statuses), "Created": pod.created_at,
            "Labels": dict(pod.labels), "CgroupParent": pod.cgroup_parent,
            "Containers": [{"Id": c, "Status": s} for c, s in zip(pod.containers, statuses, strict=False)],
            "NumContainers": len(pod.containers)}


def _ls(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.container_output import table
    from composer.cli.humanize import human_duration, parse_time

    pods = ctx.engine().pods.list()
    if args.quiet:
        for p in pods:
            print(p.id if args.no_trunc else p.id[:12])
        return 0
    if args.out_format == "json":
        print(json.dumps([pod_json(ctx, p) for p in pods], indent=4))
        return 0
    now = time.time()
    rows = [["POD ID", "NAME", "STATUS", "CREATED", "# OF CONTAINERS"]]
    for p in pods:
        created = human_duration(now - parse_time(p.created_at)) + " ago" if p.created_at else ""
        rows.append([p.id if args.no_trunc else p.id[:12], p.name, pod_status(_statuses(ctx, p)), created,
                     str(len(p.containers))])
    print(table(rows))
    return 0


def _inspect(args: argparse.Namespace, ctx: Context) -> int:
    from runtime.errors import EngineError

    docs, code = [], 0
    for name in args.names:
        try:
            docs.append(pod_json(ctx, ctx.engine().pods.get(name)))
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exc.exit_code
    print(json.dumps(docs, indent=4))
    return code


def _stop(args: argparse.Namespace, ctx: Context) -> int:
    pods = ctx.engine().pods
    return each_ref(args.names, lambda n: pods.stop(n, timeout=args.timeout))


def _rm(args: argparse.Namespace, ctx: Context) -> int:
    pods = ctx.engine().pods
    return each_ref(args.names, lambda n: pods.remove(n, force=args.force))

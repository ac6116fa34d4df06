"""`composer ps` (the project's containers) and `composer ls` (running projects), from labels."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context
from composer.errors import UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from runtime.spec import ContainerInfo

HELP = {"ps": "List containers", "ls": "List running compose projects"}

_STATES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


# add_arguments as main.fast_args reads it: `ps` and `ls` parse without argparse (issue 5: `ps` <= 60 ms);
# tests/test_cli_fastargs.py checks that both parse alike
_COMMON = {"-a": ("show_all", "true", None), "--all": ("show_all", "true", None),
           "-q": ("quiet", "true", None), "--quiet": ("quiet", "true", None),
           "--format": ("out_format", "store", None), "--filter": ("filters", "append", None)}
FAST_ARGS = {
    "ps": {
        "options": {**_COMMON, "--services": ("only_services", "true", None),
                    "--status": ("status", "append", _STATES), "--no-trunc": ("no_trunc", "true", None),
                    "--orphans": ("orphans", "true", None), "--no-orphans": ("orphans", "false", None)},
        "defaults": {"show_all": False, "quiet": False, "out_format": "table", "filters": [],
                     "only_services": False, "status": [], "no_trunc": False, "orphans": True},
        "positional": "services",
    },
    "ls": {
        "options": _COMMON,
        "defaults": {"show_all": False, "quiet": False, "out_format": "table", "filters": []},
        "positional": None,
    },
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    import argparse

    parser.add_argument(
        "-a",
        "--all",
        action="store_true",
        dest="show_all",
        help="show all stopped containers" if name == "ps" else "show all stopped projects",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="only display IDs" if name == "ps" else "only display project names",
    )
    parser.add_argument("--format", dest="out_format", default="table", help="table|json")
    parser.add_argument("--filter", action="append", default=[], dest="filters", metavar="KEY=VALUE")
    if name == "ps":
        parser.add_argument("--services", action="store_true", dest="only_services", help="display services")
        parser.add_argument("--status", action="append", default=[], choices=_STATES)
        parser.add_argument("--no-trunc", action="store_true")
        parser.add_argument("--orphans", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if name == "ls":
        return _ls(args, ctx)
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    # -a lists one-off `run` containers too, as docker compose (pkg/compose/ps.go: oneOffInclude)
    oneoff = None if args.show_all else False
    containers = C.project_containers(ctx.engine(), pname, args.services, oneoff=oneoff)
    statuses = set(args.status)
    for f in args.filters:
        key, _, value = f.partition("=")
        if key != "status" or value not in _STATES:
            raise UsageError(f"invalid filter {f!r}; expected status=<{'|'.join(_STATES)}>")
        statuses.add(value)
    if statuses:
        containers = [c for c in containers if c.status in statuses]
    elif not args.show_all:
        containers = [c for c in containers if c.status in ("running", "restarting", "paused")]
    if project is not None and not args.orphans:
        containers = [c for c in containers if c.labels.get(L.SERVICE) in project.services]
    if args.only_services:
        for svc in dict.fromkeys(c.labels.get(L.SERVICE, "") for c in containers):
            print(svc)
        return 0
    if args.quiet:
        for c in containers:
            print(c.id)
        return 0
    if args.out_format == "json":
        import json

        for c in containers:
            print(json.dumps(ps_json(c), separators=(",", ":")))
        return 0
    if args.out_format != "table":
        raise UsageError(f"invalid --format {args.out_format!r}; expected table or json")
    now = time.time()
    rows = [["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]]
    for c in containers:
        rows.append(
            [
                c.name,
                c.image,
                C.command_text(c, 10_000 if args.no_trunc else 20),
                c.labels.get(L.SERVICE, ""),
                C.ago(c.created_at, now),
                C.status_text(c, now),
                C.ports_text(c),
            ]
        )
    C.print_table(rows)
    return 0


def ps_json(c: ContainerInfo, now: float | None = None) -> dict[str, Any]:
    """One line of `ps --format json`, with docker compose's keys."""
    publishers = []
    for asked, host_port in c.ports:
        publishers.append(
            {
                "URL": asked.host_ip or "0.0.0.0",
                "TargetPort": asked.container_port,
                "PublishedPort": host_port,
                "Protocol": asked.protocol,
            }
        )
    return {
        "Command": C.command_text(c, 10_000),
        "CreatedAt": c.created_at,
        "ExitCode": c.exit_code or 0,
        "Health": c.health,
        "ID": c.id,
        "Image": c.image,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "LocalVolumes": str(sum(1 for m in (c.spec.mounts if c.spec else ()) if m.type == "volume")),
        "Mounts": ",".join(m.source or m.target for m in (c.spec.mounts if c.spec else ())),
        "Name": c.name,
        "Names": c.name,
        "Networks": ",".join(sorted(c.networks)),
        "Ports": C.ports_text(c),
        "Project": c.labels.get(L.PROJECT, ""),
        "Publishers": publishers,
        "RunningFor": C.ago(c.created_at, now),
        "Service": c.labels.get(L.SERVICE, ""),
        "Size": "0B",
        "State": c.status,
        "Status": C.status_text(c, now),
    }


def project_summaries(containers: Sequence[ContainerInfo], show_all: bool) -> list[dict[str, str]]:
    """`ls` rows: project name, "running(2), exited(1)", config files."""
    by: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        p = c.labels.get(L.PROJECT)
        if p:
            by.setdefault(p, []).append(c)
    out = []
    for name in sorted(by):
        cs = by[name]
        counts: dict[str, int] = {}
        for c in cs:
            counts[c.status] = counts.get(c.status, 0) + 1
        if not show_all and not counts.get("running"):
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
        files = next((c.labels.get(L.CONFIG_FILES, "") for c in cs if c.labels.get(L.CONFIG_FILES)), "")
        out.append({"Name": name, "Status": status, "ConfigFiles": files})
    return out


def _ls(args: argparse.Namespace, ctx: Context) -> int:
    containers = [c for c in ctx.engine().containers.list(all=True) if L.PROJECT in c.labels]
    rows = project_summaries(containers, args.show_all)
    for f in args.filters:
        key, _, value = f.partition("=")
        if key != "name":
            raise UsageError(f"invalid filter {f!r}; expected name=<project>")
        rows = [r for r in rows if value in r["Name"]]
    if args.quiet:
        for r in rows:
            print(r["Name"])
    elif args.out_format == "json":
        import json

        print(json.dumps(rows))
    else:
        C.print_table(
            [["NAME", "STATUS", "CONFIG FILES"], *([r["Name"], r["Status"], r["ConfigFiles"]] for r in rows)]
        )
    sys.stdout.flush()
    return 0

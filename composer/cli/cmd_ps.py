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
    # -a (or a status asked for) lists one-off `run` containers too, as docker compose
    # (cmd/compose/ps.go: All is -a or --status; pkg/compose/ps.go: oneOffInclude)
    statuses = set(args.status)
    for f in args.filters:
        key, _, value = f.partition("=")
        if key != "status" or value not in _STATES:
            raise UsageError(f"invalid filter {f!r}; expected status=<{'|'.join(_STATES)}>")
        statuses.add(value)
    oneoff = None if args.show_all or statuses else False
    containers = C.project_containers(ctx.engine(), pname, args.services, oneoff=oneoff)
    if statuses:
        containers = [c for c in containers if c.status in statuses]
    elif not args.show_all:
        containers = [c for c in containers if c.status in ("running", "restarting", "paused")]
    if project is not None and not args.orphans:
        containers = [c for c in containers if c.labels.get(L.SERVICE) in project.services]
    containers.sort(key=lambda c: c.name)  # docker compose sorts by name: p-web-10 before p-web-2
    if args.quiet:  # before --services, as docker compose
        for c in containers:
            print(c.id)
        return 0
    if args.only_services:  # one Println of them joined: an empty line when there is none
        print("\n".join(dict.fromkeys(c.labels.get(L.SERVICE, "") for c in containers)))
        return 0
    from composer.cli import docker_format as F

    now = time.time()
    trunc = not args.no_trunc
    fmt = args.out_format or "table"
    if fmt == "json":
        sys.stdout.write("".join(F.go_json(ps_json(c, now, trunc)) + "\n" for c in containers))
        return 0
    rows = [ps_json(c, now, trunc) for c in containers]
    if fmt == "table":  # docker's default table, its cells taken as they are: no template to run
        cells = [[_HEADERS[f] for f in _TABLE], *([str(r[f]) for f in _TABLE] for r in rows)]
        sys.stdout.write(F.tabwriter(cells))
        return 0
    from composer.cli.go_template import render_rows

    sys.stdout.write(render_rows(fmt, rows, _FIELDS, _HEADERS, [c.labels for c in containers]))
    return 0


# docker compose's default table (cmd/formatter/container.go: "table {{.Name}}\t{{.Image}}\t...")
# and the headers of its fields
_TABLE = ("Name", "Image", "Command", "Service", "RunningFor", "Status", "Ports")
_HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Project": "PROJECT", "Service": "SERVICE",
            "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
            "Ports": "PORTS",
            "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS"}


_FIELDS = ("Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
           "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor", "Service", "Size",
           "State", "Status")


def ps_json(c: ContainerInfo, now: float | None = None, trunc: bool = True) -> dict[str, Any]:
    """What docker compose's ContainerContext gives a template, `{{json .}}` (--format json) included:
    its exported methods, in key order, with their Go types (cmd/formatter/container.go)."""
    from composer.cli import docker_format as F
    from composer.cli.humanize import parse_time

    now = now or time.time()
    pubs = F.publishers(c)
    # compose's Mounts: a volume's name (an anonymous one's is generated: in c.mounts), a bind's source
    named = dict(c.mounts)
    mounts = [named.get(m.target, m.source) if m.type == "volume" else m.source or m.target
              for m in (c.spec.mounts if c.spec else ())]
    return {
        "Command": F.go_quote(F.ellipsis(F.command(c), 20) if trunc else F.command(c)),
        "CreatedAt": F.go_time_string(parse_time(c.created_at)),
        # the exit code and the health as compose reads them from inspect: per state
        "ExitCode": (c.exit_code or 0) if c.status in ("exited", "dead") else 0,
        "Health": c.health if c.status == "running" else "",
        "ID": c.id[:12] if trunc else c.id,
        "Image": c.image,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "LocalVolumes": str(sum(1 for m in (c.spec.mounts if c.spec else ()) if m.type == "volume")),
        "Mounts": ",".join(F.ellipsis(m, 15) if trunc else m for m in mounts),
        "Name": c.name,
        "Names": c.name,
        "Networks": ",".join(sorted(c.networks)),
        "Ports": F.displayable_ports(pubs),
        "Project": c.labels.get(L.PROJECT, ""),
        "Publishers": pubs,
        "RunningFor": C.ago(c.created_at, now),
        "Service": c.labels.get(L.SERVICE, ""),
        "Size": "0B",
        "State": c.status,
        "Status": C.status_text(c, now),
    }


def project_summaries(containers: Sequence[ContainerInfo], show_all: bool) -> list[dict[str, str]]:
    """`ls` rows as docker compose (pkg/compose/ls.go): project name, "running(2), exited(1)" of the
    containers it lists (without -a the running ones only), the config files of them all."""
    by: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        p = c.labels.get(L.PROJECT)
        if p and (show_all or c.status in ("running", "restarting", "paused")):
            by.setdefault(p, []).append(c)
    out = []
    for name in sorted(by):
        cs = by[name]
        counts: dict[str, int] = {}
        for c in cs:
            counts[c.status] = counts.get(c.status, 0) + 1
        status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
        files = dict.fromkeys(f for c in cs for f in c.labels.get(L.CONFIG_FILES, "").split(","))
        out.append({"Name": name, "Status": status, "ConfigFiles": ",".join(files)})
    return out


def _ls(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.docker_format import filter_match, go_json

    containers = [c for c in ctx.engine().containers.list(all=True) if L.PROJECT in c.labels]
    rows = project_summaries(containers, args.show_all)
    names = []
    for f in args.filters:
        key, _, value = f.partition("=")
        if key != "name":
            raise UsageError(f"invalid filter {f!r}; expected name=<project>")
        names.append(value)
    if names:  # filters.Match: any of the values
        rows = [r for r in rows if filter_match(names, r["Name"])]
    fmt = args.out_format.lower()  # cmd/formatter/formatter.go Print
    if args.quiet:
        for r in rows:
            print(r["Name"])
    elif fmt == "json":  # Go's json.Encoder with no indent and HTML left alone (formatter.ToJSON)
        print(go_json(rows, escape_html=False))
    elif fmt == "{{json .}}":  # TemplateLegacyJSON: one object a line
        sys.stdout.write("".join(go_json(r, escape_html=False) + "\n" for r in rows))
    elif fmt in ("table", "pretty", ""):
        from composer.cli.docker_format import tabwriter

        table = [["NAME", "STATUS", "CONFIG FILES"],
                 *([r["Name"], r["Status"], r["ConfigFiles"]] for r in rows)]
        sys.stdout.write(tabwriter(table, minwidth=20))  # cmd/formatter/pretty.go: 20, 1, 3
    else:
        raise UsageError(f"invalid --format {args.out_format!r}; expected table or json")
    sys.stdout.flush()
    return 0

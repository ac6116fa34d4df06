"""`composer top`, `port`, `images`, `stats`: read-only views of the project's containers."""

from __future__ import annotations

import argparse
import json
import sys
import time

from composer.cli import _compose as C
from composer.cli.context import Context
from composer.errors import ComposerError, UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

HELP = {
    "top": "Display the running processes",
    "port": "Print the public port for a port binding",
    "images": "List images used by the created containers",
    "stats": "Display a live stream of container(s) resource usage statistics",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "port":
        parser.add_argument("--index", type=int, default=None)
        parser.add_argument("--protocol", type=str.lower, default="tcp", help="tcp or udp")
        parser.add_argument("service", metavar="SERVICE")
        parser.add_argument("private_port", metavar="PRIVATE_PORT")  # read by _port, as Go reads it
        return
    if name == "images":
        parser.add_argument("-q", "--quiet", action="store_true")
        parser.add_argument("--format", dest="out_format", choices=["table", "json"], default="table")
    if name == "stats":
        parser.add_argument("-a", "--all", action="store_true", dest="show_all")
        parser.add_argument("--no-stream", action="store_true")
        parser.add_argument("--no-trunc", action="store_true")
        parser.add_argument("--format", dest="out_format", default="table")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if name == "port":
        return _port(args, ctx)
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    if name == "top":
        return _top(engine, pname, args.services)
    if name == "images":
        return _images(args, ctx, pname)
    return _stats(args, ctx, pname)


def _top(engine: Any, pname: str, services: list[str]) -> int:
    """docker compose top (cmd/compose/top.go): one table of every container's processes, SERVICE
    and # (the replica) first, CMD last, Go's tabwriter (4, 1, 2); nothing at all without one."""
    from composer import labels as L
    from composer.cli.docker_format import tabwriter

    rows = [["SERVICE", "#", "UID", "PID", "PPID", "CMD"]]
    for c in sorted(C.project_containers(engine, pname, services, all=False), key=lambda c: c.name):
        for p in engine.containers.top(c.id):
            rows.append([c.labels.get(L.SERVICE, ""), c.labels.get(L.CONTAINER_NUMBER, ""),
                         *(p.get(k, "") for k in ("UID", "PID", "PPID", "CMD"))])
    if len(rows) > 1:
        sys.stdout.write(tabwriter(rows, minwidth=4, padding=2))
    return 0


def parse_uint16(text: str) -> int:
    """Go's strconv.ParseUint(text, 10, 16), as docker compose's port reads PRIVATE_PORT before
    anything else, with its error words: digits only (no sign, no space), the first digit that
    takes it past 65535 an out-of-range error even if a non-digit follows."""
    import json

    quoted = json.dumps(text, ensure_ascii=False)  # strconv.Quote, for what people type
    n = 0
    for ch in text:
        if not "0" <= ch <= "9":
            break
        n = n * 10 + ord(ch) - 48
        if n > 0xFFFF:
            raise ComposerError(f"strconv.ParseUint: parsing {quoted}: value out of range")
    else:
        if text:
            return n
    raise ComposerError(f"strconv.ParseUint: parsing {quoted}: invalid syntax")


def _port(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.cmd_exec import service_container

    args.private_port = parse_uint16(args.private_port)
    c = service_container(ctx, args.service, args.index)
    for asked, host_port in c.ports:
        if asked.container_port == args.private_port and asked.protocol == args.protocol:
            print(f"{asked.host_ip or '0.0.0.0'}:{host_port}")
            return 0
    from composer.cli.docker_format import publishers

    # docker compose's portNotFoundError: the container's ports as it lists them (public port/type)
    listed = ", ".join(f"{p['PublishedPort']}/{p['Protocol']}" for p in publishers(c))
    raise ComposerError(f"no port {args.private_port}/{args.protocol} for container {c.name}: {listed}")


def _images(args: argparse.Namespace, ctx: Context, pname: str) -> int:
    """docker compose images (cmd/compose/images.go): a row per container, by container name."""
    from composer.cli.docker_format import human_size, tabwriter
    from composer.cli.humanize import human_duration, parse_time
    from runtime.images.store import host_arch

    engine = ctx.engine()
    rows: list[dict[str, Any]] = []
    for c in sorted(C.project_containers(engine, pname, args.services), key=lambda c: c.name):
        size, created = 0, ""
        try:
            info = engine.images.resolve(c.image)
            ref = info.refs[0] if info.refs else c.image
            size, created = info.size, info.created
        except Exception:  # noqa: BLE001 - image removed since: show what the container says
            ref = c.image
        name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        # reference.FamiliarName: docker.io/library/busybox -> busybox, docker.io/x/y -> x/y
        if name.startswith("docker.io/"):
            name = name.removeprefix("docker.io/").removeprefix("library/")
        rows.append({"ID": c.image_id, "ContainerName": c.name, "Repository": name, "Tag": tag,
                     "Platform": f"linux/{host_arch()}", "Size": size, "LastTagTime": created})
    if args.quiet:  # the IDs without their "sha256:", once each
        for img_id in dict.fromkeys(str(r["ID"]).partition(":")[2] or r["ID"] for r in rows):
            print(img_id)
    elif args.out_format == "json":
        # Go's json.Encoder (no indent, HTML left alone) then Fprintln: the line ends twice; and
        # no image is a nil slice: null
        print(json.dumps(rows or None, separators=(",", ":"), ensure_ascii=False) + "\n")
    else:
        now = time.time()
        table = [["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"]]
        for r in rows:
            when = parse_time(str(r["LastTagTime"]))
            table.append([r["ContainerName"], r["Repository"] or "<none>", r["Tag"] or "<none>",
                          r["Platform"], str(r["ID"]).partition(":")[2][:12] or str(r["ID"])[:12],
                          human_size(int(r["Size"])), (human_duration(now - when) + " ago") if when else ""])
        sys.stdout.write(tabwriter(table, minwidth=20))  # cmd/formatter/pretty.go: 20, 1, 3
    return 0


def _stats(args: argparse.Namespace, ctx: Context, pname: str) -> int:
    """docker compose stats (docker/cli's RunStats on the project's containers): one service at
    most; a refresh every 0.5 s while streaming, drawn over the last one (with or without a TTY,
    as docker); --no-stream looks twice, 0.5 s apart, for a CPU % (docker's daemon gives it the
    last second's)."""
    from composer.cli import stats as S

    if len(args.services) > 1:
        raise UsageError(f"stats accepts at most 1 service, got {len(args.services)}")
    engine = ctx.engine()
    fmt = args.out_format or "table"
    S.render(fmt, [])  # a bad template fails before any look
    last: dict[str, dict[str, float]] = {}

    def look() -> list[Any]:
        cs = C.project_containers(engine, pname, args.services, all=args.show_all)
        return sorted(cs, key=lambda c: c.created_at, reverse=True)  # docker's list: newest first

    def samples(cs: list[Any]) -> dict[str, dict[str, float]]:
        return {c.id: S.sample(c.pid) for c in cs if c.pid and c.status in ("running", "paused")}

    containers = look()
    if args.no_stream:
        before = samples(containers)
        if before:
            time.sleep(0.5)
        now = samples(containers)
        rows = [S.entry(c, now.get(c.id), before.get(c.id), not args.no_trunc) for c in containers]
        sys.stdout.write(S.render(fmt, rows))
        return 0
    last = samples(containers)
    while True:
        time.sleep(0.5)
        containers = look()
        now = samples(containers)
        rows = [S.entry(c, now.get(c.id), last.get(c.id), not args.no_trunc) for c in containers]
        last = now
        try:
            sys.stdout.write(S.streamed(S.render(fmt, rows)))
            sys.stdout.flush()
        except BrokenPipeError:
            return 0

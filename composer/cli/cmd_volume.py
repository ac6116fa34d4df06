"""`composer volume ...`: named volumes as docker's CLI shows them (create, ls, inspect, rm, prune)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from composer.cli.cmd_image import print_inspect
from composer.cli.context import Context

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.spec import VolumeInfo
    from runtime.volumes import VolumeManager

HELP = {"volume": "Manage volumes: create, ls, inspect, rm, prune"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="volume_cmd", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("create", help="create a volume")
    p.add_argument("--label", "-l", action="append", default=[], dest="labels", metavar="KEY=VALUE")
    p.add_argument("--opt", "-o", action="append", default=[], dest="opts", metavar="KEY=VALUE",
                   help="local driver option: type, device, o")
    p.add_argument("--driver", "-d", default="local", help="only 'local' is supported")
    p.add_argument("--ignore", action="store_true", help="do not fail when the volume exists")
    p.add_argument("volume_name", nargs="?", metavar="NAME")

    for alias in ("ls", "list"):
        p = sub.add_parser(alias, help="list volumes")
        p.add_argument("-q", "--quiet", action="store_true", help="print only the names")
        p.add_argument("--filter", "-f", action="append", default=[], dest="filters", metavar="FILTER",
                       help="dangling=true|false, driver=D, label=KEY[=VALUE], name=NAME")
        p.add_argument("--format", dest="out_format", default="table",
                       help="table (default), json, or a Go template such as "
                            "'table {{.Name}}\t{{.Mountpoint}}'")

    p = sub.add_parser("inspect", help="show volume details as JSON")
    p.add_argument("--format", "-f", dest="out_format", default="json")
    p.add_argument("volume_names", nargs="+", metavar="NAME")

    for alias in ("rm", "remove"):
        p = sub.add_parser(alias, help="remove volumes")
        p.add_argument("-f", "--force", action="store_true", help="no error for a missing volume")
        p.add_argument("volume_names", nargs="+", metavar="NAME")

    p = sub.add_parser("prune", help="remove unused anonymous volumes (all unused ones with --all)")
    p.add_argument("-a", "--all", dest="prune_all", action="store_true",
                   help="remove all unused volumes, not just anonymous ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], dest="filters",
                   metavar="label=KEY[=VALUE], label!=KEY[=VALUE] or all=true")


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    from composer.errors import UsageError

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"volume: invalid {what} {item!r}; expected KEY=VALUE")
        out[key] = value
    return out


def _filters(items: Sequence[str]) -> tuple[dict[str, str | None], dict[str, str]]:
    """(label filter, other filters) from ``--filter`` values."""
    from composer.errors import UsageError

    labels: dict[str, str | None] = {}
    other: dict[str, str] = {}
    for item in items:
        kind, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"volume: invalid filter {item!r}; expected label=..., name=... or dangling=...")
        if kind == "label":
            k, has_v, v = value.partition("=")
            labels[k] = v if has_v else None
        elif kind in ("name", "dangling", "driver"):
            other[kind] = value
        else:
            raise UsageError(f"volume: unsupported filter {kind!r}; expected label, name, driver or dangling")
    return labels, other


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    volumes = ctx.engine().volumes
    cmd = {"list": "ls", "remove": "rm"}.get(args.volume_cmd, args.volume_cmd)
    handler = {"create": _create, "ls": _ls, "inspect": _inspect, "rm": _rm, "prune": _prune}[cmd]
    return handler(volumes, args)


def _create(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from runtime.errors import Conflict, InvalidSpec
    from runtime.spec import VolumeSpec

    if args.driver != "local":
        raise InvalidSpec(f"volume driver {args.driver!r} is not supported; expected local")
    labels, opts = _pairs(args.labels, "label"), _pairs(args.opts, "option")
    if args.volume_name is None:
        info = volumes.create_anonymous(labels)
    else:
        try:
            info = volumes.create(VolumeSpec(name=args.volume_name, labels=labels, driver_opts=opts))
        except Conflict:
            if not args.ignore:
                raise
            info = volumes.get(args.volume_name)
    print(info.name)
    return 0


def _selected(volumes: VolumeManager, filters: Sequence[str]) -> list[VolumeInfo]:
    from composer.cli.docker_format import filter_match

    labels, other = _filters(filters)
    out = []
    for v in volumes.list(labels or None):
        if "name" in other and not filter_match([other["name"]], v.name):
            continue
        if "driver" in other and other["driver"] != v.driver:
            continue
        if "dangling" in other and (other["dangling"] in ("true", "1")) == bool(volumes.users(v.name)):
            continue
        out.append(v)
    return out


def inspect_json(v: VolumeInfo) -> dict[str, Any]:
    """One volume as docker's `volume inspect` shows it (moby api/types/volume Volume, its order)."""
    return {
        "CreatedAt": _rfc3339(v.created_at), "Driver": v.driver, "Labels": dict(v.labels),
        "Mountpoint": v.mountpoint, "Name": v.name, "Options": dict(v.options), "Scope": "local",
    }


def _rfc3339(stamp: str) -> str:
    """Go's time.RFC3339 of a stored RFC 3339 time: whole seconds, as moby formats CreatedAt."""
    day, _, clock = stamp.partition("T")
    return f"{day}T{clock.partition('.')[0].removesuffix('Z')}Z" if clock else stamp


# docker/cli's volume formatter: the default table, the columns' titles, what {{json .}} holds
# (`composer volumes` prints with them too)
LS_TABLE = "table {{.Driver}}\t{{.Name}}"
LS_HEADERS = {"Availability": "AVAILABILITY", "Driver": "DRIVER", "Group": "GROUP", "Labels": "LABELS",
            "Links": "LINKS", "Mountpoint": "MOUNTPOINT", "Name": "VOLUME NAME", "Scope": "SCOPE",
            "Size": "SIZE", "Status": "STATUS"}


def ls_row(v: VolumeInfo) -> dict[str, str]:
    return {"Availability": "N/A", "Driver": v.driver, "Group": "N/A",
            "Labels": ",".join(f"{k}={val}" for k, val in sorted(v.labels.items())), "Links": "N/A",
            "Mountpoint": v.mountpoint, "Name": v.name, "Scope": "local", "Size": "N/A", "Status": "N/A"}


def _ls(volumes: VolumeManager, args: argparse.Namespace) -> int:
    vols = _selected(volumes, args.filters)
    fmt = args.out_format or "table"
    if args.quiet and fmt == "table":
        fmt = "{{.Name}}"  # docker's quiet format; a template of the user's wins
    rows = [ls_row(v) for v in vols]
    if fmt == "json":
        from composer.cli.docker_format import go_json

        sys.stdout.write("".join(go_json(r) + "\n" for r in rows))
        return 0
    from composer.cli.go_template import render_rows

    sys.stdout.write(render_rows(LS_TABLE if fmt == "table" else fmt, rows, list(LS_HEADERS), LS_HEADERS,
                                 [v.labels for v in vols]))
    return 0


def _inspect(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from runtime.errors import NotFound

    found, missing = [], []
    for vname in args.volume_names:
        try:
            found.append(inspect_json(volumes.get(vname)))
        except NotFound:
            missing.append(vname)
    print_inspect(found, args.out_format)
    for vname in missing:  # as docker's CLI: what was found, then each error, exit 1
        print(f"Error response from daemon: get {vname}: no such volume", file=sys.stderr)
    return 1 if missing else 0


def _rm(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from runtime.errors import EngineError

    failed = False
    for vname in args.volume_names:
        try:
            if volumes.remove(vname, force=args.force):
                print(vname)
        except EngineError as exc:  # as docker's CLI: each error said, the others removed, exit 1
            print(f"Error response from daemon: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


_PRUNE_WARNING = {
    False: "WARNING! This will remove anonymous local volumes not used by at least one container.",
    True: "WARNING! This will remove all local volumes not used by at least one container.",
}


def _prune(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from composer.cli.docker_format import human_size
    from composer.errors import UsageError

    labels: dict[str, str | None] = {}
    without: dict[str, str | None] = {}
    prune_all = args.prune_all
    for item in args.filters:
        kind, eq, value = item.partition("=")
        if kind == "label!":  # label!=KEY[=VALUE]: volumes without it, as docker's
            k, has_v, v = value.partition("=")
            without[k] = v if has_v else None
        elif kind == "label" and eq:
            k, has_v, v = value.partition("=")
            labels[k] = v if has_v else None
        elif kind == "all" and eq:
            if args.prune_all:
                raise UsageError("conflicting options: cannot specify both --all and --filter all=1")
            prune_all = value.lower() in ("1", "true")
        else:
            raise UsageError(f"volume prune: invalid filter {item!r}; "
                             "expected label=..., label!=... or all=...")
    if not args.force and sys.stdin.isatty():
        sys.stdout.write(f"{_PRUNE_WARNING[prune_all]}\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("volume prune has been cancelled", file=sys.stderr)
            return 1
    removed = volumes.prune(labels or None, all=prune_all, without=without or None)
    if removed:
        print("Deleted Volumes:\n" + "".join(name + "\n" for name, _ in removed))
    print("Total reclaimed space:", human_size(sum(size for _, size in removed)))
    return 0

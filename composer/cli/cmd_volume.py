"""`composer volume ...`: named volumes (podman-like: create, ls, inspect, rm, prune)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from composer.cli.cmd_image import print_inspect, render_table
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
        p.add_argument("--filter", action="append", default=[], dest="filters", metavar="FILTER",
                       help="label=KEY[=VALUE], name=NAME, dangling=true|false")
        p.add_argument("--format", dest="out_format", choices=["table", "json"], default="table")

    p = sub.add_parser("inspect", help="show volume details as JSON")
    p.add_argument("--format", "-f", dest="out_format", default="json")
    p.add_argument("volume_names", nargs="+", metavar="NAME")

    for alias in ("rm", "remove"):
        p = sub.add_parser(alias, help="remove volumes")
        p.add_argument("-f", "--force", action="store_true", help="no error for a missing volume")
        p.add_argument("volume_names", nargs="+", metavar="NAME")

    p = sub.add_parser("prune", help="remove every unused volume")
    p.add_argument("-f", "--force", action="store_true", help="do not ask (composer never asks)")
    p.add_argument("--filter", action="append", default=[], dest="filters", metavar="label=KEY[=VALUE]")


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
    labels, other = _filters(filters)
    out = []
    for v in volumes.list(labels or None):
        if "name" in other and other["name"] not in v.name:
            continue
        if "driver" in other and other["driver"] != v.driver:
            continue
        if "dangling" in other and (other["dangling"] in ("true", "1")) == bool(volumes.users(v.name)):
            continue
        out.append(v)
    return out


def inspect_json(volumes: VolumeManager, v: VolumeInfo) -> dict[str, Any]:
    """One volume as podman's ``volume inspect`` shows it."""
    return {
        "Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "CreatedAt": v.created_at,
        "Labels": dict(v.labels), "Scope": "local", "Options": dict(v.options),
        "MountCount": len(volumes.users(v.name)), "Anonymous": v.anonymous,
    }


def _ls(volumes: VolumeManager, args: argparse.Namespace) -> int:
    vols = _selected(volumes, args.filters)
    if args.quiet:
        for v in vols:
            print(v.name)
    elif args.out_format == "json":
        print(json.dumps([inspect_json(volumes, v) for v in vols], indent=4))
    else:
        print(render_table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in vols]), end="")
    return 0


def _inspect(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from runtime.errors import NotFound

    found, missing = [], None
    for vname in args.volume_names:
        try:
            found.append(inspect_json(volumes, volumes.get(vname)))
        except NotFound as exc:
            missing = missing or exc
    print_inspect(found, args.out_format)
    if missing is not None:
        raise missing
    return 0


def _rm(volumes: VolumeManager, args: argparse.Namespace) -> int:
    from runtime.errors import EngineError, NotFound

    failed: EngineError | None = None
    for vname in args.volume_names:
        try:
            if volumes.remove(vname, force=args.force):
                print(vname)
        except EngineError as exc:
            print(str(exc), file=sys.stderr)
            failed = failed or exc
    if failed is None:
        return 0
    return 1 if isinstance(failed, NotFound) else 2  # as podman volume rm: 1 missing, 2 in use


def _prune(volumes: VolumeManager, args: argparse.Namespace) -> int:
    labels, other = _filters(args.filters)
    if other:
        from composer.errors import UsageError

        raise UsageError("volume prune: only label filters are supported")
    for vname in volumes.prune(labels or None):
        print(vname)
    return 0

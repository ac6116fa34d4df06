"""`composer volumes [SERVICE...]`: the project's volumes (docker compose 2.40.3's
pkg/compose/volumes.go), printed by docker/cli's volume formatter as `volume ls` prints them."""

from __future__ import annotations

import sys

from composer import labels as L
from composer.cli import _compose as C

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from composer.cli.context import Context
    from runtime.engine import Engine
    from runtime.spec import VolumeInfo

HELP = {"volumes": "List volumes"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    parser.add_argument("--format", dest="out_format", default="table",
                        help="table (default), 'table TEMPLATE', json or a Go template")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def project_volumes(engine: Engine, project: str, services: Sequence[str]) -> list[VolumeInfo]:
    """The volumes labelled with *project*; with *services*, those that a running container of
    one of them mounts (compose lists containers without All: running ones only)."""
    volumes = sorted(engine.volumes.list({L.PROJECT: project}), key=lambda v: v.name)
    if not services:
        return volumes
    running = C.project_containers(engine, project, services, all=False, oneoff=None)
    mounted = {name for c in running for _, name in c.mounts}
    return [v for v in volumes if v.name in mounted]


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.cmd_volume import LS_HEADERS, LS_TABLE, ls_row

    project, pname = C.load_or_name(ctx, args.services)
    if project is not None:
        for service in args.services:  # compose's runVol words, exit 1
            if service not in project.services:
                from composer.errors import ComposerError

                raise ComposerError(f"no such service: {service}")
    volumes = project_volumes(ctx.engine(), pname, args.services)
    if args.quiet:  # names only, whatever --format says (runVol prints them before formatting)
        sys.stdout.write("".join(v.name + "\n" for v in volumes))
        return 0
    rows = [ls_row(v) for v in volumes]
    if args.out_format == "json":
        from composer.cli.docker_format import go_json

        sys.stdout.write("".join(go_json(r) + "\n" for r in rows))
        return 0
    from composer.cli.go_template import render_rows

    fmt = LS_TABLE if args.out_format == "table" else args.out_format
    sys.stdout.write(render_rows(fmt, rows, list(LS_HEADERS), LS_HEADERS, [v.labels for v in volumes]))
    return 0

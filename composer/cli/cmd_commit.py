"""`composer commit SERVICE [REPOSITORY[:TAG]]`: a new image from a service container's changes
(docker compose's pkg/compose/commit.go)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context

HELP = {"commit": "Create a new image from a service container's changes"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--author", default="",
                        help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    parser.add_argument("-c", "--change", action="append", default=[], dest="changes",
                        help="apply Dockerfile instruction to the created image")
    parser.add_argument("--index", type=int, default=None,
                        help="index of the container if service has multiple replicas")
    parser.add_argument("-m", "--message", default="", help="commit message")
    # a Go bool flag, true by default: -p=false / --pause=false turns it off (cli/pflag.py)
    parser.add_argument("-p", "--pause", action="store_true", default=True,
                        help="pause container during commit (default true)")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("reference", nargs="?", default=None, metavar="REPOSITORY[:TAG]")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli import _compose as C
    from composer.cli.cmd_exec import service_container

    c = service_container(ctx, args.service, args.index)  # a running one, as compose's
    progress = C.progress_for(ctx)
    cname = c.name
    progress.event("Container", cname, "Committing")
    if ctx.args.dry_run:
        progress.event("Container", cname, "Committed")
        return 0
    image_id = ctx.engine().containers.commit(c.id, args.reference, author=args.author,
                                              message=args.message, changes=args.changes, pause=args.pause)
    progress.event("Container", cname, f"Committed as {image_id}")
    return 0

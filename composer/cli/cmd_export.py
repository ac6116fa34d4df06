"""`composer export SERVICE`: a service container's file system as a tar archive (docker compose's
pkg/compose/export.go); write_export is `container export`'s too."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context
    from runtime.containers import ContainerManager

HELP = {"export": "Export a service container's filesystem as a tar archive"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=int, default=None,
                        help="index of the container if service has multiple replicas")
    parser.add_argument("-o", "--output", default="", help="write to a file, instead of STDOUT")
    parser.add_argument("service", metavar="SERVICE")


def check_output_path(path: str) -> str | None:
    """docker/cli's ValidateOutputPath: why *path* cannot take the archive, or None."""
    parent = os.path.dirname(os.path.normpath(path))
    if parent and not os.path.isdir(parent):
        return f'invalid output path: directory "{parent}" does not exist'
    if os.path.isdir(path):
        return f'invalid output path: "{path}" is a directory'
    if os.path.exists(path) and not os.path.isfile(path):
        return f'invalid output path: "{path}" must be a directory or a regular file'
    return None


def write_export(mgr: ContainerManager, ref: str, output: str) -> None:
    """The tar of container *ref* to *output* (written whole or not at all, mode 0600, as
    docker's atomic writer), or to our stdout when *output* is empty."""
    if not output:
        sys.stdout.flush()
        mgr.export(ref, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".export-", dir=os.path.dirname(os.path.abspath(output)))
    try:
        with os.fdopen(fd, "wb") as f:
            mgr.export(ref, f)
        os.replace(tmp, output)
    except BaseException:
        os.unlink(tmp)
        raise


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli import _compose as C
    from composer.cli.cmd_exec import service_container
    from composer.errors import ComposerError

    c = service_container(ctx, args.service, args.index)  # a running one, as compose's
    if not args.output:
        if sys.stdout.isatty():  # compose's words
            raise ComposerError("output option is required when exporting to terminal")
    elif (why := check_output_path(os.path.join(ctx.cwd, args.output))) is not None:
        raise ComposerError(f"failed to export container: {why}")
    C.progress_for(ctx).event("Container", c.name, "Exporting")
    if ctx.args.dry_run:
        return 0
    write_export(ctx.engine().containers, c.id, os.path.join(ctx.cwd, args.output) if args.output else "")
    return 0

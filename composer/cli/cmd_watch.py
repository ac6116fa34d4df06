"""`composer watch [SERVICE...]`: up the services (unless --no-up), then copy changed host files
into their containers and restart them or run a command there, as their `develop.watch`
triggers say (docker compose 2.40.3's watch; composer/watch/ holds the rules and the loop).
`rebuild` triggers need an image build, which composer does not have yet: watch refuses them."""

from __future__ import annotations

import argparse
import sys

from composer.cli import _compose as C
from composer.cli.context import Context
from composer.errors import ProjectError

HELP = {
    "watch": "Watch build context for service and rebuild/refresh containers when files are updated",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-up", action="store_true", help="do not build & start services before watching")
    # docker compose's, for its rebuilds: accepted; composer has no image build yet
    parser.add_argument("--prune", action="store_true", default=True,
                        help="prune dangling images on rebuild (no effect: composer does not rebuild)")
    parser.add_argument("--quiet", action="store_true", help="hide build output (no effect: no build)")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.graph import dependency_closure
    from composer.project_lock import project_lock
    from composer.watch.driver import watch
    from composer.watch.rules import watch_setup

    project = ctx.load_project(services=args.services)
    C.check_services(project, args.services)
    selected = dependency_closure(project, args.services) if args.services else set(project.services)
    setup = watch_setup(project.services, selected)  # refuses what cannot be watched before any up
    engine = ctx.engine()
    try:
        with project_lock(engine.paths.lock(f"watch-{project.name}"), project.name, timeout=0):
            if not args.no_up:
                from composer.cli.cmd_up import _converge

                rc = _converge(ctx, project, services=tuple(args.services), recreate="diverged")
                if rc or ctx.args.dry_run:
                    return rc
            from composer.cli.cmd_up import _sigterm_as_interrupt

            with _sigterm_as_interrupt():  # docker compose's watch ends on SIGTERM as on Ctrl-C
                watch(engine, project, setup, _print)
    except ProjectError as exc:
        if "another composer command" not in str(exc):
            raise
        raise ProjectError(project.name, "another watch is running for this project") from None
    return 0

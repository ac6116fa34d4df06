"""`composer start|stop|restart|kill|rm|pause|unpause|wait`: verbs on the project's existing containers.

They work from labels (with -p NAME and no file too). start/stop go through a plan so that
dependencies start first and dependents stop first; the others act per container, in order.
"""

from __future__ import annotations

import argparse
import sys

from composer import labels as L
from composer.cli import _compose as C
from composer.cli._compose import run_plan
from composer.cli.context import Context
from composer.errors import ComposerError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from composer.project import Project
    from runtime.spec import ContainerInfo

HELP = {
    "start": "Start services",
    "stop": "Stop services",
    "restart": "Restart service containers",
    "kill": "Force stop service containers",
    "rm": "Removes stopped service containers",
    "pause": "Pause services",
    "unpause": "Unpause services",
    "wait": "Block until containers of all (or specified) services stop.",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name in ("stop", "restart"):
        C.add_timeout(parser)
    if name == "restart":
        parser.add_argument("--no-deps", action="store_true", help="don't restart dependent services")
    if name == "kill":
        parser.add_argument("-s", "--signal", default="SIGKILL", dest="kill_signal", help="signal to send")
        parser.add_argument("--remove-orphans", action="store_true")
    if name == "rm":
        parser.add_argument("-f", "--force", action="store_true", help="don't ask to confirm removal")
        parser.add_argument(
            "-s",
            "--stop",
            action="store_true",
            dest="stop_first",
            help="stop the containers, if required, before removing",
        )
        parser.add_argument(
            "-v",
            "--volumes",
            action="store_true",
            dest="remove_volumes",
            help="remove any anonymous volumes attached to containers",
        )
    if name == "wait":
        parser.add_argument(
            "--down-project", action="store_true", help="drops project when the first container stops"
        )
        parser.add_argument("services", nargs="+", metavar="SERVICE")
        return
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    if name == "wait":
        return _wait(ctx, pname, args)
    engine = ctx.engine()
    containers = C.project_containers(engine, pname, args.services)
    if name == "start":
        return _start(ctx, project, pname, containers)
    if name == "stop":
        from composer.plan import DownOptions, teardown

        plan = teardown(
            pname,
            containers,
            known_services=None,
            options=DownOptions(services=tuple(args.services), remove_containers=False),
        )
        if ctx.args.dry_run:
            sys.stdout.write(plan.render())
            return 0
        run_plan(ctx, plan, project, stop_timeout=args.stop_timeout)
        return 0
    if not containers and name != "rm":
        raise ComposerError(
            f"project {pname}: no containers to {name}"
            + (f" for {', '.join(args.services)}" if args.services else "")
        )
    progress = C.progress_for(ctx)
    if name == "restart":
        from runtime.errors import EngineError

        for c in _by_dependencies(project, containers):
            pre_stop, post_start = _hooks(project, c, "pre_stop"), _hooks(project, c, "post_start")
            try:
                if pre_stop and c.status == "running":  # docker compose's restart runs them first
                    from composer.hooks import run_pre_stop

                    run_pre_stop(engine, c.id, c.name, c.labels.get(L.SERVICE, ""), pre_stop)
                progress.event("Container", c.name, "Restarting")
                engine.containers.restart(c.id, timeout=args.stop_timeout)
                progress.event("Container", c.name, "Started")
                if post_start:
                    from composer.hooks import run_hooks

                    run_hooks(engine, c.id, c.name, c.labels.get(L.SERVICE, ""), post_start)
            except EngineError as exc:  # docker compose's: the daemon's error, exit code 1
                progress.event("Container", c.name, "Error", error=True)
                raise ComposerError(str(exc)) from None
        return 0
    if name == "kill":
        running = [c for c in containers if c.status in ("running", "paused", "restarting")]
        if project is not None and args.remove_orphans:
            running += [
                c
                for c in C.project_containers(engine, pname)
                if c.labels.get(L.SERVICE) not in project.services and c.status == "running"
            ]
        if not running:
            raise ComposerError("no containers to kill")
        for c in running:
            progress.event("Container", c.name, "Killing")
            engine.containers.kill(c.id, signal=args.kill_signal)
            progress.event("Container", c.name, "Killed")
        return 0
    if name in ("pause", "unpause"):
        for c in containers:
            if name == "pause" and c.status == "running":
                progress.event("Container", c.name, "Pausing")
                engine.containers.pause(c.id)
                progress.event("Container", c.name, "Paused")
            elif name == "unpause" and c.status == "paused":
                progress.event("Container", c.name, "Unpausing")
                engine.containers.unpause(c.id)
                progress.event("Container", c.name, "Unpaused")
        return 0
    # rm
    if args.stop_first:
        for c in containers:
            if c.status in ("running", "paused", "restarting"):
                progress.event("Container", c.name, "Stopping")
                pre_stop = _hooks(project, c, "pre_stop")
                if pre_stop:  # rm --stop is docker compose's stop first: its pre_stop hooks too
                    from composer.hooks import run_pre_stop

                    run_pre_stop(engine, c.id, c.name, c.labels.get(L.SERVICE, ""), pre_stop)
                engine.containers.stop(c.id)
                progress.event("Container", c.name, "Stopped")
        containers = C.project_containers(engine, pname, args.services)
    stopped = [c for c in containers if c.status not in ("running", "paused", "restarting")]
    if not stopped:
        print("No stopped containers", file=sys.stderr)
        return 0
    if not args.force and sys.stdin.isatty():
        sys.stderr.write(f"Going to remove {', '.join(c.name for c in stopped)}\n? Are you sure? [yN] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    for c in stopped:
        progress.event("Container", c.name, "Removing")
        engine.containers.remove(c.id, volumes=args.remove_volumes)
        progress.event("Container", c.name, "Removed")
    return 0


def _hooks(project: Project | None, c: ContainerInfo, key: str) -> Any:
    """Container *c*'s service's *key* hooks ('pre_stop', 'post_start'): none without the file."""
    svc = project.services.get(c.labels.get(L.SERVICE, "")) if project is not None else None
    return (svc.get(key) or ()) if svc is not None else ()


def _by_dependencies(project: Project | None, containers: list[ContainerInfo]) -> list[ContainerInfo]:
    if project is None:
        return containers
    from composer.graph import service_order

    rank = {s: i for i, s in enumerate(service_order(project))}
    return sorted(containers, key=lambda c: rank.get(c.labels.get(L.SERVICE, ""), len(rank)))


def _start(ctx: Context, project: Project | None, pname: str, containers: list[ContainerInfo]) -> int:
    from composer.plan import start_plan

    if not containers:
        raise ComposerError(f"project {pname}: service has no container to start; run up first")
    plan = start_plan(pname, containers, project)
    if ctx.args.dry_run:
        sys.stdout.write(plan.render())
        return 0
    run_plan(ctx, plan, project)
    return 0


def _wait(ctx: Context, pname: str, args: argparse.Namespace) -> int:
    """docker compose wait (pkg/compose/wait.go): waits for every running container of the services
    (one-offs too), prints `container "<id>" exited with status code N` as each ends, exits with the
    code of the last to end; with --down-project, then takes the project down (orphans too)."""
    import queue
    import threading

    engine = ctx.engine()
    running = C.project_containers(engine, pname, args.services, all=False, oneoff=None)
    if not running:
        raise ComposerError(f'no containers for project "{pname}"')
    results: queue.Queue[tuple[str, int]] = queue.Queue()
    for c in running:
        threading.Thread(target=lambda c=c: results.put((c.id, engine.containers.wait(c.id))),
                         daemon=True).start()
    code = 0
    for _ in running:
        while True:
            try:
                cid, code = results.get(timeout=0.2)  # short gets: Ctrl-C stays responsive
                break
            except queue.Empty:
                continue
        print(f'container "{cid}" exited with status code {code}', flush=True)
    if args.down_project:
        from composer.cli import cmd_down

        down = argparse.Namespace(services=[], remove_volumes=False, rmi="", remove_orphans=True,
                                  stop_timeout=None)
        cmd_down.run("down", down, ctx)
    return code

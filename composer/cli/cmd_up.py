"""`composer up`, `create`, `scale`, `pull`: converge what runs to the compose file.

Observe (labels) -> reconcile (pure plan) -> execute (threads), under the project lock so two `up`
of one project never create duplicates. `--dry-run` prints the plan and changes nothing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from composer import labels as L
from composer.cli import _compose as C
from composer.cli._compose import run_plan
from composer.cli.context import Context
from composer.errors import ComposerError, UsageError
from runtime.errors import EngineError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator
    from typing import Any

    from composer.project import Project
    from runtime.spec import ContainerInfo

HELP = {
    "up": "Create and start containers",
    "create": "Creates containers for a service",
    "scale": "Scale services",
    "pull": "Pull service images",
}


# up and create without argparse (main.fast_args; ~15 ms CPU): what add_arguments declares
_CONVERGE: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "--build": ("build", "true", None), "--no-build": ("no_build", "true", None),
    "--pull": ("pull_policy", "store", ("always", "missing", "never", "policy")),
    "--force-recreate": ("force_recreate", "true", None), "--no-recreate": ("no_recreate", "true", None),
    "--remove-orphans": ("remove_orphans", "true", None), "--scale": ("scale", "append", None),
    "-y": ("yes", "true", None), "--yes": ("yes", "true", None), "--quiet-pull": ("quiet_pull", "true", None),
}
_CONVERGE_DEFAULTS: dict[str, object] = {
    "build": False, "no_build": False, "pull_policy": "policy", "force_recreate": False,
    "no_recreate": False, "remove_orphans": False, "scale": [], "yes": False, "quiet_pull": False,
}
_UP_FLAGS = ("detach", "no_deps", "no_start", "wait", "abort_on_container_exit",
             "abort_on_container_failure", "attach_dependencies", "no_log_prefix", "no_color",
             "timestamps", "renew_anon_volumes", "watch", "menu")
FAST_ARGS = {
    "up": {
        "options": {
            **_CONVERGE, **{"--" + f.replace("_", "-"): (f, "true", None) for f in _UP_FLAGS},
            "-d": ("detach", "true", None), "-V": ("renew_anon_volumes", "true", None),
            "-w": ("watch", "true", None),
            "--wait-timeout": ("wait_timeout", "float", None),
            "--exit-code-from": ("exit_code_from", "store", None),
            "--attach": ("attach", "append", None), "--no-attach": ("no_attach", "append", None),
            "-t": ("stop_timeout", "float", None), "--timeout": ("stop_timeout", "float", None),
        },
        "defaults": {**_CONVERGE_DEFAULTS, **dict.fromkeys(_UP_FLAGS, False), "wait_timeout": None,
                     "exit_code_from": None, "attach": [], "no_attach": [], "stop_timeout": None},
        "positional": "services",
    },
    "create": {"options": _CONVERGE, "defaults": _CONVERGE_DEFAULTS, "positional": "services"},
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "scale":
        parser.add_argument("--no-deps", action="store_true", help="don't start linked services")
        parser.add_argument("scales", nargs="+", metavar="SERVICE=REPLICAS")
        return
    if name == "pull":
        parser.add_argument("--ignore-pull-failures", action="store_true")
        parser.add_argument("--include-deps", action="store_true")
        parser.add_argument("-q", "--quiet", action="store_true")
        parser.add_argument("--policy", choices=["missing", "always"], default=None)
        parser.add_argument("--ignore-buildable", action="store_true")
        parser.add_argument("services", nargs="*", metavar="SERVICE")
        return
    parser.add_argument("--build", action="store_true", help="build images before starting containers")
    parser.add_argument("--no-build", action="store_true", help="don't build an image, even if it's missing")
    parser.add_argument(
        "--pull",
        choices=["always", "missing", "never", "policy"],
        default="policy",
        dest="pull_policy",
        help="pull image before running",
    )
    parser.add_argument("--force-recreate", action="store_true")
    parser.add_argument("--no-recreate", action="store_true")
    parser.add_argument("--remove-orphans", action="store_true")
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM")
    parser.add_argument("-y", "--yes", action="store_true", help="assume yes to prompts")
    parser.add_argument("--quiet-pull", action="store_true")
    if name == "up":
        parser.add_argument("-d", "--detach", action="store_true", help="run containers in the background")
        parser.add_argument("--no-deps", action="store_true", help="don't start linked services")
        parser.add_argument("--no-start", action="store_true", help="don't start the services after creating")
        parser.add_argument("--wait", action="store_true", help="wait for services to be running|healthy")
        parser.add_argument("--wait-timeout", type=float, default=None)
        parser.add_argument("--abort-on-container-exit", action="store_true")
        parser.add_argument("--abort-on-container-failure", action="store_true")
        parser.add_argument("--exit-code-from", default=None, metavar="SERVICE")
        parser.add_argument("--attach", action="append", default=[], metavar="SERVICE")
        parser.add_argument("--no-attach", action="append", default=[], metavar="SERVICE")
        parser.add_argument("--attach-dependencies", action="store_true")
        parser.add_argument("--no-log-prefix", action="store_true")
        parser.add_argument("--no-color", action="store_true")
        parser.add_argument("--timestamps", action="store_true")
        parser.add_argument("-V", "--renew-anon-volumes", action="store_true")
        parser.add_argument("-w", "--watch", action="store_true",
                            help="watch source code and refresh containers when files are updated")
        # docker compose draws its shortcuts menu only on a terminal, and composer has none: the
        # flag (and --menu=false of scripts) is taken and changes nothing
        parser.add_argument("--menu", action="store_true", help="enable interactive shortcuts (none here)")
        C.add_timeout(parser)
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def _scales(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        svc, sep, num = item.partition("=")
        if not sep or not num.isdigit():
            raise UsageError(f"invalid scale {item!r}; expected SERVICE=NUM")
        out[svc] = int(num)
    return out


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if name == "pull":
        return _pull(args, ctx)
    if name == "scale":
        scale = _scales(args.scales)
        project = ctx.load_project(services=tuple(scale))
        C.check_services(project, list(scale))
        return _converge(ctx, project, services=tuple(scale), scale=scale, no_deps=args.no_deps)
    if getattr(args, "build", False):
        raise UsageError("build is not supported yet")
    if args.force_recreate and args.no_recreate:
        raise ComposerError("--force-recreate and --no-recreate are incompatible")
    detach = name == "create" or args.detach or (name == "up" and args.wait)  # --wait implies -d
    if name == "up":
        _check_attach_flags(args, detach)
    project = ctx.load_project(services=args.services)
    C.check_services(project, args.services)
    if name == "up" and args.exit_code_from:
        _check_exit_code_from(project, args)
    unknown = set(args.attach) - set(project.services) if name == "up" else set()
    if unknown:
        raise ComposerError(f"cannot attach to services not included in up: {', '.join(sorted(unknown))}")
    watching = _watch_setup(project, args.services) if name == "up" and args.watch else None
    recreate = "force" if args.force_recreate else ("never" if args.no_recreate else "diverged")
    start = name == "up" and not args.no_start
    converge: dict[str, Any] = {
        "services": tuple(args.services),
        "scale": _scales(args.scale),
        "recreate": recreate,
        "no_deps": getattr(args, "no_deps", False),
        "remove_orphans": args.remove_orphans,
        "pull": args.pull_policy,
        "stop_timeout": getattr(args, "stop_timeout", None),
        "renew_anon_volumes": getattr(args, "renew_anon_volumes", False),
    }
    yes = bool(getattr(args, "yes", False))
    if start and not detach and not ctx.args.dry_run:
        return _up_attached(ctx, project, args, converge, watching=watching, assume_yes=yes)
    rc = _converge(ctx, project, start=start, assume_yes=yes, **converge)
    if rc or ctx.args.dry_run or name == "create" or not start:
        return rc
    if args.wait:
        _wait(ctx, project, args.services, args.wait_timeout)
    return 0


def _converge(ctx: Context, project: Project, *, quiet: bool = False, assume_yes: bool = False,
              hook_output: Callable[[str, str], None] | None = None, **opts: Any) -> int:
    """Reconcile and run the plan. *quiet*: no progress (attached up's start, as docker compose's,
    which runs without a progress writer), and no second look at the volumes (the create asked).
    *assume_yes*: -y, the answer to recreating a volume that differs from the file. *hook_output*
    hears what post_start hooks write (the other modes drop it, as docker compose's detached exec)."""
    engine = ctx.engine()
    warming = None if ctx.args.dry_run or quiet else _warm_pod_monitor(engine, project.name)
    from composer.orchestrate import observe
    from composer.plan import ReconcileOptions, reconcile

    stop_timeout = opts.pop("stop_timeout", None)
    more: dict[str, Any] = {} if hook_output is None else {"hook_output": hook_output}
    if quiet:
        from composer.progress import Progress

        more["progress"] = Progress("quiet")
    options = ReconcileOptions(**opts)
    if ctx.args.dry_run:
        plan = reconcile(project, observe(engine, project), options)
        sys.stdout.write(plan.render())
        for w in plan.warnings:
            sys.stderr.write(f"WARN[0000] {w}\n")
        return 0
    try:
        with C.lock(ctx, project.name):
            if not quiet:
                _recreate_diverged_volumes(ctx, project, assume_yes)
            # hosts files and published ports a killed command owed, which a converged
            # project's plan has nothing left to write (one read if none)
            engine.networks.finish_due()
            plan = reconcile(project, observe(engine, project), options)
            run_plan(ctx, plan, project, stop_timeout=stop_timeout, **more)
    finally:
        # the monitor started ahead goes now, not in 5 s, if no container came for it (a monitor
        # that serves containers ignores the request)
        if warming is not None:
            from runtime.container_monitor import retire_warm_pod_monitor

            retire_warm_pod_monitor(engine.containers, project.name, warming)
    return 0


def _recreate_diverged_volumes(ctx: Context, project: Project, assume_yes: bool) -> None:
    """docker compose's ensureVolume for a volume whose config hash differs from the file's: ask
    (-y: yes), and on yes remove the containers of the services that mount it and the volume,
    which the plan then makes again; on no, keep it as it is."""
    from composer.orchestrate import diverged_volumes
    from composer.plan import _svc_volumes

    engine = ctx.engine()
    for key, name in diverged_volumes(engine, project):
        question = (f'Volume "{name}" exists but doesn\'t match configuration in compose file. '
                    "Recreate (data will be lost)?")
        if not (assume_yes or _confirm(question)):
            continue
        services = [s for s, svc in project.services.items() if key in _svc_volumes(svc)]
        progress = C.progress_for(ctx)
        users = C.project_containers(engine, project.name, services) if services else []
        for c in users:
            if c.status in ("running", "paused", "restarting"):
                progress.event("Container", c.name, "Stopping")
                engine.containers.stop(c.id)
                progress.event("Container", c.name, "Stopped")
        for c in users:
            progress.event("Container", c.name, "Removing")
            engine.containers.remove(c.id)
            progress.event("Container", c.name, "Removed")
        try:
            engine.volumes.remove(name, force=True)
        except EngineError as exc:  # another project's container, a one-off, still uses it
            raise ComposerError(f"volume {name}: cannot recreate it: {exc}") from None


def _confirm(question: str) -> bool:
    """docker compose's prompt: on a terminal a y/N question; otherwise the question is written
    (no newline) and one line read, true for y, 1, t or true (its StringToBool); no answer is no."""
    if sys.stdin.isatty():
        sys.stdout.write(f"? {question} (y/N) ")
        sys.stdout.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    sys.stdout.write(question)
    sys.stdout.flush()
    answer = (sys.stdin.readline().split() or [""])[0].lower()
    return answer in ("y", "1", "t", "true")


def _warm_pod_monitor(engine: Any, pod: str) -> Any:
    """Start the project's pod monitor (runtime/executor/podmon.py) now, when none runs, so that
    its interpreter start (~50 ms CPU) runs on the other core while this process plans, instead of
    beside the creates, which keep both cores busy (bench/FINDINGS.md F19). Returns the thread
    starting it, or None."""
    from runtime.container_monitor import warm_pod_monitor

    return warm_pod_monitor(engine.containers, pod)


# ---- --wait --------------------------------------------------------------------------------------


def _wait(ctx: Context, project: Project, services: list[str], timeout: float | None) -> None:
    from composer.graph import COMPLETED, dependency_closure, service_dependencies

    engine = ctx.engine()
    wanted = dependency_closure(project, services) if services else set(project.services)
    one_shots = {
        d.service
        for s in project.services.values()
        for d in service_dependencies(s).values()
        if d.condition == COMPLETED
    }
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pending = []
        for c in C.project_containers(engine, project.name, wanted):
            svc = c.labels.get(L.SERVICE, "")
            if c.status in ("exited", "dead"):
                if svc in one_shots and c.exit_code == 0:
                    continue
                raise ComposerError(f"container {c.name} exited ({c.exit_code})")
            if c.health == "unhealthy":
                raise ComposerError(f"container {c.name} is unhealthy")
            if c.status != "running" or c.health == "starting":
                pending.append(c.name)
        if not pending:
            return
        if deadline is not None and time.monotonic() > deadline:
            raise ComposerError(f"timeout waiting for {', '.join(pending)}")
        time.sleep(0.2)


# ---- attached up ---------------------------------------------------------------------------------


def _check_attach_flags(args: argparse.Namespace, detach: bool) -> None:
    """docker compose's validateFlags for the attached modes (cmd/compose/up.go), its words; like
    every error of its commands' checks, they exit 1."""
    stop = args.abort_on_container_exit or (args.exit_code_from and not args.abort_on_container_failure)
    if stop and args.abort_on_container_failure:
        raise ComposerError("--abort-on-container-failure cannot be combined with --abort-on-container-exit")
    if args.wait and (args.attach_dependencies or stop or args.attach):
        raise ComposerError("--wait cannot be combined with --abort-on-container-exit, --attach or "
                            "--attach-dependencies")
    if detach and (args.attach_dependencies or stop or args.abort_on_container_failure or args.attach
                   or args.watch):
        what = "--wait" if args.wait else "--detach"
        raise ComposerError(f"{what} cannot be combined with --abort-on-container-exit, "
                            "--abort-on-container-failure, --attach, --attach-dependencies or --watch")
    if args.no_build and args.watch:
        raise ComposerError("--no-build and --watch are incompatible")
    if args.attach and args.attach_dependencies:  # checked after those, in its RunE
        raise ComposerError("cannot combine --attach and --attach-dependencies")


def _watch_setup(project: Project, services: list[str]) -> Any:
    """up --watch: the watch rules of the services up starts, checked before anything is made."""
    from composer.graph import dependency_closure
    from composer.watch.rules import watch_setup

    selected = dependency_closure(project, services) if services else set(project.services)
    return watch_setup(project.services, selected)


def _check_exit_code_from(project: Project, args: argparse.Namespace) -> None:
    """docker compose's upOptions.apply: the service must be in the up (compose-go's GetService on
    the project cut to the services named and their dependencies)."""
    from composer.graph import dependency_closure

    name = args.exit_code_from
    if not args.services:
        selected = set(project.services)
    else:
        selected = set(args.services) if args.no_deps else dependency_closure(project, args.services)
    if name not in selected:
        known = name in project.services or name in project.disabled_services
        raise ComposerError(f"no such service: {name}: {'disabled' if known else 'not found'}")


def _attach_services(project: Project, args: argparse.Namespace) -> set[str]:
    """The services whose output attached up shows (docker compose's runUp)."""
    from composer.graph import dependency_closure

    if args.attach:
        attach = set(args.attach)
    else:
        selected = set(args.services) or set(project.services)
        attach = dependency_closure(project, selected) if args.attach_dependencies else selected
        # a service that opts out in the file (attach: false) is not attached unless named by --attach
        attach = {s for s in attach if project.services[s].get("attach", True) is not False}
    return attach - set(args.no_attach)


class _Cascade:
    """docker compose's OnExit and ExitCodeFrom listeners: the first exit (the first failure with
    --abort-on-container-failure) stops the services, in the background as its errgroup does, while
    the watch goes on printing how the stopped containers end; the exit code is that exit's, or
    the first of --exit-code-from's service."""

    def __init__(self, ctx: Context, project: Project, args: argparse.Namespace) -> None:
        self.ctx, self.project, self.args = ctx, project, args
        # --abort-on-container-failure wins; --exit-code-from implies stop
        self.mode = "fail" if args.abort_on_container_failure else (
            "stop" if args.abort_on_container_exit or args.exit_code_from else "")
        self.exit_code = 0
        self.stopping: threading.Thread | None = None
        self._code_from_seen = False

    def __call__(self, c: ContainerInfo, code: int, restarting: bool) -> None:
        if self.mode and self.stopping is None and (self.mode == "stop" or code != 0):
            self.exit_code = code
            _aborting(self.ctx)
            self.stopping = threading.Thread(target=self._stop, name="abort-stop", daemon=True)
            self.stopping.start()
        if self.args.exit_code_from and not self._code_from_seen and \
                c.labels.get(L.SERVICE) == self.args.exit_code_from:
            self.exit_code, self._code_from_seen = code, True

    def _stop(self) -> None:
        with contextlib.suppress(Exception):  # the watch reports what ends; a failed stop must not hang it
            _stop_services(self.ctx, self.project, self.args)


def _up_attached(ctx: Context, project: Project, args: argparse.Namespace, converge: dict[str, Any],
                 *, watching: Any = None, assume_yes: bool = False) -> int:
    """docker compose's attached Up: create (with its progress), print "Attaching to ...", start
    the monitor, then start the services without progress while it prints what they write; wait
    until every watched container has ended. With *watching* (up --watch), the watched files'
    changes are acted on meanwhile, once the services run."""
    rc = _converge(ctx, project, start=False, assume_yes=assume_yes, **converge)
    if rc:
        return rc
    restarts = None
    if watching is not None:
        from composer.watch.driver import Restarts

        restarts = Restarts()
    monitor = _Monitor(ctx, project, args, restarted=restarts.absorb if restarts is not None else None)
    files: Any = contextlib.nullcontext()
    if watching is not None:
        files = _watching(ctx.engine(), project, watching, monitor.printer, restarts)
    # the start only starts what the create made: no second recreate, pull or orphan removal
    start = {**converge, "recreate": "never", "pull": "missing", "remove_orphans": False,
             "renew_anon_volumes": False}
    with _sigterm_as_interrupt():
        try:
            monitor.begin()
            _converge(ctx, project, start=True, quiet=True, hook_output=monitor.printer.log, **start)
            with files:
                return monitor.wait()
        except KeyboardInterrupt:
            monitor.stop()
            _graceful_stop(ctx, project, args, monitor.printer)
            return 130  # docker compose's AdaptCmd: a cancelled command exits 130
        except BaseException:
            monitor.stop()
            raise


class _Monitor:
    """The attached part of docker compose's Up: its monitor (a ProjectFollower on a thread)
    watches the services named on the command line, else the attached ones (none: every service),
    and shows the attached services' output written from now on (no replay of earlier runs)."""

    def __init__(self, ctx: Context, project: Project, args: argparse.Namespace, *,
                 restarted: Callable[[str], bool] | None = None) -> None:
        from composer.cli.cmd_logs import LogPrinter, ProjectFollower, use_color

        engine = ctx.engine()
        self.attach = _attach_services(project, args)
        watched = set(args.services) or self.attach
        listed = sorted(watched | self.attach) if watched else []  # none: every service
        self.printer = LogPrinter([], use_color(ctx, args.no_color), prefix=not args.no_log_prefix,
                                  timestamps=args.timestamps, lazy=True, split_streams=True,
                                  clock=True)
        self.containers = C.project_containers(engine, project.name, listed)
        self.cascade = _Cascade(ctx, project, args)
        self.follower = ProjectFollower(engine, project.name, listed, self.printer, since=time.time(),
                                        attach=self.attach, watch=watched or None, on_exit=self.cascade,
                                        restarted=restarted)
        self.thread = threading.Thread(target=self.follower.run, args=(self.containers,),
                                       name="watch", daemon=True)

    def begin(self) -> None:
        from composer.cli.cmd_logs import short_name

        shown = sorted((c for c in self.containers if c.labels.get(L.SERVICE) in self.attach),
                       key=lambda c: c.name)
        if shown:  # docker compose's attach prints no line when there is nothing to attach to
            self.printer.write(f"Attaching to {', '.join(short_name(c) for c in shown)}\n")
        self.thread.start()

    def wait(self) -> int:
        while self.thread.is_alive():
            self.thread.join(0.2)  # short joins: Ctrl-C stays responsive
        if self.cascade.stopping is not None:
            self.cascade.stopping.join()
        return self.cascade.exit_code

    def stop(self) -> None:
        self.follower.stop()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM to the CLI stops the services as Ctrl-C does (docker compose listens for both)."""
    import signal

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _graceful_stop(ctx: Context, project: Project, args: argparse.Namespace, printer: Any) -> None:
    """docker compose's first signal: no more log lines, the notice on stdout, the services stopped
    (not removed) with the stop's progress; a second signal kills them."""
    import signal

    printer.muted = True
    printer.write("Gracefully Stopping... press Ctrl+C again to force\n")
    engine = ctx.engine()

    def force(*_: object) -> None:
        _kill_services(engine, project, args)

    # the plan driver joins its running stops on a KeyboardInterrupt (they would wait out their
    # grace period), so the second signal kills the containers right in the handler instead
    previous = {sig: signal.signal(sig, force) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _stop_services(ctx, project, args)
    except KeyboardInterrupt:
        _kill_services(engine, project, args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _watching(engine: Any, project: Project, setup: Any, printer: Any, restarts: Any) -> Any:
    """up --watch: the watch loop on a thread beside the attached output, its lines under the
    containers' as docker compose prints them (a blank prefix column, then ` ⦿ `, bright green
    in colour); it ends when up does."""
    import os

    from composer.watch.driver import start_watch, watch_loop

    pad = " " * (max(printer.width, len("#watch")) + 1) + " ⦿ "
    head = f"\x1b[92m{pad}\x1b[0m" if printer.color and printer.prefix else (pad if printer.prefix else "")

    def log(line: str) -> None:
        printer.write(f"{head}{line}\n")

    watcher = start_watch(engine, project, setup, log)
    stop_r, stop_w = os.pipe2(os.O_CLOEXEC)
    thread = threading.Thread(target=watch_loop, args=(engine, project, setup, watcher, log),
                              kwargs={"stop": stop_r, "restarts": restarts}, name="watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.write(stop_w, b"x")
        thread.join(timeout=30)
        for fd in (stop_r, stop_w):
            os.close(fd)
        watcher.close()


def _aborting(ctx: Context) -> None:
    """docker compose's notice, on stderr (its stdinfo) in its progress.ErrorColor: aec's red then
    bold, written whatever stderr is and whatever --ansi says; only NO_COLOR (compose's
    ui.NoColor) turns it off."""
    text = "Aborting on container exit..."
    if not ctx.environ.get("NO_COLOR"):
        text = f"\x1b[31m\x1b[1m{text}\x1b[0m"
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _stopped_services(project: Project, args: argparse.Namespace) -> list[str]:
    """What an abort or a signal stops or kills: the services named on the command line, else the
    project's (docker compose's StopOptions{Services: options.Create.Services})."""
    return list(args.services) or list(project.services)


def _kill_services(engine: Any, project: Project, args: argparse.Namespace) -> None:
    for c in C.project_containers(engine, project.name, _stopped_services(project, args), all=False):
        with contextlib.suppress(Exception):  # forcing: best effort
            engine.containers.kill(c.id)


def _stop_services(ctx: Context, project: Project, args: argparse.Namespace) -> None:
    """Stop, not remove. With each service's own grace period: docker compose passes no timeout
    to this stop (its -t serves the recreate only)."""
    from composer.plan import DownOptions, teardown

    engine = ctx.engine()
    services = _stopped_services(project, args)
    containers = C.project_containers(engine, project.name, services)
    plan = teardown(
        project.name,
        containers,
        known_services=project.services,
        options=DownOptions(remove_containers=False, services=tuple(services)),
    )
    run_plan(ctx, plan, project)


# ---- pull ----------------------------------------------------------------------------------------


def _pull(args: argparse.Namespace, ctx: Context) -> int:
    from composer.graph import dependency_closure

    project = ctx.load_project(services=args.services)
    C.check_services(project, args.services)
    wanted = (
        (dependency_closure(project, args.services) if args.include_deps else set(args.services))
        if args.services
        else set(project.services)
    )
    engine = ctx.engine()
    progress = C.progress_for(ctx)
    pull = getattr(engine.images, "pull", None)
    failed = []
    for svc_name in sorted(wanted):
        ref = project.services[svc_name].get("image")
        if not ref:
            continue
        if args.policy == "missing":
            try:
                engine.images.resolve(ref)
                continue
            except Exception:  # noqa: BLE001 - missing: pull it
                pass
        if ctx.args.dry_run:
            print(f"would pull {ref}")
            continue
        if pull is None:
            raise ComposerError(f"image {ref}: pulling is not supported by this engine yet")
        progress.event("Image", ref, "Pulling")
        try:
            pull(ref)
            progress.event("Image", ref, "Pulled")
        except Exception as exc:
            progress.event("Image", ref, "Error", error=True)
            if not args.ignore_pull_failures:
                raise
            failed.append(f"{ref}: {exc}")
    for f in failed:
        progress.message(f"WARN[0000] {f}")
    return 0

"""`composer exec SERVICE CMD...` and `composer cp` on a service's container."""

from __future__ import annotations

import argparse
import sys

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.container_attach import check_tty
from composer.cli.context import Context
from composer.errors import ComposerError, UsageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    from typing import Any

    from composer.project import Project
    from runtime.spec import ContainerInfo

HELP = {
    "exec": "Execute a command in a running container",
    "cp": "Copy files/folders between a service container and the local filesystem",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", type=int, default=None, help="index of the container if service has multiple replicas"
    )
    if name == "cp":
        parser.add_argument(
            "-a", "--archive", action="store_true", help="archive mode (copy all uid/gid information)"
        )
        parser.add_argument("-L", "--follow-link", action="store_true")
        parser.add_argument(
            "--all", action="store_true", dest="with_oneoff", help="include the containers of the run command"
        )
        parser.add_argument("source", metavar="SRC")
        parser.add_argument("dest", metavar="DEST")
        return
    parser.add_argument("-d", "--detach", action="store_true", help="detached mode: run in the background")
    # None: not given; docker compose's default is "no tty unless our stdout is a terminal"
    parser.add_argument(
        "-T", "--no-TTY", "--no-tty", action="store_true", default=None, dest="no_tty",
        help="disable pseudo-TTY allocation (default: a TTY when stdout is a terminal)",
    )
    parser.add_argument("-i", "--interactive", action="store_true", default=True, help=argparse.SUPPRESS)
    # docker compose's hidden -t: accepted (`exec -it` as with docker), changes nothing
    parser.add_argument("-t", "--tty", action="store_true", default=True, help=argparse.SUPPRESS)
    parser.add_argument("-u", "--user", default=None, help="run the command as this user")
    parser.add_argument("-w", "--workdir", default=None, help="path to workdir directory for this command")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL")
    parser.add_argument("--privileged", action="store_true", help="give extended privileges to the process")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("exec_command", nargs=argparse.REMAINDER, metavar="COMMAND")


def env_list(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """-e KEY=VAL, or -e KEY (the value from the caller's environment when set)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif environ is not None and key in environ:
            out[key] = environ[key]
    return out


def service_container(ctx: Context, service: str, index: int | None, *, running: bool = True
                      ) -> ContainerInfo:
    return _service_container(ctx, service, index, running=running)[0]  # type: ignore[no-any-return]


def _service_container(ctx: Context, service: str, index: int | None, *, running: bool = True
                       ) -> tuple[Any, Project | None]:
    """The container exec and port act on, as docker compose's getSpecifiedContainer picks it (the
    service's containers by number, then its one-off `run` containers); and the project."""
    project, pname = C.load_or_name(ctx, [service])
    C.check_services(project, [service])
    containers = C.project_containers(ctx.engine(), pname, [service], all=not running, oneoff=None)
    containers.sort(key=lambda c: c.labels.get(L.ONEOFF) == "True")  # stable: by number before
    if index:  # 0 is no index, as docker compose's (getSpecifiedContainer: containerIndex > 0)
        containers = [c for c in containers if c.labels.get(L.CONTAINER_NUMBER) == str(index)]
    if not containers:  # docker compose's getSpecifiedContainer words
        what = f'service "{service}" is not running' if running else f'service "{service}" has no container'
        raise ComposerError(what + (f" container #{index}" if index and running else ""))
    return containers[0], project


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if name == "cp":
        return _cp(args, ctx)
    from runtime.spec import ExecSpec

    command = list(args.exec_command)
    if not command:
        raise UsageError("exec requires a command: composer exec SERVICE COMMAND [ARGS...]")
    c, project = _service_container(ctx, args.service, args.index)
    if c.status == "paused":  # the daemon's refusal, as docker compose passes it on (exit 1)
        raise ComposerError(
            f"Error response from daemon: Container {c.id} is paused, unpause the container before exec"
        )
    # docker compose's exec: a tty unless -T, which defaults to "stdout is no terminal"; our stdin
    # is not looked at, so with stdout on a terminal a pipe into exec is docker/cli's CheckTty
    # error (-T or -i=false to pipe), as RunExec checks it unless detached
    no_tty = args.no_tty if args.no_tty is not None else not sys.stdout.isatty()
    if not args.detach:
        check_tty(args.interactive, not no_tty)
    tty = not no_tty and not args.detach
    # -e KEY takes its value from the project's environment (the shell's and .env's), as docker
    # compose's runExec resolves it
    environ = dict(project.environment) if project is not None else dict(ctx.environ)
    spec = ExecSpec(
        command=tuple(command),
        env=env_list(args.env, environ),
        user=args.user,
        working_dir=args.workdir,
        tty=tty,
        stdin_open=args.interactive and not args.detach,
        privileged=args.privileged,
        detach=args.detach,
    )
    import subprocess

    stdin = 0 if args.interactive else subprocess.DEVNULL  # -i=false: docker's AttachStdin false
    return int(ctx.engine().containers.exec(c.id, spec, stdin=stdin))


def _split(ref: str) -> tuple[str, str] | None:
    """SERVICE:PATH -> (service, path); a host path -> None."""
    if ":" in ref and not ref.startswith(("/", ".")):
        svc, _, path = ref.partition(":")
        return svc, path
    return None


def _cp(args: argparse.Namespace, ctx: Context) -> int:
    import os

    from runtime.errors import EngineError, NotFound

    src, dst = _split(args.source), _split(args.dest)
    if src is not None and dst is not None:  # docker compose's copy words
        raise ComposerError("copying between services is not supported")
    if src is None and dst is None:
        raise ComposerError("unknown copy direction")
    ref = src if src is not None else dst
    assert ref is not None
    service, path = ref
    if dst is not None and args.source != "-" and not os.path.lexists(args.source):
        raise ComposerError(f"lstat {os.path.abspath(args.source)}: no such file or directory")
    project, pname = C.load_or_name(ctx, [service])
    C.check_services(project, [service])
    engine = ctx.engine()
    # as docker compose: stopped containers too (the runtime copies through their file systems);
    # --index picks one replica, else a copy from the service reads its first container and a copy
    # to it writes every replica; --all adds the one-off containers of `run`
    oneoff = False if args.index or not args.with_oneoff else None
    targets = C.project_containers(engine, pname, [service], all=True, oneoff=oneoff)
    if args.index:
        targets = [t for t in targets if t.labels.get(L.CONTAINER_NUMBER) == str(args.index)]
        if not targets:
            raise ComposerError(f'service "{service}" is not running container #{args.index}')
    elif not targets:
        raise ComposerError(f"no container found for service {service!r}")
    try:
        if src is not None:
            engine.containers.copy_from(targets[0].id, path, args.dest, follow_link=args.follow_link)
        else:
            for t in targets:
                engine.containers.copy_to(t.id, args.source, path, follow_link=args.follow_link,
                                          copy_uid_gid=args.archive)
    except NotFound:  # the daemon's words, naming the container by the ID compose passes it
        raise ComposerError(
            f"Error response from daemon: Could not find the file {path} in container {targets[0].id}"
        ) from None
    except EngineError as exc:  # docker compose exits 1 for any error of a copy
        raise ComposerError(str(exc)) from None
    return 0

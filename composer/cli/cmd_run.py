"""`composer run SERVICE [COMMAND...]`: a one-off container of a service.

Dependencies are brought up first (unless --no-deps), the project's networks and volumes too; the
one-off is named `<project>-<service>-run-<id>` and labelled oneoff=True, so `up`/`ps` ignore it.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from composer import labels as L
from composer.cli import _compose as C
from composer.cli._compose import run_plan
from composer.cli.cmd_exec import env_list
from composer.cli.container_attach import check_tty, terminal_size
from composer.cli.context import Context
from composer.errors import ComposerError, UsageError

if TYPE_CHECKING:
    from composer.cli.sig_proxy import SignalProxy
    from composer.project import Project
    from runtime.engine import Engine
    from runtime.spec import ContainerInfo

HELP = {"run": "Run a one-off command on a service"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-d", "--detach", action="store_true", help="run container in background and print container ID"
    )
    parser.add_argument(
        "--rm",
        action="store_true",
        dest="auto_remove",
        help="automatically remove the container when it exits",
    )
    parser.add_argument("--name", default=None, dest="container_name", help="assign a name to the container")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL")
    parser.add_argument("--env-from-file", action="append", default=[], dest="env_from_file", metavar="FILE",
                        help="set environment variables from file")
    parser.add_argument("-l", "--label", "--labels", action="append", default=[], dest="labels",
                        metavar="KEY=VAL")
    parser.add_argument("-v", "--volume", "--volumes", action="append", default=[], dest="volumes",
                        metavar="SRC:DST[:ro]")
    parser.add_argument(
        "-p", "--publish", action="append", default=[], dest="publish", metavar="[IP:]HOST:CTR"
    )
    parser.add_argument("-P", "--service-ports", action="store_true", help="run with the service's ports")
    parser.add_argument("--use-aliases", action="store_true",
                        help="use the service's network aliases in the networks the container joins")
    parser.add_argument("--cap-add", action="append", default=[], dest="cap_add",
                        help="add Linux capabilities")
    parser.add_argument("--cap-drop", action="append", default=[], dest="cap_drop",
                        help="drop Linux capabilities")
    parser.add_argument("--no-deps", action="store_true", help="don't start linked services")
    parser.add_argument("--entrypoint", default=None, help="override the entrypoint of the image")
    parser.add_argument("-u", "--user", default=None)
    parser.add_argument("-w", "--workdir", default=None)
    # None: not given (docker compose decides the tty by whether -t/-T/-i were given at all)
    parser.add_argument("-T", "--no-TTY", "--no-tty", action="store_true", default=None, dest="no_tty")
    parser.add_argument("-t", "--tty", action="store_true", default=None, help=argparse.SUPPRESS)
    parser.add_argument("-i", "--interactive", action="store_true", default=None,
                        help="keep STDIN open even if not attached (default true)")
    parser.add_argument("-q", "--quiet", action="store_true", help="don't print anything to STDOUT")
    parser.add_argument(
        "--pull", choices=["always", "missing", "never", "policy"], default="policy", dest="pull_policy"
    )
    parser.add_argument("--remove-orphans", action="store_true")
    parser.add_argument("--quiet-pull", action="store_true")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--quiet-build", action="store_true")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("run_command", nargs=argparse.REMAINDER, metavar="COMMAND")


def _publish(items: list[str]) -> tuple:  # type: ignore[type-arg]
    """`-p` as docker compose reads it (compose-go's ParsePortConfig: ranges, an IP, /udp)."""
    from composer.loader.units import UnitError, parse_port_spec
    from runtime.spec import PortMapping

    out = []
    for item in items:
        try:
            bindings = parse_port_spec(item)
        except UnitError as exc:
            raise UsageError(str(exc)) from None
        for b in bindings:
            if b.protocol not in ("tcp", "udp"):
                raise UsageError(f"invalid port {item!r}; expected protocol tcp or udp")
            # a host range for one container port: the first of it, as for the file's ports
            host = int(b.published.partition("-")[0] or 0)
            out.append(PortMapping(container_port=b.target, host_port=host, host_ip=b.host_ip,
                                   protocol=b.protocol))  # type: ignore[arg-type]
    return tuple(out)


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:  # docker compose's runRun words
            raise UsageError("label must be set as KEY=VALUE")
        out[key] = value
    return out


def _environment(args: argparse.Namespace, project: Project) -> dict[str, str]:
    """docker compose's getEnvironment: -e KEY=VAL, -e KEY from the project's environment (the
    shell's and .env's variables; unset: left out), then --env-from-file entries not named by -e
    (a file's ${X} sees only the -e values)."""
    from composer.loader.environment import parse_env_text

    env = env_list(args.env, dict(project.environment))
    for path in args.env_from_file:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise UsageError(f"--env-from-file {path}: {exc.strerror or exc}") from None
        for key, value in parse_env_text(text, path, env).items():
            env.setdefault(key, value)
    return env


def _tty(args: argparse.Namespace) -> bool:
    """docker compose's run: -t/--tty (hidden) or -T/--no-TTY as given (both: an error), else a
    tty when our output is a terminal, and none either when our input is no terminal and neither
    -T nor -i was given (a script piping into run). A tty with stdin attached (-i, the default)
    then needs our stdin to be a terminal: docker/cli's CheckTty, as prepareRun checks it."""
    if args.tty is not None and args.no_tty is not None:
        raise UsageError("--tty and --no-TTY can't be used together")
    if args.tty is not None:
        tty = bool(args.tty)
    elif args.no_tty is not None:
        tty = not args.no_tty
    else:
        tty = sys.stdout.isatty() and (args.interactive is not None or sys.stdin.isatty())
    check_tty(args.interactive is not False, tty)
    return tty


def _caps(spec_add: tuple[str, ...], spec_drop: tuple[str, ...], add: list[str], drop: list[str]
          ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """docker compose's applyRunOptions: --cap-add also takes the capability out of cap_drop,
    --cap-drop out of cap_add."""
    cap_add, cap_drop = list(spec_add), list(spec_drop)
    if add:
        cap_add += add
        cap_drop = [c for c in cap_drop if c not in add]
    if drop:
        cap_drop += drop
        cap_add = [c for c in cap_add if c not in drop]
    return tuple(cap_add), tuple(cap_drop)


def _volumes(items: list[str], project: Project) -> tuple:  # type: ignore[type-arg]
    """`-v` as docker compose reads it: compose-go's short syntax (so `''` is an empty spec and an
    unknown option is dropped), a project volume's key naming that volume, a relative bind
    source resolved against the project directory."""
    import os

    from composer.errors import ConfigError
    from composer.loader.canonical import parse_short_volume
    from composer.specgen import volume_name
    from runtime.spec import Mount

    out = []
    for item in items:
        try:
            vol = parse_short_volume(item)
        except ConfigError as exc:
            raise UsageError(exc.what) from None
        src, dst, ro = str(vol.get("source") or ""), str(vol["target"]), bool(vol.get("read_only"))
        if vol["type"] == "bind":
            path = os.path.abspath(os.path.join(project.working_dir, os.path.expanduser(src)))
            propagation = str(vol["bind"].get("propagation") or "rprivate")
            out.append(Mount(type="bind", source=path, target=dst, read_only=ro, propagation=propagation))
        else:
            name = volume_name(project, src) if src in project.volumes else src
            nocopy = bool((vol.get("volume") or {}).get("nocopy"))
            out.append(Mount(type="volume", source=name, target=dst, read_only=ro, nocopy=nocopy))
    return tuple(out)


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.graph import dependency_closure
    from composer.orchestrate import observe, write_project_file
    from composer.plan import ReconcileOptions, reconcile
    from composer.specgen import service_spec
    from runtime.errors import EngineError
    from runtime.spec import RestartPolicy

    if args.build:
        raise UsageError("build is not supported yet")
    if args.publish and args.service_ports:
        raise UsageError("--service-ports and --publish are incompatible")
    tty = _tty(args) and not args.detach
    if args.quiet:  # as docker compose's -q: no progress
        args.progress = "quiet"
    project = ctx.load_project(services=[args.service])
    C.check_services(project, [args.service])
    # everything the flags say is read before any change
    extra_mounts, published = _volumes(args.volumes, project), _publish(args.publish)
    user_labels, run_env = _labels(args.labels), _environment(args, project)
    engine = ctx.engine()
    deps = set() if args.no_deps else dependency_closure(project, [args.service]) - {args.service}
    with C.lock(ctx, project.name):
        plan = reconcile(
            project,
            observe(engine, project),
            ReconcileOptions(
                services=(*sorted(deps), args.service),
                no_deps=True,
                remove_orphans=args.remove_orphans,
                pull=args.pull_policy,
                infra_only=frozenset({args.service}),
                recreate="never",
            ),
        )
        if ctx.args.dry_run:
            sys.stdout.write(plan.render())
            return 0
        run_plan(ctx, plan, project)
    # docker compose: a 64-hex slug in the label, its first 12 in the name
    slug = secrets.token_hex(32)
    cname = args.container_name or f"{project.name}-{args.service}-run-{slug[:12]}"
    ids: dict[str, str] = {}
    for c in C.project_containers(engine, project.name):
        ids.setdefault(c.labels.get(L.SERVICE, ""), c.id)
    gen = service_spec(
        project,
        args.service,
        1,
        files_dir=str(C.files_root(engine, project.name) / "containers" / cname),
        container_ids=ids,
        oneoff=True,
        name=cname,
    )
    for f in gen.files:
        write_project_file(f)
    spec = gen.spec
    command = tuple(args.run_command) if args.run_command else spec.command
    entrypoint = spec.entrypoint
    if args.entrypoint is not None:
        import shlex

        entrypoint = tuple(shlex.split(args.entrypoint))
        if not args.run_command:  # docker compose's applyRunOptions: an entrypoint resets the command
            command = ()
    # one-off containers are not numbered (docker compose's prepareLabels: number -1)
    labels = {k: v for k, v in spec.labels.items() if k != L.CONTAINER_NUMBER}
    labels = {**labels, L.SLUG: slug, **user_labels}
    # only with --use-aliases does the one-off answer to the service's name and aliases (docker
    # compose's getAliases); its container name it always answers to
    networks = spec.networks if args.use_aliases else tuple(replace(n, aliases=()) for n in spec.networks)
    cap_add, cap_drop = _caps(spec.cap_add, spec.cap_drop, args.cap_add, args.cap_drop)
    interactive = args.interactive is not False  # -i is on by default, as docker compose's
    spec = replace(
        spec,
        command=command,
        entrypoint=entrypoint,
        env={**spec.env, **run_env},
        user=args.user or spec.user,
        working_dir=args.workdir or spec.working_dir,
        volatile=args.auto_remove,
        tty=tty,
        console_size=terminal_size() if tty else None,
        stdin_open=interactive,
        labels=labels,
        restart=RestartPolicy(),
        ports=spec.ports if args.service_ports else published,
        mounts=spec.mounts + extra_mounts,
        networks=networks,
        cap_add=cap_add,
        cap_drop=cap_drop,
    )
    for w in gen.warnings:
        print(f"WARN[0000] {w}", file=sys.stderr)
    info = engine.containers.create(spec)  # --rm: its create took the removal claim
    # docker compose's RunOneOffContainer forwards every signal to the container from its
    # creation on (signal.Notify, ForwardAllSignals: tty or not, no flag); RunStart's own
    # forwarding (attached, no tty) sends each a second time, which is not copied
    from composer.cli.sig_proxy import SignalProxy

    proxy = SignalProxy(engine.containers, info.id)
    try:
        try:
            engine.containers.start(info.id)
        except Exception as exc:
            if args.auto_remove:  # as docker's AutoRemove; else it stays, created
                engine.containers.remove(info.id, force=True, volumes=True)
            if isinstance(exc, EngineError):
                # docker compose's run returns the daemon's start error as it is: exit code 1
                # (only the container's own exit status is passed on), e.g. for a missing command
                raise ComposerError(str(exc)) from None
            raise
        if args.detach:
            engine.containers.release_removal(info.id)  # --rm: its monitor removes it once it exits
            print(info.id)  # docker's RunStart prints what it started: the container's ID
            return 0
        from composer.cli.container_attach import container_terminal

        term = container_terminal(engine.containers, info.id, raw=spec.stdin_open) if tty else None
        with term or contextlib.nullcontext():
            code = _attach(args, engine, info, spec.stdin_open, proxy)
    finally:
        proxy.close()
    if code is None:
        raise ComposerError(f"container {info.name}: no exit status")
    return int(code)


def _attach(args: argparse.Namespace, engine: Engine, info: ContainerInfo, stdin: bool,
            proxy: SignalProxy) -> int | None:
    """Print the one-off's output until it exits, passing it the signals we get; with --rm it is
    gone when this returns (or, were this process killed, once its monitor removed it)."""
    from composer.cli.cmd_logs import LogPrinter, follow_containers

    printer = LogPrinter([info.name], color=False, prefix=False)
    if stdin:
        from composer.cli.container_attach import forward_stdin

        forward_stdin(engine.containers, info.id)
    code: int | None
    try:
        threads = follow_containers(engine, [info], printer, follow=True)
        for t in threads:
            while t.is_alive():
                proxy.forward()
                t.join(0.02)
        proxy.forward()
        code = engine.containers.wait(info.id)
    except KeyboardInterrupt:
        engine.containers.stop(info.id)
        code = 130
    finally:
        if args.auto_remove:
            proxy.close()  # a signal now ends us: the monitor removes what we leave
            try:
                engine.containers.remove(info.id, force=True, volumes=True, dirs_later=True)
            except Exception as exc:  # noqa: BLE001 - the run's own exit code matters more
                print(f"WARN[0000] container {info.name}: not removed: {exc}", file=sys.stderr)
    return code

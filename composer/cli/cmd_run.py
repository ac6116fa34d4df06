"""`composer run SERVICE [COMMAND...]`: a one-off container of a service.

Dependencies are brought up first (unless --no-deps), the project's networks and volumes too; the
one-off is named `<project>-<service>-run-<id>` and labelled oneoff=True, so `up`/`ps` ignore it.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from composer import labels as L
from composer.cli import _compose as C
from composer.cli._compose import run_plan
from composer.cli.cmd_exec import env_list
from composer.cli.context import Context
from composer.errors import ComposerError, UsageError

if TYPE_CHECKING:
    from composer.project import Project

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
    parser.add_argument("-l", "--label", action="append", default=[], dest="labels", metavar="KEY=VAL")
    parser.add_argument("-v", "--volume", action="append", default=[], dest="volumes", metavar="SRC:DST[:ro]")
    parser.add_argument(
        "-p", "--publish", action="append", default=[], dest="publish", metavar="[IP:]HOST:CTR"
    )
    parser.add_argument("-P", "--service-ports", action="store_true", help="run with the service's ports")
    parser.add_argument("--no-deps", action="store_true", help="don't start linked services")
    parser.add_argument("--entrypoint", default=None, help="override the entrypoint of the image")
    parser.add_argument("-u", "--user", default=None)
    parser.add_argument("-w", "--workdir", default=None)
    parser.add_argument("-T", "--no-TTY", action="store_true", dest="no_tty")
    parser.add_argument("-i", "--interactive", action="store_true", default=True, help=argparse.SUPPRESS)
    parser.add_argument(
        "--pull", choices=["always", "missing", "never", "policy"], default="policy", dest="pull_policy"
    )
    parser.add_argument("--remove-orphans", action="store_true")
    parser.add_argument("--quiet-pull", action="store_true")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("run_command", nargs=argparse.REMAINDER, metavar="COMMAND")


def _publish(items: list[str]) -> tuple:  # type: ignore[type-arg]
    from runtime.spec import PortMapping

    out = []
    for item in items:
        spec, _, proto = item.partition("/")
        if proto not in ("", "tcp", "udp"):
            raise UsageError(f"invalid port {item!r}; expected protocol tcp or udp")
        protocol: Literal["tcp", "udp"] = "udp" if proto == "udp" else "tcp"
        parts = spec.rsplit(":", 2)
        host_ip = parts[0].strip("[]") if len(parts) == 3 else ""
        try:
            host = int(parts[-2] or 0) if len(parts) >= 2 else 0
            out.append(PortMapping(container_port=int(parts[-1]), host_port=host, host_ip=host_ip,
                                   protocol=protocol))
        except ValueError:
            raise UsageError(f"invalid port {item!r}; expected [IP:][HOST:]CONTAINER[/PROTO]") from None
    return tuple(out)


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
    project = ctx.load_project(services=[args.service])
    C.check_services(project, [args.service])
    extra_mounts, published = _volumes(args.volumes, project), _publish(args.publish)  # before any change
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
    slug = secrets.token_hex(6)
    cname = args.container_name or f"{project.name}-{args.service}-run-{slug}"
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
    svc = project.services[args.service]
    command = tuple(args.run_command) if args.run_command else spec.command
    entrypoint = spec.entrypoint
    if args.entrypoint is not None:
        import shlex

        entrypoint = tuple(shlex.split(args.entrypoint))
    tty = not args.no_tty and not args.detach and sys.stdin.isatty() and sys.stdout.isatty()
    labels = {**spec.labels, L.SLUG: slug, **env_list(args.labels)}
    networks = tuple(
        replace(n, aliases=tuple(a for a in n.aliases if a != args.service)) for n in spec.networks
    )
    spec = replace(
        spec,
        command=command,
        entrypoint=entrypoint,
        env={**spec.env, **env_list(args.env, dict(ctx.environ))},
        user=args.user or spec.user,
        working_dir=args.workdir or spec.working_dir,
        volatile=args.auto_remove,
        tty=tty,
        stdin_open=bool(svc.get("stdin_open")),
        labels=labels,
        restart=RestartPolicy(),
        ports=(spec.ports if args.service_ports else ()) + published,
        mounts=spec.mounts + extra_mounts,
        networks=networks,
    )
    for w in gen.warnings:
        print(f"WARN[0000] {w}", file=sys.stderr)
    info = engine.containers.create(spec)
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
        print(info.name)
        return 0
    from composer.cli.cmd_logs import LogPrinter, follow_containers

    printer = LogPrinter([info.name], color=False, prefix=False)
    if spec.stdin_open:
        from composer.cli.container_attach import forward_stdin

        forward_stdin(engine.containers, info.id)
    try:
        threads = follow_containers(engine, [info], printer, follow=True)
        for t in threads:
            while t.is_alive():
                t.join(0.2)
        code = engine.containers.wait(info.id)
    except KeyboardInterrupt:
        engine.containers.stop(info.id)
        code = 130
    finally:
        if args.auto_remove:
            try:
                engine.containers.remove(info.id, force=True, volumes=True)
            except Exception as exc:  # noqa: BLE001 - the run's own exit code matters more
                print(f"WARN[0000] container {info.name}: not removed: {exc}", file=sys.stderr)
    if code is None:
        raise ComposerError(f"container {info.name}: no exit status")
    return int(code)

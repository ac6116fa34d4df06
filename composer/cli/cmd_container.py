"""`composer container ...`: podman-like commands on single containers (run, create, start, stop,
kill, restart, rm, ls, logs, inspect, exec, wait, top, pause, unpause, cp, port, rename, attach,
export, commit): the command's parser, and `run` and `create` (their argparse declarations, the
FAST_ARGS tables read from them, their handlers). Each other verb's flags and handler are in
container_verbs, which `container run` never loads. The handlers only talk to ``Engine.containers``.

Beside it: container_flags (the pure flag parsers), container_spec (flags -> ContainerSpec),
container_output (tables, statuses, --format, the JSON of ls and inspect) and container_attach
(a container's output to ours until it exits).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence

from composer.cli.container_attach import attach, check_tty, detach_keys_of
from composer.cli.container_flags import UsageError
from composer.cli.container_spec import DEFAULT_NETWORK, build_spec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

# Imported where used, not here: secrets (hashlib), shlex, subprocess, humanize (datetime). A
# `container run` loads only what creating and starting a container needs (FINDINGS F5, F16).
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from composer.cli.context import Context
    from runtime.engine import Engine
    from runtime.spec import ContainerInfo, ContainerSpec
    from runtime.warm_monitor import WarmMonitor

HELP = {"container": "Manage containers: run, create, start, stop, kill, rm, ls, logs, inspect, exec, ..."}


# ---- argparse -------------------------------------------------------------------------------

def _add_create_flags(p: argparse.ArgumentParser) -> None:
    a = p.add_argument
    a("--name", help="container name (default: a random one)")
    a("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]", help="set an environment variable")
    a("--env-file", action="append", default=[], dest="ctr_env_files", metavar="FILE",
      help="read environment variables from FILE")
    a("-v", "--volume", action="append", default=[], dest="volumes", metavar="[SRC:]DST[:OPTS]",
      help="bind mount a path or mount a named volume")
    a("--tmpfs", action="append", default=[], metavar="DST[:OPTS]", help="mount a tmpfs")
    a("--cap-add", action="append", default=[], metavar="CAP", help="add a capability")
    a("--cap-drop", action="append", default=[], metavar="CAP", help="drop a capability")
    a("--privileged", action="store_true", help="every capability, no seccomp filter")
    a("--read-only", action="store_true", help="mount the root filesystem read-only")
    a("-u", "--user", help="user[:group] to run as")
    a("--group-add", action="append", default=[], metavar="GROUP", help="additional group")
    a("-w", "--workdir", help="working directory inside the container")
    a("--init", action="store_true", help="run an init (tini) as PID 1")
    a("-m", "--memory", help="memory limit (e.g. 512m)")
    a("--memory-reservation", help="memory soft limit")
    a("--memory-swap", help="memory plus swap limit (-1 unlimited)")
    a("--cpus", type=float, help="number of CPUs (e.g. 0.5)")
    a("--cpu-shares", type=int, help="relative CPU weight")
    a("--cpuset-cpus", help="CPUs to run on (0-1, 0,2)")
    a("--pids-limit", type=int, help="process limit (0 or -1: unlimited)")
    a("--cgroupns", choices=("host", "private"), help="cgroup namespace: host or private (default)")
    a("--shm-size", help="size of /dev/shm")
    a("--restart", default="no", help="restart policy: no, always, on-failure[:N], unless-stopped")
    a("--health-cmd", help="healthcheck command (run with /bin/sh -c)")
    a("--health-interval", help="time between checks (e.g. 30s)")
    a("--health-timeout", help="time a check may take")
    a("--health-retries", type=int, help="failures before unhealthy")
    a("--health-start-period", help="grace period before failures count")
    a("--no-healthcheck", action="store_true", help="disable the image's healthcheck")
    a("--entrypoint", help="override the image's entrypoint (a program or a JSON array)")
    a("-l", "--label", action="append", default=[], metavar="KEY=VALUE", help="set a label")
    a("-h", "--hostname", help="container hostname")
    a("--network", "--net", dest="network", action="append", default=[],
      help="bridge (default), none, host, container:ID or network names (repeatable)")
    a("--network-alias", action="append", default=[], metavar="ALIAS", help="extra name on the network")
    a("--ip", help="IPv4 address on the (first) network")
    a("-p", "--publish", action="append", default=[], metavar="[IP:][HOST:]CTR[/PROTO]",
      help="publish a container port")
    a("-P", "--publish-all", action="store_true", help="publish every exposed port to a random port")
    a("--expose", action="append", default=[], metavar="PORT", help="expose a port")
    a("--dns", action="append", default=[], metavar="IP", help="DNS server")
    a("--dns-search", action="append", default=[], metavar="DOMAIN", help="DNS search domain")
    a("--dns-option", action="append", default=[], metavar="OPT", help="DNS option")
    a("--add-host", action="append", default=[], metavar="HOST:IP", help="add a line to /etc/hosts")
    a("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]", help="resource limit")
    a("--sysctl", action="append", default=[], metavar="NAME=VALUE", help="namespaced kernel parameter")
    a("--security-opt", action="append", default=[], metavar="OPT",
      help="seccomp=unconfined|PATH, no-new-privileges[=false]")
    a("--device", action="append", default=[], metavar="HOST[:CTR[:PERMS]]", help="add a host device")
    a("--stop-signal", help="signal that stops the container")
    a("--stop-timeout", type=float, help="seconds to wait before SIGKILL on stop")
    a("--pod", help="add the container to this pod")
    a("-i", "--interactive", action="store_true", help="keep stdin open")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    a("image", metavar="IMAGE")
    a("cmd_args", nargs=REMAINDER, metavar="COMMAND", help="command and arguments")


def add_sig_proxy(p: argparse.ArgumentParser) -> None:
    # a Go bool flag, true by default: --sig-proxy=false turns it off (cli/pflag.py reads the value)
    p.add_argument("--sig-proxy", action="store_true", default=True,
                   help="proxy received signals to the process (default true; --sig-proxy=false: off)")


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--help", action="help", help="show this help message and exit")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background, print the id")
    p.add_argument("--rm", dest="auto_remove", action="store_true", help="remove the container when it exits")
    p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
    add_sig_proxy(p)
    _add_create_flags(p)


def _add_create_verb_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--help", action="help", help="show this help message and exit")
    _add_create_flags(p)


class _FastArgs:
    """FAST_ARGS for main.fast_args, built on first use: `container run` and `create` parse without
    argparse (~20 ms CPU of a `container run`), their tables read from the functions above."""

    def get(self, word: str) -> dict[str, Any] | None:
        if word != "container":
            return None
        from composer.cli.fastspec import spec_of

        return {"subcommands": ("container_cmd", {
            "run": spec_of(_add_run_flags, "image", "cmd_args"),  # type: ignore[arg-type]
            "create": spec_of(_add_create_verb_flags, "image", "cmd_args"),  # type: ignore[arg-type]
        })}


FAST_ARGS = _FastArgs()
REMAINDER = "..."  # argparse.REMAINDER (argparse is imported only when a line needs it)


VERBS = frozenset({
    "run", "create", "start", "stop", "restart", "kill", "rm", "remove", "ls", "list", "ps", "logs",
    "inspect", "exec", "wait", "top", "pause", "unpause", "cp", "port", "events", "rename",
    "attach", "export", "commit",
})


def chosen_verb(name: str, argv: Sequence[str]) -> str | None:
    """The verb after command *name* in *argv* (the process's own command line), or None when
    there is none or it is not one of ours (then every verb's parser is built, for the help)."""
    from composer.cli.main import command_word

    if command_word(argv) != name:
        return None
    rest = list(argv)
    rest = rest[rest.index(name) + 1:]
    verb = next((t for t in rest if not t.startswith("-")), None)
    return verb if verb in VERBS else None


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="container_cmd", metavar="SUBCOMMAND", required=True)
    # Only the chosen verb gets its parser (run/create alone have ~60 flags): `composer container
    # ls` should not pay for building the others. With no verb every one is built (--help lists all).
    only = chosen_verb(name, sys.argv[1:])

    def cmd(names: Sequence[str], help: str) -> list[argparse.ArgumentParser]:
        return [sub.add_parser(n, help=help, add_help=(n != "run" and n != "create"))
                for n in names if only is None or n == only]

    for p in cmd(["run"], "run a command in a new container"):
        _add_run_flags(p)
    for p in cmd(["create"], "create a container (do not start it)"):
        _add_create_verb_flags(p)
    if only not in ("run", "create"):  # every other verb's flags beside its handler
        from composer.cli.container_verbs import add_verb_arguments

        add_verb_arguments(cmd)


# ---- handlers -------------------------------------------------------------------------------

def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from runtime.errors import InvalidSpec

    cmd = {"list": "ls", "ps": "ls", "remove": "rm"}.get(args.container_cmd, args.container_cmd)
    if cmd in HANDLERS:
        handler = HANDLERS[cmd]
    else:  # the other verbs' handlers are a module of their own: `run` never loads them
        from composer.cli.container_verbs import VERB_HANDLERS

        handler = VERB_HANDLERS[cmd]
    try:
        return handler(args, ctx)
    except UsageError as exc:
        raise InvalidSpec(str(exc)) from None


def _ensure_default_network(engine: Engine, spec: ContainerSpec) -> None:
    if not any(a.network == DEFAULT_NETWORK for a in spec.networks):
        return
    if not engine.networks.exists(DEFAULT_NETWORK):  # not get(): it lists the network's members
        from runtime.errors import Conflict
        from runtime.spec import NetworkSpec

        with contextlib.suppress(Conflict):   # created meanwhile by another command
            engine.networks.create(NetworkSpec(name=DEFAULT_NETWORK, dns_enabled=False))


def _check_sysctls(spec: ContainerSpec) -> None:
    """Refuse host-wide sysctls before anything is created (they would change the host)."""
    if not spec.sysctls:
        return  # the usual case: do not pay for importing the security defaults
    from runtime.errors import InvalidSpec
    from runtime.security.defaults import check_sysctl

    for key in spec.sysctls:
        try:
            check_sysctl(key, network_mode_host=spec.network_mode == "host")
        except InvalidSpec as exc:
            raise InvalidSpec(f"container {spec.name}: {exc}") from None


def _create(args: argparse.Namespace, ctx: Context, *, start: bool = False,
            warm: WarmMonitor | None = None) -> ContainerInfo:
    engine = ctx.engine()
    config: Mapping[str, Any] = {}
    if args.publish_all:
        config = engine.images.resolve(args.image).config
    spec = build_spec(args, ctx, config)
    _check_sysctls(spec)
    _ensure_default_network(engine, spec)
    info = engine.containers.create(spec, start=start, warm=warm)
    for warning in engine.containers.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return info


def _warm_monitor(args: argparse.Namespace) -> WarmMonitor | None:
    """The container's monitor, started now if main did not as the command began (if it will have
    one of its own): its interpreter starts on the other core while we set the container up
    (runtime/warm_monitor.py, composer/cli/run_ahead.py)."""
    from composer.cli import run_ahead

    return run_ahead.take() or run_ahead.spawn(args.pod)


def _cmd_create(args: argparse.Namespace, ctx: Context) -> int:
    warm = _warm_monitor(args)
    try:
        print(_create(args, ctx, warm=warm).id)
    finally:
        if warm is not None:
            warm.discard()  # the create failed before it could take it
    return 0


def _cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    if not args.detach:  # docker's runContainer: before anything is made
        check_tty(args.interactive, args.tty)
    # docker's run -it: the detach keys end the attach, the container runs on (checked first)
    keys = detach_keys_of(args.detach_keys) if args.tty and args.interactive and not args.detach else None
    warm = _warm_monitor(args)
    from runtime.containers import StartError

    mgr = ctx.engine().containers
    try:  # started by its monitor as soon as it is set up: no start round trip
        info = _create(args, ctx, start=True, warm=warm)
    except StartError as exc:
        if args.auto_remove:
            mgr.remove(exc.container_id, force=True, volumes=True)
        raise
    finally:
        if warm is not None:
            warm.discard()  # the create failed before it could take it
    if args.detach:
        mgr.release_removal(info.id)  # --rm: its monitor removes it once it exits
        print(info.id)
        return 0
    # docker >= 20.10 proxies signals with a tty too (docker/cli ee29504: a kill of the CLI
    # reaches the container); the terminal's Ctrl-C goes through the tty
    return attach(mgr, info.id, remove=args.auto_remove, stdin=args.interactive,
                  sig_proxy=getattr(args, "sig_proxy", True), tty=args.tty, detach_keys=keys)


HANDLERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {"run": _cmd_run, "create": _cmd_create}

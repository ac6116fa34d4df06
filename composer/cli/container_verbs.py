"""`composer container VERB` for every verb but run and create (cmd_container has those, and the
command's parser): start, stop, restart, kill, rm, ls, logs, inspect, exec, wait, top, pause,
unpause, cp, port, events, rename, attach, export, commit. Each verb's argparse declarations
(add_verb_arguments, called by cmd_container.add_arguments) and its handler (VERB_HANDLERS); the
handlers only talk to ``Engine.containers``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

from composer.cli.cmd_container import REMAINDER, add_sig_proxy
from composer.cli.container_attach import attach, check_tty, detach_keys_of, emit
from composer.cli.container_flags import UsageError, parse_duration, parse_env, read_env_file
from composer.cli.container_output import host_address, matches, parse_time, table
from composer.cli.context import each_ref

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context
    from runtime.containers import ContainerManager

    AddParsers = Callable[[Sequence[str], str], list[argparse.ArgumentParser]]


# ---- argparse -------------------------------------------------------------------------------

def add_verb_arguments(cmd: AddParsers) -> None:
    """Declare each verb's flags on the parsers *cmd* adds (cmd_container.add_arguments' helper:
    only the chosen verb's, or every one for the help)."""
    for p in cmd(["start"], "start containers"):
        p.add_argument("-a", "--attach", action="store_true", help="attach output, exit with its code")
        p.add_argument("-i", "--interactive", action="store_true", help="attach stdin (with -a)")
        p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
        add_sig_proxy(p)  # podman's; docker's start -a proxies signals always (without a tty)
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["stop", "restart"], "stop (restart) containers"):
        p.add_argument("-t", "--time", type=float, dest="timeout", help="seconds before SIGKILL")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["kill"], "send a signal to containers"):
        p.add_argument("-s", "--signal", default="SIGKILL", dest="signal_name")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["rm", "remove"], "remove containers"):
        p.add_argument("-f", "--force", action="store_true", help="remove even when running")
        p.add_argument("-v", "--volumes", dest="remove_volumes", action="store_true",
                       help="also remove anonymous volumes")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["ls", "list", "ps"], "list containers"):
        p.add_argument("-a", "--all", dest="show_all", action="store_true", help="include stopped ones")
        p.add_argument("-q", "--quiet", action="store_true", help="print only ids")
        p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
        p.add_argument("--format", dest="out_format", default="", help="table, json or a Go template")
        p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="label=K[=V], name=N, status=S, id=ID, pod=P")
    for p in cmd(["logs"], "print a container's logs"):
        p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
        p.add_argument("-n", "--tail", type=int, help="only the last N lines")
        p.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with its time")
        p.add_argument("--since", help="only lines after this time (RFC 3339, epoch or duration)")
        p.add_argument("--until", help="only lines before this time")
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["inspect"], "show containers as JSON"):
        p.add_argument("-f", "--format", dest="out_format", default="json", help="json or a Go template")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["exec"], "run a process in a running container"):
        p.add_argument("-i", "--interactive", action="store_true")
        p.add_argument("-t", "--tty", action="store_true")
        p.add_argument("-d", "--detach", action="store_true")
        p.add_argument("-u", "--user")
        p.add_argument("-w", "--workdir")
        p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]")
        p.add_argument("--env-file", action="append", default=[], dest="ctr_env_files", metavar="FILE")
        p.add_argument("--privileged", action="store_true")
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("cmd_args", nargs=REMAINDER, metavar="COMMAND")
    for p in cmd(["wait"], "wait for containers to stop; print their exit codes"):
        p.add_argument("--condition", default="stopped", help="stopped (default), next-exit or removed")
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["top"], "list a container's processes"):
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["pause", "unpause"], "pause (unpause) every process of containers"):
        p.add_argument("refs", nargs="+", metavar="CONTAINER")
    for p in cmd(["cp"], "copy files between a container and the host (CONTAINER:PATH)"):
        p.add_argument("-a", "--archive", action="store_true",
                       help="archive mode (copy all uid/gid information)")
        p.add_argument("-L", "--follow-link", action="store_true",
                       help="always follow symbol link in SRC_PATH")
        p.add_argument("src", metavar="SRC")
        p.add_argument("dst", metavar="DST")
    for p in cmd(["events"], "print the engine's container events as they happen"):
        p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="container=, event=, image=, label=K[=V], type=container")
        p.add_argument("--format", dest="out_format", default="", help="json")
        p.add_argument("--since", help="show the events since this time (RFC 3339, Unix or duration)")
        p.add_argument("--until", help="stream events until this time")
    for p in cmd(["rename"], "rename a container"):
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("new_name", metavar="NEW_NAME")
    for p in cmd(["attach"], "attach our stdin, stdout and stderr to a running container"):
        p.add_argument("--detach-keys", default="", help="override the key sequence for detaching")
        p.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
        add_sig_proxy(p)
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["export"], "export a container's filesystem as a tar archive"):
        p.add_argument("-o", "--output", default="", help="write to a file, instead of STDOUT")
        p.add_argument("ref", metavar="CONTAINER")
    for p in cmd(["commit"], "create a new image from a container's changes"):
        p.add_argument("-a", "--author", default="",
                       help='author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
        p.add_argument("-c", "--change", action="append", default=[], dest="changes",
                       help="apply Dockerfile instruction to the created image")
        p.add_argument("-m", "--message", default="", help="commit message")
        p.add_argument("-p", "--pause", action="store_true", default=True,
                       help="pause container during commit (default true; --pause=false: off)")
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("reference", nargs="?", default=None, metavar="REPOSITORY[:TAG]")
    for p in cmd(["port"], "list a container's published ports"):
        p.add_argument("ref", metavar="CONTAINER")
        p.add_argument("port_filter", nargs="?", metavar="PORT[/PROTO]")


# ---- handlers -------------------------------------------------------------------------------

def _mgr(ctx: Context) -> ContainerManager:
    return ctx.engine().containers


def _cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    """As docker's start (docker/cli start.go), exit code 1 when a start fails: the daemon's error
    as it is, not run's 125/126/127 (a missing command exited 126)."""
    from runtime.errors import EngineError

    mgr = _mgr(ctx)
    if args.attach:
        if len(args.refs) != 1:
            raise UsageError("start --attach takes exactly one container")
        try:
            try:  # the output of this run only, as docker's attach: not the last run's again
                log_from = os.path.getsize(mgr.log_path(args.refs[0]))
            except OSError:
                log_from = 0
            info = mgr.start(args.refs[0])
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr, flush=True)
            return 1
        # docker's start -a proxies signals only without a tty (start.go: !Config.Tty)
        proxy = bool(getattr(args, "sig_proxy", True)) and not (info.spec is not None and info.spec.tty)
        tty = bool(info.spec and info.spec.tty)
        stdin = bool(getattr(args, "interactive", False))
        return attach(mgr, info.id, remove=False, stdin=stdin, sig_proxy=proxy, log_from=log_from,
                      tty=tty, detach_keys=detach_keys_of(args.detach_keys) if tty and stdin else None)
    failed = [ref for ref in args.refs if each_ref([ref], mgr.start)]
    if failed:  # startContainersWithoutAttachments: each error, then the list of the failed
        print(f"failed to start containers: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return each_ref(args.refs, lambda r: mgr.stop(r, args.timeout))


def _cmd_restart(args: argparse.Namespace, ctx: Context) -> int:
    """Exit code 1 when one fails, as docker's restart (its errors joined), as start."""
    mgr = _mgr(ctx)
    return 1 if each_ref(args.refs, lambda r: mgr.restart(r, args.timeout)) else 0


def _cmd_kill(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return each_ref(args.refs, lambda r: mgr.kill(r, args.signal_name))


def _cmd_rm(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    return each_ref(args.refs, lambda r: mgr.remove(r, force=args.force, volumes=args.remove_volumes))


def _cmd_pause(args: argparse.Namespace, ctx: Context) -> int:
    return each_ref(args.refs, _mgr(ctx).pause)


def _cmd_unpause(args: argparse.Namespace, ctx: Context) -> int:
    return each_ref(args.refs, _mgr(ctx).unpause)


def _cmd_rename(args: argparse.Namespace, ctx: Context) -> int:
    """docker rename (docker/cli 28's rename.go): the daemon's error, then which rename failed,
    exit 1; nothing printed when it worked."""
    from runtime.errors import EngineError

    try:
        _mgr(ctx).rename(args.ref, args.new_name)
    except EngineError as exc:
        print(f"Error response from daemon: {exc}", file=sys.stderr)
        print(f"Error: failed to rename container named {args.ref}", file=sys.stderr)
        return 1
    return 0


def _cmd_ls(args: argparse.Namespace, ctx: Context) -> int:
    """docker ps: its default table, -q, --format table/json/TEMPLATE over docker's fields (a
    template runs on the Go text/template engine; the default table is cut without it)."""
    from composer.cli import docker_format as F
    from composer.cli.container_output import PS_FIELDS, PS_HEADERS, PS_TABLE, ps_row

    # newest first, as moby's list (byCreatedDescending)
    infos = [i for i in reversed(_mgr(ctx).list(all=args.show_all)) if matches(i, args.filter)]
    fmt = args.out_format or "table"
    if args.quiet:
        if args.out_format:
            print("WARNING: Ignoring custom format, because both --format and --quiet are set.",
                  file=sys.stderr)
        for i in infos:
            print(i.id if args.no_trunc else i.id[:12])
        return 0
    now = time.time()
    rows = [ps_row(i, now, not args.no_trunc) for i in infos]
    if fmt == "json":
        sys.stdout.write("".join(F.go_json(r) + "\n" for r in rows))
        return 0
    if fmt == "table":
        cells = [[PS_HEADERS[f] for f in PS_TABLE], *([r[f] for f in PS_TABLE] for r in rows)]
        sys.stdout.write(F.tabwriter(cells))
        return 0
    from composer.cli.go_template import render_rows

    sys.stdout.write(render_rows(fmt, rows, PS_FIELDS, PS_HEADERS,
                                 [i.labels for i in infos]))
    return 0


def _since(raw: str | None) -> float | None:
    """--since/--until: RFC 3339, epoch seconds, or a duration before now."""
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    if "T" in raw or "-" in raw:
        t = parse_time(raw)
        if t:
            return t
    return time.time() - parse_duration(raw, "time")


def _cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    records = _mgr(ctx).logs(args.ref, follow=args.follow, tail=args.tail,
                             since=_since(args.since), until=_since(args.until))
    for rec in records:
        prefix = (rec.time + " ").encode() if args.timestamps else b""
        emit(rec.stream, prefix + rec.text + (b"" if rec.partial else b"\n"))
    return 0


def _cmd_inspect(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.container_inspect import inspect_json
    from composer.cli.go_text_template import print_inspect
    from runtime.errors import EngineError

    mgr = _mgr(ctx)
    docs, code = [], 0
    for ref in args.refs:
        try:
            docs.append(inspect_json(mgr.inspect(ref)))
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            code = exc.exit_code
    print_inspect(docs, args.out_format)
    return code


def _cmd_exec(args: argparse.Namespace, ctx: Context) -> int:
    from runtime.spec import ExecSpec

    if not args.cmd_args:
        raise UsageError("exec needs a command")
    env: dict[str, str] = {}
    for path in args.ctr_env_files:
        env.update(read_env_file(path, ctx.environ))
    env.update(parse_env(args.env, ctx.environ))
    spec = ExecSpec(command=tuple(args.cmd_args), env=env, user=args.user, working_dir=args.workdir,
                    tty=args.tty, stdin_open=args.interactive, privileged=args.privileged,
                    detach=args.detach)
    import subprocess

    mgr = _mgr(ctx)
    if not args.detach:
        from composer.errors import ComposerError

        try:
            check_tty(args.interactive, args.tty)
        except ComposerError:
            mgr.get(args.ref)  # docker's RunExec looks the container up first: its error wins
            raise
    stdin = 0 if args.interactive else subprocess.DEVNULL
    sys.stdout.flush()
    return mgr.exec(args.ref, spec, stdin=stdin, stdout=1, stderr=2)


def _cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    mgr = _mgr(ctx)
    condition = {"stopped": "not-running", "exited": "not-running"}.get(args.condition, args.condition)

    def one(ref: str) -> None:
        print(mgr.wait(ref, condition=condition), flush=True)
    return each_ref(args.refs, one, echo=False)


def _cmd_top(args: argparse.Namespace, ctx: Context) -> int:
    procs = _mgr(ctx).top(args.ref)
    rows = [["UID", "PID", "PPID", "CMD"]] + [[p["UID"], p["PID"], p["PPID"], p["CMD"]] for p in procs]
    print(table(rows))
    return 0


def split_cp_arg(arg: str) -> tuple[str | None, str]:
    """``"web:/etc/hosts"`` -> ("web", "/etc/hosts"); host paths (with no colon before the first
    slash, or starting with . or /) -> (None, path)."""
    if arg.startswith(("/", ".")):
        return None, arg
    ref, sep, path = arg.partition(":")
    if not sep or "/" in ref:
        return None, arg
    return ref, path


def _cmd_cp(args: argparse.Namespace, ctx: Context) -> int:
    src_ref, src = split_cp_arg(args.src)
    dst_ref, dst = split_cp_arg(args.dst)
    mgr = _mgr(ctx)
    if src_ref and not dst_ref:  # `-`: a tar stream on stdout (stdin), as docker's cp
        mgr.copy_from(src_ref, src, dst if dst == "-" else os.path.join(ctx.cwd, dst),
                      follow_link=args.follow_link)
    elif dst_ref and not src_ref:
        mgr.copy_to(dst_ref, src if src == "-" else os.path.join(ctx.cwd, src), dst,
                    follow_link=args.follow_link, copy_uid_gid=args.archive)
    else:
        raise UsageError("cp: exactly one of SRC and DST must be CONTAINER:PATH")
    return 0


def _cmd_port(args: argparse.Namespace, ctx: Context) -> int:
    info = _mgr(ctx).get(args.ref)
    want = args.port_filter
    if want and "/" not in want:
        want += "/tcp"
    for p, h in info.ports:
        key = f"{p.container_port}/{p.protocol}"
        if want and key != want:
            continue
        host = host_address(p.host_ip, h)
        print(host if want else f"{key} -> {host}")
    return 0


def _cmd_events(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli import container_events
    from composer.cli.cmd_events import check_window

    if args.out_format not in ("", "json", "{{json .}}"):
        raise UsageError(f"--format {args.out_format!r}: expected json")
    filters = container_events.parse_filters(args.filter)
    since, until = check_window(args.since, args.until)
    events = ctx.engine().events(since=since, until=until)
    return container_events.run(events, filters, bool(args.out_format))


def _cmd_attach(args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.container_attach import attach_running

    return attach_running(_mgr(ctx), args.ref, stdin=not args.no_stdin,
                          sig_proxy=getattr(args, "sig_proxy", True), detach_keys=args.detach_keys)


def _cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    """docker export (docker/cli 28's export.go): its words for a terminal and a bad -o."""
    from composer.cli.cmd_export import check_output_path, write_export
    from composer.errors import ComposerError

    mgr = _mgr(ctx)
    output = os.path.join(ctx.cwd, args.output) if args.output else ""
    if not output and sys.stdout.isatty():
        raise ComposerError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if output and (why := check_output_path(output)) is not None:
        raise ComposerError(f"failed to export container: {why}")
    write_export(mgr, args.ref, output)
    return 0


def _cmd_commit(args: argparse.Namespace, ctx: Context) -> int:
    print(_mgr(ctx).commit(args.ref, args.reference, author=args.author, message=args.message,
                           changes=args.changes, pause=args.pause))
    return 0


VERB_HANDLERS: dict[str, Callable[[argparse.Namespace, Context], int]] = {
    "start": _cmd_start, "stop": _cmd_stop, "restart": _cmd_restart, "kill": _cmd_kill, "rm": _cmd_rm,
    "ls": _cmd_ls, "logs": _cmd_logs, "inspect": _cmd_inspect, "exec": _cmd_exec, "wait": _cmd_wait,
    "top": _cmd_top, "pause": _cmd_pause, "unpause": _cmd_unpause, "cp": _cmd_cp, "port": _cmd_port,
    "events": _cmd_events, "rename": _cmd_rename, "attach": _cmd_attach, "export": _cmd_export,
    "commit": _cmd_commit,
}

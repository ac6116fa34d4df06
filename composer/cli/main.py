"""Entry point: global flags, dispatch to one command module, and the one place errors are caught.

Each command module defines ``add_arguments(name, parser)`` and ``run(name, args, ctx) -> int``
and imports heavy libraries only inside ``run``: `composer --version` must stay fast.
"""

from __future__ import annotations

import gc
import os
import sys

from composer import __version__

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name): importing typing costs 5 ms
if TYPE_CHECKING:
    import argparse

    # collections (~1.7 ms) is imported after `container run` spawned its monitor (run_ahead)
    from collections.abc import Mapping, Sequence
    from types import ModuleType
    from typing import Any

    FastOptions = dict[str, tuple[str, str, tuple[str, ...] | None]]

# argparse (with gettext, locale, re) and the Context (typing) are imported once a command is
# parsed: `composer --version` needs none of them.

# command -> module. A module may serve several commands (it receives the name).
COMMANDS: dict[str, str] = {
    "config": "composer.cli.cmd_config",
    # compose verbs (orchestration)
    "up": "composer.cli.cmd_up",
    "down": "composer.cli.cmd_down",
    "create": "composer.cli.cmd_up",
    "ps": "composer.cli.cmd_ps",
    "logs": "composer.cli.cmd_logs",
    "start": "composer.cli.cmd_lifecycle",
    "stop": "composer.cli.cmd_lifecycle",
    "restart": "composer.cli.cmd_lifecycle",
    "kill": "composer.cli.cmd_lifecycle",
    "rm": "composer.cli.cmd_lifecycle",
    "pause": "composer.cli.cmd_lifecycle",
    "unpause": "composer.cli.cmd_lifecycle",
    "exec": "composer.cli.cmd_exec",
    "run": "composer.cli.cmd_run",
    "top": "composer.cli.cmd_inspect",
    "port": "composer.cli.cmd_inspect",
    "images": "composer.cli.cmd_inspect",
    "events": "composer.cli.cmd_events",
    "wait": "composer.cli.cmd_lifecycle",
    "cp": "composer.cli.cmd_exec",
    "ls": "composer.cli.cmd_ps",
    "scale": "composer.cli.cmd_up",
    "stats": "composer.cli.cmd_inspect",
    "pull": "composer.cli.cmd_up",
    "version": "composer.cli.cmd_version",
    "attach": "composer.cli.cmd_attach",
    "export": "composer.cli.cmd_export",
    "commit": "composer.cli.cmd_commit",
    "volumes": "composer.cli.cmd_volumes",
    "push": "composer.cli.cmd_push",
    "publish": "composer.cli.cmd_push",
    "build": "composer.cli.cmd_build",
    "watch": "composer.cli.cmd_watch",
    # engine nouns (podman-like)
    "container": "composer.cli.cmd_container",
    "image": "composer.cli.cmd_image",
    "volume": "composer.cli.cmd_volume",
    "network": "composer.cli.cmd_network",
    "pod": "composer.cli.cmd_pod",
}


# Global options that take a value: needed to find the command word without building the parser.
_VALUED_GLOBALS = frozenset({"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file",
                             "--profile", "--parallel", "--ansi", "--progress"})


def command_word(argv: Sequence[str]) -> str | None:
    """The command in *argv* (the first word that is not a global option or its value)."""
    it = iter(argv)
    for token in it:
        if token == "--":
            return next(it, None)
        if token.startswith("-"):
            if token in _VALUED_GLOBALS:
                next(it, None)
            continue
        return token
    return None


def _global_given(argv: Sequence[str], option: str) -> bool:
    """Whether the global *option* is on the command line (before the command word)."""
    it = iter(argv)
    for token in it:
        if token == option or token.startswith(option + "="):
            return True
        if token == "--" or not token.startswith("-"):
            return False
        if token in _VALUED_GLOBALS:
            next(it, None)
    return False


# The fast path's view of the global options of build_parser: option -> (dest, kind, choices), and
# their defaults. Kinds: "true" (store_true), "false" (the --no- half of a BooleanOptionalAction),
# "store", "int", "float", "append" (each takes a value). tests/test_cli_fastargs.py checks both agree.
_GLOBAL_OPTIONS: FastOptions = {
    "-v": ("version", "true", None), "--version": ("version", "true", None),
    "-f": ("files", "append", None), "--file": ("files", "append", None),
    "-p": ("project_name", "store", None), "--project-name": ("project_name", "store", None),
    "--project-directory": ("project_directory", "store", None),
    "--env-file": ("env_files", "append", None), "--profile": ("profiles", "append", None),
    "--parallel": ("parallel", "int", None), "--dry-run": ("dry_run", "true", None),
    "--ansi": ("ansi", "store", ("never", "always", "auto")),
    "--progress": ("progress", "store", ("auto", "tty", "plain", "json", "quiet")),
    "--compatibility": ("compatibility", "true", None),
}
_GLOBAL_DEFAULTS: dict[str, object] = {
    "version": False, "files": [], "project_name": None, "project_directory": None, "env_files": [],
    "profiles": [], "parallel": -1, "dry_run": False, "ansi": "auto", "progress": "auto",
    "compatibility": False,
}


def fast_args(argv: Sequence[str], command: str, spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``build_parser().parse_args(argv)`` returns, as a dict, for the plain command lines of
    a command whose module declares ``FAST_ARGS[command] = {"options": FastOptions, "defaults":
    {...}, "positional": dest or None}``: no argparse (~15 ms CPU with its formatter, gettext,
    locale and shutil). A spec may instead name ``"subcommands": (dest, {word: spec})`` (the next
    word picks one), and a spec with ``"remainder": dest`` takes one positional word and then the
    rest of the line, whatever it holds (argparse.REMAINDER). None for anything else (help,
    abbreviations, `--`, short flags joined with a value, `--x=` of a flag, a bad value, a value
    that starts with "-"): argparse then parses it and says what is wrong, word for word as always."""
    out: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in _GLOBAL_DEFAULTS.items()}
    options: FastOptions = _GLOBAL_OPTIONS
    positional: str | None = None
    remainder: str | None = None
    subcommands: tuple[str, Mapping[str, Any]] | None = None
    positionals: list[str] | None = None  # the one run of positional words argparse accepts
    seen_command = ended = False
    i, n = 0, len(argv)

    def enter(s: Mapping[str, Any]) -> None:
        nonlocal options, positional, remainder, subcommands
        out.update({k: list(v) if isinstance(v, list) else v for k, v in s.get("defaults", {}).items()})
        options, positional = s.get("options", {}), s.get("positional")
        remainder, subcommands = s.get("remainder"), s.get("subcommands")

    while i < n:
        token = argv[i]
        i += 1
        if token.startswith("-") and token != "-":
            name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
            found = options.get(name)
            if found is None:
                if not _joined_flags(token, options, out):
                    return None
                if positionals is not None:
                    ended = True
                continue
            dest, kind, choices = found
            if positionals is not None:
                ended = True
            if kind in ("true", "false"):
                if eq:
                    return None
                out[dest] = kind == "true"
                continue
            if not eq:
                if i == n or argv[i].startswith("-"):
                    return None
                value = argv[i]
                i += 1
            if choices is not None and value not in choices:
                return None
            if kind in ("int", "float"):
                try:
                    out[dest] = int(value) if kind == "int" else float(value)
                except ValueError:
                    return None
            elif kind == "append":
                out[dest].append(value)
            else:
                out[dest] = value
        elif not seen_command:
            if token != command:
                return None
            seen_command = True
            enter(spec)
        elif subcommands is not None:
            chosen = subcommands[1].get(token)
            if chosen is None:
                return None
            out[subcommands[0]] = token
            enter(chosen)
        elif remainder is not None and positional is not None:
            if "--" in argv[i:]:
                return None  # argparse drops a "--" there (and so should we: let it)
            out[positional], out[remainder] = token, list(argv[i:])
            positional = None
            break
        elif positional is None or ended or token == "-":
            return None
        else:
            if positionals is None:
                positionals = out[positional] = []
            positionals.append(token)
    if not seen_command or subcommands is not None or (remainder is not None and positional is not None):
        return None  # no command, no subcommand, or no word for the remainder's positional
    if positional is not None and positionals is None:
        out[positional] = []
    out["command"] = command
    return out


def _joined_flags(token: str, options: FastOptions, out: dict[str, Any]) -> bool:
    """``-it``: short flags that take no value, joined; set them all (as argparse) and say so."""
    if token.startswith("--") or len(token) < 3:
        return False
    found = [options.get("-" + c) for c in token[1:]]
    if any(f is None or f[1] != "true" for f in found):
        return False
    for f in found:
        out[f[0]] = True  # type: ignore[index]
    return True


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with *only*, just that command's module is imported (lean start-up, and a
    broken module cannot take the other commands down with it)."""
    import argparse
    import importlib
    import importlib.util

    from composer.cli.pflag import PflagParser

    # every boolean flag (its subparsers' too) also takes pflag's --flag=true|false, -x=false
    parser = PflagParser(
        prog="composer", description="Daemonless compose engine: run compose projects as containers."
    )
    parser.add_argument("-v", "--version", action="store_true", help="show the version and exit")
    g = parser.add_argument_group("project options (as docker compose)")
    g.add_argument("-f", "--file", action="append", default=[], dest="files", metavar="FILE",
                   help="compose configuration file (repeatable; '-' reads stdin)")
    g.add_argument("-p", "--project-name", dest="project_name", help="project name")
    g.add_argument("--project-directory", help="alternate working directory (default: the first file's)")
    g.add_argument("--env-file", action="append", default=[], dest="env_files", metavar="PATH",
                   help="alternate environment file (repeatable)")
    g.add_argument("--profile", action="append", default=[], dest="profiles", help="profile to enable")
    g.add_argument("--parallel", type=int, default=-1, help="max parallelism, -1 for unlimited")
    g.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    g.add_argument("--ansi", choices=["never", "always", "auto"], default="auto")
    g.add_argument("--progress", choices=["auto", "tty", "plain", "json", "quiet"], default="auto")
    g.add_argument("--compatibility", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = {only: COMMANDS[only]} if only in COMMANDS else COMMANDS
    for name, module_name in wanted.items():
        if importlib.util.find_spec(module_name) is None:
            continue  # not built yet
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=_first_line(getattr(module, "HELP", {}).get(name, "")))
        module.add_arguments(name, p)
        p.set_defaults(_module=module_name)
    return parser


def _parse_fast(argv: Sequence[str], word: str | None) -> argparse.Namespace | None:
    """The parsed arguments without argparse when the command offers it (see fast_args)."""
    module_name = COMMANDS.get(word or "")
    if module_name is None or word is None:
        return None
    module = import_module(module_name)
    spec = getattr(module, "FAST_ARGS", {}).get(word)
    found = None if spec is None else fast_args(argv, word, spec)
    if found is None:
        return None
    from types import SimpleNamespace

    found["_module"] = module_name
    return SimpleNamespace(**found)  # type: ignore[return-value]  # what commands read of a Namespace


def import_module(name: str) -> ModuleType:
    """The module named *name* (absolute), as importlib.import_module, without importing importlib
    (with warnings: ~0.5 ms of every command)."""
    __import__(name)
    return sys.modules[name]


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def main(argv: Sequence[str] | None = None, *, exiting: bool = False) -> int:
    """Run one command. *exiting*: the process ends right after (entry()), so the collector's
    threshold is not restored: that would run a young collection over the up to 100k objects
    allocated since the last one, 4-6 ms CPU at the end of a `container run`, for nothing."""
    # A command allocates ~100k objects while it imports its modules and keeps nearly all of them:
    # at the default threshold (700) the collector runs ~35 times for nothing, ~10 ms CPU of a
    # `container run` (FINDINGS F5). Cycles are still collected, every 100k allocations.
    threshold = gc.get_threshold()
    gc.set_threshold(100_000, *threshold[1:])
    try:
        return _main(argv, exiting)
    finally:
        if not exiting:
            gc.set_threshold(*threshold)


def _main(argv: Sequence[str] | None, exiting: bool = False) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-v"], ["--version"]):  # fast path: no parser, no imports
        print(f"composer version v{__version__}")
        return 0
    word = command_word(argv)
    from composer.cli import run_ahead

    run_ahead.spawn_for(argv, word)  # `container run`: its monitor imports while we do
    try:
        return _run_command(argv, word, exiting)
    finally:
        run_ahead.discard_untaken()


def _run_command(argv: list[str], word: str | None, exiting: bool) -> int:
    args = _parse_fast(argv, word)
    if args is None:
        parser = build_parser(only=word)
        args = parser.parse_args(argv)
        if not args.version and not args.command:
            parser.print_help()
            return 0
    if args.version:
        print(f"composer version v{__version__}")
        return 0
    ansi = os.environ.get("COMPOSE_ANSI")
    if ansi in ("never", "always", "auto") and not _global_given(argv, "--ansi"):
        args.ansi = ansi  # docker compose reads it when --ansi is not on the command line
    from composer.cli.context import Context

    ctx = Context(args=args, environ=dict(os.environ), cwd=os.getcwd())
    from composer.errors import ComposerError
    from runtime.errors import EngineError

    try:
        module = import_module(args._module)
        return int(module.run(args.command, args, ctx) or 0)
    except (ComposerError, EngineError) as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line, keep the traceback for who asks
        if os.environ.get("COMPOSER_DEBUG"):
            raise
        print(f"composer: internal error: {type(exc).__name__}: {exc} (set COMPOSER_DEBUG=1 for details)",
              file=sys.stderr)
        return 1
    finally:
        # ending (entry(): os._exit), the state connection is left open, as a killed command leaves
        # it: its close would checkpoint the WAL and delete it (two fdatasyncs, an unlink, and the
        # next command's WAL made again with two more), ~2 ms of every command on this disk
        if not exiting:
            ctx.close()


def entry() -> None:
    """The console script (and ``python -m composer``): main(), then exit without the interpreter's
    teardown. Finalising frees every module and runs full collections over ~15k objects: 25-35 ms
    CPU of a 100 ms command, for nothing, since the process ends (FINDINGS F5). Skipped only when
    no other thread is alive: a non-daemon thread must still be waited for."""
    code = main(exiting=True)
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib.suppress: one more import for --version
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`composer ps | head`): nothing more to say
            pass
    threading = sys.modules.get("threading")
    if threading is not None and any(t is not threading.main_thread() and t.is_alive() and not t.daemon
                                     for t in threading.enumerate()):
        raise SystemExit(code)
    os._exit(code)


if __name__ == "__main__":
    entry()

"""Entry point: global flags, dispatch to one command module, and the one place errors are caught.

Each command module defines ``add_arguments(name, parser)`` and ``run(name, args, ctx) -> int``
and imports heavy libraries only inside ``run``: `composer --version` must stay fast.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence

from composer import __version__

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name): importing typing costs 5 ms
if TYPE_CHECKING:
    import argparse

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with *only*, just that command's module is imported (lean start-up, and a
    broken module cannot take the other commands down with it)."""
    import argparse
    import importlib.util

    parser = argparse.ArgumentParser(
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


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def main(argv: Sequence[str] | None = None) -> int:
    # A command allocates ~100k objects while it imports its modules and keeps nearly all of them:
    # at the default threshold (700) the collector runs ~35 times for nothing, ~10 ms CPU of a
    # `container run` (FINDINGS F5). Cycles are still collected, every 100k allocations.
    threshold = gc.get_threshold()
    gc.set_threshold(100_000, *threshold[1:])
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*threshold)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-v"], ["--version"]):  # fast path: no parser, no imports
        print(f"composer version {__version__}")
        return 0
    parser = build_parser(only=command_word(argv))
    args = parser.parse_args(argv)
    if args.version:
        print(f"composer version {__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 0
    from composer.cli.context import Context

    ctx = Context(args=args, environ=dict(os.environ), cwd=os.getcwd())
    from composer.errors import ComposerError
    from runtime.errors import EngineError

    try:
        module = importlib.import_module(args._module)
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
        ctx.close()


def entry() -> None:
    """The console script (and ``python -m composer``): main(), then exit without the interpreter's
    teardown. Finalising frees every module and runs full collections over ~15k objects: 25-35 ms
    CPU of a 100 ms command, for nothing, since the process ends (FINDINGS F5). Skipped only when
    no other thread is alive: a non-daemon thread must still be waited for."""
    code = main()
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

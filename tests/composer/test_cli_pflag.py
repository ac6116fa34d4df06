"""Boolean flags take pflag's `=VALUE` as docker compose's and docker's (Go's pflag, ParseBool's
words): `exec -i=false`, `run --no-TTY=false`, `container run --rm=true -t=false`, `--dry-run=1`;
every boolean flag of every command, parsed by the real parser (main.build_parser)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
from typing import Any

import pytest

from composer.cli.main import COMMANDS, build_parser, fast_args
from composer.cli.pflag import PflagParser


@functools.cache
def _parser(command: str | None = None) -> argparse.ArgumentParser:
    return build_parser(only=command)


def _parse(*argv: str) -> dict[str, Any] | str:
    """The namespace as a dict, or argparse's error line and exit code."""
    word = next(w for w in argv if w in COMMANDS)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return dict(vars(_parser(word).parse_args(list(argv))))
        except SystemExit as exc:
            return f"exit {exc.code}: {err.getvalue().splitlines()[-1]}"


@pytest.mark.parametrize(("argv", "want"), [
    (("exec", "-i=false", "web", "sh"), {"interactive": False}),
    (("exec", "--interactive=false", "-T=true", "web", "sh"), {"interactive": False, "no_tty": True}),
    (("exec", "--no-TTY=false", "-d=1", "web", "sh"), {"no_tty": False, "detach": True}),
    (("exec", "--no-tty=F", "--detach=True", "--privileged=0", "web", "sh"),
     {"no_tty": False, "detach": True, "privileged": False}),
    (("exec", "-d", "web", "sh", "--detach=false"),
     {"detach": True, "exec_command": ["sh", "--detach=false"]}),
    (("run", "-T=false", "-i=true", "--rm=t", "web"),
     {"no_tty": False, "interactive": True, "auto_remove": True}),
    (("run", "-t=false", "web"), {"tty": False, "no_tty": None}),
    (("up", "--detach=false", "-d=FALSE", "--no-deps=TRUE"), {"detach": False, "no_deps": True}),
    (("--dry-run=true", "ps", "-a=false", "-q=1"), {"dry_run": True, "show_all": False, "quiet": True}),
    (("ps", "--orphans=false"), {"orphans": False}),
    (("ps", "--no-orphans=false"), {"orphans": True}),
    (("ps", "--no-orphans=true"), {"orphans": False}),
    (("container", "run", "-i=false", "-t=true", "--rm=true", "img"),
     {"interactive": False, "tty": True, "auto_remove": True, "image": "img"}),
    (("container", "exec", "--interactive=1", "--tty=0", "c", "sh"), {"interactive": True, "tty": False}),
    (("container", "rm", "-f=false", "c"), {"force": False}),
])
def test_a_boolean_flag_takes_a_value_after_an_equals_sign(argv: tuple[str, ...],
                                                           want: dict[str, Any]) -> None:
    got = _parse(*argv)
    assert isinstance(got, dict), got
    assert {k: got[k] for k in want} == want


@pytest.mark.parametrize(("argv", "error"), [
    (("exec", "-i=maybe", "web", "sh"), 'invalid argument "maybe" for "-i, --interactive" flag:'
                                        ' strconv.ParseBool: parsing "maybe": invalid syntax'),
    (("exec", "--detach=", "web", "sh"),
     'invalid argument "" for "-d, --detach" flag: strconv.ParseBool: parsing "": invalid syntax'),
    (("--dry-run=yes", "ps"),
     'invalid argument "yes" for "--dry-run" flag: strconv.ParseBool: parsing "yes": invalid syntax'),
])
def test_a_value_parsebool_refuses_is_pflags_error(argv: tuple[str, ...], error: str) -> None:
    got = _parse(*argv)
    assert isinstance(got, str) and got.startswith("exit 2: ") and got.endswith(f"error: {error}"), got


def test_a_bare_boolean_flag_never_takes_the_next_word() -> None:
    got = _parse("exec", "-d", "false", "sh")
    assert isinstance(got, dict) and (got["detach"], got["service"]) == (True, "false")
    assert isinstance(_parse("container", "run", "-ifalse", "img"), str)  # -i -f -a...: as pflag, no value


def test_every_boolean_flag_of_every_command_takes_true_and_false() -> None:
    """Through argparse's own word reader (the method PflagParser extends): each boolean option
    string of each command and noun verb, written =true and =false, sets its dest both ways."""
    parsers: dict[str, argparse.ArgumentParser] = {}

    def walk(p: argparse.ArgumentParser, where: str = "") -> None:
        parsers[where] = p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    walk(sub, f"{where} {name}".strip())

    walk(_parser())
    checked = 0
    for where, p in parsers.items():
        assert isinstance(p, PflagParser), where
        for action in p._actions:
            if not (action.nargs == 0 and (isinstance(action.const, bool)
                                           or isinstance(action, argparse.BooleanOptionalAction))):
                continue
            for opt in action.option_strings:
                seen = set()
                for text in ("true", "false"):
                    found = p._parse_optional(f"{opt}={text}")  # type: ignore[attr-defined]
                    half, used = (found[0] if isinstance(found, list) else found)[:2]
                    ns = argparse.Namespace()
                    half(p, ns, text, used)
                    seen.add(getattr(ns, action.dest))
                assert seen == {True, False}, (where, opt)
                checked += 1
    assert checked > 150


def test_the_fast_path_leaves_an_equals_sign_on_a_boolean_flag_to_argparse() -> None:
    from composer.cli import cmd_container, cmd_ps, cmd_up

    assert fast_args(["ps", "-a=false"], "ps", cmd_ps.FAST_ARGS["ps"]) is None
    assert fast_args(["up", "--detach=false"], "up", cmd_up.FAST_ARGS["up"]) is None
    spec = cmd_container.FAST_ARGS.get("container")
    assert fast_args(["container", "run", "-i=false", "img"], "container", spec) is None

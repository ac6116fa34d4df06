"""Boolean flags as Go's pflag reads them, for argparse: `--flag=false`, `--flag=true`, `-x=false`
(strconv.ParseBool's words: 1 t T TRUE true True, 0 f F FALSE false False), as docker compose and
docker take them (`exec -i=false`, `run --no-TTY=false`, `up --detach=false`). A bare `--flag`
still means true and never takes the next word as its value, as pflag's.

Imported by main.build_parser only (argparse's path): the fast path leaves such lines to it.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _is_bool(action: argparse.Action) -> bool:
    """store_true, store_false (a const that is a bool, no value) and BooleanOptionalAction."""
    return action.nargs == 0 and (isinstance(action.const, bool)
                                  or isinstance(action, argparse.BooleanOptionalAction))


def _flag_name(action: argparse.Action, used: str) -> str:
    """The flag as pflag names it in an error: "-i, --interactive", or "--dry-run"."""
    short = next((o for o in action.option_strings if len(o) == 2 and o[1] != "-"), None)
    long = used if used.startswith("--") else next(
        (o for o in action.option_strings if o.startswith("--")), None)
    return ", ".join(n for n in (short, long) if n)


class _BoolValue(argparse.Action):
    """The valued half of boolean flag *flag*, taken when it is written FLAG=VALUE; never
    registered (no help line, no abbreviation): PflagParser hands it out for such a word."""

    def __init__(self, flag: argparse.Action) -> None:
        super().__init__(option_strings=flag.option_strings, dest=flag.dest, help=argparse.SUPPRESS)
        self.flag = flag

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        text, used = str(values), option_string or ""
        if text not in _TRUE and text not in _FALSE:
            name = _flag_name(self.flag, used)
            raise argparse.ArgumentError(None, f'invalid argument "{text}" for "{name}" flag:'
                                               f' strconv.ParseBool: parsing "{text}": invalid syntax')
        value = text in _TRUE
        if isinstance(self.flag, argparse.BooleanOptionalAction):
            value ^= used.startswith("--no-")  # --no-orphans=true is --no-orphans
        elif not value:
            value = not self.flag.const  # store_true=false: False; store_false=false: True
        else:
            value = self.flag.const
        setattr(namespace, self.dest, value)


def _valued(found: Any, arg_string: str) -> Any:
    """One of _parse_optional's answers (action, option_string, [sep,] explicit_arg), with a boolean
    flag's action swapped for its valued half when the word was exactly FLAG=VALUE."""
    action, option_string, *_, explicit = found
    if (explicit is None or action is None or not _is_bool(action)
            or not arg_string.startswith(f"{option_string}=")):
        return found
    half = getattr(action, "_pflag_value", None)
    if half is None:
        half = _BoolValue(action)
        action._pflag_value = half  # made once per flag
    return (half, *found[1:])


class PflagParser(argparse.ArgumentParser):
    """An ArgumentParser whose boolean flags also take `=VALUE` as pflag's; its subparsers (made
    with its class, as argparse does) too."""

    def _parse_optional(self, arg_string: str) -> Any:
        found = super()._parse_optional(arg_string)
        if not found or "=" not in arg_string:
            return found
        if isinstance(found, list):  # Python >= 3.12.7 answers a list of tuples
            return [_valued(f, arg_string) for f in found]
        return _valued(found, arg_string)

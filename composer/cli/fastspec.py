"""The table main.fast_args reads, taken from the very function that declares a parser's flags.

`container run` and `create` have ~60 flags: a table written by hand beside them would drift. A
``Recorder`` stands in for the ArgumentParser while that function runs and keeps what argparse would
make of each option (its dest, its kind, its default), without importing argparse.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REMAINDER = "..."  # argparse.REMAINDER, without importing argparse


class Recorder:
    """Records ``add_argument`` calls as fast_args options; positionals are the caller's to
    declare in the spec. An option fast_args cannot parse as argparse would (a help action, a
    custom type) is left out of the table (a line using it goes to argparse) but keeps its
    default."""

    def __init__(self) -> None:
        self.options: dict[str, tuple[str, str, tuple[str, ...] | None]] = {}
        self.defaults: dict[str, Any] = {}

    def add_argument(self, *names: str, action: str | None = None, dest: str | None = None,
                     default: Any = None, type: Callable[[str], Any] | None = None,
                     choices: Any = None, **_: Any) -> None:
        if not names[0].startswith("-"):
            return
        if dest is None:  # as argparse: the first long option, else the first short one
            first = next((n for n in names if n.startswith("--")), names[0])
            dest = first.lstrip("-").replace("-", "_")
        kind = {"store_true": "true", "append": "append"}.get(action or "", "store")
        if action == "store_true":
            default = False if default is None else default
        elif action not in (None, "append"):
            return  # help, version, count...: argparse's
        elif action is None and type is not None:
            kind = "int" if type is int else "float" if type is float else ""
        self.defaults[dest] = list(default) if isinstance(default, list) else default
        if kind:
            for name in names:
                self.options[name] = (dest, kind, tuple(choices) if choices else None)


def spec_of(declare: Callable[[Recorder], None], positional: str, remainder: str) -> dict[str, Any]:
    """A fast_args spec for a parser whose flags *declare* adds, followed by one positional word
    and the REMAINDER of the line (an image and its command)."""
    rec = Recorder()
    declare(rec)
    return {"options": rec.options, "defaults": {**rec.defaults, positional: None, remainder: []},
            "positional": positional, "remainder": remainder}

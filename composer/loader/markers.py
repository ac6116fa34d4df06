"""The values `!reset` and `!override` parse to, apart from the parser so that the stages that only
recognise them (interpolation, merge) do not import yaml."""

from __future__ import annotations

from dataclasses import dataclass

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Override", "Reset", "strip_markers"]


@dataclass(frozen=True, slots=True)
class Reset:
    """`!reset`: the key is removed from the result (and from what it overrides)."""

    value: Any = None


@dataclass(frozen=True, slots=True)
class Override:
    """`!override`: the value replaces what it overrides instead of merging with it."""

    value: Any = None


def strip_markers(node: Any) -> Any:
    """Resolve markers in a tree that is not merged onto another: `!reset` keys go, `!override` unwraps."""
    if isinstance(node, dict):
        return {k: strip_markers(v) for k, v in node.items() if not isinstance(v, Reset)}
    if isinstance(node, list):
        return [strip_markers(v) for v in node if not isinstance(v, Reset)]
    if isinstance(node, Override):
        return strip_markers(node.value)
    return node

"""The values `!reset` and `!override` parse to, apart from the parser so that the stages that only
recognise them (interpolation, merge) do not import yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Override", "Reset"]


@dataclass(frozen=True, slots=True)
class Reset:
    """`!reset`: the key is removed from the result (and from what it overrides)."""

    value: Any = None


@dataclass(frozen=True, slots=True)
class Override:
    """`!override`: the value replaces what it overrides instead of merging with it."""

    value: Any = None

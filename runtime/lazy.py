"""Standard modules imported at their first use, for the modules every command imports.

``import shutil`` (bz2, lzma, zlib), ``signal`` (an IntEnum of every signal) or ``dataclasses``
(inspect, ast, dis, tokenize) cost 1-12 ms CPU each at start-up; `ps` and `logs` never use them
although the modules they import do, in other functions (FINDINGS F14). The pattern::

    if TYPE_CHECKING:
        import shutil
    else:
        shutil = lazy("shutil")

keeps every ``shutil.rmtree(...)`` as it is, fully typed, and imports shutil at the first call.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any


class _LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        __import__(self._name)  # not importlib's import_module: importlib imports warnings
        return getattr(sys.modules[self._name], attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> Any:
    """A stand-in for module *name* that imports it when an attribute is first read."""
    return _LazyModule(name)

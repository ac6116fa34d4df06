"""JSON through CPython's C accelerator (``_json``) alone, without importing the json package.

The json package imports re, and re imports enum: ~3 ms of CPU in every command that reads or
writes a state row, on `container run`'s critical path. These functions call the same C scanner
and encoder that ``json.loads`` and ``json.dumps`` use (``json.dumps`` without indent is the C
encoder too), with the same defaults, so their output is byte for byte json's: digests and keys
computed from it do not change. Anything else (indent, hooks, pretty output) goes to json itself.
Errors are json's own ``JSONDecodeError`` (a ValueError), imported only when one is raised.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class _Readable(Protocol):
        def read(self) -> str | bytes: ...

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _ScanContext:
    """What ``_json.make_scanner`` reads from a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float  # these two exact types select the scanner's C fast paths
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]  # duck-typed: reads six attributes


def _decode_error(msg: str, doc: str, pos: int) -> ValueError:
    from json import JSONDecodeError

    return JSONDecodeError(msg, doc, pos)


def loads(s: str | bytes | bytearray) -> Any:
    """``json.loads(s)``."""
    if not isinstance(s, str):
        if s[:3] == b"\xef\xbb\xbf" or b"\x00" in s[:4]:  # a BOM or UTF-16/32: json detects them
            import json

            return json.loads(s)
        s = bytes(s).decode("utf-8", "surrogatepass")
    start = len(s) - len(s.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(s, start)
    except StopIteration as err:
        raise _decode_error("Expecting value", s, err.value) from None
    if end != len(s) and s[end:].strip(_WHITESPACE):
        raise _decode_error("Extra data", s, end + len(s[end:]) - len(s[end:].lstrip(_WHITESPACE)))
    return obj


def load(fp: _Readable) -> Any:
    """``json.load(fp)``."""
    return loads(fp.read())


def _not_serializable(o: object) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: Any, *, separators: tuple[str, str] = (", ", ": "), sort_keys: bool = False) -> str:
    """``json.dumps(obj, separators=..., sort_keys=...)`` (ensure_ascii, allow_nan, no indent)."""
    item_sep, key_sep = separators
    encode = _json.make_encoder({}, _not_serializable, _json.encode_basestring_ascii, None,
                                key_sep, item_sep, sort_keys, False, True)
    return "".join(encode(obj, 0))

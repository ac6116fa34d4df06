"""A cache of loaded projects: a hit skips yaml, dotenv, jsonschema and every loader stage.

Standard library only (this module is on the fast path of `ps`, `logs`, `up`...).

An entry is found by a key over everything the loader gets from its caller: the options that change
the model (files, project name and directory, env files, profiles, services, the stage switches),
the working directory, the whole process environment (interpolation may read any variable) but for
the VOLATILE variables a shell changes under the user (``_`` at every command, ``OLDPWD`` at every
`cd`: hashed, they made every first command after a `cd` a miss), and the loader's own code. A
volatile variable that any file of the load names is compared by value instead, at lookup.
An entry then holds the paths the load looked at (compose files, `.env`, include and
extends targets, `env_file`/`label_file`, and the names probed and found absent during file
discovery), each with a signature taken *before* the loader used it: "absent", "dir", or the
content's digest. An entry is used only when every signature still matches, so no file can change
under it; content digests instead of stat times because timestamps have a coarse granularity (an
edit within the same tick keeps mtime and size) and a content check of a few small files costs
microseconds.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping

__all__ = ["ENTRY_LIMIT", "lookup", "recording", "store", "watch"]

ENTRY_LIMIT = 64        # entries kept per cache directory; older ones are removed on write
_FORMAT = 2
VOLATILE = ("_", "OLDPWD")  # left out of the key; compared only where a file names them

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

    Signature = tuple[Any, ...]

# path -> signature, while a load is being recorded (the loader is synchronous and single-threaded)
_recorded: dict[str, Signature] | None = None


def _digest_fn() -> Callable[[bytes], bytes]:
    try:  # _blake2 is built in and imports in well under a millisecond; hashlib pulls in OpenSSL
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - every CPython build has it
        from hashlib import blake2b
    return lambda data: blake2b(data, digest_size=32).digest()


_digest = _digest_fn()


def signature(path: str) -> Signature:
    """What the loader can learn from *path*: absent, a directory, or a file with this content."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ("absent",)
    except OSError as exc:
        return ("error", exc.errno)
    if stat.S_ISDIR(st.st_mode):
        return ("dir",)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return ("error", exc.errno)
    return ("file", len(data), _digest(data))


def watch(path: str) -> None:
    """Note that the load being recorded depends on *path*. Call it before using the path."""
    if _recorded is not None and path not in _recorded:
        _recorded[path] = signature(path)


@contextlib.contextmanager
def recording() -> Iterator[dict[str, Signature]]:
    """Record every path `watch`ed inside the block (nested recordings each see their own paths)."""
    global _recorded
    outer, _recorded = _recorded, {}
    try:
        yield _recorded
    finally:
        inner, _recorded = _recorded, outer
        if outer is not None:
            for path, sig in inner.items():
                outer.setdefault(path, sig)


def key(options: tuple[Any, ...], environ: Mapping[str, str]) -> str:
    """The entry name for these load options and this environment (but its VOLATILE variables),
    under this loader's code."""
    stable = sorted(kv for kv in environ.items() if kv[0] not in VOLATILE)
    material = marshal.dumps((_FORMAT, sys.version, _code_stamp(), options, stable))
    return _digest(material).hex()


def named_volatiles(deps: Mapping[str, Signature], environ: Mapping[str, str]) -> dict[str, str | None]:
    """The VOLATILE variables a file of the load names (so that it may have read them), with their
    values in *environ*: a later lookup must see the same values. Conservative: any mention counts
    (``_`` as a word of its own; an underscore inside a name is not one)."""
    out: dict[str, str | None] = {}
    for path, sig in deps.items():
        if sig[0] != "file":
            continue
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError:
            return {name: environ.get(name) for name in VOLATILE}  # cannot tell: all of them
        for name in VOLATILE:
            if name not in out and _names(text, name.encode()):
                out[name] = environ.get(name)
    return out


def _names(text: bytes, name: bytes) -> bool:
    word = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    at = text.find(name)
    while at >= 0:
        end = at + len(name)
        if (at == 0 or text[at - 1] not in word) and (end == len(text) or text[end] not in word):
            return True
        at = text.find(name, at + 1)
    return False


def lookup(cache_dir: str, name: str,
           environ: Mapping[str, str] | None = None) -> tuple[Any, list[str], frozenset[str]] | None:
    """The stored value, warnings and named volatile variables of entry *name*, if every file it
    depends on is unchanged (and every volatile variable a file names has, in *environ*, the value
    it had)."""
    try:
        with open(os.path.join(cache_dir, name), "rb") as f:
            entry = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    try:
        if entry["format"] != _FORMAT:
            return None
        for path, sig in entry["deps"]:
            if signature(path) != sig:
                return None
        env = {} if environ is None else environ
        if any(env.get(k) != v for k, v in entry["volatile"].items()):
            return None
        return entry["value"], list(entry["warnings"]), frozenset(entry["volatile"])
    except (KeyError, TypeError, ValueError):  # not an entry this code wrote: a miss
        return None


def store(cache_dir: str, name: str, value: Any, deps: Mapping[str, Signature], warnings: list[str],
          volatile: Mapping[str, str | None] | None = None) -> None:
    """Write entry *name* atomically; a value marshal cannot hold, or any OS error, only costs speed.
    *volatile*: named_volatiles of the load."""
    try:
        data = marshal.dumps({"format": _FORMAT, "deps": sorted(deps.items()), "warnings": list(warnings),
                              "volatile": dict(volatile or {}), "value": value})
    except ValueError:
        return
    tmp = os.path.join(cache_dir, f".tmp-{os.getpid()}-{name}")
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        # 0600: the entry holds the environment interpolation saw
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(cache_dir, name))
        _prune(cache_dir)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _prune(cache_dir: str) -> None:
    """Keep the ENTRY_LIMIT newest entries (every distinct environment makes its own)."""
    with os.scandir(cache_dir) as it:
        entries = [e for e in it if not e.name.startswith(".")]
    if len(entries) <= ENTRY_LIMIT:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for e in entries[: len(entries) - ENTRY_LIMIT]:
        with contextlib.suppress(OSError):
            os.unlink(e.path)


_stamp: tuple[Any, ...] | None = None


def _code_stamp() -> tuple[Any, ...]:
    """The loader's code and schema as (name, size, mtime_ns, ino): an upgrade invalidates every entry."""
    global _stamp
    if _stamp is None:
        here = os.path.dirname(os.path.abspath(__file__))
        paths = [os.path.join(here, n) for n in os.listdir(here) if n.endswith(".py")]
        paths += [os.path.join(here, os.pardir, "project.py"),
                  os.path.join(here, os.pardir, "schema", "compose-spec.json")]
        out: list[tuple[Any, ...]] = []
        for p in sorted(paths):
            try:
                st = os.stat(p)
                out.append((p, st.st_size, st.st_mtime_ns, st.st_ino))
            except OSError:
                out.append((p,))
        _stamp = tuple(out)
    return _stamp

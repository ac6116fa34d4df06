"""The bytecode of the CLI's modules in one file, read by offset (bench/FINDINGS.md F27).

A command imports ~90 modules of its own and of the standard library before it does anything,
and each costs the import system a directory-cache check, two stats and an open/read/close of
its .pyc before the unmarshal: ~4-6 ms of every command's CPU. `make` writes this file
(composer/bundle_build.py): the code objects of the project's modules (without their docstrings)
and of the standard library and site-packages modules they import, each with its source's path,
mtime and size. ``install`` puts a finder first on sys.meta_path that serves those modules from it
with one stat and one pread each.

A module whose source changed since (mtime or size), or that the file does not hold, is imported
as usual: the file may be stale but is never wrong. A file of another interpreter (its magic
number), a missing or unreadable one, or COMPOSER_NO_BUNDLE=1: no finder at all.
"""

from __future__ import annotations

import _frozen_importlib_external as _path_imports  # importlib's path machinery, loaded at every start
import marshal
import os
import sys

OFF_ENV = "COMPOSER_NO_BUNDLE"
FORMAT = b"composer-bundle 1\n"
HEAD = 8  # after FORMAT and the interpreter's magic number: the index's length, 8 bytes big-endian

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import CodeType, ModuleType

    # name -> (source path, its st_mtime_ns, its st_size, is a package, offset, length); the
    # offsets count from the end of the index
    Index = dict[str, tuple[str, int, int, bool, int, int]]


def bundle_path() -> str:
    """Where `make` writes it (one interpreter's: the venv's; the magic number says whose)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", "bundle.bin")


def prefix() -> bytes:
    """What a bundle this interpreter can read starts with."""
    return FORMAT + _path_imports.MAGIC_NUMBER


class BundledLoader(_path_imports.SourceFileLoader):
    """A source file's loader (get_source, resources, __file__ as usual) whose code is the bundle's."""

    def __init__(self, name: str, origin: str, fd: int, offset: int, length: int) -> None:
        super().__init__(name, origin)
        self._at = (fd, offset, length)

    def get_code(self, fullname: str) -> CodeType:
        fd, offset, length = self._at
        return marshal.loads(os.pread(fd, length, offset))  # type: ignore[no-any-return]


class BundleFinder:
    """The meta path finder of one bundle (its fd stays open, close-on-exec, for the process's life)."""

    def __init__(self, fd: int, index: Index, base: int) -> None:
        self.fd = fd
        self.index = index
        self.base = base  # where the code objects start

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        entry = self.index.get(name)
        if entry is None:
            return None
        origin, mtime_ns, size, is_package, offset, length = entry
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None  # edited since the bundle was written: the usual import
        return _path_imports.spec_from_file_location(
            name, origin, loader=BundledLoader(name, origin, self.fd, self.base + offset, length),
            submodule_search_locations=[os.path.dirname(origin)] if is_package else None,
        )

    def invalidate_caches(self) -> None:  # importlib.invalidate_caches() asks every finder
        pass


def read_index(fd: int) -> tuple[Index, int] | None:
    """The bundle's index and where its code starts, or None where it is not one this interpreter
    can use."""
    want = prefix()
    head = os.pread(fd, len(want) + HEAD, 0)
    if len(head) != len(want) + HEAD or head[: len(want)] != want:
        return None
    size = int.from_bytes(head[len(want):], "big")
    index = marshal.loads(os.pread(fd, size, len(head)))
    return (index, len(head) + size) if isinstance(index, dict) else None


def install(path: str | None = None) -> BundleFinder | None:
    """The finder of the bundle at *path* (bundle_path()), first on sys.meta_path, where a usable
    bundle exists; once per process. COMPOSER_NO_BUNDLE=1 turns the default one off."""
    if path is None and os.environ.get(OFF_ENV, "") not in ("", "0"):
        return None
    for finder in sys.meta_path:
        if isinstance(finder, BundleFinder):
            return finder
    try:
        fd = os.open(path or bundle_path(), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        found = read_index(fd)
    except (OSError, ValueError, EOFError, TypeError):
        found = None
    if found is None:
        os.close(fd)
        return None
    finder = BundleFinder(fd, *found)
    sys.meta_path.insert(0, finder)
    return finder

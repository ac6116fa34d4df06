"""Host file changes through Linux inotify, called through ctypes: the standard library has no
binding, and the ~100 lines here spare a dependency (watchdog, inotify_simple) for three calls.

As docker compose's watcher on Linux (pkg/watch/watcher_naive.go over fsnotify): every directory
under a watched path gets its own watch (inotify is not recursive), a path that does not exist
yet is watched through its closest existing ancestor, a directory created or moved in is walked
(each path in it is a change, its directories are watched too), and a change is reported as the
changed path alone: whether it was written or removed is for the reader to look at."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Iterable

from composer.errors import ComposerError

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
# fsnotify's agnosticEvents: what docker compose listens to
MASK = (IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
        | IN_MOVE_SELF)
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class WatchOverflow(ComposerError):
    """The kernel's queue overflowed: changes were lost."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return libc


def _is_child(parent: str, path: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def closest_existing(path: str) -> str:
    """*path*, or its closest ancestor that exists (docker compose's greatestExistingAncestor)."""
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if path == "/":
        raise ComposerError("cannot watch root directory")
    return path


class Watcher:
    """Watches *paths* (absolute); read() gives the paths under them that changed."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.roots = {os.path.abspath(p) for p in paths}
        self._libc = _libc()
        self._dirs: dict[int, str] = {}  # watch descriptor -> directory
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            if err == errno.EMFILE:  # docker compose's advice
                raise ComposerError(
                    "hit OS limits creating a watcher: raise fs.inotify.max_user_instances "
                    "(sysctl fs.inotify.max_user_instances=1024)"
                )
            raise ComposerError(f"creating file watcher: {os.strerror(err)}")
        self.fd: int = fd

    def fileno(self) -> int:
        return self.fd

    def start(self) -> None:
        for path in sorted({closest_existing(p) for p in self.roots}):
            if os.path.isdir(path):
                self._watch_tree(path, emit=None)
            else:
                self._add(os.path.dirname(path))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the kernel drops every watch with it
            self.fd = -1

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> list[str]:
        """The changed paths the kernel has queued (none when it has none).

        Raises:
            WatchOverflow: the kernel dropped events; what changed meanwhile is unknown.
        """
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out: list[str] = []
        overflow = False
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, size = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size : offset + _EVENT.size + size].split(b"\0", 1)[0]
            offset += _EVENT.size + size
            if mask & IN_Q_OVERFLOW:
                overflow = True
                continue
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)  # its directory is gone
                continue
            where = self._dirs.get(wd)
            if where is None:
                continue
            path = os.path.join(where, os.fsdecode(raw)) if raw else where
            if mask & (IN_CREATE | IN_MOVED_TO):
                self._watch_tree(path, emit=out)
            elif self._should_notify(path):
                out.append(path)
        if overflow:
            raise WatchOverflow("file watcher: the kernel's event queue overflowed, changes were lost")
        return out

    def _should_notify(self, path: str) -> bool:
        if path in self.roots:  # a watched directory itself changing says nothing
            return not os.path.isdir(path) or os.path.islink(path)
        return any(_is_child(root, path) for root in self.roots)

    def _should_skip(self, path: str) -> bool:
        """A directory neither under a watched path nor on the way to one."""
        return path not in self.roots and not any(
            _is_child(root, path) or _is_child(path, root) for root in self.roots
        )

    def _watch_tree(self, top: str, emit: list[str] | None) -> None:
        """Watch *top* and the directories below it; with *emit*, each path found is a change
        (a directory just created: the files in it came before its watch)."""
        if emit is not None and self._should_notify(top):
            emit.append(top)
        if not os.path.isdir(top) or os.path.islink(top):
            if top in self.roots:
                self._add(top)
            return
        if self._should_skip(top):
            return
        self._add(top)
        for parent, dirs, files in os.walk(top):
            kept = []
            for d in sorted(dirs):
                path = os.path.join(parent, d)
                if emit is not None and self._should_notify(path):
                    emit.append(path)
                if not os.path.islink(path) and not self._should_skip(path) and self._add(path):
                    kept.append(d)
            dirs[:] = kept
            if emit is not None:
                emit.extend(p for f in sorted(files) if self._should_notify(p := os.path.join(parent, f)))

    def _add(self, path: str) -> bool:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), MASK)
        if wd >= 0:
            self._dirs[wd] = path
            return True
        err = ctypes.get_errno()
        if err in (errno.ENOENT, errno.ENOTDIR):
            return False  # gone already: its removal is the change
        if err == errno.ENOSPC:
            raise ComposerError(
                f"watching {path}: inotify watch limit reached; raise fs.inotify.max_user_watches"
            )
        raise ComposerError(f"watching {path}: {os.strerror(err)}")

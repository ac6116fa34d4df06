"""remove_tree: ``shutil.rmtree(path, ignore_errors=True)`` without importing shutil.

shutil's import loads zlib, bz2 and lzma (and their shared libraries) for its archives: ~3 ms CPU
of every `run --rm` and `rm`, whose removal only deletes the container's two directories. As
shutil's fd-based rmtree, it never follows a symbolic link, not even one swapped in for a directory
while it works: each directory is opened by name relative to its parent's fd, with O_NOFOLLOW.
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # monitors import this module: no collections (~1.4 ms) for a name
if TYPE_CHECKING:
    from collections.abc import Iterable

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_trees(paths: Iterable[str | os.PathLike[str]]) -> None:
    """remove_tree of each of *paths*, in their order (e.g. Paths.container_trash's: the run
    dir's last, which a repair looks for)."""
    for path in paths:
        remove_tree(path)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove the directory *path* and everything in it, ignoring errors (what cannot be removed
    stays). A path that is gone, a file or a symbolic link is left as it is, as shutil leaves it."""
    try:
        fd = os.open(path, _DIR)
    except OSError:
        return
    try:
        _empty(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _empty(fd: int) -> None:
    """Remove everything in the directory open as *fd*."""
    with os.scandir(fd) as it:
        entries = [(e.name, _is_dir(e)) for e in it]
    for name, is_dir in entries:
        try:
            if not is_dir:
                os.unlink(name, dir_fd=fd)
                continue
            sub = os.open(name, _DIR, dir_fd=fd)
            try:
                _empty(sub)
            finally:
                os.close(sub)
            os.rmdir(name, dir_fd=fd)
        except OSError:
            pass


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False

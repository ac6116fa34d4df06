"""An image's directory as its container sees it, read from the unpacked layers without mounting
them: what overlayfs would show (the topmost layer's entry wins, a 0/0 character device whiteout
hides what is below, an opaque directory hides the lower layers' content of its own), for the
copy-up of a volume. Standard library only.

A directory is a *chain*: its host paths, topmost layer first, down to the first opaque one.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # the executor's user lookup imports this module: annotations only
if TYPE_CHECKING:
    from collections.abc import Sequence

_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    for attr in _OPAQUE:
        try:
            if os.getxattr(path, attr, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def child(chain: Sequence[str], name: str) -> tuple[str, list[str]]:
    """Entry *name* of the merged directory *chain*: ("dir", its chain), ("other", [its path]) for
    a file, a symlink or a device, or ("missing", []) when no layer has it or a whiteout hides it."""
    found: list[str] = []
    for d in chain:
        path = os.path.join(d, name)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if is_whiteout(st):
            break
        if not stat.S_ISDIR(st.st_mode):
            if not found:
                return "other", [path]
            break  # a directory above a file: the file is hidden
        found.append(path)
        if is_opaque(path):
            break
    return ("dir", found) if found else ("missing", [])


def names(chain: Sequence[str]) -> list[str]:
    """The entries of the merged directory *chain*, whiteouts and all, each once, sorted."""
    out: set[str] = set()
    for d in chain:
        out.update(os.listdir(d))
    return sorted(out)


def resolve(layers: Sequence[str], target: str) -> tuple[str, list[str]]:
    """Path *target* in the image whose unpacked layers are *layers* (topmost first), as the
    container sees it: child()'s kinds, its symbolic links (the last one too) followed in the
    merged view, never on the host; ("missing", []) for a dangling or looping one."""
    parts = [p for p in target.split("/") if p]
    stack: list[list[str]] = [list(layers)]
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if len(stack) > 1:
                stack.pop()
            continue
        kind, found = child(stack[-1], part)
        if kind == "dir":
            stack.append(found)
            continue
        if kind == "missing" or not os.path.islink(found[0]):
            return (kind, found) if not parts else ("missing", [])
        links += 1
        if links > 40:
            return "missing", []
        link = os.readlink(found[0])
        if link.startswith("/"):
            del stack[1:]
        parts = [p for p in link.split("/") if p] + parts
    return "dir", stack[-1]


def resolve_dir(layers: Sequence[str], target: str) -> list[str] | None:
    """The chain of directory *target* (resolve()), or None when it is missing or no directory."""
    kind, found = resolve(layers, target)
    return found if kind == "dir" else None

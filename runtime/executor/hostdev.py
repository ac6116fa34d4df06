"""The host's device nodes, for a privileged container's /dev (podman and docker give it all of
them; runc's devices.GetDevices walk, which podman uses). Standard library only."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final

# Directories never walked: each has the container's own instance (or is not a device tree).
_SKIP_DIRS: Final = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})
# Nodes never copied: the console is the container's own (a tty), ptmx a link to its devpts.
_SKIP_NODES: Final = frozenset({"console", "ptmx"})

Device = tuple[str, str, int, int, int]  # (path, "c" or "b", major, minor, permission bits)


def host_devices(root: str = "/dev", prefix: str = "/dev") -> list[Device]:
    """Every character and block device under *root* (symlinks not followed), as container paths
    under *prefix*, sorted by path."""
    out: list[Device] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        path = f"{prefix}/{entry.name}"
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone while walking
        if stat.S_ISDIR(st.st_mode):
            if entry.name not in _SKIP_DIRS:
                out.extend(host_devices(entry.path, path))
        elif entry.name in _SKIP_NODES:
            continue
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
            out.append((path, kind, os.major(st.st_rdev), os.minor(st.st_rdev), stat.S_IMODE(st.st_mode)))
    return out

"""Give a container that joins another's IPC namespace that container's /dev/shm (as docker does
for ``ipc: container:X``): the same tmpfs, so POSIX shared memory is shared like SysV segments.

mount(2) cannot bind a mount of another mount namespace, so a small single-threaded helper
(``python -I -S shm_share.py DONOR_PID JOINER_PID``) enters the donor's mount namespace, clones
its /dev/shm as a detached mount (open_tree), enters the joiner's and attaches the clone over the
joiner's own /dev/shm (move_mount). Nothing is mounted on the host: the tmpfs lives as long as a
container mounts it. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import sys

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

TYPE_CHECKING = False  # typing stays out of the monitor that runs this on a restart
if TYPE_CHECKING:
    from typing import Final

from runtime.executor import syscalls as sc  # noqa: E402

_SYS_OPEN_TREE: Final = 428  # x86_64 (and every arch since 5.2: the new syscall table)
_SYS_MOVE_MOUNT: Final = 429
_SYS_FSTATFS: Final = 138
AT_FDCWD: Final = -100
AT_SYMLINK_NOFOLLOW: Final = 0x100
OPEN_TREE_CLONE: Final = 1
MOVE_MOUNT_F_EMPTY_PATH: Final = 0x4
TMPFS_MAGIC: Final = 0x01021994
SHM: Final = "/dev/shm"

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _open_tree(path: str) -> int:
    fd = _libc.syscall(
        ctypes.c_long(_SYS_OPEN_TREE),
        ctypes.c_int(AT_FDCWD),
        os.fsencode(path),
        ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC | AT_SYMLINK_NOFOLLOW),
    )
    sc._check(fd, "open_tree", path)
    return int(fd)


def _move_mount(fd: int, path: str) -> None:
    ret = _libc.syscall(
        ctypes.c_long(_SYS_MOVE_MOUNT),
        ctypes.c_int(fd),
        b"",
        ctypes.c_int(AT_FDCWD),
        os.fsencode(path),
        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
    )
    sc._check(ret, "move_mount", path)


def _fs_type(fd: int) -> int:
    buf = ctypes.create_string_buffer(256)  # struct statfs: f_type is its first long
    sc._check(_libc.fstatfs(ctypes.c_int(fd), buf), "fstatfs")
    return int(ctypes.c_long.from_buffer(buf).value)


def share_shm(donor_pid: int, joiner_pid: int) -> None:
    """Mount the /dev/shm of process *donor_pid*'s mount namespace over that of *joiner_pid*'s.

    Raises:
        OSError: a namespace is gone, or the donor's /dev/shm is not a tmpfs (ENOTSUP).
    """
    fds = [os.open(f"/proc/{p}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC) for p in ("self", donor_pid, joiner_pid)]
    own, donor, joiner = fds
    tree = -1
    try:
        sc.SYSCALLS.setns(donor, sc.CLONE_NEWNS)
        try:
            tree = _open_tree(SHM)
            if _fs_type(tree) != TMPFS_MAGIC:
                raise OSError(95, "not a tmpfs", SHM)
            sc.SYSCALLS.setns(joiner, sc.CLONE_NEWNS)
            _move_mount(tree, SHM)
        finally:
            sc.SYSCALLS.setns(own, sc.CLONE_NEWNS)
    finally:
        for fd in (*fds, tree):
            if fd >= 0:
                os.close(fd)


def main(argv: list[str]) -> int:
    try:
        share_shm(int(argv[1]), int(argv[2]))
    except OSError as exc:
        print(exc.strerror or exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

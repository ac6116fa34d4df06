"""Where ext4 puts a container's files: spread over the disk, away from the ones just deleted.

On ext4 without a journal (as on these VMs), every new inode is looked for past the inodes freed
in the last ~30 s (``recently_deleted``): a `down` then `up` of 10 containers spent 30-90 ms of
CPU in ``__ext4_new_inode``, all of it in the block group of the ``containers`` directories, where
every container's files were made and deleted. Marked FS_TOPDIR_FL (``chattr +T``), a directory's
subdirectories are placed by the Orlov allocator as top-level ones, each in a block group of its
own, with the files made in them: 5-9 ms (bench/FINDINGS.md F19). Elsewhere (tmpfs, xfs, btrfs)
the flag does not exist and nothing changes.
"""

from __future__ import annotations

import os
import struct

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_TOPDIR_FL = 0x00020000

_done: set[str] = set()


def spread_subdirs(path: str) -> None:
    """Make directory *path* if missing and mark it FS_TOPDIR_FL where the file system knows the
    flag; once per process and path, quiet on any failure (it is an allocation hint)."""
    if path in _done:
        return
    _done.add(path)
    import fcntl

    os.makedirs(path, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8))[:4])[0]
        if not flags & FS_TOPDIR_FL:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_TOPDIR_FL) + bytes(4))
    except OSError:
        pass  # not ext2/3/4, or not ours to change
    finally:
        os.close(fd)

"""runtime.fsflags.spread_subdirs: the ext4 hint that places each container's directory (and its
files) in a block group of its own (bench/FINDINGS.md F19)."""

from __future__ import annotations

import fcntl
import os
import struct
import tempfile
from pathlib import Path

import pytest

from runtime import fsflags


def _flags(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, fsflags.FS_IOC_GETFLAGS, bytes(8))[:4])[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def test_a_missing_directory_is_made_and_marked_where_the_flag_exists(tmp_path: Path) -> None:
    target = tmp_path / "containers"
    if _flags(tmp_path) is None:
        pytest.skip(f"{tmp_path}'s file system has no inode flags (not ext2/3/4)")
    fsflags.spread_subdirs(str(target))
    flags = _flags(target)
    assert flags is not None and flags & fsflags.FS_TOPDIR_FL
    fsflags.spread_subdirs(str(target))  # once per process: no second look, no error
    assert _flags(target) == flags


def test_a_file_system_without_the_flag_is_left_as_it_is() -> None:
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm (tmpfs) here")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        target = Path(d) / "containers"
        fsflags.spread_subdirs(str(target))  # tmpfs refuses the ioctl: quiet
        assert target.is_dir()

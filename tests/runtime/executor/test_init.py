"""Pure parts of the in-container sequence: mount options, confined path resolution, call order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.executor import syscalls as sc
from runtime.executor.init import InitError, mount_one, parse_mount_options, secure_join
from runtime.executor.syscalls import RecordingSyscalls


def test_options_split_into_flags_propagation_and_data() -> None:
    o = parse_mount_options(["nosuid", "noexec", "nodev", "ro", "mode=755", "size=65536k", "rslave"])
    assert o.flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV | sc.MS_RDONLY
    assert o.propagation == sc.MS_SLAVE | sc.MS_REC and o.data == "mode=755,size=65536k"
    assert parse_mount_options(["ro", "rw"]).flags == 0


def test_secure_join_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")  # absolute: resolved inside root
    os.symlink("../../../..", root / "etc" / "up")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc" / "passwd")
    assert secure_join(str(root), "/etc/up/x") == str(root / "x")
    assert secure_join(str(root), "../../x") == str(root / "x")
    os.symlink("loop", root / "loop")
    with pytest.raises(InitError, match="too many levels"):
        secure_join(str(root), "/loop")


def test_bind_mount_with_ro_remounts_and_sets_propagation(tmp_path: Path) -> None:
    rootfs, src = tmp_path / "rootfs", tmp_path / "src"
    rootfs.mkdir()
    src.mkdir()
    rec = RecordingSyscalls()
    mount_one(
        {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "rprivate", "ro"]},
        str(rootfs),
        rec,
    )
    dest = str(rootfs / "data")
    assert rec.calls == [
        ("mount", (str(src), dest, None, sc.MS_BIND | sc.MS_REC, None)),
        ("mount", (None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY, None)),
        ("mount", (None, dest, None, sc.MS_PRIVATE | sc.MS_REC, None)),
    ]
    assert (rootfs / "data").is_dir()


def test_file_bind_creates_a_file_target_and_fs_mounts_pass_data(tmp_path: Path) -> None:
    rootfs, src = tmp_path / "rootfs", tmp_path / "hosts"
    rootfs.mkdir()
    src.write_text("127.0.0.1 localhost\n")
    rec = RecordingSyscalls()
    mount_one(
        {"destination": "/etc/hosts", "type": "bind", "source": str(src), "options": ["bind"]},
        str(rootfs),
        rec,
    )
    mount_one(
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        str(rootfs),
        rec,
    )
    assert (rootfs / "etc" / "hosts").is_file()
    assert rec.calls[-1] == ("mount", ("tmpfs", str(rootfs / "dev"), "tmpfs", sc.MS_NOSUID, "mode=755"))
    with pytest.raises(InitError, match="bind source /nonexistent does not exist"):
        mount_one({"destination": "/x", "type": "bind", "source": "/nonexistent"}, str(rootfs), rec)

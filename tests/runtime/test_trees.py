"""runtime.trees.remove_tree: shutil.rmtree(ignore_errors=True) without shutil's import. A
container's directories hold what its processes made: links to anywhere, fifos, overlay whiteouts
(0/0 character devices), directories with no permissions."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.trees import remove_tree

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path, outside: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "deep").write_text("x")
    (root / "file").write_text("y")
    (root / "a" / "to_outside").symlink_to(outside)              # a directory link: never followed
    (root / "a" / "to_outside_file").symlink_to(outside / "keep")
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "a" / "fifo")
    (root / "locked").mkdir()
    (root / "locked" / "inside").write_text("z")
    (root / "locked").chmod(0)
    if os.getuid() == 0:
        os.mknod(root / "whiteout", stat.S_IFCHR | 0o600, os.makedev(0, 0))


def test_removes_everything_and_follows_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for root in (ours, theirs):
        _tree(root, outside)
    remove_tree(ours)
    shutil.rmtree(theirs, ignore_errors=True)
    assert not ours.exists() and not theirs.exists()
    assert (outside / "keep").read_text() == "kept"           # what the links named is untouched


@pytest.mark.parametrize("kind", ["missing", "file", "link"])
def test_what_is_not_a_directory_is_left_as_shutil_leaves_it(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "inside").write_text("x")
    path = tmp_path / kind
    if kind == "file":
        path.write_text("f")
    elif kind == "link":
        path.symlink_to(target)
    remove_tree(path)
    assert path.exists() == (kind != "missing") and (target / "inside").exists()


def test_what_cannot_be_removed_stays_and_the_rest_goes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("x")
    (root / "busy").mkdir()
    # a mount point: its directory cannot be removed (EBUSY), nor what the mount holds (read-only)
    if os.getuid() != 0:
        pytest.skip("needs root: a mount")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(root / "busy")], check=True)
    try:
        remove_tree(root)
        assert sorted(p.name for p in root.iterdir()) == ["busy"]
    finally:
        subprocess.run(["umount", str(root / "busy")], check=True)
    remove_tree(root)
    assert not root.exists()


def test_importing_it_imports_no_shutil() -> None:
    code = ("import sys\nsys.path.insert(0, sys.argv[1])\nimport runtime.trees\n"
            "print(sorted(m for m in ('shutil', 'zlib', 'bz2', 'lzma') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(REPO)], capture_output=True,
                         text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"

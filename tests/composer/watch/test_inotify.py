"""The inotify watcher on real directories: changes below a watched path, directories made after
it started (walked, and watched in turn), a path that does not exist yet, and a close that lets
go of the kernel's descriptor."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

import pytest

from composer.errors import ComposerError
from composer.watch.inotify import Watcher


def _drain(w: Watcher, settle: float = 0.2) -> set[str]:
    """What *w* reports until nothing more came for *settle* seconds."""
    out: set[str] = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ready, _, _ = select.select([w], [], [], settle)
        if not ready:
            break
        out.update(w.read())
    return out


def test_files_written_changed_and_removed_below_a_watched_directory(tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "old.txt").write_text("1")
    (tmp_path / "outside.txt").write_text("x")
    with Watcher([str(tmp_path / "src")]) as w:
        w.start()
        (tmp_path / "src" / "a.txt").write_text("a")
        (tmp_path / "src" / "sub" / "old.txt").write_text("2")
        (tmp_path / "outside.txt").write_text("y")
        assert _drain(w) == {f"{tmp_path}/src/a.txt", f"{tmp_path}/src/sub/old.txt"}
        (tmp_path / "src" / "sub" / "old.txt").unlink()
        assert _drain(w) == {f"{tmp_path}/src/sub/old.txt"}


def test_a_directory_made_later_is_walked_and_watched(tmp_path: Path) -> None:
    with Watcher([str(tmp_path)]) as w:
        w.start()
        deep = tmp_path / "n" / "m"
        deep.mkdir(parents=True)
        (deep / "f.txt").write_text("f")
        found = _drain(w)
        assert {f"{tmp_path}/n", f"{tmp_path}/n/m"} <= found
        (deep / "g.txt").write_text("g")  # in a directory watched since
        assert f"{tmp_path}/n/m/g.txt" in _drain(w)


def test_a_path_that_does_not_exist_yet_is_watched_through_its_parent(tmp_path: Path) -> None:
    target = tmp_path / "later" / "src"
    with Watcher([str(target)]) as w:
        w.start()
        (tmp_path / "unrelated.txt").write_text("x")
        target.mkdir(parents=True)
        (target / "f.txt").write_text("f")
        found = _drain(w)
        assert f"{tmp_path}/unrelated.txt" not in found
        (target / "g.txt").write_text("g")
        assert _drain(w) == {f"{target}/g.txt"}


def test_a_watched_file_reports_only_itself(tmp_path: Path) -> None:
    (tmp_path / "conf.ini").write_text("1")
    with Watcher([str(tmp_path / "conf.ini")]) as w:
        w.start()
        (tmp_path / "other").write_text("x")
        (tmp_path / "conf.ini").write_text("2")
        assert _drain(w) == {f"{tmp_path}/conf.ini"}


def test_close_releases_the_inotify_descriptor(tmp_path: Path) -> None:
    w = Watcher([str(tmp_path)])
    w.start()
    fd = w.fileno()
    assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
    w.close()
    assert w.fd == -1
    link = f"/proc/self/fd/{fd}"
    assert not os.path.exists(link) or os.readlink(link) != "anon_inode:inotify"


def test_the_root_directory_cannot_be_watched() -> None:
    w = Watcher(["/nonexistent-xyz/a"])
    try:
        with pytest.raises(ComposerError, match="cannot watch root directory"):
            w.start()
    finally:
        w.close()

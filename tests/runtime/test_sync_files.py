"""copy_tree.sync_in, the file work of a compose watch sync, on a directory standing for a
container's root: files written with their owners, directories as themselves, deletions, and
every path resolved inside the root (a link the container holds never leads out of it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.copy_tree import sync_in


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "srv").mkdir(parents=True)
    return r


def test_files_are_written_where_named_with_parents_made(tmp_path: Path, root: Path) -> None:
    host = tmp_path / "host"
    (host / "d").mkdir(parents=True)
    (host / "a.txt").write_text("a")
    (host / "d" / "b.txt").write_text("b")
    os.chmod(host / "a.txt", 0o640)
    copies = [(str(host / "a.txt"), "/srv/a.txt"), (str(host / "d" / "b.txt"), "/srv/new/d/b.txt")]
    sync_in(str(root), copies, [])
    assert (root / "srv" / "a.txt").read_text() == "a"
    assert (root / "srv" / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (root / "srv" / "new" / "d" / "b.txt").read_text() == "b"


def test_a_directory_is_synced_as_itself_not_with_its_contents(tmp_path: Path, root: Path) -> None:
    host = tmp_path / "host"
    (host / "d").mkdir(parents=True)
    (host / "d" / "ignored.tmp").write_text("x")
    sync_in(str(root), [(str(host / "d"), "/srv/d")], [])
    assert (root / "srv" / "d").is_dir()
    assert not (root / "srv" / "d" / "ignored.tmp").exists()


def test_an_existing_file_is_replaced_and_a_deleted_path_removed(tmp_path: Path, root: Path) -> None:
    (root / "srv" / "old.txt").write_text("old")
    (root / "srv" / "gone").mkdir()
    (root / "srv" / "gone" / "x").write_text("x")
    host = tmp_path / "old.txt"
    host.write_text("new")
    sync_in(str(root), [(str(host), "/srv/old.txt")], ["/srv/gone", "/srv/never-was"])
    assert (root / "srv" / "old.txt").read_text() == "new"
    assert not (root / "srv" / "gone").exists()


@pytest.mark.privileged
def test_owners_are_kept(tmp_path: Path, root: Path) -> None:
    host = tmp_path / "owned.txt"
    host.write_text("o")
    os.chown(host, 1234, 5678)
    sync_in(str(root), [(str(host), "/srv/owned.txt")], [])
    st = (root / "srv" / "owned.txt").stat()
    assert (st.st_uid, st.st_gid) == (1234, 5678)


def test_links_in_the_container_never_lead_out_of_its_root(tmp_path: Path, root: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (root / "srv" / "out").symlink_to(outside)  # an absolute link: resolved inside the root
    (root / "srv" / "victim").symlink_to(outside / "keep.txt")
    host = tmp_path / "f.txt"
    host.write_text("f")
    sync_in(str(root), [(str(host), "/srv/out/f.txt")], ["/srv/out/keep.txt", "/srv/victim"])
    assert not (outside / "f.txt").exists()
    assert (outside / "keep.txt").read_text() == "keep"
    assert not (root / "srv" / "victim").is_symlink()  # the link itself went, not its target
    assert (root / outside.relative_to("/") / "f.txt").read_text() == "f"

"""VolumeManager: create/get/list/remove/prune, in-use refusal, docker's copy-up."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.errors import Conflict, InvalidSpec, NotFound
from runtime.paths import Paths
from runtime.spec import VolumeSpec
from runtime.state import Store
from runtime.volumes import VolumeManager


@pytest.fixture
def volumes(engine_paths: tuple[Path, Path]) -> Iterator[VolumeManager]:
    paths = Paths(root=str(engine_paths[0]), rundir=str(engine_paths[1]))
    store = Store(paths.db)
    yield VolumeManager(paths, store)
    store.close()


def _use(vm: VolumeManager, cid: str, *names: str) -> None:
    with vm.store.transaction() as tx:
        tx.put("container", cid, {"name": f"demo-{cid}", "volume_names": list(names)}, name=f"demo-{cid}")


def test_create_makes_the_data_dir_and_is_idempotent_with_same_labels(volumes: VolumeManager) -> None:
    spec = VolumeSpec(name="demo_data", labels={"com.docker.compose.project": "demo"})
    v = volumes.create(spec)
    assert v.mountpoint == str(Path(volumes.paths.volumes) / "demo_data" / "_data")
    assert Path(v.mountpoint).is_dir() and stat.S_IMODE(os.stat(v.mountpoint).st_mode) == 0o755
    assert volumes.create(spec) == v
    # moby's store returns the volume there whatever was asked (docker volume create succeeds)
    other = VolumeSpec(name="demo_data", labels={"x": "y"}, driver_opts={"type": "tmpfs", "device": "tmpfs"})
    assert volumes.create(other) == v
    assert volumes.get("demo_data") == v


def test_driver_options_are_recorded_and_unknown_ones_refused(volumes: VolumeManager) -> None:
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    v = volumes.create(VolumeSpec(name="tmpvol", driver_opts=opts))
    assert v.options == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    with pytest.raises(InvalidSpec, match="unknown driver option 'colour'"):
        volumes.create(VolumeSpec(name="v2", driver_opts={"colour": "red"}))
    with pytest.raises(InvalidSpec, match="invalid name"):
        volumes.create(VolumeSpec(name="../etc"))
    assert not (Path(volumes.paths.volumes) / "v2").exists()
    # moby's mandatory options: a type mounts a device, o goes with both (as docker refuses them)
    for given, missing in (({"type": "tmpfs"}, "type needs device"), ({"device": "/x"}, "device needs type"),
                           ({"o": "bind"}, "o needs device")):
        with pytest.raises(InvalidSpec, match=f"^volume v3: driver option {missing} "):
            volumes.create(VolumeSpec(name="v3", driver_opts=given))
    assert volumes.list() == [v]


def test_anonymous_volume_has_a_64_hex_name(volumes: VolumeManager) -> None:
    v = volumes.create_anonymous({"com.docker.compose.project": "demo"})
    assert len(v.name) == 64 and int(v.name, 16) >= 0 and v.anonymous
    assert volumes.get(v.name).anonymous


def test_remove_owned_takes_the_directory_a_killed_create_left_without_a_row(volumes: VolumeManager) -> None:
    """A container's create names its anonymous volume in its row, then makes the volume: a kill
    between the volume's directory and its row leaves a directory no row names but the owner's.
    Its removal (rm -v, run --rm) takes it; another container's volume of no row stays."""
    name = os.urandom(32).hex()
    _use(volumes, "c1", name)
    vdir = Path(volumes.paths.volumes) / name
    (vdir / "_data").mkdir(parents=True)
    assert volumes.remove_owned(name, "c1") is False  # no volume was there to remove
    assert not vdir.exists()
    other = os.urandom(32).hex()
    _use(volumes, "c2", other)
    (Path(volumes.paths.volumes) / other / "_data").mkdir(parents=True)
    assert volumes.remove_owned(other, "c1") is False
    assert (Path(volumes.paths.volumes) / other).exists()  # c2 names it: not c1's to take


def test_list_filters_by_labels(volumes: VolumeManager) -> None:
    volumes.create(VolumeSpec(name="a1", labels={"p": "a", "k": "1"}))
    volumes.create(VolumeSpec(name="b1", labels={"p": "b"}))
    assert [v.name for v in volumes.list()] == ["a1", "b1"]
    assert [v.name for v in volumes.list({"p": "b"})] == ["b1"]
    assert [v.name for v in volumes.list({"k": None})] == ["a1"]
    assert volumes.list({"p": "c"}) == []


def test_remove_refuses_while_in_use_and_deletes_data_after(volumes: VolumeManager) -> None:
    v = volumes.create(VolumeSpec(name="busy"))
    Path(v.mountpoint, "f").write_text("x")
    _use(volumes, "c1", "busy")
    with pytest.raises(Conflict, match="^remove busy: volume is in use - \\[c1\\]$"):
        volumes.remove("busy")
    with volumes.store.transaction() as tx:
        tx.delete("container", "c1")
    assert volumes.remove("busy") is True
    assert not Path(v.mountpoint).exists() and not (Path(volumes.paths.volumes) / "busy").exists()
    with pytest.raises(NotFound, match="^get busy: no such volume$"):
        volumes.remove("busy")
    assert volumes.remove("busy", force=True) is False


def test_prune_removes_unused_volumes_matching_labels(volumes: VolumeManager) -> None:
    for name, p in [("a1", "a"), ("a2", "a"), ("b1", "b")]:
        volumes.create(VolumeSpec(name=name, labels={"p": p}))
    _use(volumes, "c1", "a2")
    assert volumes.prune({"p": "a"}, all=True) == [("a1", 0)]
    assert [v.name for v in volumes.list()] == ["a2", "b1"]
    assert volumes.prune(all=True, without={"p": "b"}) == []
    assert volumes.prune(all=True) == [("b1", 0)]


def test_prune_takes_only_anonymous_volumes_unless_all_and_never_one_with_options(
    volumes: VolumeManager,
) -> None:
    """As moby's volume prune since API 1.42: named volumes stay unless --all (or all=true); a
    volume with driver options (a host directory, a device) is never pruned."""
    volumes.create(VolumeSpec(name="named"))
    volumes.create(VolumeSpec(name="device", driver_opts={"type": "tmpfs", "device": "tmpfs"}))
    anon = volumes.create_anonymous()
    assert anon.labels == {"com.docker.volume.anonymous": ""}
    Path(anon.mountpoint, "f").write_text("12345")
    assert volumes.prune() == [(anon.name, 5)]
    assert [v.name for v in volumes.list()] == ["device", "named"]
    assert volumes.prune(all=True) == [("named", 0)]
    assert [v.name for v in volumes.list()] == ["device"]


def test_populate_from_image_copies_once_with_owner_modes_and_symlinks(volumes: VolumeManager,
                                                                       tmp_path: Path) -> None:
    src = tmp_path / "rootfs" / "var" / "lib" / "app"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "conf").write_text("k=v")
    os.chown(src / "sub" / "conf", 33, 33)
    os.chmod(src / "sub" / "conf", 0o640)
    os.symlink("/etc/passwd", src / "link")
    os.chown(src, 33, 34)
    os.chmod(src, 0o750)
    v = volumes.create(VolumeSpec(name="appdata"))
    assert volumes.populate_from_image(v, src) is True
    data = Path(v.mountpoint)
    assert (data / "sub" / "conf").read_text() == "k=v"
    st = os.lstat(data / "sub" / "conf")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (33, 33, 0o640)
    assert os.readlink(data / "link") == "/etc/passwd"
    root = os.stat(data)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (33, 34, 0o750)
    (src / "later").write_text("new")
    assert volumes.populate_from_image("appdata", src) is False  # only the first mount copies
    assert not (data / "later").exists()


def test_populate_skips_a_volume_that_already_has_data(volumes: VolumeManager, tmp_path: Path) -> None:
    src = tmp_path / "img"
    src.mkdir()
    (src / "a").write_text("image")
    v = volumes.create(VolumeSpec(name="full"))
    Path(v.mountpoint, "mine").write_text("user")
    assert volumes.populate_from_image(v, src) is False
    assert sorted(os.listdir(v.mountpoint)) == ["mine"]
    empty = volumes.create(VolumeSpec(name="empty"))
    assert volumes.populate_from_image(empty, tmp_path / "missing") is False

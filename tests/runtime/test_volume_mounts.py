"""Volumes in real containers as docker's daemon mounts them: the image's VOLUMEs, volumes whose
local driver options name a device (a host directory bound, a tmpfs), and subpaths that stay inside
their volume."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.errors import Conflict, ExecError, InvalidSpec
from runtime.spec import ContainerSpec, ExecSpec, Mount, VolumeSpec
from tests.runtime.test_containers import IMAGE, run, spec

pytestmark = pytest.mark.privileged


def _volume(target: str, source: str = "", **kw: object) -> Mount:
    return Mount(type="volume", source=source, target=target, **kw)  # type: ignore[arg-type]


def test_an_image_volume_is_mounted_with_its_copied_content(engine: Engine, busybox_tar: Path) -> None:
    engine.images.import_tarball(busybox_tar, "localhost/withvol:latest",
                                 changes=['VOLUME ["/etc", "/data"]'])
    s = ContainerSpec(name="t-imgvol", image="localhost/withvol:latest", network_mode="none",
                      command=("sh", "-c", "cat /etc/group >/dev/null && echo kept > /data/f && "
                               "grep -c ' /data ' /proc/mounts"))
    code, out, _ = run(engine, s)
    assert (code, out) == (0, "1\n")  # /data is a mount, not the container's own layer
    c = engine.containers.list(all=True)[0]
    targets = dict(c.mounts)
    assert sorted(targets) == ["/data", "/etc"]
    data = engine.volumes.get(targets["/data"])
    assert Path(data.mountpoint, "f").read_text() == "kept\n"
    assert Path(engine.volumes.get(targets["/etc"]).mountpoint, "group").exists()  # copy-up
    engine.containers.remove(c.id, volumes=True)
    assert engine.volumes.list() == []


def test_a_volume_that_binds_a_host_dir_shows_it_and_takes_the_copy_up_when_empty(
    engine: Engine, tmp_path: Path
) -> None:
    full, empty = tmp_path / "full", tmp_path / "empty"
    full.mkdir()
    (full / "h.txt").write_text("host\n")
    empty.mkdir()
    for name, device in (("hostdir", full), ("emptydir", empty)):
        engine.volumes.create(VolumeSpec(name=name, driver_opts={"type": "none", "o": "bind",
                                                                  "device": str(device)}))
    code, out, _ = run(engine, spec("t-devbind", "sh", "-c", "cat /h/h.txt; echo new > /h/n; ls /etc",
                                    mounts=(_volume("/h", "hostdir"), _volume("/etc", "emptydir"))))
    assert code == 0 and out.startswith("host\n") and "passwd" in out
    assert (full / "n").read_text() == "new\n"
    assert {"group", "passwd"} <= set(os.listdir(empty))  # docker copies into the empty host dir
    assert os.listdir(engine.volumes.get("hostdir").mountpoint) == []  # no copy-up into the unused dir
    code, _, err = run(engine, spec("t-devbind-ro", "sh", "-c", "touch /h/x",
                                    mounts=(_volume("/h", "hostdir", read_only=True),)))
    assert code != 0 and "Read-only file system" in err
    assert not _mounted(engine, "hostdir") and not _mounted(engine, "emptydir")  # both exited


def test_a_volume_whose_mount_fails_fails_the_start_or_the_create_that_copies_into_it(
    engine: Engine, tmp_path: Path
) -> None:
    """moby: a local volume is mounted at the start (setupMounts), and at the create only to copy
    the image's files in (populateVolume): there the create fails and nothing stays."""
    engine.volumes.create(VolumeSpec(name="gone", driver_opts={"type": "none", "o": "bind",
                                                               "device": str(tmp_path / "nope")}))
    data = engine.volumes.get("gone").mountpoint
    c = engine.containers.create(spec("t-devbind-gone", "true", mounts=(_volume("/x", "gone"),)))
    assert (c.status, c.error) == ("created", "")
    want = (f"container t-devbind-gone: error while mounting volume '{data}': failed to mount local "
            f"volume: mount {tmp_path}/nope:{data}, flags: 0x1000: no such file or directory")
    with pytest.raises(ExecError) as err:
        engine.containers.start(c.id)
    assert str(err.value) == want
    c = engine.containers.get(c.id)
    assert (c.status, c.exit_code, c.error) == ("created", 128, want)
    with pytest.raises(ExecError, match="^container t-devbind-run: error while mounting volume"):
        engine.containers.create(spec("t-devbind-run", "true", mounts=(_volume("/x", "gone"),)), start=True)
    assert engine.containers.get("t-devbind-run").status == "created"
    with pytest.raises(InvalidSpec, match="^container t-devbind-etc: failed to populate volume: error "
                                          "while mounting volume .*: failed to mount local volume: mount "):
        engine.containers.create(spec("t-devbind-etc", "true", mounts=(_volume("/etc", "gone"),)))
    assert sorted(x.name for x in engine.containers.list(all=True)) == ["t-devbind-gone", "t-devbind-run"]
    assert not _mounted(engine, "gone")
    engine.volumes.create(VolumeSpec(name="odd", driver_opts={"type": "nosuchfs", "device": "x"}))
    with pytest.raises(ExecError, match="failed to mount local volume: mount x:.*/odd/_data: no such device "
                                        r"\(filesystem type 'nosuchfs' not supported by the kernel\)$"):
        engine.containers.create(spec("t-odd", "true", mounts=(_volume("/x", "odd"),)), start=True)


def _mounted(engine: Engine, volume: str) -> bool:
    data = engine.volumes.get(volume).mountpoint
    return any(line.split()[4] == data for line in Path("/proc/self/mountinfo").read_text().splitlines())


def test_a_tmpfs_volume_is_one_mount_shared_by_its_running_containers_and_gone_with_the_last(
    engine: Engine,
) -> None:
    """docker's local driver mounts a device volume once, on its own directory, while containers
    use it: two running containers see the same files, and its data goes when the last one stops."""
    engine.volumes.create(VolumeSpec(name="shm", driver_opts={"type": "tmpfs", "device": "tmpfs",
                                                              "o": "size=2m"}))
    writer = engine.containers.create(spec("t-share-a", "sh", "-c", "echo hi > /s/f; sleep 60",
                                           mounts=(_volume("/s", "shm"),)), start=True)
    reader = engine.containers.create(spec("t-share-b", "sh", "-c", "sleep 60",
                                           mounts=(_volume("/s", "shm"),)), start=True)
    assert _mounted(engine, "shm")
    assert _exec_out(engine, reader.id, "cat /s/f") == "hi\n"
    engine.containers.stop(writer.id, timeout=0)
    assert _mounted(engine, "shm") and _exec_out(engine, reader.id, "cat /s/f") == "hi\n"
    engine.containers.stop(reader.id, timeout=0)
    assert not _mounted(engine, "shm")  # the last user stopped: unmounted, its data gone
    engine.containers.start(reader.id)
    assert _exec_out(engine, reader.id, "ls -A /s") == ""
    with pytest.raises(Conflict):
        engine.volumes.remove("shm")
    engine.containers.remove(reader.id, force=True)
    assert not _mounted(engine, "shm")  # removed while running: its last user gone
    engine.containers.remove(writer.id)
    engine.volumes.remove("shm")


def test_a_tmpfs_volume_left_mounted_by_no_running_container_is_mounted_afresh(engine: Engine) -> None:
    """The count is what runs, not a number kept somewhere: a mount a crash left (its containers
    all gone) is not taken for a live one's, and a container exiting on its own releases it."""
    engine.volumes.create(VolumeSpec(name="stale", driver_opts={"type": "tmpfs", "device": "tmpfs"}))
    data = engine.volumes.get("stale").mountpoint
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", data], check=True)
    Path(data, "old").write_text("crash\n")
    code, out, _ = run(engine, spec("t-stale", "ls", "-A", "/s", mounts=(_volume("/s", "stale"),)))
    assert (code, out) == (0, "")
    assert not _mounted(engine, "stale")  # the exit, folded by wait, was its last user's


def _exec_out(engine: Engine, cid: str, script: str) -> str:
    r, w = os.pipe()
    try:
        code = engine.containers.exec(cid, ExecSpec(command=("sh", "-c", script)), stdout=w, stderr=w)
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    assert code == 0, out
    return out


def test_a_tmpfs_volume_is_a_tmpfs_with_its_options(engine: Engine) -> None:
    engine.volumes.create(VolumeSpec(name="scratch", driver_opts={"type": "tmpfs", "device": "tmpfs",
                                                                  "o": "size=3m,uid=1000"}))
    code, out, _ = run(engine, spec("t-devtmpfs", "sh", "-c", "grep ' /s ' /proc/mounts; stat -c %u /s",
                                    mounts=(_volume("/s", "scratch"),)))
    assert code == 0
    assert out.split()[:3] == ["tmpfs", "/s", "tmpfs"] and "size=3072k" in out and out.endswith("1000\n")


def test_a_subpath_stays_inside_its_volume(engine: Engine) -> None:
    engine.volumes.create(VolumeSpec(name="shared"))
    code, _, _ = run(engine, spec("t-sub-writer", "sh", "-c",
                                  "mkdir -p /v/real/dir && echo in > /v/real/dir/f && "
                                  "ln -s real/dir /v/inner && ln -s / /v/root && ln -s ../../../.. /v/up",
                                  mounts=(_volume("/v", "shared"),)))
    assert code == 0
    code, out, _ = run(engine, spec("t-sub-inner", "cat", "/x/f",
                                    mounts=(_volume("/x", "shared", subpath="inner"),)))
    assert (code, out) == (0, "in\n")  # a link that stays inside the volume is followed, as docker's
    for sub in ("root", "up", "../../../../etc", "real/../../.."):
        with pytest.raises(ExecError, match="path concatenation escapes the base directory"):
            run(engine, spec(f"t-sub-{len(sub)}", "ls", "/x", mounts=(_volume("/x", "shared", subpath=sub),)))
    with pytest.raises(ExecError, match="cannot access path .*/missing: no such file or directory"):
        run(engine, spec("t-sub-missing", "ls", "/x", mounts=(_volume("/x", "shared", subpath="missing"),)))


def test_volumes_from_rw_keeps_a_read_only_mount_read_only(engine: Engine, tmp_path: Path) -> None:
    """moby: a copied mount is RW only when it was and the mode allows (m.RW && ReadWrite(mode))."""
    (tmp_path / "src").mkdir()
    donor = engine.containers.create(spec("t-from-donor", "true", mounts=(
        Mount(type="bind", source=str(tmp_path / "src"), target="/ro", read_only=True),
        _volume("/rw", "fromvol"))))
    probe = "for d in /ro /rw; do touch $d/x 2>/dev/null && echo $d:rw || echo $d:ro; done"
    for mode, want in (("", "/ro:ro\n/rw:rw\n"), (":rw", "/ro:ro\n/rw:rw\n"), (":ro", "/ro:ro\n/rw:ro\n")):
        code, out, _ = run(engine, spec(f"t-from{mode.replace(':', '-')}", "sh", "-c", probe,
                                        volumes_from=(f"{donor.id}{mode}",)))
        assert (code, out) == (0, want), mode


def test_copy_up_fills_a_volume_whenever_a_create_finds_it_empty(engine: Engine) -> None:
    """moby's populateVolume at each create: a volume an earlier container mounted over an empty
    directory (/tmp: nothing to copy, its mode taken) still takes /etc's files at the next create,
    and again once emptied; one with data is left as it is."""
    engine.volumes.create(VolumeSpec(name="lazy"))
    data = Path(engine.volumes.get("lazy").mountpoint)
    assert run(engine, spec("t-copy-tmp", "true", mounts=(_volume("/tmp", "lazy"),)))[0] == 0
    assert os.listdir(data) == [] and os.stat(data).st_mode & 0o7777 == 0o1777
    assert run(engine, spec("t-copy-etc", "true", mounts=(_volume("/etc", "lazy"),)))[0] == 0
    assert {"group", "passwd"} <= set(os.listdir(data))
    (data / "group").write_text("mine\n")
    assert run(engine, spec("t-copy-again", "true", mounts=(_volume("/etc", "lazy"),)))[0] == 0
    assert (data / "group").read_text() == "mine\n"
    for child in data.iterdir():
        child.unlink()
    assert run(engine, spec("t-copy-emptied", "true", mounts=(_volume("/etc", "lazy"),)))[0] == 0
    assert (data / "group").read_text() != "mine\n" and (data / "passwd").exists()


def test_copy_up_goes_into_an_empty_subpath_and_never_out_of_the_volume(engine: Engine,
                                                                         tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    engine.volumes.create(VolumeSpec(name="withsub"))
    data = Path(engine.volumes.get("withsub").mountpoint)
    (data / "conf").mkdir()
    os.symlink(str(outside), data / "out")
    code, out, _ = run(engine, spec("t-subcopy", "ls", "/etc",
                                    mounts=(_volume("/etc", "withsub", subpath="conf"),)))
    assert code == 0 and "passwd" in out.split()
    assert {"group", "passwd"} <= set(os.listdir(data / "conf"))
    with pytest.raises(ExecError, match="path concatenation escapes the base directory"):
        run(engine, spec("t-subcopy-out", "true", mounts=(_volume("/etc", "withsub", subpath="out"),)))
    assert os.listdir(outside) == []


def test_a_read_only_bind_is_read_only_with_the_mounts_under_it(engine: Engine, tmp_path: Path) -> None:
    """docker >= 25 makes a read-only mount recursively read-only ("rro"): a `/:/host:ro` must not
    leave the host's /tmp or /run writable below it."""
    import subprocess

    host = tmp_path / "host"
    (host / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(host / "sub")], check=True)
    try:
        probe = ("for d in /r/sub /w/sub /rw/sub; do touch $d/x 2>/dev/null && echo $d:rw || echo $d:ro; "
                 "done; grep -c ' /flat/sub ' /proc/mounts")
        code, out, _ = run(engine, spec("t-rro", "sh", "-c", probe, mounts=(
            Mount(type="bind", source=str(host), target="/r", read_only=True),
            Mount(type="bind", source=str(host), target="/w"),
            # compose's bind.recursive: writable keeps what is under a read-only top writable,
            # disabled binds the directory alone
            Mount(type="bind", source=str(host), target="/rw", read_only=True, recursive="writable"),
            Mount(type="bind", source=str(host), target="/flat", recursive="disabled"))))
        assert (code, out) == (1, "/r/sub:ro\n/w/sub:rw\n/rw/sub:rw\n0\n")
    finally:
        subprocess.run(["umount", "-l", str(host / "sub")], check=True)


def _with_layer(engine: Engine, base: str, ref: str, layer: bytes, tmp_path: Path) -> None:
    """Image *ref*: *base* with one more layer on top (a docker-archive saved, extended, loaded)."""
    import hashlib
    import io
    import json
    import tarfile

    saved = tmp_path / "base.tar"
    engine.images.save([base], saved)
    out = tmp_path / "layered.tar"
    with tarfile.open(saved) as src, tarfile.open(out, "w") as dst:
        files = {m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}  # type: ignore[union-attr]
        [entry] = json.loads(files.pop("manifest.json"))
        config = json.loads(files.pop(entry["Config"]))
        config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(layer).hexdigest())
        raw = json.dumps(config).encode()
        files["top.tar"] = layer
        files[hashlib.sha256(raw).hexdigest() + ".json"] = raw
        manifest = [{"Config": hashlib.sha256(raw).hexdigest() + ".json", "RepoTags": [ref],
                     "Layers": [*entry["Layers"], "top.tar"]}]
        files["manifest.json"] = json.dumps(manifest).encode()
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    engine.images.load(out)


def test_copy_up_takes_the_directory_as_the_container_sees_it_across_layers(engine: Engine,
                                                                           tmp_path: Path) -> None:
    """The image's layers merged as overlayfs shows them: a file of a lower layer is copied, one a
    whiteout removed is not, an opaque directory hides the lower layers' content of its own."""
    from tests.runtime.images.layertar import LayerTar

    top = (LayerTar().dir("etc").file("etc/added", b"top\n").chardev("etc/.wh.group", 0, 0)
           .dir("etc/conf").file("etc/conf/.wh..wh..opq", b"").file("etc/conf/new", b"n\n").bytes())
    lower = LayerTar().dir("etc").dir("etc/conf").file("etc/conf/old", b"o\n").bytes()
    _with_layer(engine, IMAGE, "localhost/mid:latest", lower, tmp_path)
    _with_layer(engine, "localhost/mid:latest", "localhost/layered:latest", top, tmp_path)
    engine.volumes.create(VolumeSpec(name="merged"))
    code, out, _ = run(engine, ContainerSpec(name="t-merged", image="localhost/layered:latest",
                                             network_mode="none", command=("ls", "/etc", "/etc/conf"),
                                             mounts=(_volume("/etc", "merged"),)))
    assert code == 0
    data = Path(engine.volumes.get("merged").mountpoint)
    assert {"added", "passwd", "conf"} <= set(os.listdir(data))  # the top layer's and the base's
    assert not (data / "group").exists()  # removed by the top layer's whiteout
    assert os.listdir(data / "conf") == ["new"]  # opaque: the lower layer's old is hidden

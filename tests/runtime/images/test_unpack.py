"""Layer unpacking: malicious archives are refused and leave nothing behind; whiteouts become real
overlay whiteouts; metadata survives."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from runtime.errors import ImageError
from runtime.images.unpack import unpack_layer
from tests.runtime.images.layertar import LayerTar


def _digest(p: Path) -> str:
    return "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()


def _unpack(tmp_path: Path, layer: LayerTar, name: str = "layer.tar") -> Path:
    blob = layer.write(tmp_path / name)
    return unpack_layer(blob, tmp_path / "layers", None, what="test layer").path


def _nothing_left(tmp_path: Path) -> bool:
    root = tmp_path / "layers"
    return not root.exists() or list(root.iterdir()) == []


@pytest.mark.parametrize("layer, message", [
    (LayerTar().file("/etc/evil"), "unsafe absolute path '/etc/evil'"),
    (LayerTar().file("../evil"), "unsafe path '../evil' leaves the layer"),
    (LayerTar().dir("a").file("a/../../evil"), "leaves the layer"),
    (LayerTar().file("ok").hardlink("h", "../../etc/passwd"), "hard link 'h' points out of the layer"),
    (LayerTar().hardlink("h", "/etc/passwd"), "hard link 'h' points out of the layer"),
    (LayerTar().hardlink("h", "missing"), "target 'missing' does not exist"),
    (LayerTar().chardev("dev/mem", 1, 1), "device node 'dev/mem' is not allowed"),
])
def test_malicious_layer_is_refused_and_leaves_nothing(tmp_path: Path, layer: LayerTar, message: str) -> None:
    with pytest.raises(ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _unpack(tmp_path, layer)
    assert _nothing_left(tmp_path)


def test_symlink_then_file_cannot_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layer = LayerTar().symlink("evil", str(outside)).file("evil/pwned", b"gotcha")
    with pytest.raises(ImageError, match="'evil' is a symlink"):
        _unpack(tmp_path, layer)
    assert list(outside.iterdir()) == []
    assert _nothing_left(tmp_path)


def test_relative_symlink_then_file_cannot_escape(tmp_path: Path) -> None:
    layer = LayerTar().dir("d").symlink("d/up", "../../..").file("d/up/tmp/pwned")
    with pytest.raises(ImageError, match="symlink"):
        _unpack(tmp_path, layer)
    assert _nothing_left(tmp_path)


def test_symlinks_are_kept_as_they_are_never_followed(tmp_path: Path) -> None:
    out = _unpack(tmp_path, LayerTar().symlink("etc-link", "/etc").symlink("up", "../../..").file("f", b"1"))
    assert os.readlink(out / "etc-link") == "/etc"
    assert os.readlink(out / "up") == "../../.."


def test_whiteouts_become_overlay_whiteouts_and_opaque_xattr(tmp_path: Path) -> None:
    out = _unpack(tmp_path, LayerTar().file(".wh.gone").dir("dir").file("dir/.wh..wh..opq").file("dir/new"))
    st = os.lstat(out / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(out / "dir", "trusted.overlay.opaque") == b"y"
    assert not (out / ".wh.gone").exists() and not (out / "dir" / ".wh..wh..opq").exists()
    assert (out / "dir" / "new").is_file()


def test_ownership_modes_mtimes_xattrs_and_hardlinks_are_kept(tmp_path: Path) -> None:
    layer = LayerTar()
    layer.dir("d", mode=0o750, uid=1000, gid=1001, mtime=5000)
    layer.file("d/suid", b"#!", mode=0o4755, uid=0, gid=0, mtime=1234)
    layer.file("d/owned", b"o", uid=33, gid=33, mode=0o600,
               pax_headers={"SCHILY.xattr.user.note": "hi", "SCHILY.xattr.trusted.overlay.redirect": "/x"})
    layer.hardlink("d/link", "d/owned")
    out = _unpack(tmp_path, layer)
    d = os.lstat(out / "d")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, d.st_gid, int(d.st_mtime)) == (0o750, 1000, 1001, 5000)
    s = os.lstat(out / "d" / "suid")
    assert (stat.S_IMODE(s.st_mode), int(s.st_mtime)) == (0o4755, 1234)
    o = os.lstat(out / "d" / "owned")
    assert (o.st_uid, o.st_gid, stat.S_IMODE(o.st_mode)) == (33, 33, 0o600)
    assert os.getxattr(out / "d" / "owned", "user.note") == b"hi"
    assert "trusted.overlay.redirect" not in os.listxattr(out / "d" / "owned")  # never from an image
    assert os.lstat(out / "d" / "link").st_ino == o.st_ino


def test_gzip_layer_gets_the_diff_id_of_its_uncompressed_tar(tmp_path: Path) -> None:
    raw = LayerTar().file("a", b"hello").bytes()
    blob = tmp_path / "l.tar.gz"
    blob.write_bytes(gzip.compress(raw))
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    res = unpack_layer(blob, tmp_path / "layers", diff_id, what="gz")
    assert res.path == tmp_path / "layers" / diff_id[7:]
    assert (res.path / "a").read_bytes() == b"hello"
    assert res.size == len(raw)


def test_zstd_layer_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    blob = tmp_path / "l.zst"
    blob.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 100)
    with pytest.raises(ImageError, match="zstd-compressed layers are not supported"):
        unpack_layer(blob, tmp_path / "layers", None, what="zst")
    assert _nothing_left(tmp_path)


def test_diff_id_mismatch_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    blob = LayerTar().file("a").write(tmp_path / "l.tar")
    with pytest.raises(ImageError, match="diff id mismatch"):
        unpack_layer(blob, tmp_path / "layers", "sha256:" + "0" * 64, what="bad")
    assert _nothing_left(tmp_path)


def test_concurrent_unpacks_of_one_layer_are_safe(tmp_path: Path) -> None:
    layer = LayerTar()
    for i in range(200):
        layer.file(f"f{i}", b"x" * 1000)
    blob = layer.write(tmp_path / "l.tar")
    diff_id = _digest(blob)
    results, errors = [], []

    def work() -> None:
        try:
            results.append(unpack_layer(blob, tmp_path / "layers", None, what="c").path)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {tmp_path / "layers" / diff_id[7:]}
    assert [p.name for p in (tmp_path / "layers").iterdir()] == [diff_id[7:]]
    assert len(list(results[0].iterdir())) == 200


@pytest.mark.privileged
def test_overlay_mount_hides_whited_out_files_and_opaque_dirs(tmp_path: Path) -> None:
    lower = _unpack(tmp_path, LayerTar().file("gone", b"1").dir("dir").file("dir/old", b"2")
                    .file("kept", b"3"), "lower.tar")
    upper = _unpack(tmp_path, LayerTar().file(".wh.gone").dir("dir").file("dir/.wh..wh..opq")
                    .file("dir/new", b"4"), "upper.tar")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={upper}:{lower}", str(mnt)],
                   check=True)
    try:
        assert sorted(os.listdir(mnt)) == ["dir", "kept"]
        assert os.listdir(mnt / "dir") == ["new"]
        assert (mnt / "kept").read_bytes() == b"3"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    assert str(mnt) not in Path("/proc/mounts").read_text()


def test_rootless_mode_uses_user_overlay_xattrs_and_keeps_our_ownership(tmp_path: Path) -> None:
    layer = LayerTar().dir("dir", uid=1000, gid=1000).file("dir/.wh..wh..opq").file("f", uid=5, gid=5)
    blob = layer.write(tmp_path / "l.tar")
    out = unpack_layer(blob, tmp_path / "layers", None, what="rootless", rootless=True).path
    assert os.getxattr(out / "dir", "user.overlay.opaque") == b"y"
    assert "trusted.overlay.opaque" not in os.listxattr(out / "dir")
    assert os.lstat(out / "f").st_uid == os.geteuid()


def test_concurrent_imports_from_two_processes_share_one_layer(engine_paths: tuple[Path, Path],
                                                                busybox_tar: Path) -> None:
    import sys

    argv = [sys.executable, "-m", "composer", "image", "import", "-q", str(busybox_tar)]
    procs = [subprocess.Popen([*argv, f"localhost/p{i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    layers = [p.name for p in (engine_paths[0] / "layers").iterdir()]
    assert len(layers) == 1 and not layers[0].startswith(".tmp-")
    assert (engine_paths[0] / "layers" / layers[0] / "bin" / "busybox").is_file()


def test_layers_root_is_private_so_host_users_cannot_reach_setuid_binaries(tmp_path: Path) -> None:
    out = _unpack(tmp_path, LayerTar().file("bin/su", b"#!", mode=0o4755))
    assert stat.S_IMODE(os.stat(out.parent).st_mode) == 0o700

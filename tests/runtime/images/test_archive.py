"""load/save of docker-archive and oci-archive, cross-checked with skopeo (Debian's)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtime.errors import ImageError
from runtime.images import ImageStore
from runtime.paths import Paths
from runtime.state import Store

SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed (make deps)")


@pytest.fixture
def images(engine_paths: tuple[Path, Path]) -> ImageStore:
    paths = Paths(root=str(engine_paths[0]), rundir=str(engine_paths[1]))
    store = Store(paths.db)
    yield ImageStore(paths, store)  # type: ignore[misc]
    store.close()


@pytest.fixture
def busybox(images: ImageStore, busybox_tar: Path) -> str:
    return images.import_tarball(busybox_tar, "localhost/busybox:latest", changes=['CMD ["sh"]']).id


def _skopeo(*args: str) -> str:
    return subprocess.run([SKOPEO or "skopeo", *args], check=True, capture_output=True, text=True).stdout


@needs_skopeo
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_skopeo_reads_what_we_save(images: ImageStore, busybox: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"bb-{fmt}.tar"
    images.save(["localhost/busybox:latest"], out, fmt)
    info = json.loads(_skopeo("inspect", f"{fmt}:{out}"))
    assert info["Layers"] == list(images.resolve(busybox).layers)
    assert info["Architecture"] and info["Os"] == "linux"
    # skopeo hands back the config it parsed and re-serialised (Go drops trailing zeros of the
    # creation time's fraction), so compare its content, not its hash
    cfg = json.loads(_skopeo("inspect", "--config", f"{fmt}:{out}"))
    _, _, ours = images.record(busybox)
    assert cfg["rootfs"] == ours["rootfs"] and cfg.get("config") == ours.get("config")
    assert _instant(cfg["created"]) == _instant(ours["created"])
    if fmt == "docker-archive":
        with tarfile.open(out) as tf:
            manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == ["localhost/busybox:latest"]


@needs_skopeo
@pytest.mark.parametrize("dest", ["docker-archive:{p}:example.com/team/app:v1",
                                  "oci-archive:{p}:example.com/team/app:v1"])
def test_load_an_archive_written_by_skopeo(images: ImageStore, busybox: str, tmp_path: Path,
                                           dest: str) -> None:
    ours = tmp_path / "ours.tar"
    images.save(["localhost/busybox"], ours, "oci-archive")
    skdir = tmp_path / "dir"
    _skopeo("copy", "-q", f"oci-archive:{ours}", f"dir:{skdir}")
    theirs = tmp_path / "theirs.tar"
    # --dest-compress: layers arrive gzip-compressed, so their diff ids must be computed on unpack
    _skopeo("copy", "-q", "--dest-compress", f"dir:{skdir}", dest.format(p=theirs))

    fresh_paths = Paths(root=str(tmp_path / "fresh"), rundir=str(tmp_path / "fresh-run"))
    fresh_store = Store(fresh_paths.db)
    try:
        fresh = ImageStore(fresh_paths, fresh_store)
        [info] = fresh.load(theirs)
        assert info.id == busybox
        assert info.refs == ("example.com/team/app:v1",)
        assert info.config["Cmd"] == ["sh"]
        assert (Path(info.layer_dirs[0]) / "bin" / "busybox").is_file()
        assert fresh.resolve("example.com/team/app:v1").id == busybox
    finally:
        fresh_store.close()


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_then_load_round_trips(images: ImageStore, busybox: str, tmp_path: Path, fmt: str) -> None:
    images.tag("localhost/busybox", "localhost/other:2")
    out = tmp_path / "a.tar"
    images.save(["localhost/busybox", "localhost/other:2"], out, fmt)
    images.remove(busybox, force=True)  # by id, with two names: needs force
    assert images.list() == []
    [info] = images.load(out)
    assert info.id == busybox
    assert set(info.refs) == {"localhost/busybox:latest", "localhost/other:2"}


def test_tampered_layer_is_refused_and_nothing_is_left(images: ImageStore, busybox: str,
                                                       tmp_path: Path) -> None:
    good = tmp_path / "good.tar"
    images.save(["localhost/busybox"], good, "docker-archive")
    images.remove("localhost/busybox")
    bad = tmp_path / "bad.tar"
    with tarfile.open(good) as src, tarfile.open(bad, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m)
            if m.name.endswith("layer.tar"):
                import io

                raw = bytearray(data.read())  # type: ignore[union-attr]
                layer = tarfile.open(fileobj=io.BytesIO(bytes(raw)))  # noqa: SIM115
                body = io.BytesIO()
                with tarfile.open(fileobj=body, mode="w") as t2:
                    for lm in layer.getmembers()[:5]:
                        t2.addfile(lm, layer.extractfile(lm) if lm.isreg() else None)
                m.size = len(body.getvalue())
                dst.addfile(m, io.BytesIO(body.getvalue()))
            else:
                dst.addfile(m, data)
    with pytest.raises(ImageError, match="diff id mismatch"):
        images.load(bad)
    assert images.list() == []
    root = Path(images.paths.root)
    assert list((root / "layers").iterdir()) == []
    assert list((root / "blobs" / "sha256").iterdir()) == []


def test_not_an_archive_is_a_clear_error(images: ImageStore, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tf:
        tf.add(__file__, arcname="hello.py")
    with pytest.raises(ImageError, match="neither a docker-archive"):
        images.load(junk)


def _instant(rfc3339: str) -> tuple[str, int]:
    """An RFC 3339 time as (seconds part, nanoseconds), whatever trailing zeros it was written with."""
    head, _, frac = rfc3339.rstrip("Z").partition(".")
    return head, int((frac + "000000000")[:9]) if frac else 0

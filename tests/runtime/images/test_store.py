"""ImageStore names and lifecycle, reference normalisation, --change instructions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.errors import Conflict, InvalidSpec, NotFound
from runtime.images import ImageStore, normalize_ref
from runtime.images.changes import apply_changes
from runtime.paths import Paths
from runtime.state import Store
from tests.runtime.images.layertar import LayerTar


@pytest.fixture
def images(engine_paths: tuple[Path, Path]) -> Iterator[ImageStore]:
    paths = Paths(root=str(engine_paths[0]), rundir=str(engine_paths[1]))
    store = Store(paths.db)
    yield ImageStore(paths, store)
    store.close()


def _tar(tmp_path: Path, content: bytes = b"1") -> Path:
    return LayerTar().dir("etc").file("etc/data", content).write(tmp_path / f"t-{content.hex()}.tar")


@pytest.mark.parametrize("ref, expected", [
    ("busybox", "docker.io/library/busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("user/app", "docker.io/user/app:latest"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx:latest"),
    ("localhost/x", "localhost/x:latest"),
    ("localhost:5000/a/b:v2", "localhost:5000/a/b:v2"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
    ("quay.io/podman/hello:latest", "quay.io/podman/hello:latest"),
    ("busybox@sha256:" + "a" * 64, "docker.io/library/busybox@sha256:" + "a" * 64),
    ("busybox:1@sha256:" + "b" * 64, "docker.io/library/busybox:1@sha256:" + "b" * 64),
])
def test_normalize_ref_as_docker(ref: str, expected: str) -> None:
    assert normalize_ref(ref) == expected


@pytest.mark.parametrize("ref", ["Busybox", "a b", "x:", "busybox@sha256:123", "-x", "a//b", "", "x:bad tag"])
def test_bad_reference_is_invalid_spec_naming_it(ref: str) -> None:
    with pytest.raises(InvalidSpec, match="invalid image reference"):
        normalize_ref(ref)


# the grammar as distribution/reference writes it: reference.py checks the usual names without it
_REGEXES = {
    "component": r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*",
    "domain": r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
              r"(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?",
    "tag": r"[\w][\w.-]{0,127}",
    "digest": r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}",
    "id": r"(?:sha256:)?[a-f0-9]{1,64}",
}
_SAMPLES = ["", "a", "A", "0", "_", ".", "-", "a-", "-a", "a.b", "a_b", "a__b", "a___b", "a--b", "a..b",
            "ab9", "Ab", "aB", "latest", "1.36", "v2.0-rc_1", "_x", ".x", "x" * 128, "x" * 129, "é", "tagé",
            "٣",
            "localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "a-b.c", "a.-b", "a:", ":5",
            "quay.io", "x:5000:1", "sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63,
            "sha512:" + "0" * 128, "sha512:" + "0" * 64, "md5:" + "0" * 32, "sha256:", "sha256", "f" * 64,
            "f" * 65, "sha256:" + "f" * 12, "abc123", "xyz", "a b", "a\n"]


def test_reference_checks_accept_what_the_grammar_does() -> None:
    import re

    from runtime.images import reference

    checks = {"component": reference._component, "domain": reference._domain, "tag": reference._tag,
              "digest": reference.is_digest, "id": reference.is_image_id}
    for kind, check in checks.items():
        for s in _SAMPLES:
            assert bool(check(s)) == bool(re.fullmatch(_REGEXES[kind], s)), (kind, s)


def test_usual_references_compile_no_pattern() -> None:
    from runtime.images import reference

    reference._compiled.clear()
    for ref in ("busybox", "localhost/busybox:latest", "user/app:1.36", "busybox@sha256:" + "a" * 64):
        normalize_ref(ref)
    assert reference._compiled == {}
    normalize_ref("registry.example.com:5000/a-b/c__d:v1")
    assert sorted(reference._compiled) == ["component", "domain"]


def test_changes_apply_like_a_dockerfile() -> None:
    cfg = apply_changes({"Env": ["PATH=/bin", "A=0"]}, [
        'CMD ["sh", "-c", "echo hi"]', "ENTRYPOINT /init --flag", "ENV A=1 B=\"two words\"",
        "WORKDIR /srv", "USER 33:33", "EXPOSE 80 53/udp", "LABEL org.x=y", "STOPSIGNAL SIGQUIT",
        "VOLUME /data",
    ])
    assert cfg == {
        "Env": ["PATH=/bin", "A=1", "B=two words"],
        "Cmd": ["sh", "-c", "echo hi"],
        "Entrypoint": ["/bin/sh", "-c", "/init --flag"],
        "WorkingDir": "/srv", "User": "33:33",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
        "Labels": {"org.x": "y"}, "StopSignal": "SIGQUIT", "Volumes": {"/data": {}},
    }


def test_unknown_change_is_refused() -> None:
    with pytest.raises(InvalidSpec, match="unsupported instruction 'RUN'"):
        apply_changes({}, ["RUN rm -rf /"])


def test_resolve_by_name_short_id_and_full_id(images: ImageStore, tmp_path: Path) -> None:
    info = images.import_tarball(_tar(tmp_path), "localhost/app:1")
    hexid = info.id[7:]
    for ref in ("localhost/app:1", "app:1", hexid[:12], hexid, info.id):
        assert images.resolve(ref).id == info.id
    with pytest.raises(NotFound, match="image 'app:2' not found"):
        images.resolve("app:2")


def test_tag_and_remove_by_name_only_untags_until_the_last_name(images: ImageStore, tmp_path: Path) -> None:
    info = images.import_tarball(_tar(tmp_path), "localhost/app:1")
    images.tag("localhost/app:1", "example.com/app:prod")
    assert images.resolve(info.id).refs == ("example.com/app:prod", "localhost/app:1")
    with pytest.raises(Conflict, match="has several names"):
        images.remove(info.id[7:19])
    assert images.remove("localhost/app:1") == ["Untagged: localhost/app:1"]
    assert images.resolve(info.id).refs == ("example.com/app:prod",)
    assert images.remove("example.com/app:prod") == ["Untagged: example.com/app:prod", f"Deleted: {info.id}"]
    with pytest.raises(NotFound):
        images.resolve(info.id)
    root = Path(images.paths.root)
    assert list((root / "layers").iterdir()) == [] and list((root / "blobs" / "sha256").iterdir()) == []


def test_remove_refuses_while_a_container_uses_the_image(images: ImageStore, tmp_path: Path) -> None:
    info = images.import_tarball(_tar(tmp_path), "localhost/app:1")
    with images.store.transaction() as tx:
        tx.put("container", "c" * 64, {"name": "demo-web-1", "image_id": info.id}, name="demo-web-1")
    with pytest.raises(Conflict, match="in use by container\\(s\\) demo-web-1"):
        images.remove("localhost/app:1")
    # force: the name goes, the image and its layers stay while the container needs them
    assert images.remove("localhost/app:1", force=True) == ["Untagged: localhost/app:1"]
    kept = images.resolve(info.id)
    assert kept.refs == () and Path(kept.layer_dirs[0], "etc", "data").is_file()
    assert images.prune() == []
    with images.store.transaction() as tx:
        tx.delete("container", "c" * 64)
    assert images.prune() == [info.id]


def test_reimport_moves_the_name_and_prune_removes_the_dangling_image(images: ImageStore,
                                                                      tmp_path: Path) -> None:
    a = images.import_tarball(_tar(tmp_path, b"1"), "localhost/app")
    b = images.import_tarball(_tar(tmp_path, b"2"), "localhost/app")
    assert images.resolve("localhost/app").id == b.id
    assert images.resolve(a.id).refs == ()
    assert images.prune() == [a.id]
    assert [i.id for i in images.list()] == [b.id]


def test_failed_import_leaves_nothing(images: ImageStore, tmp_path: Path) -> None:
    bad = LayerTar().file("../escape").write(tmp_path / "bad.tar")
    with pytest.raises(Exception, match="leaves the layer"):
        images.import_tarball(bad, "localhost/bad")
    root = Path(images.paths.root)
    assert [p for p in (root / "blobs" / "sha256").iterdir()] == []
    assert images.list() == []


def test_import_of_a_missing_file_names_it(images: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="nosuch.tar"):
        images.import_tarball(tmp_path / "nosuch.tar", "localhost/x")


def test_gzip_tarball_imports_to_the_same_layer_as_the_plain_one(images: ImageStore, tmp_path: Path) -> None:
    import gzip

    plain = _tar(tmp_path)
    gz = tmp_path / "t.tar.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a = images.import_tarball(plain, "localhost/plain")
    b = images.import_tarball(gz, "localhost/gz", message="from gzip")
    assert a.layers == b.layers and a.layer_dirs == b.layer_dirs


def test_junk_input_is_an_image_error_and_leaves_nothing(images: ImageStore, tmp_path: Path) -> None:
    from runtime.errors import ImageError

    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tarball at all" * 100)
    with pytest.raises(ImageError, match="cannot unpack"):
        images.import_tarball(junk, "localhost/junk")
    assert list((Path(images.paths.root) / "blobs" / "sha256").iterdir()) == []
    assert list((Path(images.paths.root) / "layers").iterdir()) == []

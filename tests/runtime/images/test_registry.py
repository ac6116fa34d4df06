"""Pull and push against Debian's docker-registry on 127.0.0.1 (started here), cross-checked with
skopeo; bearer-token auth and platform choice through a recording fake transport."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from runtime.errors import ImageError, NotFound
from runtime.images import ImageStore
from runtime.images.registry import RegistryClient, Response, parse_challenge, pick_platform, token_url
from runtime.paths import Paths
from runtime.state import Store

SKOPEO = shutil.which("skopeo")


def _images(root: Path) -> tuple[ImageStore, Store]:
    paths = Paths(root=str(root / "root"), rundir=str(root / "run"))
    store = Store(paths.db)
    return ImageStore(paths, store), store


@pytest.mark.slow
def test_push_then_pull_round_trips_and_skopeo_agrees(registry: str, tmp_path: Path,
                                                       busybox_tar: Path) -> None:
    a, sa = _images(tmp_path / "a")
    b, sb = _images(tmp_path / "b")
    try:
        src = a.import_tarball(busybox_tar, "localhost/busybox:latest", changes=['CMD ["sh"]'])
        digest = a.push("localhost/busybox", f"{registry}/test/busybox:v1")
        if SKOPEO:
            argv = [SKOPEO, "inspect", "--tls-verify=false", f"docker://{registry}/test/busybox:v1"]
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            info = json.loads(out)
            assert info["Digest"] == digest
            assert info["Layers"] == list(src.layers)
        pulled = b.pull(f"{registry}/test/busybox:v1")
        assert pulled.id == src.id
        assert pulled.refs == (f"{registry}/test/busybox:v1",)
        assert pulled.config["Cmd"] == ["sh"]
        assert (Path(pulled.layer_dirs[0]) / "bin" / "busybox").is_file()
        by_digest = b.pull(f"{registry}/test/busybox@{digest}")
        assert by_digest.id == src.id
        with pytest.raises(NotFound, match="not found"):
            b.pull(f"{registry}/test/nosuch:v1")
    finally:
        sa.close()
        sb.close()


@pytest.mark.slow
def test_pull_a_gzip_docker_v2s2_image_pushed_by_skopeo(registry: str, tmp_path: Path,
                                                         busybox_tar: Path) -> None:
    if SKOPEO is None:
        pytest.skip("skopeo is not installed (make deps)")
    a, sa = _images(tmp_path / "a")
    try:
        src = a.import_tarball(busybox_tar, "localhost/busybox:latest")
        archive = tmp_path / "bb.tar"
        a.save(["localhost/busybox"], archive, "docker-archive")
        subprocess.run([SKOPEO, "copy", "-q", "--dest-tls-verify=false", "--format", "v2s2",
                        "--dest-compress", f"docker-archive:{archive}", f"docker://{registry}/sk/busybox:gz"],
                       check=True)
        a.remove("localhost/busybox")
        pulled = a.pull(f"{registry}/sk/busybox:gz")
        assert pulled.layers == src.layers  # diff ids computed from the decompressed stream
        _, doc, _ = a.record(pulled.id)
        assert doc["layers"][0]["media_type"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
        assert doc["layers"][0]["digest"] != doc["layers"][0]["diff_id"]
    finally:
        sa.close()


# ---- auth and platform choice, through a recording fake ------------------------------------------

def test_parse_bearer_challenge() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                     'scope="repository:library/busybox:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull"}
    assert token_url(params, params["scope"]) == ("https://auth.docker.io/token?service=registry.docker.io"
                                                  "&scope=repository%3Alibrary%2Fbusybox%3Apull")


@dataclass
class FakeTransport:
    """A registry that wants a bearer token; records every request."""

    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def request(self, method: str, url: str, headers: Mapping[str, str],
                body: bytes | IO[bytes] | None = None) -> Response:
        self.calls.append((method, url, dict(headers)))
        if url.startswith("https://auth.example/token"):
            return Response(200, {}, io.BytesIO(b'{"token": "T0K"}'))
        if headers.get("Authorization") != "Bearer T0K":
            challenge = 'Bearer realm="https://auth.example/token",service="reg.example"'
            return Response(401, {"www-authenticate": challenge}, io.BytesIO(b""))
        return Response(200, {"content-type": "application/json"}, io.BytesIO(b'{"schemaVersion":2}'))


def test_bearer_token_is_fetched_once_and_reused() -> None:
    t = FakeTransport()
    c = RegistryClient(host="reg.example", transport=t)
    body, _, _ = c.get_manifest("team/app", "v1")
    assert body == b'{"schemaVersion":2}'
    c.get_manifest("team/app", "v2")
    urls = [u for _, u, _ in t.calls]
    assert urls == [
        "https://reg.example/v2/team/app/manifests/v1",
        "https://auth.example/token?service=reg.example&scope=repository%3Ateam%2Fapp%3Apull",
        "https://reg.example/v2/team/app/manifests/v1",
        "https://reg.example/v2/team/app/manifests/v2",  # the cached token: no second 401
    ]


def test_manifest_by_digest_is_verified() -> None:
    c = RegistryClient(host="reg.example", transport=FakeTransport())
    with pytest.raises(ImageError, match="does not match its digest"):
        c.get_manifest("team/app", "sha256:" + "0" * 64)


def test_platform_choice_from_a_manifest_list() -> None:
    index = {"manifests": [
        {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:v7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    ]}
    assert pick_platform(index, "amd64")["digest"] == "sha256:amd"
    assert pick_platform(index, "arm", variant="v7")["digest"] == "sha256:v7"
    with pytest.raises(ImageError, match="no image for linux/s390x in the manifest list"):
        pick_platform(index, "s390x")

"""`composer cp` as docker compose 2.40.3's (pkg/compose/cp.go over docker's archive rules), through
the real CLI on real containers: a symlink is copied as a link unless -L, -a keeps the owners of
what is copied in (else root owns it), `-` is a tar stream on stdout or stdin, and the errors in
docker compose's words with exit code 1."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: cpflags
services:
  web:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
"""


@pytest.fixture
def proj(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "cpflags")


def _raw(d: Path, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The CLI with binary stdin and stdout (a tar stream)."""
    return subprocess.run([sys.executable, "-m", "composer", "--progress", "quiet", *args], cwd=d,
                          input=data, capture_output=True, timeout=60)


def _sh(d: Path, script: str) -> str:
    return composer_ok(d, "exec", "-T", "web", "sh", "-c", script).stdout


def test_cp_links_owners_and_streams(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    _sh(proj, "mkdir -p /d/sub && echo a > /d/a && echo s > /d/sub/s && chown 1234:2345 /d/a "
              "&& ln -s /d/a /lnk")
    out = proj / "out"
    out.mkdir()
    # from the container: the link itself without -L, its target's content named as the link with it
    composer_ok(proj, "cp", "web:/lnk", "out/")
    assert os.readlink(out / "lnk") == "/d/a"
    (out / "lnk").unlink()
    composer_ok(proj, "cp", "-L", "web:/lnk", "out/")
    assert not (out / "lnk").is_symlink() and (out / "lnk").read_text() == "a\n"
    # `-`: a tar stream of the path, named by its base name, owners kept
    res = _raw(proj, "cp", "web:/d", "-")
    assert res.returncode == 0, res.stderr
    with tarfile.open(fileobj=io.BytesIO(res.stdout), mode="r|") as tar:
        members = {m.name: (m.uid, m.gid) for m in tar}
    assert members == {"d": (0, 0), "d/a": (1234, 2345), "d/sub": (0, 0), "d/sub/s": (0, 0)}
    # into the container: root owns the copy; -a keeps the host's owners
    src = proj / "src"
    (src / "sd").mkdir(parents=True)
    (src / "h").write_text("h\n")
    (src / "sd" / "x").write_text("x\n")
    os.chown(src / "h", 4321, 4322)
    os.chown(src / "sd", 4321, 4322)
    os.symlink("h", src / "ln")
    composer_ok(proj, "cp", "src", "web:/plain")
    composer_ok(proj, "cp", "-a", "src", "web:/kept")
    listing = "stat -c '%n %u:%g' /plain/h /plain/sd /kept/h /kept/sd /kept/sd/x; readlink /kept/ln"
    assert _sh(proj, listing).split("\n") == [
        "/plain/h 0:0", "/plain/sd 0:0", "/kept/h 4321:4322", "/kept/sd 4321:4322", "/kept/sd/x 0:0", "h", ""]
    # `-` as the source: a tar stream extracted into a directory
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("streamed/f")
        info.size, info.uid, info.gid = 3, 77, 78
        tar.addfile(info, io.BytesIO(b"hi\n"))
    res = _raw(proj, "cp", "-a", "-", "web:/tmp", data=buf.getvalue())
    assert res.returncode == 0, res.stderr
    assert _sh(proj, "cat /tmp/streamed/f; stat -c '%u:%g' /tmp/streamed/f") == "hi\n77:78\n"
    # a link in the way is replaced, as go-archive's Unpack does, never followed (to the host's /etc)
    _sh(proj, "ln -s /etc /tmp/esc")
    mark = f"cpflags-{os.getpid()}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        d = tarfile.TarInfo("esc")
        d.type, d.mode = tarfile.DIRTYPE, 0o700
        tar.addfile(d)
        info = tarfile.TarInfo(f"esc/{mark}")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"in\n"))
    assert _raw(proj, "cp", "-", "web:/tmp", data=buf.getvalue()).returncode == 0
    assert not os.path.exists(f"/etc/{mark}")
    inside = _sh(proj, f"cat /tmp/esc/{mark}; test -L /tmp/esc || echo dir; ls /etc | grep -c {mark} || true")
    assert inside == "in\ndir\n0\n"
    # the same for a directory copied from the host: /t8/x, a link to /tmp, is replaced, not followed
    _sh(proj, "mkdir /t8 && ln -s /tmp /t8/x")
    (proj / "esc" / "x").mkdir(parents=True)
    (proj / "esc" / "x" / mark).write_text("host\n")
    os.link(proj / "esc" / "x" / mark, proj / "esc" / "hard")
    composer_ok(proj, "cp", "esc/.", "web:/t8")
    assert not os.path.exists(f"/tmp/{mark}")
    inside = _sh(proj, f"cat /t8/x/{mark}; test -L /t8/x || echo dir; stat -c %h /t8/hard; "
                       f"ls /tmp | grep -c {mark} || true")
    assert inside == "host\ndir\n2\n0\n"
    # errors in docker compose's words, exit code 1
    cid = composer_cli("container", "inspect", "cpflags-web-1", "--format", "{{.Id}}").stdout.strip()
    res = composer_ok(proj, "cp", "web:/nope", "out/", code=1)
    want = f"Error response from daemon: Could not find the file /nope in container {cid}"
    assert res.stderr.strip() == want
    res = composer_ok(proj, "cp", "web:/a", "web:/b", code=1)
    assert res.stderr.strip() == "copying between services is not supported"
    res = composer_ok(proj, "cp", "a", "b", code=1)
    assert res.stderr.strip() == "unknown copy direction"
    res = composer_ok(proj, "cp", "src/h", "web:/nodir/", code=1)
    assert res.stderr.strip().endswith("no such directory")

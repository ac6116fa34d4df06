"""export and commit of a service's container (and `container export|commit`), on real containers,
as docker compose v2.40.3 (pkg/compose/{export,commit}.go) and docker do them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: chg
services:
  idle:  # never started
    image: localhost/busybox:latest
  box:
    image: localhost/busybox:latest
    command: [sleep, "600"]
    stop_grace_period: 1s
networks:
  default:
    ipam:
      config: [{subnet: 10.77.47.64/26}]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "chg")


def _up(proj: Path, service: str) -> None:
    composer_ok(proj, "up", "-d", service)


# ---- export --------------------------------------------------------------------------------------

_CHANGE = ("echo hi > /etc/added; rm /bin/vi; rm -rf /usr; mkdir -p /usr/fresh; echo new > /usr/fresh/f; "
           "mkdir /made")


def _actions(proj: Path, since: float) -> list[tuple[str, dict[str, str]]]:
    res = composer_ok(proj, "container", "events", "--since", f"{since:.6f}", "--until", f"{time.time():.6f}",
                      "--format", "json")
    events = [json.loads(line) for line in res.stdout.splitlines()]
    return [(e["Action"], e["Actor"]["Attributes"]) for e in events if not e["Action"].startswith("exec")]


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_export_writes_the_merged_file_system(proj: Path, tmp_path: Path) -> None:
    _up(proj, "box")
    composer_ok(proj, "exec", "-T", "box", "sh", "-c", _CHANGE)
    out = tmp_path / "box.tar"
    composer_ok(proj, "export", "-o", str(out), "box")
    assert out.stat().st_mode & 0o777 == 0o600  # as docker's atomic writer
    members = _members(out.read_bytes())
    assert "bin/busybox" in members and "etc/passwd" in members  # the image's files
    assert "etc/added" in members and "made" in members and members["made"].isdir()  # its changes
    assert "bin/vi" not in members  # deleted: hidden by its whiteout
    assert [n for n in members if n.startswith("usr/")] == ["usr/fresh", "usr/fresh/f"]  # opaque
    assert not [n for n in members if ".wh." in n]
    with tarfile.open(out) as tar:
        f = tar.extractfile("etc/added")
        assert f is not None and f.read() == b"hi\n"
    piped = subprocess.run([sys.executable, "-m", "composer", "export", "box"], cwd=proj,
                           capture_output=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert sorted(_members(piped.stdout)) == sorted(members)
    container = subprocess.run([sys.executable, "-m", "composer", "container", "export", "chg-box-1"],
                               cwd=proj, capture_output=True, timeout=60)
    assert sorted(_members(container.stdout)) == sorted(members)


def test_export_refuses_a_terminal_and_a_missing_directory(proj: Path, tmp_path: Path) -> None:
    _up(proj, "box")
    for argv, words in ((["export", "box"], "output option is required when exporting to terminal"),
                        (["container", "export", "chg-box-1"],
                         "cowardly refusing to save to a terminal. Use the -o flag or redirect")):
        leader, follower = os.openpty()
        try:
            p = subprocess.run([sys.executable, "-m", "composer", *argv], cwd=proj, stdout=follower,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            os.close(follower)
            os.close(leader)
        assert (p.returncode, p.stderr.strip()) == (1, words)
    res = composer_ok(proj, "export", "-o", str(tmp_path / "nope" / "x.tar"), "box", code=1)
    assert res.stderr.strip() == (f'failed to export container: invalid output path: directory '
                                  f'"{tmp_path / "nope"}" does not exist')
    res = composer_ok(proj, "export", "idle", code=1)
    assert res.stderr.strip() == 'service "idle" is not running'


# ---- commit --------------------------------------------------------------------------------------

def test_commit_makes_an_image_of_the_container_s_changes_that_runs(proj: Path) -> None:
    _up(proj, "box")
    composer_ok(proj, "exec", "-T", "box", "sh", "-c", _CHANGE)
    t0 = time.time()
    res = composer_ok(proj, "commit", "-a", "me <me@x>", "-m", "a message",
                      "-c", 'CMD ["cat", "/etc/added"]', "-c", "ENV GREETING=hello",
                      "box", "localhost/committed:1")
    image_id = res.stderr.split("Committed as ")[1].split()[0]
    # paused while its changes are read, running again after (docker's -p, on by default)
    actions = _actions(proj, t0)
    assert [a for a, _ in actions] == ["pause", "unpause", "commit"]
    assert {k: actions[2][1][k] for k in ("comment", "imageID", "imageRef")} == {
        "comment": "a message", "imageID": image_id, "imageRef": "localhost/committed:1"}
    assert composer_ok(proj, "ps", "--format", "{{.State}}", "box").stdout.strip() == "running"
    fmt = "{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{len .RootFS.Layers}}"
    info = composer_ok(proj, "image", "inspect", "--format", fmt, "localhost/committed:1").stdout.strip()
    assert info == 'me <me@x>|a message|["cat","/etc/added"]|2'
    ran = composer_ok(proj, "container", "run", "--rm", "localhost/committed:1")
    assert ran.stdout == "hi\n"
    script = ('echo $GREETING; ls /usr; ls /usr/fresh; test -e /bin/vi || echo "no vi"; '
              'test -d /made && echo made')
    ran = composer_ok(proj, "container", "run", "--rm", "localhost/committed:1", "sh", "-c", script)
    assert ran.stdout.split() == ["hello", "fresh", "f", "no", "vi", "made"]


def test_container_commit_prints_the_id_and_refuses_a_bad_change(proj: Path) -> None:
    _up(proj, "box")
    t0 = time.time()
    res = composer_ok(proj, "container", "commit", "--pause=false", "chg-box-1")
    assert [a for a, _ in _actions(proj, t0)] == ["commit"]
    image_id = res.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    # the container's own settings over its image's, as docker's commit takes its config
    cmd = composer_ok(proj, "image", "inspect", "--format", "{{json .Config.Cmd}}", image_id).stdout.strip()
    assert cmd == '["sleep","600"]'
    composer_ok(proj, "image", "rm", image_id)
    bad = composer_ok(proj, "commit", "-c", "BOGUS x", "box", "localhost/bad:1", code=125)
    assert "unsupported instruction 'BOGUS'" in bad.stderr.strip().splitlines()[-1]
    assert composer_cli("image", "inspect", "localhost/bad:1").returncode != 0

"""The other compose verbs, for real: attached up, Ctrl-C, exec, run, cp, port, stop/start, down -p."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: verbs
services:
  worker:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo working; sleep 1; echo done; exit 5"]
    profiles: [batch]
  side:
    image: localhost/busybox:latest
    command: ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo side up; while true; do sleep 0.1; done"]
    ports: ["127.0.0.1::80"]
    environment: {GREETING: hello}
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "verbs")


_ok = composer_ok


def test_attached_up_returns_the_exit_code_of_the_named_service(proj: Path) -> None:
    res = composer_cli(
        "--progress",
        "quiet",
        "--profile",
        "batch",
        "up",
        "--exit-code-from",
        "worker",
        "--no-color",
        cwd=proj,
        timeout=120,
    )
    assert res.returncode == 5, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Attaching to side-1, worker-1"
    assert "worker-1  | working" in lines and "worker-1  | done" in lines
    assert "\x1b[Kworker-1 exited with code 5" in lines and "Aborting on container exit..." in res.stderr
    assert "\x1b[Kside-1 exited with code 0" in lines  # a container the abort stops says so too
    assert lines.index("worker-1  | done") < lines.index("\x1b[Kworker-1 exited with code 5")
    assert "side-1    | bye" in lines  # side was stopped gracefully (SIGTERM reached its trap)
    states = {
        json.loads(x)["Service"]: json.loads(x)["State"]
        for x in _ok(proj, "--profile", "batch", "ps", "-a", "--format", "json").stdout.splitlines()
    }
    assert states == {"worker": "exited", "side": "exited"}


def test_first_ctrl_c_stops_gracefully(proj: Path) -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "composer", "--progress", "plain", "up", "--no-color"],
        cwd=proj,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert p.stdout is not None
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        seen.append(line)
        if "side up" in line:
            break
    assert any("side up" in s for s in seen), seen
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "Gracefully Stopping... press Ctrl+C again to force" in out
    assert "side-1  | bye" in out or " Container verbs-side-1  Stopped" in err
    ps = _ok(proj, "ps", "-a", "--format", "json").stdout.splitlines()
    assert [json.loads(x)["State"] for x in ps] == ["exited"]


def test_exec_run_cp_port_stop_start_and_down_by_name(proj: Path, tmp_path: Path) -> None:
    _ok(proj, "up", "-d")
    res = composer_cli("exec", "-T", "side", "sh", "-c", "echo $GREETING; exit 7", cwd=proj)
    assert (res.returncode, res.stdout) == (7, "hello\n")

    res = composer_cli(
        "run", "--rm", "-T", "-e", "X=1", "side", "sh", "-c",
        "echo run $X $GREETING; grep -c ' / overlay .*volatile' /proc/mounts; exit 3", cwd=proj
    )
    assert (res.returncode, res.stdout) == (3, "run 1 hello\n1\n"), res.stderr  # --rm: as podman
    names = [json.loads(x)["Name"] for x in _ok(proj, "ps", "-a", "--format", "json").stdout.splitlines()]
    assert names == ["verbs-side-1"]  # the one-off is gone (--rm) and never listed

    (tmp_path / "in.txt").write_text("copied")
    _ok(proj, "cp", str(tmp_path / "in.txt"), "side:/tmp/in.txt")
    _ok(proj, "cp", "side:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "copied"

    addr = _ok(proj, "port", "side", "80").stdout.strip()
    host, _, port = addr.rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0

    _ok(proj, "stop", "-t", "1", "side")
    assert json.loads(_ok(proj, "ps", "-a", "--format", "json").stdout)["State"] == "exited"
    _ok(proj, "start", "side")
    assert json.loads(_ok(proj, "ps", "--format", "json").stdout)["State"] == "running"

    # without the file: from labels alone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "verbs-side-1" in _ok(elsewhere, "-p", "verbs", "ps").stdout
    assert "side-1  | side up" in _ok(elsewhere, "-p", "verbs", "logs", "--no-color").stdout
    _ok(elsewhere, "-p", "verbs", "down", "-t", "1")
    assert _ok(elsewhere, "-p", "verbs", "ps", "-a", "-q").stdout == ""
    assert "verbs" not in _ok(elsewhere, "ls", "-a").stdout

"""The reading verbs against real containers: `logs -f` attaches to containers that start while it
follows and ends when none runs; `events --json`; `ps` from the project cache and with `-p NAME`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

IMAGE = "localhost/busybox:latest"
COMPOSE = f"""
name: follow
services:
  a:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; echo a-start; while true; do sleep 0.1; done"]
  b:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; echo b-start $$HOSTNAME; while true; do sleep 0.1; done"]
    profiles: [later]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "follow")


def _ok(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return composer_ok(proj, *args, progress="quiet")


def _popen(proj: Path, *args: str) -> subprocess.Popen[str]:
    # unbuffered: _wait_for reads the pipe's fd itself, communicate() the rest
    return subprocess.Popen([sys.executable, "-m", "composer", *args], cwd=proj, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ), bufsize=0)


def _wait_for(p: subprocess.Popen[str], want: str, timeout: float = 30) -> list[str]:
    """Lines of *p*'s stdout up to the first that contains *want* (a blocked read cannot hang the test:
    select with a deadline; the pipe is read unbuffered, a byte at a time)."""
    import select

    assert p.stdout is not None
    fd = p.stdout.fileno()
    lines: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        ch = os.read(fd, 1)
        if not ch:
            break
        if ch != b"\n":
            buf += ch
            continue
        line, buf = buf.decode(), b""
        lines.append(line)
        if want in line:
            return lines
    raise AssertionError(f"{want!r} not seen in {lines}")


def test_logs_follow_attaches_to_later_containers_and_ends_when_all_died(proj: Path) -> None:
    _ok(proj, "up", "-d")
    # --profile later: with a compose file, logs -f watches the services the file enables
    p = _popen(proj, "--profile", "later", "logs", "-f", "--no-color")
    try:
        assert "a-1  | a-start" in _wait_for(p, "a-start")
        _ok(proj, "--profile", "later", "up", "-d", "b")  # starts after logs -f began
        seen = _wait_for(p, "b-start")
        assert seen[-1].startswith("b-1  | b-start"), seen
        _ok(proj, "--profile", "later", "up", "-d", "--scale", "b=2", "b")
        assert "b-2  | b-start" in _wait_for(p, "b-2")[-1]
        _ok(proj, "up", "-d", "--force-recreate", "a")  # a new container under the same name
        # (no "exited" line for the replaced one when it is gone before a look: its code is lost)
        assert _wait_for(p, "a-start")[-1] == "a-1  | a-start"
        _ok(proj, "--profile", "later", "stop", "-t", "1")
        out, err = p.communicate(timeout=30)  # every watched container died: logs -f ends by itself
        assert p.returncode == 0, err
        assert "a-start" not in out and "b-start" not in out  # nothing printed twice
        assert sorted(line for line in out.splitlines() if "exited" in line)[-3:] == [
            "\x1b[Ka-1 exited with code 0", "\x1b[Kb-1 exited with code 0",
            "\x1b[Kb-2 exited with code 0"]
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_logs_follow_reattaches_a_container_started_again(proj: Path) -> None:
    _ok(proj, "--profile", "later", "up", "-d")
    p = _popen(proj, "--profile", "later", "logs", "-f", "--no-color")
    try:
        _wait_for(p, "b-start")
        _ok(proj, "--profile", "later", "restart", "-t", "1", "b")
        seen = _wait_for(p, "b-start")
        assert seen[-1].startswith("b-1  | b-start"), seen
        _ok(proj, "--profile", "later", "stop", "-t", "1")
        out, _ = p.communicate(timeout=30)
        assert p.returncode == 0
        assert "a-start" not in out and "b-start" not in out  # the new run's first line came once
        # the first run's end, whichever way the looks saw it: exited, or stop+start as a restart
        # ("exited with code 0 (restarting)"), then the final stop
        # (a status line starts with "\r\x1b[K"; a text-mode pipe reads its "\r" as a line end)
        ends = [x.removeprefix("\r").removeprefix("\x1b[K") for x in [*seen, *out.splitlines()]]
        exits = [x for x in ends if x.startswith("b-1 exited")]
        assert len(exits) == 2 and all(x.startswith("b-1 exited with code 0") for x in exits), exits
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_logs_follow_waits_for_stopped_containers_and_ends_without_any(proj: Path) -> None:
    res = composer_cli("logs", "-f", "--no-color", cwd=proj, timeout=30)
    assert res.returncode == 0 and res.stdout == ""  # no container at all: nothing to wait for
    _ok(proj, "up", "-d")
    _ok(proj, "stop", "-t", "1")
    p = _popen(proj, "logs", "-f", "--no-color")
    try:
        assert _wait_for(p, "a-start") == ["a-1  | a-start"]
        time.sleep(1.5)
        assert p.poll() is None  # as docker compose: a stopped container is waited for
        _ok(proj, "down", "-t", "1")
        out, _ = p.communicate(timeout=30)  # removed: nothing left to wait for (docker would hang)
        assert p.returncode == 0 and out == ""
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def _sleeping(pid: int, timeout: float = 30) -> None:
    """Wait until process *pid* sleeps in nanosleep: `events`, with no log yet, polls for one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/wchan") as f:
            if "nanosleep" in f.read():
                return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never waited for the event log")


def test_events_json_names_and_fields(proj: Path, engine_paths: tuple[Path, Path]) -> None:
    p = _popen(proj, "events", "--json")
    try:
        _sleeping(p.pid)  # no log yet: the one the first event makes is read from its start
        _ok(proj, "up", "-d")
        _ok(proj, "stop", "-t", "1")
        time.sleep(1.5)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=30)
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["action"] for e in events] == ["create", "start", "kill", "die", "stop"], events
    e = events[0]
    assert set(e) == {"time", "type", "action", "id", "service", "attributes"}
    assert e["type"] == "container" and e["service"] == "a" and len(e["id"]) == 64
    assert e["attributes"]["name"] == "follow-a-1" and e["attributes"]["image"] == IMAGE


def test_ps_is_served_from_the_project_cache_and_sees_an_edit(proj: Path,
                                                             engine_paths: tuple[Path, Path]) -> None:
    _ok(proj, "up", "-d")
    rundir = engine_paths[1]
    assert _ok(proj, "ps", "--services").stdout.split() == ["a"]
    entries = os.listdir(rundir / "cache" / "project")
    assert len(entries) == 1
    assert _ok(proj, "ps", "--services").stdout.split() == ["a"]
    assert os.listdir(rundir / "cache" / "project") == entries  # a hit writes nothing
    (proj / "compose.yaml").write_text(COMPOSE.replace("name: follow", "name: other"))
    assert _ok(proj, "ps", "--services").stdout.split() == []  # project "other" runs nothing
    (proj / "compose.yaml").write_text(COMPOSE)
    names = _ok(proj, "ps", "--format", "json").stdout.splitlines()
    assert [json.loads(n)["Name"] for n in names] == ["follow-a-1"]
    elsewhere = proj.parent
    assert _ok(elsewhere, "-p", "follow", "ps", "--services").stdout.split() == ["a"]

"""`events` against real containers: each event is logged when it happens, by the verb or the
container's monitor, and read back as docker compose reads the daemon's stream (pkg/compose/
events.go): --since replays, --until ends, only new events without them, in docker's order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged

IMAGE = "localhost/busybox:latest"
LOOP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
COMPOSE = f"""
name: evts
services:
  web:
    image: {IMAGE}
    command: {json.dumps(LOOP)}
    labels: {{org.example.team: blue}}
  crash:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 0.2; exit 3"]
    restart: on-failure:2
    profiles: [crash]
  hc:
    image: {IMAGE}
    command: {json.dumps(LOOP)}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 300ms
      retries: 1
    profiles: [hc]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(COMPOSE)
    yield d
    composer_cli("-p", "evts", "down", "-v", "-t", "1", cwd=tmp_path)


def _ok(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return composer_ok(proj, *args, progress="quiet")


def _replay(proj: Path, since: float, *args: str) -> list[dict[str, Any]]:
    """The events from *since* to now, as `events --json --since --until` prints them (it ends)."""
    res = _ok(proj, "events", "--json", "--since", f"{since:.6f}", "--until", f"{time.time():.6f}", *args)
    return [json.loads(line) for line in res.stdout.splitlines()]


def _of(events: list[dict[str, Any]], service: str) -> list[str]:
    return [e["action"] for e in events if e["service"] == service]


def test_each_verb_in_docker_order_with_its_own_time_and_fields(proj: Path) -> None:
    t0 = time.time()
    _ok(proj, "up", "-d")
    _ok(proj, "pause", "web")
    _ok(proj, "unpause", "web")  # right after: a poller 0.5 s apart saw neither
    _ok(proj, "stop", "-t", "5", "web")
    _ok(proj, "run", "--rm", "web", "true")  # a one-off: docker compose leaves its events out
    _ok(proj, "down", "-t", "1")
    events = _replay(proj, t0)
    # docker: kill (the stop signal), then the monitor's die, then stop; down removes: destroy
    assert _of(events, "web") == ["create", "start", "pause", "unpause", "kill", "die", "stop", "destroy"]
    times = [e["time"] for e in events]
    assert len(set(times)) == len(times)
    kill, die = events[4], events[5]
    assert kill["attributes"]["signal"] == "15" and die["attributes"]["exitCode"] == "0"
    assert die["attributes"]["execDuration"].isdigit()
    e = events[0]
    assert set(e) == {"time", "type", "action", "id", "service", "attributes"}
    assert e["type"] == "container" and len(e["id"]) == 64 and len({x["id"] for x in events}) == 1
    assert e["attributes"] == {"image": IMAGE, "name": "evts-web-1", "org.example.team": "blue"}
    # the plain format: docker compose's api.Event.String() printed with Println (an empty line)
    res = _ok(proj, "events", "--since", f"{t0:.6f}", "--until", f"{time.time():.6f}")
    lines = res.stdout.split("\n")
    assert lines[1] == "" and len(lines) == 2 * len(events) + 1
    assert lines[0].endswith(f"container create {e['id']} (image={IMAGE}, name=evts-web-1, "
                             "org.example.team=blue)")


def test_exec_logs_its_create_start_and_die_as_docker_s_daemon(proj: Path) -> None:
    """moby daemon/exec.go and monitor.go: exec_create and exec_start name the entrypoint, a space,
    then the arguments joined by spaces (a space left when there are none); exec_die has the
    exitCode; all three the same execID; a detached exec's die is logged when it ends."""
    _ok(proj, "up", "-d", "web")
    t0 = time.time()
    res = composer_ok(proj, "exec", "-T", "web", "sh", "-c", 'echo "a\\b"; exit 3', code=3)
    assert res.stdout == "a\\b\n"
    _ok(proj, "exec", "-T", "web", "true")
    _ok(proj, "exec", "-d", "web", "sleep", "0.3")
    deadline = time.monotonic() + 10
    while _of(_replay(proj, t0), "web").count("exec_die") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    events = [e for e in _replay(proj, t0) if e["service"] == "web"]
    assert [e["action"] for e in events] == [
        'exec_create: sh -c echo "a\\b"; exit 3', 'exec_start: sh -c echo "a\\b"; exit 3', "exec_die",
        "exec_create: true ", "exec_start: true ", "exec_die",
        "exec_create: sleep 0.3", "exec_start: sleep 0.3", "exec_die"]
    ids = [e["attributes"]["execID"] for e in events]
    assert len(ids[0]) == 64 and ids[0:3] == [ids[0]] * 3 and len(set(ids)) == 3
    assert [e["attributes"]["exitCode"] for e in events if e["action"] == "exec_die"] == ["3", "0", "0"]
    assert events[0]["attributes"]["name"] == "evts-web-1"
    # docker events --filter event=exec_create matches the action's prefix, as health_status's
    res = composer_ok(proj, "container", "events", "--since", f"{t0:.6f}", "--until", f"{time.time():.6f}",
                      "--filter", "event=exec_create", "--format", "json")
    assert [json.loads(line)["Action"] for line in res.stdout.splitlines()] == [
        events[0]["action"], "exec_create: true ", "exec_create: sleep 0.3"]


def test_a_restart_policy_shows_each_die_and_start_when_it_happened(proj: Path) -> None:
    t0 = time.time()
    _ok(proj, "--profile", "crash", "up", "-d", "crash")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _of(_replay(proj, t0), "crash").count("die") == 3:
            break
        time.sleep(0.2)
    events = [e for e in _replay(proj, t0) if e["service"] == "crash"]
    assert [e["action"] for e in events] == ["create"] + ["start", "die"] * 3
    assert [e["attributes"].get("exitCode") for e in events if e["action"] == "die"] == ["3"] * 3
    times = [e["time"] for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)  # each its own moment
    _ok(proj, "events", "--since", f"{t0:.6f}", "--until", f"{time.time():.6f}", "crash")


def test_health_status_transitions(proj: Path) -> None:
    t0 = time.time()
    _ok(proj, "--profile", "hc", "up", "-d", "hc")

    def health() -> list[str]:
        return [a for a in _of(_replay(proj, t0), "hc") if a.startswith("health_status")]

    deadline = time.monotonic() + 30
    while not health() and time.monotonic() < deadline:
        time.sleep(0.2)
    _ok(proj, "exec", "hc", "touch", "/tmp/ok")
    while len(health()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert health() == ["health_status: unhealthy", "health_status: healthy"]


def _popen(proj: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "composer", *args], cwd=proj, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _holds(pid: int, path: Path, timeout: float = 30) -> None:
    """Wait until process *pid* holds *path* open: `events` is following the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == str(path):
                    return
            except OSError:
                continue
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never opened {path}")


def test_without_since_only_new_events_are_followed(proj: Path, engine_paths: tuple[Path, Path]) -> None:
    _ok(proj, "up", "-d")
    p = _popen(proj, "events", "--json")
    try:
        _holds(p.pid, engine_paths[1] / "events.jsonl")
        _ok(proj, "pause", "web")
        _ok(proj, "unpause", "web")
        time.sleep(0.5)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=30)
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["pause", "unpause"]


def test_until_in_the_future_follows_then_ends(proj: Path, engine_paths: tuple[Path, Path]) -> None:
    _ok(proj, "up", "-d")
    start = time.monotonic()
    p = _popen(proj, "events", "--json", "--since", "1h", "--until", f"{time.time() + 3:.3f}")
    try:
        _holds(p.pid, engine_paths[1] / "events.jsonl")
        _ok(proj, "pause", "web")
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert 2.0 < time.monotonic() - start < 10
    assert [json.loads(line)["action"] for line in out.splitlines()] == ["create", "start", "pause"]


def test_a_torn_line_is_skipped_and_a_missing_log_is_no_history(proj: Path,
                                                               engine_paths: tuple[Path, Path]) -> None:
    t0 = time.time()
    assert _replay(proj, t0 - 3600) == []  # nothing was ever logged
    _ok(proj, "up", "-d")
    with open(engine_paths[1] / "events.jsonl", "ab") as f:
        f.write(b'{"time":1,"id":"abc","action":"cre')  # a writer killed mid-line
    _ok(proj, "pause", "web")  # its line follows the torn one on the same line
    _ok(proj, "unpause", "web")
    assert _of(_replay(proj, t0), "web") == ["create", "start", "pause", "unpause"]


def test_since_after_until_is_refused(proj: Path) -> None:
    res = composer_ok(proj, "events", "--since", "1767323045", "--until", "1767000000", code=1)
    assert "cannot be after `until` time" in res.stderr
    res = composer_ok(proj, "events", "--since", "yesterday", code=1)
    assert res.stderr.strip() == 'failed to parse value as time or duration: "yesterday"'


def test_container_events_as_docker_events_prints_them(busybox_image: str) -> None:
    import re

    t0 = time.time()
    for args in (["run", "-d", "--name", "evts-lone", "--label", "k=v", IMAGE, "sleep", "60"],
                 ["kill", "evts-lone"], ["rm", "evts-lone"]):
        res = composer_cli("container", *args)
        assert res.returncode == 0, res.stderr
    window = ["--since", f"{t0:.6f}", "--until", f"{time.time():.6f}"]
    res = composer_cli("container", "events", *window, "--filter", "container=evts-l")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    # docker/cli's prettyPrintEvent: RFC3339NanoFixed local time, then type, action, id, (k=v, ...)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)"
    assert all(re.fullmatch(stamp + r" container \S+ [0-9a-f]{64} \(.*\)", line) for line in lines), lines
    assert [line.split()[2] for line in lines] == ["create", "start", "kill", "die", "destroy"]
    assert lines[0].endswith(f"(image={IMAGE}, k=v, name=evts-lone)")
    res = composer_cli("container", "events", *window, "--format", "json", "-f", "event=die",
                       "-f", "label=k=v")
    (doc,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert doc["Type"] == "container" and doc["Action"] == doc["status"] == "die"
    assert doc["Actor"]["Attributes"]["exitCode"] == "137" and doc["Actor"]["ID"] == doc["id"]
    assert doc["time"] == doc["timeNano"] // 10**9 and doc["scope"] == "local"
    assert composer_cli("container", "events", "-f", "bogus=1").returncode == 1

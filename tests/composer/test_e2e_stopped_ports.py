"""The compose user's view of published ports on a stopped service, as with docker compose: `stop`
frees them, so `run --service-ports` (or another project) may publish them; `start` then fails
naming the container and the port while they are taken, and takes them again once free."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import composer_ok, first_words

pytestmark = pytest.mark.privileged


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def test_stop_then_run_service_ports_then_start(tmp_path: Path, busybox_image: str) -> None:
    port = _free_port()
    (tmp_path / "compose.yaml").write_text(f"""
name: sports
services:
  s:
    image: {busybox_image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do echo $$WHO | nc -l -p 80; done"]
    environment: {{WHO: service}}
    ports: ["{port}:80"]
""")
    composer_ok(tmp_path, "up", "-d")
    assert first_words(port) == "service"
    composer_ok(tmp_path, "stop", "-t", "1", "s")
    listed = composer_ok(tmp_path, "ps", "-a", "--format", "json").stdout
    rows = [json.loads(line) for line in listed.splitlines()]
    assert [(r["State"], r["Ports"], r["Publishers"]) for r in rows] == [("exited", "", [])]  # none held
    composer_ok(tmp_path, "run", "-d", "--name", "sports-oneoff", "--service-ports", "-e", "WHO=oneoff", "s")
    assert first_words(port) == "oneoff"
    res = composer_ok(tmp_path, "start", "s", code=None)
    assert res.returncode != 0
    assert f"container sports-s-1: host port 0.0.0.0:{port}/tcp is already in use" in res.stderr
    assert first_words(port) == "oneoff"
    composer_ok(tmp_path, "container", "rm", "-f", "sports-oneoff")
    composer_ok(tmp_path, "start", "s")
    assert first_words(port) == "service"
    composer_ok(tmp_path, "down")

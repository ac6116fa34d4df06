"""A service whose command the image lacks, through the real CLI, as docker compose with docker's
engine: `up -d` makes its container and fails its start with the lookup's one line; the container
stays (`ps -a` lists it) while the other services run; `up -d` again tries its start again;
`down` removes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: h5startfail
services:
  bad:
    image: localhost/busybox:latest
    entrypoint: [nosuchcmd]
    restart: always
  good:
    image: localhost/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
"""
ERROR = 'container h5startfail-bad-1: exec: "nosuchcmd": executable file not found in $PATH'


def _states(proj: Path) -> dict[str, tuple[str, int]]:
    out = composer_ok(proj, "ps", "-a", "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return {r["Service"]: (r["State"], r["ExitCode"]) for r in rows}


def test_a_missing_command_fails_the_start_and_the_container_stays(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    try:
        for _ in range(2):  # the second up tries the start again
            up = composer_ok(tmp_path, "up", "-d", code=None)
            assert up.returncode != 0 and up.stderr.strip().endswith(ERROR), up.stderr
            assert _states(tmp_path) == {"bad": ("exited", 127), "good": ("running", 0)}
        composer_ok(tmp_path, "down")
        assert _states(tmp_path) == {}
    finally:
        composer_ok(tmp_path, "down", "-v", code=None)

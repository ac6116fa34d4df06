"""A service whose command the image lacks, through the real CLI, as docker compose with docker's
engine: `up -d` makes its container and fails its start with the lookup's one line; the container
stays, "Created" as docker shows a container that never ran (State.Status created, ExitCode 127,
State.Error the start's error), while the other services run; `up -d` again and `start` try its
start again; `run` of that service fails with exit code 1 (docker compose's run returns the
daemon's start error as it is); `down` removes it."""

from __future__ import annotations

import json
import time
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
WHY = 'exec: "nosuchcmd": executable file not found in $PATH'
ERROR = f"container h5startfail-bad-1: {WHY}"


def _states(proj: Path, *flags: str) -> dict[str, tuple[str, str, int]]:
    out = composer_ok(proj, "ps", "-a", *flags, "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return {r["Service"]: (r["State"], r["Status"], r["ExitCode"]) for r in rows if r["Name"].endswith("-1")}


def test_a_missing_command_fails_the_start_and_the_container_stays_created(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    try:
        for verb in (("up", "-d"), ("up", "-d"), ("start",)):  # each tries the start again
            res = composer_ok(tmp_path, *verb, code=None)
            assert res.returncode == 1 and res.stderr.strip().endswith(ERROR), res.stderr
            states = _states(tmp_path)
            assert states["bad"] == ("created", "Created", 0), states  # compose's: no exit code
            assert states["good"][0] == "running"
        assert list(_states(tmp_path, "--status", "created")) == ["bad"]
        ls = composer_ok(tmp_path, "container", "ls", "-a", "--filter", "status=created",
                         "--format", "{{.Names}} {{.Status}}").stdout
        assert ls.splitlines() == ["h5startfail-bad-1 Created"]
        fmt = "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.State.Error}}"
        inspect = composer_ok(tmp_path, "container", "inspect", "--format", fmt, "h5startfail-bad-1")
        assert inspect.stdout.strip() == f"created 127 false {ERROR}"
        # now to the nanosecond: "0s" is now in whole seconds (docker's client), which leaves out
        # what happened within this second, the create too when the commands above were quick
        until = f"{time.time():.9f}"
        events = composer_ok(tmp_path, "events", "--since", "1h", "--until", until, "--json").stdout
        bad = [json.loads(e)["action"] for e in events.splitlines() if '"h5startfail-bad-1"' in e]
        assert bad == ["create"], bad  # as docker's: a failed start logs no start and no die
        run = composer_ok(tmp_path, "run", "bad", code=None)
        assert run.returncode == 1 and run.stderr.strip().endswith(WHY), run.stderr
        composer_ok(tmp_path, "down")
        assert _states(tmp_path) == {}
    finally:
        composer_ok(tmp_path, "down", "-v", "--remove-orphans", code=None)

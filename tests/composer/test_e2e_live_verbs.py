"""The live verbs against real containers, as docker compose v2.40.3 prints them: attached `up`'s
abort and --exit-code-from, `wait`, `stats --no-stream`, `logs --index` and colours, `port`'s
error, `version`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_ok

pytestmark = pytest.mark.privileged

_LOOP = "trap 'exit 0' TERM; echo {0} up; while true; do sleep 0.1; done"
COMPOSE = f"""
name: live
services:
  first:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo first; sleep 0.5; exit 3"]
    profiles: [batch]
  later:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo later; sleep 1.5; exit 5"]
    profiles: [batch]
  quiet:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo quiet; sleep 0.5"]
    attach: false
    profiles: [batch]
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "{_LOOP.format('web')}"]
    deploy: {{replicas: 2}}
    ports: ["127.0.0.1::80"]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "live", "--profile", "batch")


def test_exit_code_from_a_service_that_is_not_first_to_exit(proj: Path) -> None:
    res = composer_ok(proj, "--profile", "batch", "up", "--exit-code-from", "later", "first", "later",
                      "quiet", code=5)
    lines = res.stdout.splitlines()
    assert lines[0] == "Attaching to first-1, later-1", lines  # quiet: attach: false
    # the first exit aborts; the containers the abort stops say how they ended too
    assert "\x1b[Kfirst-1 exited with code 3" in lines and "\x1b[Klater-1 exited with code 5" in lines, lines
    assert "Aborting on container exit..." in res.stderr and "Aborting" not in res.stdout


def test_attach_flags_are_checked_before_anything_is_made(proj: Path) -> None:
    # docker compose's errors: its words, exit 1
    res = composer_ok(proj, "up", "--attach", "nope", code=1)
    assert "cannot attach to services not included in up: nope" in res.stderr
    res = composer_ok(proj, "up", "--abort-on-container-exit", "--abort-on-container-failure", code=1)
    assert "--abort-on-container-failure cannot be combined with --abort-on-container-exit" in res.stderr
    # validateFlags' --detach check comes before the RunE's --attach / --attach-dependencies one
    res = composer_ok(proj, "up", "-d", "--attach", "first", "--attach-dependencies", code=1)
    assert "--detach cannot be combined with" in res.stderr
    res = composer_ok(proj, "up", "--attach", "first", "--attach-dependencies", code=1)
    assert res.stderr == "cannot combine --attach and --attach-dependencies\n"
    res = composer_ok(proj, "up", "--force-recreate", "--no-recreate", code=1)
    assert res.stderr == "--force-recreate and --no-recreate are incompatible\n"
    assert composer_ok(proj, "ps", "-a", "-q").stdout == ""
    assert composer_ok(proj, "ps", "--services").stdout == "\n"  # Println of none: an empty line


def test_wait_prints_each_exit_and_returns_the_last(proj: Path) -> None:
    res = composer_ok(proj, "wait", "first", code=1)
    assert 'no containers for project "live"' in res.stderr
    composer_ok(proj, "--profile", "batch", "up", "-d", "first", "later")
    res = composer_ok(proj, "--profile", "batch", "wait", "first", "later", code=5)
    listed = composer_ok(proj, "--profile", "batch", "ps", "-a", "--no-trunc", "--format", "json").stdout
    ids = {json.loads(x)["Service"]: json.loads(x)["ID"] for x in listed.splitlines()}
    assert res.stdout.splitlines() == [f'container "{ids["first"]}" exited with status code 3',
                                       f'container "{ids["later"]}" exited with status code 5']


def test_stats_logs_port_as_docker(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    table = composer_ok(proj, "stats", "--no-stream").stdout.splitlines()
    assert re.split(r"\s{3,}", table[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                                    "NET I/O", "BLOCK I/O", "PIDS"], table
    listed = composer_ok(proj, "stats", "--no-stream", "--format", "json").stdout
    rows = [json.loads(x) for x in listed.splitlines()]
    assert {r["Name"] for r in rows} == {"live-web-1", "live-web-2"}
    r = rows[0]
    assert list(r) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO",
                       "PIDs"]
    assert len(r["Container"]) == 64 and r["ID"] == r["Container"][:12]
    assert re.fullmatch(r"\d+\.\d\d%", r["CPUPerc"]) and re.fullmatch(r"\d+\.\d\d%", r["MemPerc"])
    assert re.fullmatch(r"[\d.]+(B|KiB|MiB) / [\d.]+(MiB|GiB|TiB)", r["MemUsage"]), r
    assert re.fullmatch(r"[\d.]+(B|kB|MB) / [\d.]+(B|kB|MB)", r["NetIO"]), r
    assert r["PIDs"] != "0"
    assert composer_ok(proj, "stats", "--no-stream", "--format", "{{.Name}}", "web").stdout.split() != []

    res = composer_ok(proj, "logs", "--index", "3", "web", code=1)
    assert 'service "web" is not running container #3' in res.stderr
    assert "--index requires one service" in composer_ok(proj, "logs", "--index", "1", code=2).stderr
    colored = composer_ok(proj, "--ansi", "always", "logs", "web").stdout
    heads = {name: code for code, name in re.findall(r"\x1b\[([\d;]+)m(web-\d)", colored)}
    assert heads == {"web-1": "36", "web-2": "33"}, colored  # a colour per container, in docker's order

    res = composer_ok(proj, "port", "web", "81", code=1)
    port = composer_ok(proj, "port", "web", "80").stdout.strip().rsplit(":", 1)[1]
    assert f"no port 81/tcp for container live-web-1: {port}/tcp" in res.stderr
    assert composer_ok(proj, "version", "--format", "json").stdout.startswith('{"version":"v')

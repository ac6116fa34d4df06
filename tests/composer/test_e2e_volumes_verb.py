"""`composer volumes [SERVICE...]` on a real project, as docker compose v2.40.3 prints it
(cmd/compose/volumes.go: docker/cli's volume formatter; pkg/compose/volumes.go: the volumes
labelled with the project, those mounted by the services' running containers when named)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: vols
services:
  web:
    image: localhost/busybox:latest
    command: [sleep, "600"]
    volumes: [data:/data, /anon]
    stop_grace_period: 1s
  other:
    image: localhost/busybox:latest
    command: [sleep, "600"]
    volumes: [logs:/logs]
    stop_grace_period: 1s
  idle:
    image: localhost/busybox:latest
    volumes: [spare:/spare]
    profiles: [idle]
volumes:
  data: {}
  logs: {}
  spare: {}
networks:
  default:
    ipam:
      config: [{subnet: 10.77.47.128/26}]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "vols")


def test_volumes_lists_the_project_s_volumes_as_compose_prints_them(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    res = composer_ok(proj, "volumes")
    # the table of docker/cli's volume formatter; the anonymous volume has no project label
    assert res.stdout == "DRIVER    VOLUME NAME\nlocal     vols_data\nlocal     vols_logs\n"
    assert composer_ok(proj, "volumes", "web").stdout == "DRIVER    VOLUME NAME\nlocal     vols_data\n"
    assert composer_ok(proj, "volumes", "-q", "web", "other").stdout == "vols_data\nvols_logs\n"
    assert composer_ok(proj, "volumes", "-q", "--format", "json").stdout == "vols_data\nvols_logs\n"
    rows = [json.loads(line) for line in composer_ok(proj, "volumes", "--format", "json").stdout.splitlines()]
    assert [(r["Name"], r["Driver"], r["Scope"]) for r in rows] == [("vols_data", "local", "local"),
                                                                     ("vols_logs", "local", "local")]
    assert "com.docker.compose.volume=data" in rows[0]["Labels"]
    res = composer_ok(proj, "volumes", "--format", "{{.Name}} on {{.Driver}}", "other")
    assert res.stdout == "vols_logs on local\n"
    res = composer_ok(proj, "volumes", "--format", "table {{.Name}}", "other")
    assert res.stdout == "VOLUME NAME\nvols_logs\n"


def test_volumes_of_a_service_with_no_running_container_are_none(proj: Path) -> None:
    composer_ok(proj, "up", "-d", "web")
    composer_ok(proj, "stop", "web")
    # only running containers count (compose lists containers without All)
    assert composer_ok(proj, "volumes", "web").stdout == "DRIVER    VOLUME NAME\n"
    assert composer_ok(proj, "-p", "vols", "volumes", "-q").stdout == "vols_data\n"
    res = composer_ok(proj, "volumes", "nope", code=None)
    assert res.returncode != 0 and res.stderr.strip().endswith("no such service: nope")

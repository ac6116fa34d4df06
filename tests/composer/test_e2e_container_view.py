"""What a dev-environment project's containers see, checked from inside as a docker compose user
would: a service reaches itself by its service name and aliases, a short-syntax bind to a missing
host directory creates it (long syntax refuses it at create), and a container that joins another's
network namespace follows it when an earlier `up` replaced that one; `host-gateway` in extra_hosts
is the host's address on the container's network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: view
services:
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo ok > /tmp/i; exec httpd -f -p 8080 -h /tmp"]
    networks: {default: {aliases: [api]}}
    volumes: ["./data/new:/data"]
    extra_hosts: ["host.docker.internal:host-gateway"]
  side:
    image: localhost/busybox:latest
    network_mode: "service:web"
    command: ["sleep", "3600"]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "view")


def _sh(proj: Path, service: str, script: str, code: int | None = 0) -> str:
    return composer_ok(proj, "exec", "-T", service, "sh", "-c", script, code=code).stdout


def test_a_service_reaches_itself_and_a_short_bind_source_is_created(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    assert (proj / "data" / "new").is_dir()  # ./data/new did not exist: docker's daemon makes it
    # its own service name and alias, as docker's DNS answers them inside the container
    assert _sh(proj, "web", "wget -qO- http://web:8080/i && wget -qO- http://api:8080/i") == "ok\nok\n"
    assert _sh(proj, "side", "wget -qO- http://web:8080/i") == "ok\n"
    # host-gateway: the address of the host on the container's network, its default route
    gw = _sh(proj, "web", "ip route | awk '/^default/ {print $3}'").strip()
    assert gw and _sh(proj, "web", "grep host.docker.internal /etc/hosts") == f"{gw}\thost.docker.internal\n"

    # web replaced alone: side still sits in the old web's namespace until the next up moves it
    composer_ok(proj, "up", "-d", "--force-recreate", "web")
    composer_ok(proj, "up", "-d")
    assert _sh(proj, "side", "wget -qO- http://web:8080/i") == "ok\n"
    again = composer_ok(proj, "up", "-d").stderr
    assert "Recreate" not in again, again  # and stays put once it joins the current web


def test_a_long_syntax_bind_to_a_missing_source_is_refused_at_create(proj: Path) -> None:
    (proj / "compose.yaml").write_text(
        "name: view\nservices:\n  t:\n    image: localhost/busybox:latest\n    command: [sleep, '100']\n"
        "    volumes: [{type: bind, source: ./missing, target: /m}]\n"
    )
    res = composer_ok(proj, "up", "-d", code=1)
    assert f"container view-t-1: bind source path does not exist: {proj / 'missing'}" in res.stderr
    assert not (proj / "missing").exists()
    assert composer_ok(proj, "ps", "-a", "-q").stdout == ""


def test_run_waits_for_a_healthy_dependency(proj: Path) -> None:
    (proj / "compose.yaml").write_text(
        "name: view\nservices:\n  db:\n    image: localhost/busybox:latest\n"
        "    command: [sh, -c, 'sleep 1; touch /tmp/ready; exec sleep 3600']\n"
        "    healthcheck: {test: [CMD, test, -f, /tmp/ready], interval: 300ms, retries: 20}\n"
        "  app:\n    image: localhost/busybox:latest\n    depends_on: {db: {condition: service_healthy}}\n"
    )
    assert composer_ok(proj, "run", "--rm", "app", "echo", "ran").stdout == "ran\n"
    # the one-off started only once db was healthy (it ran at once, with db still starting)
    assert "(healthy)" in composer_ok(proj, "ps", "db").stdout

"""Name resolution as a docker compose user relies on it (docker's embedded DNS), through the real
CLI and real containers: a peer answers to its hostname and short id too; extra_hosts override a
peer's name; a running client sees a scale up without being restarted, and keeps reaching a
recreated service by its `links` alias; a stopped container's names no longer resolve, and come
back when it starts again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: nres
services:
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    hostname: webhost
    stop_grace_period: 1s
    networks:
      front: {aliases: [www]}
  client:
    image: localhost/busybox:latest
    # says at each start whether web's name is in its hosts file
    command: ["sh", "-c", "grep -c webhost /etc/hosts; exec sleep 1000"]
    stop_grace_period: 1s
    links: ["web:weblink"]
    extra_hosts: ["www=192.0.2.9"]
    networks: [front]
networks:
  front:
    ipam: {config: [{subnet: 10.77.44.0/24}]}
"""


@pytest.fixture
def proj(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "nres")


def _sh(proj: Path, service: str, script: str) -> str:
    return composer_ok(proj, "exec", "-T", service, "sh", "-c", script, code=None).stdout


def _resolve(proj: Path, name: str) -> str | None:
    """The address the client's resolver gives *name* (busybox ping prints it before it pings)."""
    first = _sh(proj, "client", f"ping -c1 -W1 {name} 2>&1 | head -1").split()
    return first[2].strip("():") if first[:1] == ["PING"] else None


def _web_ids(proj: Path) -> list[str]:
    return composer_ok(proj, "ps", "-q", "web").stdout.split()


def _inspect(proj: Path, template: str, container: str) -> str:
    return composer_ok(proj, "container", "inspect", "-f", template, container).stdout.strip()


def _addresses(proj: Path, name: str) -> list[str]:
    hosts = _sh(proj, "client", "cat /etc/hosts")
    return [ln.split()[0] for ln in hosts.splitlines() if name in ln.split()[1:]]


def test_peer_answers_to_its_hostname_and_short_id(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    (web_id,) = _web_ids(proj)
    addr = _resolve(proj, "web")
    assert addr and addr.startswith("10.77.44.")
    # moby's buildEndpointDNSNames: the hostname and the short id resolve as the service name does
    assert _resolve(proj, "webhost") == addr
    assert _resolve(proj, web_id[:12]) == addr
    assert _sh(proj, "client", "wget -q -O - http://webhost/").strip() == "webhost"
    names = _inspect(proj, "{{json (index .NetworkSettings.Networks \"nres_front\").DNSNames}}", web_id)
    assert json.loads(names) == ["nres-web-1", "web", "www", "weblink", web_id[:12], "webhost"]


def test_extra_hosts_override_a_peers_name(proj: Path) -> None:
    """client's extra_hosts `www` wins over web's alias: docker reads /etc/hosts before its DNS."""
    composer_ok(proj, "up", "-d")
    assert _resolve(proj, "www") == "192.0.2.9"
    assert _addresses(proj, "www") == ["192.0.2.9"]
    assert _resolve(proj, "web") not in (None, "192.0.2.9")


def test_running_client_sees_scale_up_and_recreate_without_restart(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    started = _inspect(proj, "{{.State.StartedAt}}", "nres-client-1")
    up = composer_ok(proj, "up", "-d", "--scale", "web=3")
    # scaling web up is no recreate: depends_on restart (links imply it) leaves client running
    assert "nres-client-1  Stopping" not in up.stderr, up.stderr
    assert _inspect(proj, "{{.State.StartedAt}}", "nres-client-1") == started
    assert len(_addresses(proj, "web")) == 3 and len(_addresses(proj, "weblink")) == 3
    # `up web` alone recreates web; client, unselected, still reaches it by its link alias
    composer_ok(proj, "up", "-d", "--force-recreate", "--no-deps", "--scale", "web=1", "web")
    (web_id,) = _web_ids(proj)
    addr = _inspect(proj, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", web_id)
    assert _resolve(proj, "weblink") == addr
    assert _sh(proj, "client", "wget -q -O - http://weblink/").strip() == "webhost"


def test_stopped_container_no_longer_resolves(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    addr = _resolve(proj, "web")
    assert addr
    composer_ok(proj, "stop", "web")
    for name in ("web", "weblink", "nres-web-1", "webhost"):
        assert _resolve(proj, name) is None, name
    composer_ok(proj, "start", "web")
    assert _resolve(proj, "web") == addr
    assert _sh(proj, "client", "wget -q -O - http://web/").strip() == "webhost"
    # both stopped, then started together (web first): client finds web as it starts
    composer_ok(proj, "stop")
    composer_ok(proj, "start")
    said = composer_ok(proj, "logs", "--no-log-prefix", "client").stdout.split()
    assert said == ["1", "1"], said


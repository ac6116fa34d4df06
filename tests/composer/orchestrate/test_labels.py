from __future__ import annotations

from pathlib import Path

import pytest

from composer.labels import config_hash

from .helpers import compose_hashes, load

CASES = {
    "simple": "services:\n  a:\n    image: busybox\n",
    "ordered-keys": """
services:
  a:
    image: busybox
    command: httpd -f -p 8080
    ports: ["127.0.0.1:8081:80/udp", "9000"]
    cpus: 0.5
    environment: {B: "x<y&z", A: "é"}
    ulimits: {nofile: {soft: 10, hard: 20}, nproc: 5}
    stop_grace_period: 90s
    extra_hosts: ["h:1.2.3.4"]
    tmpfs: [/t]
    x-ignored: 1
    labels: {z: "1", a: "2"}
    logging: {driver: json-file, options: {max-size: 1m}}
    secrets: [{source: s, uid: "1", mode: 0400}]
    healthcheck: {test: "true", interval: 2s, start_period: 1m}
    volumes: [data:/data:ro, ./x:/x, /anon, {type: tmpfs, target: /tm, tmpfs: {size: 1m}}]
    deploy: {replicas: 3, resources: {limits: {memory: 10M, cpus: "0.5"}}, restart_policy: {condition: any}}
    depends_on: {b: {condition: service_healthy}}
  b:
    image: busybox
    networks: {front: {aliases: [x]}, default: null}
    profiles: []
volumes: {data: {}}
networks: {front: {}}
secrets: {s: {file: ./s}}
""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_hash_matches_docker_compose(tmp_path: Path, name: str) -> None:
    project = load(tmp_path, CASES[name])
    expected = compose_hashes(tmp_path / "compose.yaml")
    got = {svc: config_hash(cfg) for svc, cfg in project.services.items()}
    assert got == expected


def test_config_hash_ignores_key_order_and_excluded_keys() -> None:
    a = {"image": "busybox", "command": None, "entrypoint": None}
    b = {
        "entrypoint": None,
        "command": None,
        "image": "busybox",
        "depends_on": {"x": {}},
        "scale": 3,
        "deploy": {"replicas": 4},
    }
    assert config_hash(a) == config_hash({k: v for k, v in b.items() if k != "deploy"})
    assert config_hash(b) != config_hash(a)  # deploy (even empty of replicas) is part of the hash
    assert config_hash({**a, "command": ["true"]}) != config_hash(a)

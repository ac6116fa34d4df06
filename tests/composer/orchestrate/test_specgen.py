from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import ServiceError
from composer.specgen import service_spec
from runtime.spec import Healthcheck, Mount, NetworkAttachment, PortMapping, Resources, RestartPolicy

from .helpers import load

FULL = """
services:
  web:
    image: busybox
    command: httpd -f -p 8080
    entrypoint: ["/bin/sh", "-c"]
    environment: {A: "1", UNSET: null}
    user: "1000:1000"
    working_dir: /srv
    init: true
    tty: true
    stdin_open: true
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    restart: on-failure:3
    healthcheck: {test: ["CMD", "true"], interval: 2s, timeout: 500ms, retries: 5, start_period: 1m}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
    sysctls: {net.core.somaxconn: 1024}
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 100
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:false", "seccomp=unconfined", "label=disable"]
    labels: {team: web}
    hostname: webhost
    logging: {driver: json-file, options: {max-size: 1m, max-file: "3"}}
    shm_size: 128m
    tmpfs: ["/run:size=1m,mode=1777"]
    dns: [1.1.1.1]
    extra_hosts: ["db.local:10.0.0.2"]
    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp"]
    volumes: [data:/data:ro, ./site:/site, /anon]
    networks: {front: {aliases: [www], ipv4_address: 172.30.0.9, priority: 10}, default: null}
    secrets: [token, {source: envsecret, target: custom, mode: 0400, uid: "1000"}]
    configs: [{source: inline, target: /etc/app.conf}]
    blkio_config: {weight: 300}
  db:
    image: busybox
    links: ["web:frontend"]
    network_mode: service:web
    volumes_from: [web:ro]
volumes: {data: {}}
networks: {front: {name: custom_front}}
secrets:
  token: {file: ./token}
  envsecret: {environment: TOKEN}
configs:
  inline: {content: "key=value"}
"""


def test_service_becomes_container_spec(tmp_path: Path) -> None:
    p = load(tmp_path, FULL, env={"TOKEN": "s3cret"})
    gen = service_spec(p, "web", 1, files_dir="/state/demo-web-1")
    s = gen.spec
    assert s.name == "demo-web-1" and s.pod == "demo" and s.image == "busybox"
    assert s.command == ("httpd", "-f", "-p", "8080") and s.entrypoint == ("/bin/sh", "-c")
    assert s.env == {"A": "1"}
    assert (s.user, s.working_dir, s.init, s.tty, s.stdin_open) == ("1000:1000", "/srv", True, True, True)
    assert (s.stop_signal, s.stop_timeout) == ("SIGINT", 90.0)
    assert s.restart == RestartPolicy(name="on-failure", max_retries=3)
    assert s.healthcheck == Healthcheck(
        test=("CMD", "true"), interval=2.0, timeout=0.5, retries=5, start_period=60.0
    )
    assert s.ulimits == {"nofile": (100, 200), "nproc": (50, 50)}
    assert s.sysctls == {"net.core.somaxconn": "1024"}
    assert s.resources == Resources(memory=64 * 2**20, cpus=0.5, pids_limit=100, blkio_weight=300)
    assert (s.cap_add, s.cap_drop, s.no_new_privileges, s.seccomp) == (
        ("NET_ADMIN",),
        ("ALL",),
        False,
        "unconfined",
    )
    assert s.labels["team"] == "web" and s.labels["com.docker.compose.service"] == "web"
    assert s.labels["com.docker.compose.container-number"] == "1"
    assert s.hostname == "webhost" and (s.log_max_size, s.log_max_file) == (2**20, 3)
    assert (
        s.shm_size == 128 * 2**20 and s.dns == ("1.1.1.1",) and s.extra_hosts == (("db.local", "10.0.0.2"),)
    )
    assert s.ports == (
        PortMapping(container_port=80, host_port=8080, host_ip="127.0.0.1"),
        PortMapping(container_port=9000, host_port=9000, protocol="udp"),
        PortMapping(container_port=9001, host_port=9001, protocol="udp"),
    )
    assert s.networks == (
        NetworkAttachment(
            network="custom_front", aliases=("web", "www", "frontend"), ipv4_address="172.30.0.9", priority=10
        ),
        NetworkAttachment(network="demo_default", aliases=("web", "frontend")),
    )
    m = {x.target: x for x in s.mounts}
    assert m["/data"] == Mount(type="volume", source="demo_data", target="/data", read_only=True)
    assert m["/site"].type == "bind" and m["/site"].source == str(tmp_path / "site")
    assert m["/anon"] == Mount(type="volume", source="", target="/anon")
    assert m["/run"] == Mount(type="tmpfs", target="/run", tmpfs_size=2**20, tmpfs_mode=0o1777)
    assert m["/run/secrets/token"] == Mount(
        type="bind",
        source=str(tmp_path / "token"),
        target="/run/secrets/token",
        read_only=True,
        create_host_path=False,
    )
    assert m["/run/secrets/custom"].source == "/state/demo-web-1/secrets/envsecret"
    assert m["/etc/app.conf"].source == "/state/demo-web-1/configs/inline"
    files = {f.path: f for f in gen.files}
    assert files["/state/demo-web-1/secrets/envsecret"].content == b"s3cret"
    assert (
        files["/state/demo-web-1/secrets/envsecret"].mode,
        files["/state/demo-web-1/secrets/envsecret"].uid,
    ) == (0o400, 1000)
    assert files["/state/demo-web-1/configs/inline"].content == b"key=value"
    assert gen.warnings == (
        "service web: security_opt 'label=disable' is not supported; ignored",
    )


def test_service_references_become_container_ids(tmp_path: Path) -> None:
    p = load(tmp_path, FULL, env={"TOKEN": "x"})
    s = service_spec(p, "db", 2, files_dir="/f", container_ids={"web": "abc123"}).spec
    assert s.name == "demo-db-2"
    assert s.network_mode == "container:abc123" and s.networks == ()
    assert s.volumes_from == ("abc123:ro",)


def test_service_reference_without_container_is_an_error(tmp_path: Path) -> None:
    p = load(tmp_path, FULL, env={"TOKEN": "x"})
    with pytest.raises(
        ServiceError, match="service db: network_mode refers to service 'web' which has no container"
    ):
        service_spec(p, "db", 1, files_dir="/f")


def test_container_name_and_disabled_healthcheck(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "services:\n  a:\n    image: busybox\n    container_name: fixed\n"
        "    healthcheck: {disable: true}\n    restart: unless-stopped\n",
    )
    s = service_spec(p, "a", 1, files_dir="/f").spec
    assert s.name == "fixed" and s.networks[0].aliases == ("a", "fixed")
    assert s.healthcheck == Healthcheck(test=("NONE",))
    assert s.restart == RestartPolicy(name="unless-stopped")


def test_namespaces_and_volumes_from_by_service_and_container(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        """
services:
  a: {image: busybox}
  b:
    image: busybox
    ipc: service:a
    pid: host
    volumes_from: [a, "container:other:ro"]
    deploy: {restart_policy: {condition: on-failure, max_attempts: 2}}
    logging: {driver: syslog, options: {tag: x}}
    volumes: [{type: tmpfs, target: /t, tmpfs: {size: 1024, mode: 0o700}}]
""",
    )
    gen = service_spec(p, "b", 1, files_dir="/f", container_ids={"a": "cid-a"})
    s = gen.spec
    assert (s.ipc_mode, s.pid_mode) == ("container:cid-a", "host")
    assert s.volumes_from == ("cid-a", "other:ro")
    assert s.restart == RestartPolicy(name="on-failure", max_retries=2)
    assert s.mounts == (Mount(type="tmpfs", target="/t", tmpfs_size=1024, tmpfs_mode=0o700),)
    assert gen.warnings == (
        "service b: logging driver 'syslog' is not supported; using json-file",
        "service b: logging option 'tag' is not supported; ignored",
    )


def test_keys_composer_does_not_act_on_are_warned_with_why(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: busybox, isolation: hyperv, runtime: runc, x-own: 1}\n")
    assert service_spec(p, "a", 1, files_dir="/f").warnings == (
        "service a: isolation is not supported; ignored (windows only)",
        "service a: runtime is not supported; ignored (composer runs containers with its own runtime)",
    )


def test_environment_secret_needs_its_variable(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: busybox, secrets: [s]}\nsecrets: {s: {environment: NOPE}}\n")
    with pytest.raises(ServiceError, match="^service a: secret 's': environment variable NOPE is not set$"):
        service_spec(p, "a", 1, files_dir="/f")


def test_file_secret_with_mode_is_copied_not_bound(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "services:\n  a: {image: busybox, secrets: [{source: s, mode: 0o440, gid: '5'}]}\n"
        "secrets: {s: {file: ./s.txt}}\n",
    )
    gen = service_spec(p, "a", 1, files_dir="/f")
    assert [(f.path, f.copy_from, f.mode, f.gid) for f in gen.files] == [
        ("/f/secrets/s", str(tmp_path / "s.txt"), 0o440, 5)
    ]
    assert gen.spec.mounts[0].source == "/f/secrets/s" and gen.spec.mounts[0].read_only


def test_a_network_mode_that_is_no_mode_names_a_network(tmp_path: Path) -> None:
    """As docker's engine reads it: `network_mode: shared` joins the existing network `shared`
    (an unknown one fails the create with "network shared not found", not the project's default)."""
    p = load(tmp_path, "services:\n  a:\n    image: busybox\n    network_mode: shared\n")
    s = service_spec(p, "a", 1, files_dir="/f").spec
    assert s.network_mode == "bridge"
    assert s.networks == (NetworkAttachment(network="shared", aliases=("a",)),)


def test_one_secret_at_two_targets_keeps_each_owner_and_mode(tmp_path: Path) -> None:
    """The same secret mounted twice with different uid/mode: each target gets its own file (they
    shared one, so the last reference's owner and mode showed at both targets)."""
    p = load(
        tmp_path,
        "services:\n  a:\n    image: busybox\n    secrets:\n      - {source: s, target: /etc/s}\n"
        "      - {source: s, uid: '1000', mode: 0o400}\nsecrets: {s: {environment: SV}}\n",
        env={"SV": "v"},
    )
    gen = service_spec(p, "a", 1, files_dir="/f")
    assert [(f.path, f.mode, f.uid) for f in gen.files] == [
        ("/f/secrets/s", 0o444, None),
        ("/f/secrets/s@2", 0o400, 1000),
    ]
    assert {m.target: m.source for m in gen.spec.mounts} == {
        "/etc/s": "/f/secrets/s",
        "/run/secrets/s": "/f/secrets/s@2",
    }


def test_a_link_alias_stays_when_the_linking_service_is_not_selected(tmp_path: Path) -> None:
    """`up web` alone (cli left out of the selection) recreates web: cli, still running, must
    keep reaching it by the alias its `links` gives."""
    from dataclasses import replace

    p = load(tmp_path, "services:\n  web: {image: busybox}\n"
                       "  cli: {image: busybox, links: ['web:weblink']}\n")
    only_web = replace(p, tree={**p.tree, "services": {"web": p.services["web"]}},
                       disabled_services={"cli": p.services["cli"]})
    spec = service_spec(only_web, "web", 1, files_dir="/f").spec
    assert spec.networks == (NetworkAttachment(network="demo_default", aliases=("web", "weblink")),)

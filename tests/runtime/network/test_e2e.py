"""Real containers (the Engine with the busybox image) on a bridge network: a client resolves the
server by service name through the /etc/hosts the runtime bind-mounts, a published port answers on
the host, and `composer network connect/disconnect` work on a running container."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.logs import join_partials
from runtime.paths import Paths
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping
from tests.conftest import composer_cli

from .conftest import free_port, in_ns, links, nft_tables, tcp_get

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
RETRY = ("for i in $(seq 30); do out=$(echo | nc -w 2 {host} 8080) && [ -n \"$out\" ] && echo $out "
         "&& exit 0; sleep 0.2; done; exit 1")


@pytest.fixture
def engine(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[Engine]:
    root, run = engine_paths
    eng = Engine(Paths(root=str(root), rundir=str(run)))
    eng.images.import_tarball(busybox_tar, IMAGE)
    yield eng
    for c in eng.containers.list():
        eng.containers.remove(c.id, force=True)
    bridges = [n.bridge for n in eng.networks.list()]
    for n in eng.networks.list():
        eng.networks.remove(n.name)
    table = eng.networks.table
    eng.close()
    assert not set(bridges) & links()
    assert table not in nft_tables()
    assert str(run) not in Path("/proc/mounts").read_text()


def stdout(engine: Engine, cid: str) -> str:
    return "".join(r.text.decode() + "\n" for r in join_partials(engine.containers.logs(cid))
                   if r.stream == "stdout")


def test_containers_resolve_each_other_and_publish_ports(engine: Engine) -> None:
    engine.networks.create(NetworkSpec(name="e2e_default"))
    port = free_port()
    web = engine.containers.create(ContainerSpec(
        name="e2e-web-1", image=IMAGE, command=("nc", "-ll", "-p", "8080", "-e", "echo", "hello-web"),
        networks=(NetworkAttachment(network="e2e_default", aliases=("web",)),),
        ports=(PortMapping(container_port=8080, host_port=port),)))
    engine.containers.start(web.id)
    cli = engine.containers.create(ContainerSpec(
        name="e2e-cli-1", image=IMAGE, command=("sh", "-c", RETRY.format(host="web")),
        networks=(NetworkAttachment(network="e2e_default", aliases=("cli",)),)))
    engine.containers.start(cli.id)
    assert engine.containers.wait(cli.id, timeout=30) == 0, stdout(engine, cli.id)
    assert stdout(engine, cli.id).strip() == "hello-web"
    assert tcp_get("127.0.0.1", port) == "hello-web"
    assert engine.containers.get(web.id).networks == {"e2e_default": engine.networks.get(
        "e2e_default").containers[web.id]}


def test_cli_connect_and_disconnect_a_running_container(engine: Engine) -> None:
    engine.networks.create(NetworkSpec(name="e2e_a"))
    engine.networks.create(NetworkSpec(name="e2e_b"))
    c = engine.containers.create(ContainerSpec(
        name="e2e-sleeper-1", image=IMAGE, command=("sleep", "60"),
        networks=(NetworkAttachment(network="e2e_a"),)))
    engine.containers.start(c.id)
    pin = str(engine.paths.netns(c.id))
    r = composer_cli("network", "connect", "--alias", "extra", "e2e_b", "e2e-sleeper-1")
    assert r.returncode == 0, r.stderr
    assert "eth1" in in_ns(pin, "ip", "-o", "link").stdout
    assert c.id in engine.networks.get("e2e_b").containers
    r = composer_cli("network", "rm", "e2e_b")
    assert r.returncode != 0 and "network e2e_b: in use by container e2e-sleeper-1" in r.stderr
    r = composer_cli("network", "disconnect", "e2e_b", "e2e-sleeper-1")
    assert r.returncode == 0, r.stderr
    assert "eth1" not in in_ns(pin, "ip", "-o", "link").stdout
    assert engine.networks.get("e2e_b").containers == {}


def test_cli_publishes_on_ipv6_loopback_and_wildcard(engine: Engine) -> None:
    """`-p [::1]:P:80` answers on ::1 only; `-p Q:80` on an IPv6 network answers on ::1 too (a
    relay: the kernel cannot DNAT ::1) and on 127.0.0.1 (DNAT)."""
    r = composer_cli("network", "create", "--ipv6", "e2e_v6")
    assert r.returncode == 0, r.stderr
    p, q = free_port(), free_port()
    r = composer_cli("container", "run", "-d", "--name", "e2e-v6-1", "--network", "e2e_v6",
                     "-p", f"[::1]:{p}:8080", "-p", f"{q}:8080", IMAGE,
                     "nc", "-ll", "-p", "8080", "-e", "echo", "hello-v6")
    assert r.returncode == 0, r.stderr

    def answer(host: str, port: int) -> str | None:
        for _ in range(50):
            try:
                return tcp_get(host, port, timeout=0.5)
            except ConnectionRefusedError:
                return None
            except OSError:
                threading.Event().wait(0.1)
        return None

    for _ in range(50):  # the server starts after `run -d` returns
        if answer("::1", q) == "hello-v6":
            break
        threading.Event().wait(0.1)
    assert answer("::1", p) == "hello-v6"
    assert answer("::1", q) == "hello-v6"
    assert answer("127.0.0.1", q) == "hello-v6"
    assert answer("127.0.0.1", p) is None
    ports = composer_cli("container", "port", "e2e-v6-1").stdout
    assert (f"[::1]:{p}" in ports or f"::1:{p}" in ports) and f":{q}" in ports, ports
    r = composer_cli("container", "rm", "-f", "e2e-v6-1")
    assert r.returncode == 0, r.stderr
    assert answer("::1", p) is None

"""Published host ports follow the container's life, as in docker: a stopped (or exited) container
holds none, start takes them again (a random one may get a new number), and a port taken
meanwhile fails the start naming the container and the port, with nothing started."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from runtime.engine import Engine
from runtime.errors import NetworkError
from runtime.network import NetworkManager
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from ..conftest import IMAGE
from .conftest import free_port, tcp_get

pytestmark = pytest.mark.privileged
A = "a" * 64


def server(name: str, *ports: PortMapping, cmd: str = "") -> ContainerSpec:
    """A container that says its name to every TCP connection on port 80."""
    loop = cmd or f"while :; do echo {name} | nc -l -p 80; done"
    return ContainerSpec(name=name, image=IMAGE, command=("sh", "-c", loop), network_mode="bridge",
                         networks=(NetworkAttachment(network="t_default"),), ports=ports,
                         stop_timeout=0.2)


def answer(port: int, deadline: float = 10.0) -> str:
    """What the published port says, once its server listens."""
    end = time.monotonic() + deadline
    while True:
        try:
            got = tcp_get("127.0.0.1", port, timeout=1.0)
            if got:
                return got
        except OSError:
            pass
        if time.monotonic() > end:
            return ""
        time.sleep(0.05)


def test_stop_frees_the_port_and_start_takes_it_again(engine: Engine) -> None:
    engine.networks.create(NetworkSpec(name="t_default"))
    port = free_port()
    a = engine.containers.create(server("t-a", PortMapping(container_port=80, host_port=port)))
    engine.containers.start(a.id)
    assert answer(port) == "t-a"
    engine.containers.stop(a.id)
    # free while stopped: another container publishes it and answers there
    b = engine.containers.create(server("t-b", PortMapping(container_port=80, host_port=port)))
    engine.containers.start(b.id)
    assert answer(port) == "t-b"
    with pytest.raises(NetworkError, match=f"container t-a: host port 0.0.0.0:{port}/tcp is already in use"):
        engine.containers.start(a.id)
    assert engine.containers.get(a.id).status == "exited"  # nothing started
    assert answer(port) == "t-b"
    engine.containers.remove(b.id, force=True)
    assert engine.containers.start(a.id).status == "running"
    assert answer(port) == "t-a"
    assert engine.containers.get(a.id).ports == ((PortMapping(container_port=80, host_port=port), port),)


def test_a_container_that_exits_by_itself_frees_its_port(engine: Engine) -> None:
    engine.networks.create(NetworkSpec(name="t_default"))
    port = free_port()
    a = engine.containers.create(server("t-a", PortMapping(container_port=80, host_port=port),
                                        cmd="echo t-a | nc -l -p 80"))
    engine.containers.start(a.id)
    assert answer(port) == "t-a"  # its one answer: then it exits, and no command looks at it
    run = engine.paths.container_run(a.id)
    end = time.monotonic() + 10
    while not os.path.exists(f"{run}/exit.json") and time.monotonic() < end:
        time.sleep(0.02)
    b = engine.containers.create(server("t-b", PortMapping(container_port=80, host_port=port)))
    engine.containers.start(b.id)
    assert answer(port) == "t-b"
    assert engine.containers.get(a.id).status == "exited"
    engine.containers.remove(b.id, force=True)
    engine.containers.start(a.id)
    assert answer(port) == "t-a"


def test_a_random_port_is_taken_again_on_restart(engine: Engine) -> None:
    engine.networks.create(NetworkSpec(name="t_default"))
    a = engine.containers.create(server("t-a", PortMapping(container_port=80)))
    ((_, first),) = engine.containers.start(a.id).ports
    assert first > 0 and answer(first) == "t-a"
    for _ in range(2):
        ((asked, now),) = engine.containers.restart(a.id, timeout=0.2).ports
        assert asked.host_port == 0 and now > 0
        assert engine.networks.ports(a.id)[0][1] == now
        assert answer(now) == "t-a"


def test_released_relayed_ports_are_unbound_and_claimed_again(
        manager: NetworkManager, servers: Callable[..., Any]) -> None:
    """The relay path (the whole port path without nftables): release unbinds, claim binds again."""
    manager.port_driver = "proxy"
    manager.create(NetworkSpec(name="t_default"))
    port = free_port()
    net = manager.setup_container(A, ContainerSpec(name="t-a", image="i", networks=(
        NetworkAttachment(network="t_default"),), ports=(PortMapping(container_port=80, host_port=port),)))
    assert net.netns_path
    servers(net.netns_path, 80, "relayed")
    assert tcp_get("127.0.0.1", port) == "relayed"
    manager.release_ports(A)
    manager.release_ports(A)  # idempotent
    with socket.socket() as s:  # free on the host (the relay's closed connection may be in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen()
    assert manager.claim_ports(A) == [(PortMapping(container_port=80, host_port=port), port)]
    assert manager.claim_ports(A) is None  # held already
    assert tcp_get("127.0.0.1", port) == "relayed"

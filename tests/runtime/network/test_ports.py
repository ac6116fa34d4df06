"""Published ports through composer's nftables table, for real: TCP and UDP, 127.0.0.1, a
non-loopback host address, host_ip binding, and a host port already in use."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.errors import NetworkError
from runtime.network import NetworkManager
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, in_ns, links, tcp_get, udp_ask

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]  # a fixture that starts something

A, B = "a" * 64, "b" * 64
DUMMY_ADDR = "198.18.99.1"
DUMMY_ADDR6 = "2001:db8:99::1"  # documentation range


@pytest.fixture
def host_addr() -> Iterator[str]:
    """A non-loopback host address (benchmarking range) on a veth (no dummy module), removed after."""
    name = "cmtaddr0"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", "cmtaddr1"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{DUMMY_ADDR}/32", "dev", name], check=True)
        subprocess.run(["ip", "addr", "add", f"{DUMMY_ADDR6}/128", "dev", name, "nodad"], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        subprocess.run(["ip", "link", "set", "cmtaddr1", "up"], check=True)
        yield DUMMY_ADDR
    finally:
        subprocess.run(["ip", "link", "del", name], check=True)
    assert name not in links() and "cmtaddr1" not in links()


def web(*ports: PortMapping, name: str = "demo-web-1") -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=(NetworkAttachment(network="demo_default"),),
                         ports=ports)


def test_published_tcp_and_udp_answer_on_loopback_and_host_address(
        manager: NetworkManager, servers: Fx, udp_echo: Fx, host_addr: str) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    tport, uport = free_port(), free_port(socket.SOCK_DGRAM)
    net = manager.setup_container(A, web(PortMapping(container_port=80, host_port=tport),
                                         PortMapping(container_port=53, host_port=uport, protocol="udp")))
    assert net.netns_path
    servers(net.netns_path, 80, "published")
    udp_echo(net.netns_path, 53)
    for addr in ("127.0.0.1", host_addr):
        assert tcp_get(addr, tport) == "published"
        assert udp_ask(addr, uport) == b"echo:hi"
    assert manager.ports(A) == [(PortMapping(container_port=80, host_port=tport), tport),
                                (PortMapping(container_port=53, host_port=uport, protocol="udp"), uport)]
    manager.teardown_container(A)
    with pytest.raises(OSError):
        tcp_get("127.0.0.1", tport, timeout=0.5)


def test_host_port_zero_picks_a_free_port_on_every_v4_address(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    net = manager.setup_container(A, web(PortMapping(container_port=8080, host_ip="0.0.0.0")))
    ((asked, actual),) = net.ports
    assert asked.host_port == 0 and actual > 0
    assert net.netns_path
    servers(net.netns_path, 8080, "any")
    assert tcp_get("127.0.0.1", actual) == "any"


def test_host_ip_bound_port_answers_only_there(
        manager: NetworkManager, servers: Fx, host_addr: str) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    net = manager.setup_container(A, web(PortMapping(container_port=80, host_port=port, host_ip=host_addr)))
    assert net.netns_path
    servers(net.netns_path, 80, "bound")
    assert tcp_get(host_addr, port) == "bound"
    with pytest.raises(OSError):
        tcp_get("127.0.0.1", port, timeout=0.5)


def test_port_in_use_on_host_is_a_clear_error(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(NetworkError,
                           match=f"container demo-web-1: host port .*:{port}/tcp is already in use"):
            manager.setup_container(A, web(PortMapping(container_port=80, host_port=port)))
    assert manager.get("demo_default").containers == {}
    assert manager.store.read().list("ip") == []
    assert not os.path.exists(manager.paths.netns(A))


def test_port_taken_by_another_container_is_an_error(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    manager.setup_container(A, web(PortMapping(container_port=80, host_port=port)))
    with pytest.raises(NetworkError,
                       match=f"container demo-web-2: host port .*:{port}/tcp is already in use"):
        manager.setup_container(B, web(PortMapping(container_port=80, host_port=port), name="demo-web-2"))
    # the same port number over udp is another port
    manager.setup_container(B, web(PortMapping(container_port=80, host_port=port, protocol="udp"),
                                   name="demo-web-2"))


def test_userspace_proxy_publishes_tcp_and_udp_without_nft_rules(
        manager: NetworkManager, servers: Fx, udp_echo: Fx) -> None:
    manager.port_driver = "proxy"  # what a host without nft gets
    manager.create(NetworkSpec(name="demo_default"))
    tport, uport = free_port(), free_port(socket.SOCK_DGRAM)
    net = manager.setup_container(A, web(PortMapping(container_port=80, host_port=tport),
                                         PortMapping(container_port=53, host_port=uport, protocol="udp")))
    assert net.netns_path
    servers(net.netns_path, 80, "proxied")
    udp_echo(net.netns_path, 53)
    assert tcp_get("127.0.0.1", tport) == "proxied"
    assert udp_ask("127.0.0.1", uport) == b"echo:hi"
    table = subprocess.run(["nft", "list", "table", "inet", manager.table], capture_output=True,
                           text=True).stdout
    assert f"tcp . {tport}" not in table and str(tport) not in table
    # the proxy holds the port: another container cannot take it
    with pytest.raises(NetworkError, match="already in use"):
        manager.setup_container(B, web(PortMapping(container_port=80, host_port=tport), name="demo-web-2"))
    manager.teardown_container(A)
    with pytest.raises(OSError):
        tcp_get("127.0.0.1", tport, timeout=0.5)


def test_hairpin_and_other_networks_reach_a_published_port(
        manager: NetworkManager, servers: Fx, host_addr: str) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    manager.create(NetworkSpec(name="other_default"))
    port = free_port()
    net = manager.setup_container(A, web(PortMapping(container_port=80, host_port=port)))
    same = manager.setup_container(B, web(name="demo-cli-1"))
    other = manager.setup_container("c" * 64, ContainerSpec(name="other-cli-1", image="i", networks=(
        NetworkAttachment(network="other_default"),)))
    assert net.netns_path and same.netns_path and other.netns_path
    servers(net.netns_path, 80, "hairpin")
    for client in (same, other):
        assert client.netns_path
        got = in_ns(client.netns_path, "busybox", "nc", "-w", "2", host_addr, str(port), input="")
        assert got.stdout.strip() == "hairpin", got


def test_published_port_answers_on_a_host_ipv6_address(
        manager: NetworkManager, servers: Fx, host_addr: str) -> None:
    manager.create(NetworkSpec(name="demo_default", enable_ipv6=True))
    port = free_port()
    net = manager.setup_container(A, web(PortMapping(container_port=80, host_port=port)))
    assert net.netns_path
    servers(net.netns_path, 80, "v6-published")
    assert tcp_get(DUMMY_ADDR6, port, timeout=0.5) == "v6-published"  # no wait for DAD on the bridge

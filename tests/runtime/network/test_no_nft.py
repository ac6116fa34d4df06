"""A host without nftables (no `nft` on PATH, libnftables not used), for real: published ports
through the userspace relay, isolation between networks kept by bridges that do not forward, no
egress (said as a warning at create), and IPv6 networks refused; no nft table is ever made."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.errors import NetworkError
from runtime.network import NetworkManager, nft
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, in_ns, nft_tables, tcp_get
from .test_egress import OUTSIDE, outside  # noqa: F401 - the fixture

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]


@pytest.fixture
def no_nft(manager: NetworkManager, monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkManager]:
    """*manager* as a host without nftables sees it: PATH without the sbin dirs holding nft."""
    path = ":".join(d for d in os.environ["PATH"].split(":") if "sbin" not in d)
    with monkeypatch.context() as mp:  # undone here, before the manager fixture checks the host
        mp.setenv("PATH", path)
        mp.setattr(nft, "use_library", False)
        assert not nft.nft_available()
        yield manager
    assert manager.table not in nft_tables()


def ctr(name: str, network: str, *ports: PortMapping) -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=(NetworkAttachment(network=network),), ports=ports)


def test_without_nft_ports_are_relayed_and_networks_isolated_without_egress(
        no_nft: NetworkManager, servers: Fx, outside: str) -> None:  # noqa: F811
    m = no_nft
    servers(outside, 9000, "from-outside")
    one = m.create(NetworkSpec(name="one"))
    assert m.warnings == ["network one: no egress: nftables (nft) is missing, so containers reach only "
                          "the host and their own network"]
    two = m.create(NetworkSpec(name="two"))
    # the outside namespace gets a route back: only the bridge not forwarding can stop a reply now
    for net in (one, two):
        in_ns(outside, "ip", "route", "add", net.subnets[0], "via", "198.18.77.1")
    port = free_port()
    a = m.setup_container("a" * 64, ctr("a-1", "one", PortMapping(container_port=80, host_port=port,
                                                                  host_ip="127.0.0.1")))
    a2 = m.setup_container("c" * 64, ctr("a-2", "one"))
    b = m.setup_container("b" * 64, ctr("b-1", "two"))
    assert a.netns_path and a2.netns_path and b.netns_path
    servers(a.netns_path, 80, "a-web")
    servers(b.netns_path, 80, "b-web")
    assert tcp_get("127.0.0.1", port) == "a-web"  # the relay
    assert tcp_get(a.addresses["one"], 80) == "a-web"  # the host reaches containers directly
    same = in_ns(a2.netns_path, "busybox", "nc", "-w", "2", a.addresses["one"], "80", input="")
    assert same.stdout.strip() == "a-web", same
    for src, dst in ((a, b.addresses["two"]), (b, a.addresses["one"])):
        assert src.netns_path
        got = in_ns(src.netns_path, "busybox", "nc", "-w", "1", dst, "80", input="")
        assert got.stdout.strip() == "", f"{dst} reached from another network: {got}"
    got = in_ns(a.netns_path, "busybox", "nc", "-w", "1", OUTSIDE, "9000", input="")
    assert got.stdout.strip() == "", f"egress without nat: {got}"
    # isolation survives another tool turning forwarding on for every interface
    with open("/proc/sys/net/ipv4/conf/all/forwarding", "w") as f:
        f.write("1")
    m.setup_container("d" * 64, ctr("b-2", "two"))  # the next set-up turns it off again, on all
    for net in (one, two):
        with open(f"/proc/sys/net/ipv4/conf/{net.bridge}/forwarding") as f:
            assert f.read().strip() == "0", net.name
    got = in_ns(a.netns_path, "busybox", "nc", "-w", "1", b.addresses["two"], "80", input="")
    assert got.stdout.strip() == ""


def test_without_nft_ipv6_networks_are_refused(no_nft: NetworkManager) -> None:
    with pytest.raises(NetworkError, match="network v6: ipv6 needs nftables"):
        no_nft.create(NetworkSpec(name="v6", enable_ipv6=True))
    assert no_nft.list() == []

"""Egress through masquerade, and none from internal networks, against a server in a namespace
the test sets up itself (a veth to the host, an address outside composer's subnets)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.network import NetworkManager, netns
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec

from .conftest import in_ns, links

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]  # a fixture that starts something

HOST_SIDE, OUTSIDE = "198.18.77.1", "198.18.77.2"


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[str]:
    """A netns 'on the internet': veth cmtext0 (host, 198.18.77.1/30) <-> eth0 (198.18.77.2/30).
    It has no route back to composer's subnets: only masqueraded traffic can get an answer."""
    pin = tmp_path / "outside-ns"
    netns.create_pin(pin)
    try:
        subprocess.run(["ip", "link", "add", "cmtext0", "type", "veth", "peer", "name", "cmtext1"],
                       check=True)
        subprocess.run(["ip", "link", "set", "cmtext1", "netns", str(pin)], check=True)
        subprocess.run(["ip", "addr", "add", f"{HOST_SIDE}/30", "dev", "cmtext0"], check=True)
        subprocess.run(["ip", "link", "set", "cmtext0", "up"], check=True)
        for cmd in (["ip", "link", "set", "cmtext1", "name", "eth0"],
                    ["ip", "addr", "add", f"{OUTSIDE}/30", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"]):
            subprocess.run(["nsenter", f"--net={pin}", *cmd], check=True)
        yield str(pin)
    finally:
        subprocess.run(["ip", "link", "del", "cmtext0"], check=False)
        netns.remove_pin(pin)
    assert "cmtext0" not in links()


def ctr(name: str, network: str) -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=(NetworkAttachment(network=network),))


def test_normal_network_has_egress_and_internal_has_none(
        manager: NetworkManager, servers: Fx, outside: str) -> None:
    servers(outside, 9000, "from-outside")
    manager.create(NetworkSpec(name="open"))
    internal = manager.create(NetworkSpec(name="closed", internal=True))
    a = manager.setup_container("a" * 64, ctr("a-1", "open"))
    b = manager.setup_container("b" * 64, ctr("b-1", "closed"))
    assert a.netns_path and b.netns_path
    got = in_ns(a.netns_path, "busybox", "nc", "-w", "2", OUTSIDE, "9000", input="")
    assert got.stdout.strip() == "from-outside", got
    assert "default" not in in_ns(b.netns_path, "ip", "route").stdout
    # even with a route added by hand, the host does not forward an internal network's traffic
    in_ns(b.netns_path, "ip", "route", "add", "default", "via", internal.gateways[0])
    got = in_ns(b.netns_path, "busybox", "nc", "-w", "1", OUTSIDE, "9000", input="")
    assert got.stdout.strip() != "from-outside"


def test_an_internal_first_network_leaves_the_default_route_to_the_next(
        manager: NetworkManager, servers: Fx, outside: str) -> None:
    """docker's gateway endpoint is the first that has a gateway, and an internal network gives
    none: a container on [internal, open] reaches out through open; one on the internal network
    only gets its default route when it is connected to an open one."""
    servers(outside, 9000, "from-outside")
    manager.create(NetworkSpec(name="open"))
    manager.create(NetworkSpec(name="closed", internal=True))
    both = ContainerSpec(name="a-1", image="i", networks=(NetworkAttachment(network="closed"),
                                                          NetworkAttachment(network="open")))
    a = manager.setup_container("a" * 64, both)
    b = manager.setup_container("b" * 64, ctr("b-1", "closed"))
    assert a.netns_path and b.netns_path
    got = in_ns(a.netns_path, "busybox", "nc", "-w", "2", OUTSIDE, "9000", input="")
    assert got.stdout.strip() == "from-outside", (got, in_ns(a.netns_path, "ip", "route").stdout)
    assert "default" not in in_ns(b.netns_path, "ip", "route").stdout
    manager.connect("b" * 64, NetworkAttachment(network="open"))
    got = in_ns(b.netns_path, "busybox", "nc", "-w", "2", OUTSIDE, "9000", input="")
    assert got.stdout.strip() == "from-outside", (got, in_ns(b.netns_path, "ip", "route").stdout)

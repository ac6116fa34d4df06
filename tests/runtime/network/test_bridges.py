"""Network objects for real: bridges with their gateway, the subnet pool, explicit IPAM, options."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import pytest

from runtime.errors import Conflict, NetworkError, NotFound
from runtime.network import NetworkManager, ipam
from runtime.network.links import host_networks
from runtime.spec import IPAMConfig, NetworkSpec

from .conftest import links, nft_tables

pytestmark = pytest.mark.privileged


def addr_of(link: str) -> str:
    return subprocess.run(["ip", "-o", "addr", "show", "dev", link], capture_output=True, text=True).stdout


def test_create_makes_a_bridge_with_the_gateway_and_remove_deletes_it(manager: NetworkManager) -> None:
    assert not manager.exists("demo_default")
    info = manager.create(NetworkSpec(name="demo_default", labels={"com.docker.compose.project": "demo"}))
    assert manager.exists("demo_default") and not manager.exists(info.id)  # by name only
    assert info.bridge in links() and len(info.bridge) <= 15
    assert f"inet {info.gateways[0]}/24" in addr_of(info.bridge)
    assert Path(f"/proc/sys/net/ipv4/conf/{info.bridge}/route_localnet").read_text().strip() == "1"
    assert manager.get("demo_default") == info
    assert manager.get(info.id[:12]).name == "demo_default"
    assert manager.table in nft_tables()
    with pytest.raises(Conflict, match="network demo_default: already exists"):
        manager.create(NetworkSpec(name="demo_default"))
    manager.remove("demo_default")
    assert not manager.exists("demo_default")
    assert info.bridge not in links()
    assert manager.table not in nft_tables()
    with pytest.raises(NotFound, match="network demo_default: not found"):
        manager.get("demo_default")


def test_pool_skips_subnets_in_state_and_on_the_host(manager: NetworkManager) -> None:
    first = manager.create(NetworkSpec(name="one"))
    second = manager.create(NetworkSpec(name="two"))
    a, b = (ipaddress.ip_network(i.subnets[0]) for i in (first, second))
    assert a != b and not a.overlaps(b)
    for net in (a, b):
        assert net.subnet_of(ipaddress.IPv4Network("10.0.0.0/8"))  # type: ignore[arg-type]
    # a route the host already has is skipped: make the next pool subnet busy on the host
    nxt = ipam.pick_subnet(ipam.v4_pool(), [*host_networks(), a, b], "probe")
    subprocess.run(["ip", "route", "add", "blackhole", str(nxt)], check=True)
    try:
        assert nxt in host_networks()
        third = manager.create(NetworkSpec(name="three"))
        assert not ipaddress.ip_network(third.subnets[0]).overlaps(nxt)
    finally:
        subprocess.run(["ip", "route", "del", "blackhole", str(nxt)], check=True)


def test_explicit_ipam_and_overlap_errors(manager: NetworkManager) -> None:
    info = manager.create(NetworkSpec(name="fixed", ipam=(IPAMConfig(
        subnet="172.30.7.0/24", gateway="172.30.7.254", ip_range="172.30.7.128/25"),)))
    assert info.subnets == ("172.30.7.0/24",) and info.gateways == ("172.30.7.254",)
    with pytest.raises(NetworkError, match="network clash: subnet 172.30.0.0/16 overlaps subnet "
                                           "172.30.7.0/24 of network fixed"):
        manager.create(NetworkSpec(name="clash", ipam=(IPAMConfig(subnet="172.30.0.0/16"),)))
    with pytest.raises(NetworkError, match="network onhost: subnet 192.0.2.0/24 overlaps"):
        manager.create(NetworkSpec(name="onhost", ipam=(IPAMConfig(subnet="192.0.2.0/24"),)))
    with pytest.raises(NetworkError, match="gateway 10.1.0.1 is not in subnet"):
        manager.create(NetworkSpec(name="badgw", ipam=(
            IPAMConfig(subnet="172.31.9.0/24", gateway="10.1.0.1"),)))
    assert [n.name for n in manager.list()] == ["fixed"]


def test_ip_range_limits_allocation(manager: NetworkManager) -> None:
    from runtime.spec import ContainerSpec, NetworkAttachment

    manager.create(NetworkSpec(name="fixed", ipam=(
        IPAMConfig(subnet="172.30.8.0/24", ip_range="172.30.8.64/30"),)))
    got = [manager.setup_container(c * 64, ContainerSpec(name=f"x-{c}", image="i", networks=(
        NetworkAttachment(network="fixed"),))).addresses["fixed"] for c in "ab"]
    assert got == ["172.30.8.64", "172.30.8.65"]
    with pytest.raises(NetworkError, match="no free address left on network fixed"):
        for c in "cde":
            manager.setup_container(c * 64, ContainerSpec(name=f"x-{c}", image="i", networks=(
                NetworkAttachment(network="fixed"),)))


def test_options_labels_internal_ipv6_and_prune(manager: NetworkManager) -> None:
    bridge = f"cmtbr-{os.getpid() % 100000}"  # a host-wide name: unique per run
    info = manager.create(NetworkSpec(name="opts", internal=True, enable_ipv6=True,
                                      labels={"team": "a"},
                                      driver_opts={"mtu": "1280",
                                                   "com.docker.network.bridge.name": bridge}))
    assert info.bridge == bridge
    assert "mtu 1280" in subprocess.run(["ip", "link", "show", bridge], capture_output=True,
                                        text=True).stdout
    assert info.internal and info.enable_ipv6
    v6 = [s for s in info.subnets if ":" in s]
    assert v6 and ipaddress.ip_network(v6[0]).subnet_of(ipaddress.IPv6Network("fd00::/8"))  # type: ignore[arg-type]
    manager.create(NetworkSpec(name="other", labels={"team": "b"}))
    assert [n.name for n in manager.list({"team": "a"})] == ["opts"]
    assert manager.prune({"team": "b"}) == ["other"]
    assert manager.prune() == ["opts"]
    assert bridge not in links()


def test_a_vanished_bridge_is_recreated_on_next_setup(manager: NetworkManager) -> None:
    from runtime.spec import ContainerSpec, NetworkAttachment

    info = manager.create(NetworkSpec(name="demo_default"))
    subprocess.run(["ip", "link", "del", info.bridge], check=True)  # as after a reboot
    subprocess.run(["nft", "delete", "table", "inet", manager.table], check=True)
    net = manager.setup_container("a" * 64, ContainerSpec(name="x-1", image="i", networks=(
        NetworkAttachment(network="demo_default"),)))
    assert info.bridge in links() and f"inet {info.gateways[0]}/24" in addr_of(info.bridge)
    assert manager.table in nft_tables()
    assert net.addresses["demo_default"]

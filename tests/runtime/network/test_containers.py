"""Real namespaces and bridges: two "containers" (pins made by setup_container) talk by name."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import Conflict, NetworkError
from runtime.network import NetworkManager
from runtime.network.manager import host_veth
from runtime.spec import ContainerSpec, IPAMConfig, NetworkAttachment, NetworkSpec

from .conftest import in_ns, links, with_hosts

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]  # a fixture that starts something

A, B, C, D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


def ctr(name: str, *nets: str, aliases: tuple[str, ...] = (), **kw: object) -> ContainerSpec:
    atts = tuple(NetworkAttachment(network=n, aliases=aliases) for n in nets)
    return ContainerSpec(name=name, image="localhost/busybox:latest", networks=atts, **kw)  # type: ignore[arg-type]


def test_two_containers_talk_over_tcp_by_service_name(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    web = manager.setup_container(A, ctr("demo-web-1", "demo_default", aliases=("web",)))
    cli = manager.setup_container(B, ctr("demo-client-1", "demo_default", aliases=("client",)))
    assert web.netns_path and cli.netns_path
    servers(web.netns_path, 8080, "hello-from-web")
    for name in ("web", "demo-web-1"):
        out = with_hosts(cli.netns_path, cli.hosts_path, f"echo | busybox nc -w 2 {name} 8080")
        assert out.stdout.strip() == "hello-from-web", out
    # the client sees only lo and eth0, with its address, and a default route via the gateway
    addr = in_ns(cli.netns_path, "ip", "-o", "-4", "addr").stdout.split()
    assert addr[addr.index("eth0") + 2] == f"{cli.addresses['demo_default']}/24"
    assert "default via 10." in in_ns(cli.netns_path, "ip", "route").stdout


def test_network_isolation_across_networks(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="p1_default"))
    manager.create(NetworkSpec(name="p2_default"))
    a = manager.setup_container(A, ctr("p1-web-1", "p1_default", aliases=("web",)))
    b = manager.setup_container(B, ctr("p1-cli-1", "p1_default"))
    c = manager.setup_container(C, ctr("p2-cli-1", "p2_default"))
    assert a.netns_path and b.netns_path and c.netns_path
    servers(a.netns_path, 8080, "ok")
    ip = a.addresses["p1_default"]
    assert in_ns(b.netns_path, "busybox", "nc", "-w", "2", ip, "8080", input="").stdout.strip() == "ok"
    blocked = in_ns(c.netns_path, "busybox", "nc", "-w", "1", ip, "8080", input="")
    assert blocked.stdout.strip() != "ok"
    assert "web" not in Path(c.hosts_path).read_text()


def test_scaled_replicas_share_the_service_alias(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    r1 = manager.setup_container(A, ctr("demo-web-1", "demo_default", aliases=("web",)))
    r2 = manager.setup_container(B, ctr("demo-web-2", "demo_default", aliases=("web",)))
    cli = manager.setup_container(C, ctr("demo-cli-1", "demo_default"))
    lines = [ln.split() for ln in Path(cli.hosts_path).read_text().splitlines()]
    web = {ln[0] for ln in lines if "web" in ln[1:]}
    assert web == {r1.addresses["demo_default"], r2.addresses["demo_default"]}


def test_recreated_peer_appears_in_place(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    cli = manager.setup_container(A, ctr("demo-cli-1", "demo_default"))
    inode = os.stat(cli.hosts_path).st_ino
    old = manager.setup_container(B, ctr("demo-db-1", "demo_default", aliases=("db",)))
    text = Path(cli.hosts_path).read_text()
    assert f"{old.addresses['demo_default']}\tdb demo-db-1" in text
    manager.setup_container(C, ctr("demo-filler-1", "demo_default"))  # takes another address
    manager.teardown_container(B)
    assert "db" not in Path(cli.hosts_path).read_text().split()
    new = manager.setup_container(D, ctr("demo-db-1", "demo_default", aliases=("db",)))
    assert new.addresses != old.addresses
    text = Path(cli.hosts_path).read_text()
    assert f"{new.addresses['demo_default']}\tdb demo-db-1" in text
    assert os.stat(cli.hosts_path).st_ino == inode


def test_static_address_mac_and_interface_name(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="n1", ipam=(IPAMConfig(subnet="172.30.77.0/24"),)))
    att = NetworkAttachment(network="n1", ipv4_address="172.30.77.77", mac_address="02:42:AC:11:00:99",
                            interface_name="lan0")
    net = manager.setup_container(A, ContainerSpec(name="x-1", image="i", networks=(att,)))
    assert net.addresses == {"n1": "172.30.77.77"}
    assert net.netns_path
    out = in_ns(net.netns_path, "ip", "-o", "link", "show", "lan0").stdout
    assert "02:42:ac:11:00:99" in out
    with pytest.raises(NetworkError, match="already in use"):
        manager.setup_container(B, ContainerSpec(name="x-2", image="i", networks=(
            NetworkAttachment(network="n1", ipv4_address=net.addresses["n1"]),)))
    with pytest.raises(NetworkError, match="not in subnet"):
        manager.setup_container(B, ContainerSpec(name="x-2", image="i", networks=(
            NetworkAttachment(network="n1", ipv4_address="192.168.250.3"),)))
    with pytest.raises(NetworkError, match="invalid mac"):
        manager.setup_container(B, ContainerSpec(name="x-2", image="i", networks=(
            NetworkAttachment(network="n1", mac_address="zz"),)))
    assert not os.path.lexists(manager.paths.netns(B))


def test_each_end_of_a_containers_veth_has_one_transmit_and_one_receive_queue(
        manager: NetworkManager) -> None:
    """Asked for at creation (rtnl.add_veth): a queue per CPU cut down to one afterwards would
    wait for an RCU grace period per end. A host with one CPU cannot tell the difference."""
    manager.create(NetworkSpec(name="q1"))
    net = manager.setup_container(A, ctr("q-1", "q1"))
    assert net.netns_path
    inside = in_ns(net.netns_path, "ip", "-d", "-o", "link", "show", "eth0").stdout
    host = subprocess.run(["ip", "-d", "-o", "link", "show", host_veth(A, "q1")], capture_output=True,
                          text=True).stdout
    for out in (inside, host):
        assert "numtxqueues 1 numrxqueues 1" in out, out


def test_two_networks_priority_gives_default_route(manager: NetworkManager) -> None:
    n1 = manager.create(NetworkSpec(name="front"))
    n2 = manager.create(NetworkSpec(name="back"))
    spec = ContainerSpec(name="x-1", image="i", networks=(
        NetworkAttachment(network="front", priority=1), NetworkAttachment(network="back", priority=5)))
    net = manager.setup_container(A, spec)
    assert net.netns_path
    routes = in_ns(net.netns_path, "ip", "route").stdout
    assert f"default via {n2.gateways[0]} dev eth0" in routes
    assert n1.subnets[0].split("/")[0] in routes  # the second interface's connected route
    assert manager.get("front").containers == {A: net.addresses["front"]}
    with pytest.raises(Conflict, match="in use"):
        manager.remove("front")


def test_none_mode_has_only_lo(manager: NetworkManager) -> None:
    net = manager.setup_container(A, ContainerSpec(name="x-1", image="i", network_mode="none",
                                                   hostname="box", dns=("192.0.2.53",),
                                                   extra_hosts=(("gw.test", "192.0.2.1"),)))
    assert net.netns_path
    out = in_ns(net.netns_path, "ip", "-o", "link").stdout
    assert [ln.split(":")[1].strip() for ln in out.splitlines()] == ["lo"]
    ping_range = in_ns(net.netns_path, "cat", "/proc/sys/net/ipv4/ping_group_range").stdout.split()
    assert ping_range == ["0", "2147483647"]
    assert "UP" in out
    hosts = Path(net.hosts_path).read_text().splitlines()
    # docker's order: extra_hosts right after the localhost lines, then the container's own line
    assert hosts[2:] == ["192.0.2.1\tgw.test", "127.0.0.1\tbox x-1"]
    assert Path(net.resolv_path).read_text() == "nameserver 192.0.2.53\n"
    manager.teardown_container(A)
    manager.teardown_container(A)  # idempotent
    assert not os.path.lexists(net.netns_path)


def test_host_mode_and_joined_container(manager: NetworkManager) -> None:
    host = manager.setup_container(A, ContainerSpec(name="h-1", image="i", network_mode="host"))
    assert host.netns_path is None
    assert Path(host.hosts_path).read_text() == Path("/etc/hosts").read_text()
    manager.create(NetworkSpec(name="n1"))
    owner = manager.setup_container(B, ctr("x-1", "n1"))
    joined = manager.setup_container(C, ContainerSpec(name="x-2", image="i", network_mode=f"container:{B}"))
    assert joined.netns_path == owner.netns_path and joined.hosts_path == owner.hosts_path
    assert joined.addresses == owner.addresses


def test_half_made_setup_is_repaired(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="n1"))
    manager.setup_container(A, ctr("x-1", "n1"))
    # a crash left the state and the pin but the veth is gone: setting up again repairs and redoes it
    subprocess.run(["ip", "link", "del", host_veth(A, "n1")], check=True)
    again = manager.setup_container(A, ctr("x-1", "n1"))
    assert again.netns_path
    assert "eth0" in in_ns(again.netns_path, "ip", "-o", "link").stdout
    assert list(manager.get("n1").containers) == [A]
    # and a teardown after a crash half-way (pin made, no veth yet) removes what is there
    subprocess.run(["ip", "link", "del", host_veth(A, "n1")], check=True)
    manager.teardown_container(A)
    assert not os.path.lexists(again.netns_path)
    assert host_veth(A, "n1") not in links()
    assert manager.get("n1").containers == {}
    assert manager.store.read().list("ip") == []


def test_connect_and_disconnect(manager: NetworkManager) -> None:
    manager.create(NetworkSpec(name="n1"))
    manager.create(NetworkSpec(name="n2"))
    net = manager.setup_container(A, ctr("x-1", "n1"))
    peer = manager.setup_container(B, ctr("y-1", "n2", aliases=("y",)))
    assert "y" not in Path(net.hosts_path).read_text().split()
    manager.connect(A, NetworkAttachment(network="n2", aliases=("x",)))
    assert net.netns_path
    assert "eth1" in in_ns(net.netns_path, "ip", "-o", "link").stdout
    assert "y" in Path(net.hosts_path).read_text().split()
    assert "x" in Path(peer.hosts_path).read_text().split()
    manager.disconnect(A, "n2")
    assert "eth1" not in in_ns(net.netns_path, "ip", "-o", "link").stdout
    assert "x" not in Path(peer.hosts_path).read_text().split()


def test_ipv6_network_gives_v6_addresses_that_talk(manager: NetworkManager, servers: Fx) -> None:
    info = manager.create(NetworkSpec(name="v6", enable_ipv6=True))
    v6_subnet = next(s for s in info.subnets if ":" in s)
    a = manager.setup_container(A, ContainerSpec(name="v6-a-1", image="i", networks=(
        NetworkAttachment(network="v6", aliases=("srv",)),)))
    b = manager.setup_container(B, ContainerSpec(name="v6-b-1", image="i", networks=(
        NetworkAttachment(network="v6", ipv6_address=v6_subnet.replace("::/64", "::99")),)))
    assert a.netns_path and b.netns_path
    a6 = [ln.split()[0] for ln in Path(b.hosts_path).read_text().splitlines()
          if "srv" in ln.split() and ":" in ln]
    assert len(a6) == 1
    assert a6[0] in in_ns(a.netns_path, "ip", "-6", "-o", "addr").stdout
    assert v6_subnet.replace("::/64", "::99") in in_ns(b.netns_path, "ip", "-6", "-o", "addr").stdout
    servers(a.netns_path, 8080, "v6-ok")
    got = in_ns(b.netns_path, "busybox", "nc", "-w", "2", a6[0], "8080", input="")
    assert got.stdout.strip() == "v6-ok", got
    assert "default via" in in_ns(b.netns_path, "ip", "-6", "route").stdout

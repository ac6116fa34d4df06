"""network connect/disconnect change only the container's own nft map elements, as set-up and
teardown do: the table is never rendered again (its handle stays), published ports follow the
container's first non-internal network, and isolation between networks holds."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from runtime.network import NetworkManager
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, in_ns, tcp_get

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]

A, B = "a" * 64, "b" * 64


def table(m: NetworkManager) -> tuple[str, str]:
    """(the table's handle, its port maps' elements)."""
    out = subprocess.run(["nft", "-a", "list", "table", "inet", m.table], capture_output=True,
                         text=True, check=True).stdout
    handle = re.search(r"^table inet \S+ \{ # handle (\d+)", out, re.M)
    assert handle, out
    elements = "\n".join(ln.strip() for ln in out.splitlines() if "elements" in ln or ln.startswith("\t\t\t"))
    return handle.group(1), elements


def ctr(name: str, net: str, *ports: PortMapping) -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=(NetworkAttachment(network=net),), ports=ports)


def test_connect_and_disconnect_keep_the_table_and_move_the_ports(
        manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="inner", internal=True))
    manager.create(NetworkSpec(name="n1"))
    manager.create(NetworkSpec(name="n2"))
    peer = manager.setup_container(B, ctr("peer-1", "n2"))
    assert peer.netns_path
    servers(peer.netns_path, 7000, "peer")
    port = free_port()
    # on an internal network only: its published port leads nowhere (no element)
    net = manager.setup_container(A, ctr("web-1", "inner", PortMapping(container_port=80, host_port=port)))
    assert net.netns_path
    servers(net.netns_path, 80, "web")
    handle, before = table(manager)
    assert str(port) not in before
    with pytest.raises(OSError):
        tcp_get("127.0.0.1", port, timeout=0.5)

    manager.connect(A, NetworkAttachment(network="n1"))  # now the port leads to its n1 address
    h, elements = table(manager)
    assert h == handle and f"tcp . {port} : {manager.get('n1').containers[A]} . 80" in elements
    assert tcp_get("127.0.0.1", port) == "web"
    peer_ip = peer.addresses["n2"]
    isolated = in_ns(net.netns_path, "busybox", "nc", "-w", "1", peer_ip, "7000", input="")
    assert isolated.stdout.strip() != "peer"  # n1 and n2 stay apart

    manager.connect(A, NetworkAttachment(network="n2"))  # the target stays n1: nothing changes
    assert table(manager) == (handle, elements)
    reached = in_ns(net.netns_path, "busybox", "nc", "-w", "2", peer_ip, "7000", input="")
    assert reached.stdout.strip() == "peer"

    manager.disconnect(A, "n2")
    assert table(manager) == (handle, elements)
    assert tcp_get("127.0.0.1", port) == "web"
    isolated = in_ns(net.netns_path, "busybox", "nc", "-w", "1", peer_ip, "7000", input="")
    assert isolated.stdout.strip() != "peer"

    manager.disconnect(A, "n1")  # back to the internal network only: the element goes
    h, elements = table(manager)
    assert h == handle and str(port) not in elements
    with pytest.raises(OSError):
        tcp_get("127.0.0.1", port, timeout=0.5)

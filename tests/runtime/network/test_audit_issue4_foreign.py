"""Issue 4 audit: composer changes only its own nftables table. Another tool's table (here a made-up
one, with a chain on the forward hook and a set) is byte-for-byte the same after composer made a
network, a container with a published port and tore them down again."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.network import NetworkManager
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, nft_tables, tcp_get

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]
FOREIGN = "a4foreign"


def _listed() -> str:
    return subprocess.run(["nft", "list", "table", "inet", FOREIGN], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def foreign() -> Iterator[str]:
    subprocess.run(["nft", "-f", "-"], check=True, text=True, input=(
        f"table inet {FOREIGN} {{\n"
        "  set keep { type ipv4_addr; elements = { 198.51.100.7 } }\n"
        "  chain filt { type filter hook forward priority 10; policy accept; counter; }\n"
        "}\n"))
    try:
        yield _listed()
    finally:
        subprocess.run(["nft", "delete", "table", "inet", FOREIGN], check=False)
    assert FOREIGN not in nft_tables()


def test_other_tables_are_left_alone(manager: NetworkManager, servers: Fx, foreign: str) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    net = manager.setup_container("a" * 64, ContainerSpec(
        name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),),
        ports=(PortMapping(container_port=80, host_port=port),)))
    assert net.netns_path
    servers(net.netns_path, 80, "mine")
    assert tcp_get("127.0.0.1", port) == "mine"
    assert manager.table in nft_tables()

    def rules(text: str) -> list[str]:  # the counter's values move with the traffic; the rest may not
        return [ln for ln in text.splitlines() if "counter" not in ln]

    assert rules(_listed()) == rules(foreign)
    manager.teardown_container("a" * 64)
    manager.remove("demo_default")
    assert manager.table not in nft_tables()
    assert rules(_listed()) == rules(foreign)

"""NetworkManager.batch(), for real: inside it each container gets its own hosts file at once,
the peers' hosts files and the ports chain are rewritten once when the outermost block ends."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.network import NetworkManager
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, tcp_get

pytestmark = pytest.mark.privileged
Fx = Callable[..., Any]


def ports_chain(manager: NetworkManager) -> str:
    return subprocess.run(["nft", "list", "table", "inet", manager.table], capture_output=True,
                          text=True, check=True).stdout


def svc(name: str, *ports: PortMapping) -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=(NetworkAttachment(network="demo_default",
                                                                           aliases=(name.split("-")[1],)),),
                         ports=ports)


def test_batch_defers_peers_and_ports_to_its_end(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    with manager.batch():
        web = manager.setup_container("a" * 64, svc("demo-web-1", PortMapping(container_port=80,
                                                                               host_port=port)))
        with manager.batch():  # nested: only the outermost end applies
            db = manager.setup_container("b" * 64, svc("demo-db-1"))
        web_hosts = Path(web.hosts_path).read_text()
        assert "demo-web-1" in web_hosts and "demo-db-1" not in web_hosts  # not yet
        assert "demo-web-1" in Path(db.hosts_path).read_text()  # its own file is complete at once
        assert f"tcp . {port} :" not in ports_chain(manager)
    assert "demo-db-1" in Path(web.hosts_path).read_text()
    assert f"tcp . {port} :" in ports_chain(manager)
    assert web.netns_path
    servers(web.netns_path, 80, "batched")
    assert tcp_get("127.0.0.1", port) == "batched"
    with manager.batch():
        manager.teardown_container("b" * 64)
        assert "demo-db-1" in Path(web.hosts_path).read_text()
        manager.teardown_container("a" * 64)
    assert f"tcp . {port} :" not in ports_chain(manager)

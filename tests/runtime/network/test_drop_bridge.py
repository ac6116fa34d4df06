"""NetworkManager.drop_bridge (`down` deletes a network's bridge once its containers are stopped, so
that the kernel's slow unregistration overlaps their removal) and ensure_attached, which gives a
container that stayed after all its bridge back, its veth on it."""

from __future__ import annotations

import os
import subprocess

import pytest

from runtime.network import NetworkManager, links
from runtime.network.manager import host_veth
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec

from .conftest import links as host_links

pytestmark = pytest.mark.privileged
A, B = "a" * 64, "b" * 64


def ctr(name: str, *nets: str) -> ContainerSpec:
    return ContainerSpec(name=name, image="i", networks=tuple(NetworkAttachment(network=n) for n in nets))


def _master(link: str) -> str | None:
    path = f"/sys/class/net/{link}/master"
    return os.path.basename(os.readlink(path)) if os.path.lexists(path) else None


def test_the_bridge_goes_only_when_every_container_on_it_is_leaving(manager: NetworkManager) -> None:
    info = manager.create(NetworkSpec(name="dbr_default"))
    manager.setup_container(A, ctr("dbr-a-1", "dbr_default"))
    manager.setup_container(B, ctr("dbr-b-1", "dbr_default"))
    assert not manager.drop_bridge("dbr_default", {A})         # B stays on it
    assert links.link_exists(info.bridge) and _master(host_veth(B, "dbr_default")) == info.bridge
    assert manager.drop_bridge("dbr_default", {A, "dbr-b-1"})  # ids or names
    assert not links.link_exists(info.bridge)
    assert not manager.drop_bridge("nosuch", {A})
    for cid in (A, B):
        manager.teardown_container(cid)
    manager.remove("dbr_default")                              # the record, and nothing left
    assert info.bridge not in host_links()
    assert manager.list() == []


def test_a_container_that_stays_gets_its_bridge_back_with_its_veth_on_it(manager: NetworkManager) -> None:
    info = manager.create(NetworkSpec(name="dbs_default"))
    manager.setup_container(A, ctr("dbs-a-1", "dbs_default"))
    veth = host_veth(A, "dbs_default")
    assert _master(veth) == info.bridge
    assert manager.drop_bridge("dbs_default", {A})
    assert _master(veth) is None
    manager.ensure_attached(A)  # its start, after a removal that failed
    assert _master(veth) == info.bridge
    addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", info.bridge], capture_output=True,
                           text=True, check=True).stdout
    assert f"{info.gateways[0]}/" in addrs                     # the gateway is back too
    manager.ensure_attached(A)  # nothing missing: nothing done
    manager.ensure_attached("c" * 64)  # no such container: nothing to do
    manager.teardown_container(A)
    manager.remove("dbs_default")
    assert info.bridge not in host_links()


def test_a_container_set_up_on_it_meanwhile_keeps_its_bridge(manager: NetworkManager,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process sets a container up on the network between drop_bridge's look and its
    deletion (its veth is on the bridge being deleted): the bridge comes back with its veth."""
    info = manager.create(NetworkSpec(name="dbm_default"))
    manager.setup_container(A, ctr("dbm-a-1", "dbm_default"))
    real = links.delete_link

    def racing(name: str) -> None:
        monkeypatch.setattr(links, "delete_link", real)
        manager.setup_container(B, ctr("dbm-b-1", "dbm_default"))  # plugged onto the old bridge
        real(name)

    monkeypatch.setattr(links, "delete_link", racing)
    assert manager.drop_bridge("dbm_default", {A})
    assert links.link_exists(info.bridge) and _master(host_veth(B, "dbm_default")) == info.bridge
    for cid in (A, B):
        manager.teardown_container(cid)
    manager.remove("dbm_default")
    assert info.bridge not in host_links()

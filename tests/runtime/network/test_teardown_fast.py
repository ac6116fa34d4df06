"""Teardown leaves the veth to the kernel (it goes with the namespace), except when it cannot."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import pytest

from runtime.network import NetworkManager, links
from runtime.network.manager import host_veth
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec

from .conftest import links as host_links

pytestmark = pytest.mark.privileged
A, B = "e" * 64, "f" * 64


def ctr(name: str, *nets: str, **kw: object) -> ContainerSpec:
    atts = tuple(NetworkAttachment(network=n) for n in nets)
    return ContainerSpec(name=name, image="i", networks=atts, **kw)  # type: ignore[arg-type]


@pytest.fixture
def deleted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names links.delete_link is asked to delete (it still deletes them)."""
    calls: list[str] = []
    real = links.delete_link

    def recording(name: str) -> None:
        if links.link_exists(name):
            calls.append(name)
        real(name)

    monkeypatch.setattr(links, "delete_link", recording)
    yield calls


def _gone(name: str, timeout: float = 10.0) -> bool:  # the kernel's netns clean-up is a queue
    for _ in range(int(timeout / 0.02)):
        if name not in host_links():
            return True
        threading.Event().wait(0.02)
    return False


def test_the_veth_goes_with_the_namespace(manager: NetworkManager, deleted: list[str]) -> None:
    manager.create(NetworkSpec(name="tf_default"))
    manager.setup_container(A, ctr("tf-web-1", "tf_default"))
    veth = host_veth(A, "tf_default")
    assert veth in host_links()
    manager.teardown_container(A)
    assert deleted == [] and _gone(veth)
    # the same id set up again at once (a restart) gets a fresh veth even if the old one lingers
    manager.setup_container(A, ctr("tf-web-1", "tf_default"))
    assert veth in host_links()
    manager.teardown_container(A)
    manager.teardown_container(A)  # idempotent
    assert _gone(veth)


def test_a_joined_namespace_outlives_the_pin_so_the_veth_is_deleted(
    manager: NetworkManager, deleted: list[str]
) -> None:
    manager.create(NetworkSpec(name="tj_default"))
    manager.setup_container(A, ctr("tj-web-1", "tj_default"))
    manager.setup_container(B, ContainerSpec(name="tj-side-1", image="i", network_mode=f"container:{A}"))
    manager.teardown_container(A)
    assert deleted == [host_veth(A, "tj_default")]
    assert host_veth(A, "tj_default") not in host_links()
    manager.teardown_container(B)


def test_removing_the_network_deletes_a_veth_whose_namespace_lingers(
    manager: NetworkManager, deleted: list[str]
) -> None:
    # A process still in the namespace keeps it (and so the veth) alive after teardown, as the
    # kernel's clean-up queue does on a busy host; removing the network must not leave the veth.
    manager.create(NetworkSpec(name="tl_default"))
    net = manager.setup_container(A, ctr("tl-web-1", "tl_default"))
    holder = subprocess.Popen(["nsenter", f"--net={net.netns_path}", "sleep", "30"])
    try:
        threading.Event().wait(0.2)
        veth = host_veth(A, "tl_default")
        manager.teardown_container(A)
        assert veth in host_links() and deleted == []
        manager.remove("tl_default")
        assert deleted[0] == veth and veth not in host_links()
    finally:
        holder.kill()
        holder.wait()

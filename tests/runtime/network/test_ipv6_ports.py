"""IPv6 published ports, for real: DNAT in our table for host v6 addresses, and a userspace
relay for ::1 (the kernel never routes a ::1-sourced packet off lo, so DNAT cannot serve it)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.network import NetworkManager
from runtime.network.manager import relay_rules
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping
from tests.runtime.conftest import processes

from .conftest import free_port, nft_tables, tcp_get
from .test_ports import DUMMY_ADDR, DUMMY_ADDR6, host_addr  # noqa: F401 - the fixture

Fx = Callable[..., Any]
A = "a" * 64


def web(port: int, host_ip: str = "") -> ContainerSpec:
    return ContainerSpec(name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),),
                         ports=(PortMapping(container_port=80, host_port=port, host_ip=host_ip),))


def answers(host: str, port: int) -> str | None:
    try:
        return tcp_get(host, port, timeout=0.5)
    except OSError:
        return None


@pytest.mark.privileged
def test_wildcard_port_on_an_ipv6_network_answers_on_every_address(
        manager: NetworkManager, servers: Fx, host_addr: str) -> None:  # noqa: F811
    manager.create(NetworkSpec(name="demo_default", enable_ipv6=True))
    port = free_port()
    net = manager.setup_container(A, web(port))
    assert net.netns_path
    servers(net.netns_path, 80, "everywhere")
    for host in ("::1", "127.0.0.1", DUMMY_ADDR6, DUMMY_ADDR):
        assert answers(host, port) == "everywhere", host
    assert manager.table in nft_tables()
    rules = subprocess.run(["nft", "list", "table", "inet", manager.table], capture_output=True,
                           text=True, check=True).stdout
    assert "ip6 daddr != ::1" in rules  # DNAT would swallow ::1 traffic meant for the relay


@pytest.mark.privileged
def test_host_ip_v6_loopback_answers_only_there(manager: NetworkManager, servers: Fx,
                                                host_addr: str) -> None:  # noqa: F811
    manager.create(NetworkSpec(name="demo_default", enable_ipv6=True))
    port = free_port()
    net = manager.setup_container(A, web(port, "::1"))
    assert net.netns_path
    servers(net.netns_path, 80, "loopback6")
    assert answers("::1", port) == "loopback6"
    for host in ("127.0.0.1", DUMMY_ADDR6, DUMMY_ADDR):
        assert answers(host, port) is None, host
    manager.teardown_container(A)
    assert answers("::1", port) is None  # the relay went with the container


@pytest.mark.privileged
def test_v6_wildcard_on_a_v4_only_network_is_relayed_to_the_v4_address(
        manager: NetworkManager, servers: Fx, host_addr: str) -> None:  # noqa: F811
    manager.create(NetworkSpec(name="demo_default"))
    port = free_port()
    net = manager.setup_container(A, web(port, "::"))
    assert net.netns_path
    servers(net.netns_path, 80, "via-v4")
    for host in ("::1", DUMMY_ADDR6):
        assert answers(host, port) == "via-v4", host
    assert answers("127.0.0.1", port) is None
    # and the port is taken on v6 only: the v4 wildcard stays free for someone else
    with socket.socket(socket.AF_INET) as s:
        s.bind(("0.0.0.0", port))


def test_relay_rules_serve_only_what_dnat_cannot() -> None:
    nets = {"n6": {"internal": False}, "n4": {"internal": False}}
    six = [{"network": "n6", "ipv4": "10.0.0.2", "ipv6": "fd00::2"}]
    four = [{"network": "n4", "ipv4": "10.0.1.2", "ipv6": None}]

    def port(host_ip: str) -> dict[str, Any]:
        return {"protocol": "tcp", "host_ip": host_ip, "actual": 8080, "container_port": 80}

    def relayed(host_ip: str, records: list[dict[str, Any]],
                everything: bool = False) -> list[tuple[str, str]]:
        return [(r["host_ip"], r["address"]) for r in relay_rules([port(host_ip)], records, nets, everything)]

    assert relayed("", six) == [("::1", "fd00::2")]
    assert relayed("::", six) == [("::1", "fd00::2")]
    assert relayed("::1", six) == [("::1", "fd00::2")]
    assert relayed("2001:db8::1", six) == []          # DNAT serves it
    assert relayed("127.0.0.1", six) == []            # route_localnet + DNAT serve it
    assert relayed("", four) == []
    assert relayed("::", four) == [("::", "10.0.1.2")]
    assert relayed("::1", four) == [("::1", "10.0.1.2")]
    assert relayed("", four, everything=True) == [("", "10.0.1.2")]      # no nft: all relayed
    assert relayed("::1", six, everything=True) == [("::1", "fd00::2")]
    assert relay_rules([port("")], six, {"n6": {"internal": True}}, False) == []


def _relay_pid(manager: NetworkManager) -> int:
    want = str(manager.relay_dir())
    for pid, argv in processes():
        if want in argv:
            return pid
    raise AssertionError("no relay process")


@pytest.mark.privileged
def test_one_relay_serves_every_container_and_goes_with_the_last(
        manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default", enable_ipv6=True))
    p, q = free_port(), free_port()
    a = manager.setup_container(A, web(p, "::1"))
    b = manager.setup_container("b" * 64, ContainerSpec(
        name="demo-web-2", image="i", networks=(NetworkAttachment(network="demo_default"),),
        ports=(PortMapping(container_port=80, host_port=q),)))
    assert a.netns_path and b.netns_path
    servers(a.netns_path, 80, "one")
    servers(b.netns_path, 80, "two")
    assert answers("::1", p) == "one" and answers("::1", q) == "two"
    pid = _relay_pid(manager)
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert os.getsid(pid) != os.getsid(0) and ppid != os.getpid()  # detached, not our child
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # a connection closing meanwhile
            held.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    assert [h for h in held if not h.startswith("socket:") and h != "/dev/null"
            and not h.endswith("relay.log")] == [], held  # nothing of the command that started it
    manager.teardown_container(A)
    assert answers("::1", p) is None and answers("::1", q) == "two"
    manager.teardown_container("b" * 64)
    _wait_gone(pid)  # the relay went with its last container
    assert answers("::1", q) is None


@pytest.mark.privileged
def test_a_killed_relay_is_restored_by_the_next_repair(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default", enable_ipv6=True))
    p = free_port()
    net = manager.setup_container(A, web(p, "::1"))
    assert net.netns_path
    servers(net.netns_path, 80, "back")
    assert answers("::1", p) == "back"
    pid = _relay_pid(manager)
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    assert answers("::1", p) is None
    assert manager.repair() == []
    # a fresh relay process: under load its first relayed answer may take longer than one try
    for _ in range(20):
        if (got := answers("::1", p)) is not None:
            break
        threading.Event().wait(0.1)
    log = Path(manager.relay_dir(), "relay.log")
    assert got == "back", (manager.warnings, log.read_text() if log.exists() else "")
    assert _relay_pid(manager) != pid


def _wait_gone(pid: int) -> None:
    """Until *pid* has exited: gone, or a zombie whose other threads are gone too (the leader of
    a threaded process turns zombie first; its sockets close with the last thread, and until then
    the kernel still completes connections to its listener)."""
    for _ in range(250):
        with contextlib.suppress(FileNotFoundError):
            zombie = "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if not zombie or os.listdir(f"/proc/{pid}/task") != [str(pid)]:
                threading.Event().wait(0.02)
                continue
        return
    raise AssertionError(f"process {pid} outlived SIGKILL for 5 s")


def test_a_relay_that_dies_after_accepting_is_not_running_and_is_replaced(tmp_path: Path) -> None:
    """A relay killed a moment ago can still accept on its socket while its threads die: it must
    not count as running (repair would then restore nothing), and an add must start a new one."""
    from runtime.network import proxy

    rundir = tmp_path / "relay"
    rundir.mkdir()

    def dying() -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(rundir / proxy.SOCKET))
        s.listen(4)
        threading.Timer(0.3, s.close).start()  # accepts (into the backlog), never answers, dies
        return s

    dying()
    assert not proxy.running(str(rundir))
    (rundir / proxy.SOCKET).unlink()
    dying()
    proxy.add(str(rundir), A, [])
    try:
        assert proxy.running(str(rundir))
    finally:
        proxy.remove(str(rundir), A)
    for _ in range(150):  # with nothing left to relay it goes (its accept loop wakes each second)
        if not (rundir / proxy.SOCKET).exists():
            break
        threading.Event().wait(0.02)
    else:
        raise AssertionError("the relay outlived its last container")

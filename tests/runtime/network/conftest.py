"""Fixtures for real networking tests: a NetworkManager on a private root/run dir, and a teardown
that removes what the test left in state through the API and then checks the host for leftovers
(bridges, veths, netns pins, our nft table, routes)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.network import NetworkManager, netns, proxy
from runtime.network.manager import CTR, NET, host_veth
from runtime.paths import Paths
from runtime.state import Store


def links() -> set[str]:
    return {p.name for p in Path("/sys/class/net").iterdir()}


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def manager(engine_paths: tuple[Path, Path]) -> Iterator[NetworkManager]:
    root, run = engine_paths
    store = Store(root / "state.db")
    m = NetworkManager(Paths(root=str(root), rundir=str(run)), store)
    seen_links: set[str] = set()
    orig_create = m.create

    def create(spec):  # type: ignore[no-untyped-def]
        info = orig_create(spec)
        seen_links.add(info.bridge)
        return info

    m.create = create  # type: ignore[method-assign]
    yield m
    tx = store.read()
    for cid, _ in tx.list(CTR):
        seen_links.update(host_veth(cid, d["name"]) for _, d in tx.list(NET))
        m.teardown_container(cid)
    for _, d in tx.list(NET):
        seen_links.add(d["bridge"])
        m.remove(d["name"])
    assert store.read().list("ip") == [], "leftover address leases"
    store.close()
    # a torn-down container's veth goes with its namespace, which the kernel destroys asynchronously
    for _ in range(100):
        if not seen_links & links():
            break
        threading.Event().wait(0.02)
    assert not (seen_links & links()), f"leftover links {seen_links & links()}"
    for _ in range(50):  # the relay retires just after answering its last removal
        if not proxy.running(str(m.relay_dir())):
            break
        threading.Event().wait(0.02)
    assert not proxy.running(str(m.relay_dir())), "leftover port relay"
    with open("/proc/self/mounts") as f:
        assert str(run) not in f.read(), "leftover netns pin mounts"
    assert m.table not in nft_tables(), "leftover nft table"
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert not any(name in routes for name in seen_links), "leftover routes"


def in_ns(pin: str, *argv: str, timeout: float = 5, input: str | None = None,
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={pin}", *argv], capture_output=True, text=True,
                          timeout=timeout, input=input)


def with_hosts(pin: str, hosts: str, shell: str, timeout: float = 5) -> subprocess.CompletedProcess[str]:
    """Run *shell* in the netns at *pin* with *hosts* bind-mounted at /etc/hosts (own mount ns)."""
    script = f"mount --bind {hosts} /etc/hosts && exec nsenter --net={pin} sh -c '{shell}'"
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def servers() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start busybox TCP servers (answering *reply*) inside a netns; killed at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(pin: str, port: int, reply: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(["nsenter", f"--net={pin}", "busybox", "nc", "-ll", "-p", str(port),
                              "-e", "echo", reply], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        _wait_listen(pin, port)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def _wait_listen(pin: str, port: int) -> None:
    for _ in range(100):
        out = in_ns(pin, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
        rows = [ln.split() for ln in out.splitlines()[1:]]
        if any(len(r) > 3 and r[1].endswith(f":{port:04X}") and r[3] == "0A" for r in rows):
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"server on port {port} did not start")


def tcp_get(host: str, port: int, timeout: float = 2.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        return s.recv(100).decode().strip()


@pytest.fixture
def udp_echo() -> Iterator[Callable[[str, int], None]]:
    """A UDP echo server bound inside a netns (the socket is opened there by a helper thread)."""
    socks: list[socket.socket] = []
    stop = threading.Event()

    def start(pin: str, port: int) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", port))
            return s

        s = netns.run_in(Path(pin), make)
        s.settimeout(0.1)
        socks.append(s)

        def serve() -> None:
            while not stop.is_set():
                try:
                    data, addr = s.recvfrom(100)
                except (TimeoutError, OSError):
                    continue
                s.sendto(b"echo:" + data, addr)

        threading.Thread(target=serve, daemon=True).start()

    yield start
    stop.set()
    for s in socks:
        s.close()


def udp_ask(host: str, port: int, msg: bytes = b"hi", timeout: float = 1.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        try:
            return s.recv(100)
        except (TimeoutError, ConnectionRefusedError):
            return None


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])

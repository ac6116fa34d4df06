"""The embedded DNS resolver (runtime/network/resolver.py) through the real CLI and real
containers, asked by busybox's nslookup (which reads no hosts file): a service's name from another
service, every replica of a scaled one, names of the asker's own project only, a stopped
container gone from the answers, other names forwarded to the container's `dns:` server (a fake
one here: this machine has no outside DNS) or, with none to ask, SERVFAIL at once; after `down`
no resolver process and nothing listening. The engine's default network has no DNS: `container
run` there starts nothing."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.network import dnsctl, files
from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

UPSTREAM = "10.77.53.1"  # a fake upstream server, on the gateway of a network without containers

PROJECT_A = """
name: dnsa
services:
  web:
    image: localhost/busybox:latest
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    deploy: {replicas: 2}
  cli:
    image: localhost/busybox:latest
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
    dns: ["10.77.53.1"]
networks:
  default:
    ipam: {config: [{subnet: 10.77.51.0/24}]}
"""

# an internal network: no upstream at all, so a name that is not a container's is SERVFAIL at once
PROJECT_B = """
name: dnsb
services:
  other:
    image: localhost/busybox:latest
    command: ["sleep", "1000"]
    stop_signal: SIGKILL
networks:
  default:
    internal: true
    ipam: {config: [{subnet: 10.77.52.0/24}]}
"""


@contextlib.contextmanager
def _fake_upstream() -> Iterator[None]:
    """Answer `upstream.test` with 192.0.2.99 and every other name with NXDOMAIN."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((UPSTREAM, 53))
    s.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                msg, addr = s.recvfrom(4096)
            except OSError:
                continue
            end = msg.index(b"\0", 12) + 5
            known = msg[12:end - 4].lower() == b"\x08upstream\x04test\x00" and msg[end - 4:end - 2] == b"\0\1"
            head = msg[:2] + struct.pack("!HHHHH", 0x8180 if known else 0x8183, 1, int(known), 0, 0)
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("192.0.2.99")
            s.sendto(head + msg[12:end] + (answer if known else b""), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        s.close()


@pytest.fixture
def upstream(engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[None]:
    res = composer_cli("network", "create", "--subnet", "10.77.53.0/24", "dnsup")
    assert res.returncode == 0, res.stderr
    try:
        with _fake_upstream():
            yield
    finally:
        composer_cli("network", "rm", "dnsup")


@pytest.fixture
def proj_a(tmp_path: Path, upstream: None) -> Iterator[Path]:
    (tmp_path / "a").mkdir()
    yield from compose_project(tmp_path / "a", PROJECT_A, "dnsa")


@pytest.fixture
def proj_b(tmp_path: Path, upstream: None) -> Iterator[Path]:
    (tmp_path / "b").mkdir()
    yield from compose_project(tmp_path / "b", PROJECT_B, "dnsb")


def _nslookup(proj: Path, service: str, *args: str) -> tuple[list[str], str, float]:
    """(addresses or names answered, the whole output, seconds it took) of nslookup in *service*."""
    t0 = time.monotonic()
    out = composer_ok(proj, "exec", "-T", service, "nslookup", *args, code=None).stdout
    took = time.monotonic() - t0
    found = re.findall(r"^Address: (\S+)$", out, re.M) + re.findall(r"name = (\S+)$", out, re.M)
    return found, out, took


def _resolvers(run: Path) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "resolver.py" in cmd and str(run) in cmd:
                found.append(cmd)
    return found


def _listening(addr: str) -> bool:
    """Whether something holds UDP port 53 of *addr* (binding it fails)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND: the bridge may be gone
    try:
        s.bind((addr, 53))
        return False
    except OSError:
        return True
    finally:
        s.close()


def test_names_answered_per_project(proj_a: Path, proj_b: Path, engine_paths: tuple[Path, Path]) -> None:
    composer_ok(proj_a, "up", "-d")
    composer_ok(proj_b, "up", "-d")
    resolv = composer_ok(proj_a, "exec", "-T", "cli", "cat", "/etc/resolv.conf").stdout
    assert resolv.splitlines()[0] == "nameserver 10.77.51.1"  # the gateway, not its dns: server

    web = sorted(_nslookup(proj_a, "cli", "web")[0])
    assert len(web) == 2 and all(a.startswith("10.77.51.") for a in web), web  # both replicas
    assert _nslookup(proj_a, "cli", "WEB")[0] != []  # case-insensitive
    (one,) = _nslookup(proj_a, "cli", "dnsa-web-2")[0]
    assert one in web
    assert _nslookup(proj_a, "cli", one)[0] == ["dnsa-web-2"]  # PTR
    assert _nslookup(proj_a, "web", "cli")[0] != []  # any service asks
    found, out, _ = _nslookup(proj_a, "cli", "-type=aaaa", "web")
    assert found == [] and "NXDOMAIN" not in out  # the name exists, without an IPv6 address

    # other names go to the container's dns: server
    assert _nslookup(proj_a, "cli", "upstream.test")[0] == ["192.0.2.99"]
    _, out, took = _nslookup(proj_a, "cli", "nosuch.test")
    assert "NXDOMAIN" in out and took < 3

    # another project's names are not answered, and its resolver address is not reachable
    found, out, took = _nslookup(proj_b, "other", "web")
    assert found == [] and "SERVFAIL" in out and took < 3, out  # internal: no upstream, at once
    assert _nslookup(proj_b, "other", "dnsa-web-1")[0] == []
    assert _nslookup(proj_b, "other", "other")[0] != []
    res = composer_ok(proj_b, "exec", "-T", "other", "timeout", "2", "nslookup", "web", "10.77.51.1",
                      code=None)
    assert "10.77.51." not in res.stdout.replace("10.77.51.1:53", "")

    # a container that stops leaves the answers
    composer_ok(proj_a, "stop", "web")
    found, out, _ = _nslookup(proj_a, "cli", "web")
    assert found == [], out
    composer_ok(proj_a, "start", "web")
    assert len(_nslookup(proj_a, "cli", "web")[0]) == 2

    # killed, the resolver comes back with the next command that lists containers
    (cmd,) = _resolvers(engine_paths[1])
    pid = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _cmd(p) == cmd)
    os.kill(pid, 9)
    composer_ok(proj_a, "ps")
    assert len(_resolvers(engine_paths[1])) == 1
    assert len(_nslookup(proj_a, "cli", "web")[0]) == 2

    composer_ok(proj_b, "down")
    assert len(_resolvers(engine_paths[1])) == 1 and not _listening("10.77.52.1")
    composer_ok(proj_a, "down")
    assert _resolvers(engine_paths[1]) == []
    assert not _listening("10.77.51.1")

    # a command killed between removing the records and telling the resolver left it running:
    # the next command that lists containers makes it exit
    dns = engine_paths[1] / "dns"
    (dns / "records").write_text("net 10.77.51.1 0 10.77.51.0/24\ndefault\n")
    assert dnsctl.started(str(dns), dnsctl.launch(str(dns))) is None
    assert len(_resolvers(engine_paths[1])) == 1 and _listening("10.77.51.1")
    (dns / "records").unlink()
    composer_ok(proj_a, "ps")
    assert _resolvers(engine_paths[1]) == [] and not (dns / "ctl.sock").exists()


def _cmd(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_default_network_has_no_dns(engine_paths: tuple[Path, Path], busybox_image: str) -> None:
    res = composer_cli("container", "run", "--rm", busybox_image, "cat", "/etc/resolv.conf")
    assert res.returncode == 0, res.stderr
    host = files.render_resolv((), (), (), files.read_text("/etc/resolv.conf"),
                               files.read_text("/run/systemd/resolve/resolv.conf"))
    assert res.stdout == host  # the host's servers, not the gateway
    assert not (engine_paths[1] / "dns").exists()
    assert _resolvers(engine_paths[1]) == []

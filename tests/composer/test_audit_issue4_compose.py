"""Issue 4 audit, through the real CLI and real containers: what the issue asks of a compose file's
networking that the runtime-level tests (tests/runtime/network/) do not drive end to end: discovery
by service name, alias, container name and `links` alias; names on another network do not resolve
and its addresses are unreachable in both directions; `dns`, `dns_search`, `dns_opt`, `hostname`,
`domainname`, `extra_hosts` (list and map); `network_mode: service:x`; a peer recreated at a new
address is found without restarting its clients; `external` networks; `down` leaves nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import composer_cli

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
# a client retries while the server's listener comes up; prints what the server said
ASK = ("for i in $(seq 25); do out=$(echo | nc -w 1 {host} 8080 2>/dev/null) && [ -n \"$out\" ] "
       "&& echo $out && exit 0; sleep 0.2; done; exit 1")

COMPOSE = """
name: aud4
services:
  srv:
    image: {image}
    command: ["nc", "-ll", "-p", "8080", "-e", "echo", "hi-srv"]
    hostname: myhost
    domainname: example.org
    dns: [192.0.2.53]
    dns_search: [corp.example]
    dns_opt: ["ndots:2"]
    extra_hosts: ["h1=10.1.1.1", "h2:10.1.1.2"]
    stop_grace_period: 1s
    networks:
      front: {{aliases: [srvalias], ipv4_address: {srv_ip}}}
  cli:
    image: {image}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    extra_hosts: {{m1: 10.2.2.1}}
    links: ["srv:lnk"]
    networks: [front]
  side:
    image: {image}
    network_mode: "service:cli"
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  lone:
    image: {image}
    command: ["nc", "-ll", "-p", "8080", "-e", "echo", "hi-lone"]
    stop_grace_period: 1s
    networks: [back]
networks:
  front:
    ipam: {{config: [{{subnet: 10.231.7.0/24}}]}}
  back: {{}}
"""


def _cli(proj: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    res = composer_cli(*args, cwd=proj)
    if ok:
        assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res


def _sh(proj: Path, service: str, script: str) -> subprocess.CompletedProcess[str]:
    return _cli(proj, "exec", "-T", service, "sh", "-c", script, ok=False)


def _bridges(proj: Path, *names: str) -> list[str]:
    res = _cli(proj, "network", "inspect", *names)
    return [n["Options"]["com.docker.network.bridge.name"] for n in json.loads(res.stdout)]


def _links() -> set[str]:
    return {p.name for p in Path("/sys/class/net").iterdir()}


def _addr(hosts: str, name: str) -> str:
    return next(ln.split()[0] for ln in hosts.splitlines() if name in ln.split()[1:])


def test_discovery_isolation_dns_files_and_recreate(tmp_path: Path, engine_paths: tuple[Path, Path],
                                                    busybox_image: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(COMPOSE.format(image=IMAGE, srv_ip="10.231.7.50"))
    bridges: list[str] = []
    try:
        _cli(proj, "up", "-d")
        bridges = _bridges(proj, "aud4_front", "aud4_back")
        assert set(bridges) <= _links()

        # every name of srv resolves from cli and answers over TCP: service, alias, link alias, container
        for host in ("srv", "srvalias", "lnk", "aud4-srv-1"):
            res = _sh(proj, "cli", ASK.format(host=host))
            assert res.stdout.strip() == "hi-srv", (host, res)
        # names on a network cli does not share do not resolve, and the addresses do not answer,
        # in either direction
        cli_hosts = _sh(proj, "cli", "cat /etc/hosts").stdout
        assert "lone" not in cli_hosts and "aud4-lone-1" not in cli_hosts
        lone_hosts = _sh(proj, "lone", "cat /etc/hosts").stdout
        lone_ip = _addr(lone_hosts, "aud4-lone-1")
        assert _sh(proj, "lone", ASK.format(host="127.0.0.1")).stdout.strip() == "hi-lone"
        assert _sh(proj, "cli", f"echo | nc -w 1 {lone_ip} 8080").stdout.strip() != "hi-lone"
        assert _sh(proj, "lone", "echo | nc -w 1 10.231.7.50 8080").stdout.strip() != "hi-srv"
        assert "srv" not in lone_hosts.split()

        # resolver, names and hosts files as the file says
        resolv = _sh(proj, "srv", "cat /etc/resolv.conf").stdout.splitlines()
        # the resolver at the network's gateway answers (dns: is where it forwards other names)
        assert "nameserver 10.231.7.1" in resolv and "search corp.example" in resolv
        assert "options ndots:2" in resolv
        names = _sh(proj, "srv", "hostname; cat /etc/hostname /proc/sys/kernel/domainname").stdout.split()
        assert names == ["myhost", "myhost", "example.org"]
        srv_hosts = _sh(proj, "srv", "cat /etc/hosts").stdout
        assert _addr(srv_hosts, "h1") == "10.1.1.1" and _addr(srv_hosts, "h2") == "10.1.1.2"
        # its own line as docker writes it: the FQDN, then the bare hostname (and the container name),
        # then the names docker's DNS answers inside it too: its service name and aliases
        own = [ln for ln in srv_hosts.splitlines() if ln.startswith("10.231.7.50\t")]
        assert own == ["10.231.7.50\tmyhost.example.org myhost aud4-srv-1 srv srvalias lnk"]
        assert _addr(cli_hosts, "m1") == "10.2.2.1"
        # cli's own resolver: the resolver at its gateway, never a loopback one inside the netns
        cli_resolv = _sh(proj, "cli", "cat /etc/resolv.conf").stdout
        assert "nameserver 127." not in cli_resolv and "nameserver" in cli_resolv

        # network_mode service:cli shares cli's interfaces and names
        own = _sh(proj, "cli", "ip -4 -o addr show eth0").stdout.split()[3]
        assert _sh(proj, "side", "ip -4 -o addr show eth0").stdout.split()[3] == own
        assert own.startswith("10.231.7.")

        # srv recreated at a new address: cli, left running, finds it there
        cli_id = _cli(proj, "ps", "-q", "cli").stdout.strip()
        (proj / "compose.yaml").write_text(COMPOSE.format(image=IMAGE, srv_ip="10.231.7.60"))
        up2 = _cli(proj, "up", "-d")
        assert " Container aud4-srv-1  Recreated" in up2.stderr, up2.stderr
        assert "aud4-cli-1  Recreate" not in up2.stderr and "aud4-cli-1  Restart" not in up2.stderr
        assert _cli(proj, "ps", "-q", "cli").stdout.strip() == cli_id
        assert _addr(_sh(proj, "cli", "cat /etc/hosts").stdout, "srv") == "10.231.7.60"
        assert _sh(proj, "cli", ASK.format(host="srvalias")).stdout.strip() == "hi-srv"
    finally:
        down = _cli(proj, "down", "-v", ok=False)
    assert down.returncode == 0, down.stderr
    assert "Network aud4_front  Removed" in down.stderr and "Network aud4_back  Removed" in down.stderr
    assert bridges and not set(bridges) & _links()
    assert _cli(proj, "ps", "-a", "-q").stdout.strip() == ""
    _, run = engine_paths
    assert str(run) not in Path("/proc/mounts").read_text()
    assert "aud4_" not in _cli(proj, "network", "ls").stdout


EXTERNAL = """
name: aud4x
services:
  a:
    image: {image}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    networks: [shared]
networks:
  shared: {{external: true, name: {net}}}
"""


def test_external_network_must_exist_and_outlives_down(tmp_path: Path, engine_paths: tuple[Path, Path],
                                                        busybox_image: str) -> None:
    proj = tmp_path / "projx"
    proj.mkdir()
    (proj / "compose.yaml").write_text(EXTERNAL.format(image=IMAGE, net="aud4-nosuch"))
    res = _cli(proj, "up", "-d", ok=False)
    assert res.returncode != 0
    assert "network aud4-nosuch declared as external, but could not be found" in res.stderr
    assert _cli(proj, "ps", "-a", "-q").stdout.strip() == ""
    assert "aud4-nosuch" not in _cli(proj, "network", "ls").stdout

    _cli(proj, "network", "create", "aud4-shared")
    try:
        (proj / "compose.yaml").write_text(EXTERNAL.format(image=IMAGE, net="aud4-shared"))
        _cli(proj, "up", "-d")
        info = json.loads(_cli(proj, "network", "inspect", "aud4-shared").stdout)[0]
        assert len(info["Containers"]) == 1
        bridge = info["Options"]["com.docker.network.bridge.name"]
        _cli(proj, "down")
        info = json.loads(_cli(proj, "network", "inspect", "aud4-shared").stdout)[0]
        assert info["Containers"] == {} and bridge in _links()
    finally:
        _cli(proj, "down", ok=False)
        _cli(proj, "network", "rm", "aud4-shared", ok=False)
    assert bridge not in _links()


MAC = """
name: aud4m
services:
  a:
    image: {image}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    mac_address: "02:42:ac:11:00:99"
"""


def test_service_level_mac_address_is_applied(tmp_path: Path, engine_paths: tuple[Path, Path],
                                              busybox_image: str) -> None:
    proj = tmp_path / "projm"
    proj.mkdir()
    (proj / "compose.yaml").write_text(MAC.format(image=IMAGE))
    try:
        up = _cli(proj, "up", "-d")
        assert _sh(proj, "a", "cat /sys/class/net/eth0/address").stdout.strip() == "02:42:ac:11:00:99"
    finally:
        _cli(proj, "down", ok=False)
    assert "mac_address" not in up.stderr  # applied, so never said to be ignored


PORTS = """
name: aud4p
services:
  web:
    image: {image}
    command: ["sh", "-c", "nc -ll -p 8081 -e echo hi-8081 & exec nc -ll -p 8080 -e echo hi-8080"]
    stop_grace_period: 1s
    expose: ["9000"]
    ports:
      - "{p1}:8080"
      - "8080"
      - "0:8081"
      - "{p2}-{p3}:8080-8081"
      - "127.0.0.1:{p4}:8080"
      - {{target: 8081, published: "{p5}", host_ip: 127.0.0.1, protocol: tcp}}
"""
HOST_ADDR = "198.18.44.4"  # benchmarking range, on a veth of the test's own


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("0.0.0.0", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _get(addr: str, port: int, tries: int = 1) -> str:
    """What the server behind *addr*:*port* says; *tries* allow for its listener coming up."""
    for i in range(tries):
        try:
            with socket.create_connection((addr, port), timeout=2) as s:
                s.settimeout(2)
                return s.recv(100).decode().strip()
        except ConnectionRefusedError:
            if i == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def test_compose_ports_short_long_ranges_random_and_host_ip(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    proj = tmp_path / "projp"
    proj.mkdir()
    p1, p4, p5 = _free_ports(3)
    while True:  # two consecutive free ports for the range
        (p2,) = _free_ports(1)
        if p2 < 65535 and p2 + 1 not in (p1, p4, p5):
            with socket.socket() as s:
                try:
                    s.bind(("0.0.0.0", p2 + 1))
                except OSError:
                    continue
            break
    p3 = p2 + 1
    (proj / "compose.yaml").write_text(PORTS.format(image=IMAGE, p1=p1, p2=p2, p3=p3, p4=p4, p5=p5))
    veth = ["ip", "link", "add", "cma4addr0", "type", "veth", "peer", "name", "cma4addr1"]
    subprocess.run(veth, check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{HOST_ADDR}/32", "dev", "cma4addr0"], check=True)
        subprocess.run(["ip", "link", "set", "cma4addr0", "up"], check=True)
        subprocess.run(["ip", "link", "set", "cma4addr1", "up"], check=True)
        _cli(proj, "up", "-d")
        lines = _cli(proj, "container", "port", "aud4p-web-1").stdout.splitlines()
        mapped: dict[str, list[tuple[str, int]]] = {}
        for ln in lines:
            target, _, host = ln.partition(" -> ")
            addr, _, hport = host.rpartition(":")
            mapped.setdefault(target, []).append((addr, int(hport)))
        assert ("0.0.0.0", p1) in mapped["8080/tcp"] and ("0.0.0.0", p2) in mapped["8080/tcp"]
        assert ("0.0.0.0", p3) in mapped["8081/tcp"] and ("127.0.0.1", p4) in mapped["8080/tcp"]
        assert ("127.0.0.1", p5) in mapped["8081/tcp"]
        random = [p for a, p in mapped["8080/tcp"] + mapped["8081/tcp"] if p not in (p1, p2, p3, p4, p5)]
        assert len(random) == 2 and all(p > 0 for p in random), lines
        assert "9000" not in "".join(lines)  # expose publishes nothing
        assert _cli(proj, "port", "web", "8080").stdout.strip() == f"0.0.0.0:{p1}"
        # every wildcard mapping answers on loopback and on another host address
        for port, want in ((p1, "hi-8080"), (p2, "hi-8080"), (p3, "hi-8081"), (random[0], "hi-8080"),
                           (random[1], "hi-8081")):
            assert _get("127.0.0.1", port, tries=25) == want, port
            assert _get(HOST_ADDR, port) == want, port
        # host_ip-bound mappings answer only there
        for port, want in ((p4, "hi-8080"), (p5, "hi-8081")):
            assert _get("127.0.0.1", port, tries=25) == want
            with pytest.raises(OSError):
                _get(HOST_ADDR, port)
    finally:
        _cli(proj, "down", ok=False)
        subprocess.run(["ip", "link", "del", "cma4addr0"], check=False)
    assert "cma4addr0" not in _links()

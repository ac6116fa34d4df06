"""The embedded DNS resolver's parts: messages, the records the manager writes, the nft rule that
keeps other networks from asking it, and the server itself in this process on loopback addresses
(a query from the network's subnet is answered, from elsewhere refused; other names forwarded to
a fake upstream, or SERVFAIL at once with none; over UDP and TCP)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.network import dnsctl, files, nft, resolver
from runtime.network.manager import dns_records

GW, ASKER, STRANGER, UPSTREAM = "127.77.51.1", "127.77.51.5", "127.77.60.5", "127.77.52.1"


def query(name: str, qtype: int = resolver.A, qid: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def parse(msg: bytes) -> tuple[int, list[str]]:
    """(rcode, answers as text) of a response to one of query()'s questions."""
    rcode, count = struct.unpack("!H", msg[2:4])[0] & 0xF, struct.unpack("!H", msg[6:8])[0]
    pos = msg.index(b"\0", 12) + 5
    out = []
    for _ in range(count):
        rtype, _, ttl, size = struct.unpack("!HHIH", msg[pos + 2:pos + 12])
        assert ttl == resolver.TTL
        rdata = msg[pos + 12:pos + 12 + size]
        if rtype == resolver.A:
            out.append(socket.inet_ntoa(rdata))
        elif rtype == resolver.AAAA:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
        else:
            out.append(".".join(rdata[i + 1:i + 1 + rdata[i]].decode() for i in _label_starts(rdata)))
        pos += 12 + size
    return rcode, out


def _label_starts(rdata: bytes) -> list[int]:
    starts, i = [], 0
    while rdata[i]:
        starts.append(i)
        i += 1 + rdata[i]
    return starts


NET = {"names": {"web": ["10.0.0.2", "10.0.0.3", "fd00::2"], "db": ["10.0.0.4"]},
       "ptr": {"10.0.0.2": "p-web-1"}}


def test_answers_names_case_insensitively_and_every_replica() -> None:
    q = resolver.Query(query("WeB."))
    assert q.name == "web"
    rcode, answers = parse(resolver._lookup([NET], q))  # type: ignore[arg-type]
    assert rcode == 0 and sorted(answers) == ["10.0.0.2", "10.0.0.3"]
    seen = {tuple(parse(resolver._lookup([NET], q))[1]) for _ in range(50)}  # type: ignore[arg-type]
    assert len(seen) == 2  # shuffled: docker's round robin
    assert parse(resolver._lookup([NET], resolver.Query(query("web", resolver.AAAA))))[1] == ["fd00::2"]  # type: ignore[arg-type]
    # the name exists without an address of that family, or with no record of that type: NOERROR
    assert parse(resolver._lookup([NET], resolver.Query(query("db", resolver.AAAA)))) == (0, [])  # type: ignore[arg-type]
    assert parse(resolver._lookup([NET], resolver.Query(query("db", 15)))) == (0, [])  # type: ignore[arg-type]
    assert parse(resolver._lookup([NET], resolver.Query(query("2.0.0.10.in-addr.arpa", resolver.PTR)))) == (  # type: ignore[arg-type]
        0, ["p-web-1"])
    assert resolver._lookup([NET], resolver.Query(query("example.org"))) is None
    other = {"names": {"db": ["10.1.0.9"]}, "ptr": {}}
    assert parse(resolver._lookup([other, NET], resolver.Query(query("db"))))[1] == ["10.1.0.9"]  # type: ignore[arg-type]


def test_bad_messages_are_not_queries() -> None:
    for msg in (b"", b"\0" * 11, query("web")[:2] + b"\x81\x00" + query("web")[4:]):
        with pytest.raises((ValueError, IndexError)):
            resolver.Query(msg)


def test_records_hold_running_members_of_dns_networks_only() -> None:
    docs = {"c1": {"name": "p-web-1", "dns": ["192.0.2.9", "127.0.0.1"]}, "c2": {"name": "p-cli-1"},
            "c3": {"name": "lone"}}
    members = {
        "p_default": [("c1", files.HostEntry("10.0.0.2", ("web", "p-web-1", "c1", "WebHost")), None),
                      ("c2", files.HostEntry("10.0.0.3", ("cli", "p-cli-1")), None)],
        "p_back": [("c1", files.HostEntry("10.0.1.2", ("web", "p-web-1")), None)],
        "composer": [("c3", files.HostEntry("10.88.0.2", ("lone",)), None)],
    }
    nets = {"p_default": {"gateways": ["10.0.0.1"], "subnets": ["10.0.0.0/24"], "dns_enabled": True},
            "p_back": {"gateways": ["10.0.1.1"], "subnets": ["10.0.1.0/24"], "dns_enabled": True,
                       "internal": True},
            "composer": {"gateways": ["10.88.0.1"], "subnets": ["10.88.0.0/16"], "dns_enabled": False}}
    r = dns_records(docs, members, nets, ["192.0.2.53"])
    assert r is not None
    assert set(r["networks"]) == {"10.0.0.1", "10.0.1.1"}  # not the default network's
    front = r["networks"]["10.0.0.1"]
    assert front["names"]["webhost"] == ["10.0.0.2"] and front["names"]["cli"] == ["10.0.0.3"]
    assert front["ptr"] == {"10.0.0.2": "p-web-1", "10.0.0.3": "p-cli-1"}
    assert r["networks"]["10.0.1.1"]["internal"] is True
    assert r["clients"]["10.0.0.2"] == ["10.0.0.1", "10.0.1.1"]  # asked on either: both networks
    assert r["upstreams"] == {"10.0.0.2": ["192.0.2.9"], "10.0.1.2": ["192.0.2.9"]}  # no loopback
    assert r["default"] == ["192.0.2.53"]
    assert dns_records(docs, {"composer": members["composer"]}, nets, []) is None
    # written and read back as the resolver reads it
    assert resolver.parse_records(dnsctl.render_records(r)) == {**r, "networks": {
        gw: {**n, "subnets": list(n["subnets"])} for gw, n in r["networks"].items()}}


def test_nft_keeps_other_interfaces_from_the_resolver() -> None:
    text = nft.render("t", [nft.BridgeRules("br1", ("10.0.0.0/24",), False, "10.0.0.1"),
                            nft.BridgeRules("br2", ("10.0.1.0/24",), False)], [])
    assert ('ip daddr 10.0.0.1 meta l4proto { tcp, udp } th dport 53 iifname != { "lo", "br1" } drop'
            in text)
    assert "10.0.1.1" not in text
    assert "chain input" not in nft.render("t", [nft.BridgeRules("br2", ("10.0.1.0/24",), False)], [])


# ---------------------------------------------------------------- the server, in this process
@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    """A resolver on GW:53 (loopback) for a network 127.77.51.0/24, its upstream UPSTREAM."""
    records = {"networks": {GW: {"subnets": ["127.77.51.0/24"], "internal": False,
                                 "names": {"web": ["10.0.0.2"]}, "ptr": {}}},
               "clients": {}, "upstreams": {}, "default": [UPSTREAM]}
    (tmp_path / "records").write_text(dnsctl.render_records(records))
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.bind(str(tmp_path / "ctl.sock"))
    ctl.listen(4)
    r = resolver.Resolver(str(tmp_path), ctl)
    r.refresh()
    assert r.rebind() == []
    threading.Thread(target=r.serve, daemon=True).start()
    yield tmp_path
    r.shut()  # its sockets closed (its thread stays blocked in epoll until pytest exits)


@pytest.fixture
def upstream() -> Iterator[None]:
    """Answers every name with 192.0.2.99."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((UPSTREAM, 53))

    def serve() -> None:
        while True:
            try:
                msg, addr = s.recvfrom(4096)
            except OSError:
                return
            if not msg:  # shut down
                return
            end = msg.index(b"\0", 12) + 5
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, resolver.TTL, 4) + socket.inet_aton("192.0.2.99")
            s.sendto(msg[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + msg[12:end] + answer, addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)  # wakes its recvfrom: the port is free for the next test
    s.close()
    t.join()


def ask(msg: bytes, source: str = ASKER) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(5)
        s.sendto(msg, (GW, 53))
        return s.recv(4096)


def test_server_answers_its_network_and_forwards(server: Path, upstream: None) -> None:
    assert parse(ask(query("web"))) == (0, ["10.0.0.2"])
    assert parse(ask(query("example.org"))) == (0, ["192.0.2.99"])  # forwarded
    assert parse(ask(query("web"), source=STRANGER))[0] == resolver.REFUSED  # not its network
    with socket.create_connection((GW, 53), timeout=5, source_address=(ASKER, 0)) as s:  # TCP, twice
        # forwarded over TCP too: this upstream has no TCP listener, so SERVFAIL at once
        for name, want in (("web", (0, ["10.0.0.2"])), ("example.org", (resolver.SERVFAIL, []))):
            msg = query(name)
            s.sendall(struct.pack("!H", len(msg)) + msg)
            size = struct.unpack("!H", s.recv(2))[0]
            assert parse(s.recv(size)) == want


def test_server_forwards_unless_every_network_of_the_asker_is_internal(server: Path, upstream: None) -> None:
    records = resolver.parse_records((server / "records").read_text())
    records["networks"][GW]["internal"] = True
    records["networks"]["127.77.53.1"] = {"internal": False, "subnets": ["127.77.53.0/24"],
                                          "names": {}, "ptr": {}}
    records["clients"] = {ASKER: [GW, "127.77.53.1"]}  # also on a network that is not internal
    _replace(server, records)
    assert parse(ask(query("example.org"))) == (0, ["192.0.2.99"])
    records["clients"] = {}
    _replace(server, records)
    assert parse(ask(query("example.org")))[0] == resolver.SERVFAIL
    # an upstream that is the resolver itself (a `dns:` naming the gateway) is not asked: no loop
    records["networks"][GW]["internal"] = False
    records["upstreams"] = {ASKER: [GW]}
    _replace(server, records)
    t0 = time.monotonic()
    assert parse(ask(query("example.org")))[0] == resolver.SERVFAIL
    assert time.monotonic() - t0 < 1


def _replace(server: Path, records: dict[str, object]) -> None:
    (server / "records.tmp").write_text(dnsctl.render_records(records))
    (server / "records.tmp").rename(server / "records")


def test_server_without_upstream_fails_at_once_and_follows_its_records(server: Path) -> None:
    records = resolver.parse_records((server / "records").read_text())
    records["default"] = []
    records["networks"][GW]["names"] = {"db": ["10.0.0.4"]}
    (server / "records.tmp").write_text(dnsctl.render_records(records))
    (server / "records.tmp").rename(server / "records")
    t0 = time.monotonic()
    assert parse(ask(query("example.org")))[0] == resolver.SERVFAIL
    assert time.monotonic() - t0 < 1
    assert parse(ask(query("web")))[0] == resolver.SERVFAIL  # gone from the records: not ours now
    assert parse(ask(query("db"))) == (0, ["10.0.0.4"])

"""Pure parts of networking: IPAM, hosts/resolv.conf rendering, the nft table text."""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import Collection
from pathlib import Path

import pytest

from runtime.errors import NetworkError
from runtime.network import addr as v4addr
from runtime.network import files, ipam, nft, rtnl


def net(s: str) -> ipam.Net:
    return ipaddress.ip_network(s)


def test_pool_starts_at_10_89_and_skips_used_subnets() -> None:
    used = [net("10.89.0.0/24"), net("10.89.1.128/25"), net("fd89::/64")]
    assert ipam.pick_subnet(ipam.v4_pool(), used, "n") == net("10.89.2.0/24")
    assert ipam.pick_subnet(ipam.v6_pool(), used, "n") == net("fd89:0:0:1::/64")
    with pytest.raises(NetworkError, match="network n: no free subnet"):
        ipam.pick_subnet([net("10.0.0.0/24")], [net("10.0.0.0/8")], "n")


def test_allocation_is_serial_and_skips_reserved_addresses() -> None:
    s = net("10.89.0.0/29")
    gw = ipaddress.ip_address("10.89.0.1")
    assert ipam.first_free(s, None, {gw}) == ipaddress.ip_address("10.89.0.2")
    after = ipaddress.ip_address("10.89.0.5")
    assert ipam.first_free(s, None, {gw}, after) == ipaddress.ip_address("10.89.0.6")
    # wraps around, never the network or broadcast address
    wrapped = ipam.first_free(s, None, {gw}, ipaddress.ip_address("10.89.0.6"))
    assert wrapped == ipaddress.ip_address("10.89.0.2")
    full = {ipaddress.ip_address(f"10.89.0.{i}") for i in range(1, 7)}
    assert ipam.first_free(s, None, full) is None
    ranged = ipam.first_free(net("10.89.0.0/24"), net("10.89.0.64/30"), {gw})
    assert ranged == ipaddress.ip_address("10.89.0.64")


def test_a_lease_from_the_states_text_matches_first_free() -> None:
    """ipam.lease takes IPv4 subnets without ipaddress (ints): its choice must be first_free's."""
    reserved = {"10.89.0.1", "10.89.0.2", "fd89::1", "fd89::2"}
    for subnet, rng, after in (("10.89.0.0/29", None, None), ("10.89.0.0/29", None, "10.89.0.5"),
                               ("10.89.0.0/29", None, "10.89.0.6"), ("10.89.0.0/24", "10.89.0.64/30", None),
                               ("10.89.0.0/30", None, "10.89.0.9"), ("fd89::/64", None, "fd89::2"),
                               ("fd89::/126", None, "fd89::3")):
        want = ipam.first_free(net(subnet), net(rng) if rng else None,
                               {ipaddress.ip_address(r) for r in reserved},
                               ipaddress.ip_address(after) if after else None)
        assert ipam.lease(subnet, rng, reserved, after) == (str(want) if want else None)
    assert ipam.lease("10.89.0.0/29", None, {"10.89.0.1"}, "10.89.0.6") == "10.89.0.2"  # wraps
    assert ipam.lease("10.89.0.0/30", None, reserved, None) is None  # full
    assert ipam.version("fd89::/64") == 6 and ipam.prefixlen("10.89.0.0/24") == 24
    assert ipam.static_lease("c", "n", "10.89.0.10", "10.89.0.0/24", {"10.89.0.9"}) == "10.89.0.10"
    with pytest.raises(NetworkError, match="already in use"):
        ipam.static_lease("c", "n", "fd89:0::9", "fd89::/64", {"fd89::9"})


def _first_free_reference(subnet: ipam.Net, ip_range: ipam.Net | None, reserved: Collection[ipam.Addr],
                          after: ipam.Addr | None) -> ipam.Addr | None:
    """first_free as it was over ipaddress objects alone: what the int arithmetic must agree with."""
    span = ip_range or subnet
    first, last = int(span.network_address), int(span.broadcast_address)
    start = int(after) + 1 if after is not None and first <= int(after) < last else first
    for i in range(last - first + 1):
        value = first + (start - first + i) % (last - first + 1)
        addr: ipam.Addr = (ipaddress.IPv6Address(value) if subnet.version == 6
                           else ipaddress.IPv4Address(value))
        if addr not in subnet or addr == subnet.network_address or addr in reserved:
            continue
        if subnet.version == 4 and addr == subnet.broadcast_address:
            continue
        return addr
    return None


@pytest.mark.parametrize("subnet", ["10.77.0.0/24", "10.77.1.16/28", "10.77.2.8/29", "10.77.3.4/30",
                                    "10.77.4.6/31", "10.77.5.9/32", "10.77.6.0/23", "fd77::/124",
                                    "fd77::4/126", "fd77::6/127", "fd77::7/128"])
def test_int_leases_agree_with_ipaddress_over_random_states(subnet: str) -> None:
    """ipam.lease (ints for IPv4, runtime.network.addr) against the ipaddress-only reference: random
    reserved sets and last-lease positions (none, inside, the network and broadcast addresses,
    outside the subnet), with and without a range."""
    rng = random.Random(subnet)
    s = net(subnet)
    hosts = [s.network_address + i for i in range(s.num_addresses)]
    outside = [s.broadcast_address + 1] + ([s.network_address - 1] if s.version == 4 else [])
    ranges: list[str | None] = [None]
    if s.prefixlen + 2 <= s.max_prefixlen:  # the first and the last quarter (IPv4 ones: ipaddress's way)
        quarters = list(s.subnets(prefixlen_diff=2))
        ranges += [str(quarters[0]), str(quarters[-1])]
    for _ in range(200):
        taken = {a for a in hosts if rng.random() < rng.choice((0.1, 0.5, 0.9, 1.0))}
        taken |= {ipaddress.ip_address("fd77::1" if s.version == 4 else "10.77.0.1")}  # another version
        after = rng.choice([None, *hosts, *outside])
        rng_text = rng.choice(ranges)
        want = _first_free_reference(s, net(rng_text) if rng_text else None, taken, after)
        got = ipam.lease(subnet, rng_text, {str(a) for a in taken}, str(after) if after else None)
        assert got == (str(want) if want else None), (subnet, rng_text, sorted(map(str, taken)), after)
        assert ipam.first_free(s, net(rng_text) if rng_text else None, taken, after) == want


def test_int_leases_edges() -> None:
    # never the network address, nor IPv4's broadcast: a /31 or /32 has no address to lease
    assert ipam.lease("10.77.0.0/31", None, set(), None) is None
    assert ipam.lease("10.77.0.5/32", None, set(), None) is None
    assert ipam.lease("10.77.0.0/30", None, set(), None) == "10.77.0.1"
    assert ipam.lease("10.77.0.0/30", None, {"10.77.0.1"}, None) == "10.77.0.2"
    assert ipam.lease("10.77.0.0/30", None, {"10.77.0.1", "10.77.0.2"}, None) is None
    # serial, and round from the broadcast (or past the end) back to the first host
    assert ipam.lease("10.77.0.0/24", None, {"10.77.0.1"}, "10.77.0.7") == "10.77.0.8"
    assert ipam.lease("10.77.0.0/24", None, {"10.77.0.1"}, "10.77.0.254") == "10.77.0.2"
    assert ipam.lease("10.77.0.0/24", None, {"10.77.0.1"}, "10.77.0.255") == "10.77.0.2"
    assert ipam.lease("10.77.0.0/24", None, {"10.77.0.1"}, "10.78.0.9") == "10.77.0.2"
    assert ipam.lease("10.77.0.0/24", None, {"10.77.0.1", "10.77.0.251"}, "10.77.0.250") == "10.77.0.252"
    # across an octet: a /23's .255 of its first half is a host address
    assert ipam.lease("10.77.0.0/23", None, {"10.77.0.1"}, "10.77.0.254") == "10.77.0.255"
    assert ipam.lease("10.77.0.0/23", None, {"10.77.0.1"}, "10.77.0.255") == "10.77.1.0"
    assert ipam.lease("10.77.0.0/23", None, {"10.77.0.1"}, "10.77.1.254") == "10.77.0.2"


def test_v4_text_and_ints() -> None:
    assert v4addr.v4("10.77.0.1") == 0x0A4D0001 and v4addr.v4_text(0x0A4D0001) == "10.77.0.1"
    assert v4addr.v4_text(0) == "0.0.0.0" and v4addr.v4_text(0xFFFFFFFF) == "255.255.255.255"
    assert v4addr.v4_span("10.77.3.7/24") == (v4addr.v4("10.77.3.0"), v4addr.v4("10.77.3.255"))
    assert v4addr.v4_span("10.77.3.7/32") == (v4addr.v4("10.77.3.7"),) * 2
    assert v4addr.v4_span("10.77.3.7/0") == (0, 0xFFFFFFFF)
    for plen in range(33):
        assert v4addr.v4_mask(plen) == str(net(f"0.0.0.0/{plen}").netmask)
    for bad in ("10.77.0", "10.77.0.256", "fd77::1", "", "10.77.0.1/24"):
        with pytest.raises(ValueError):
            v4addr.v4(bad)
    with pytest.raises(ValueError):
        v4addr.v4_mask(33)


def test_netlink_addresses_are_packed_as_ipaddress_packs_them() -> None:
    for text in ("10.77.0.1", "0.0.0.0", "fd77::1", "fe80::1:2", "::1", "::ffff:10.77.0.1"):
        addr = ipaddress.ip_address(text)
        assert rtnl._packed(text) == (socket.AF_INET6 if addr.version == 6 else socket.AF_INET, addr.packed)
    with pytest.raises(ValueError):
        rtnl._packed("10.77.0.300")


def test_static_addresses_and_macs_are_checked() -> None:
    s = net("10.89.0.0/24")
    taken = {ipaddress.ip_address("10.89.0.9")}
    ipam.check_static("c", "n", ipaddress.ip_address("10.89.0.10"), s, taken)
    for bad, msg in (("10.89.0.9", "already in use"), ("10.90.0.1", "not in subnet"),
                     ("10.89.0.255", "not a host address")):
        with pytest.raises(NetworkError, match=msg):
            ipam.check_static("c", "n", ipaddress.ip_address(bad), s, taken)
    assert ipam.check_mac("c", "02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    with pytest.raises(NetworkError, match="multicast"):
        ipam.check_mac("c", "01:00:5e:00:00:01")
    with pytest.raises(NetworkError, match="invalid mac"):
        ipam.check_mac("c", "02:42:ac:11:00")


def test_hosts_lists_extra_hosts_own_names_then_peers() -> None:
    """docker's order: extra_hosts before the container's own line (a lookup that takes the first
    match gets them), the peers (docker's DNS) after."""
    text = files.render_hosts(
        [files.HostEntry("10.89.0.2", ("abc", "demo-web-1"))],
        [files.HostEntry("10.89.0.3", ("db", "database", "demo-db-1")),
         files.HostEntry("10.89.0.4", ("db", "demo-db-2"))],
        [("gateway.test", "192.0.2.1")])
    assert text == ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    "192.0.2.1\tgateway.test\n"
                    "10.89.0.2\tabc demo-web-1\n10.89.0.3\tdb database demo-db-1\n10.89.0.4\tdb demo-db-2\n")


def test_resolv_drops_loopback_servers_and_falls_back() -> None:
    host = "nameserver 127.0.0.53\nsearch corp.example\noptions edns0\n"
    assert files.render_resolv((), (), (), host, "nameserver 192.0.2.53\n") == (
        "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n")
    assert files.render_resolv((), (), (), host) .startswith("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    assert files.render_resolv(("1.1.1.1",), ("a.test",), ("ndots:2",), host) == (
        "nameserver 1.1.1.1\nsearch a.test\noptions ndots:2\n")


def test_write_in_place_keeps_the_inode(tmp_path: Path) -> None:
    p = tmp_path / "hosts"
    files.write_in_place(str(p), "a long first version\n")
    ino = p.stat().st_ino
    files.write_in_place(str(p), "short\n")
    assert p.read_text() == "short\n" and p.stat().st_ino == ino


def test_table_name_is_per_rundir() -> None:
    assert nft.table_name(Path("/run/composer")) == "composer"
    other = nft.table_name(Path("/tmp/x/run"))
    assert other.startswith("composer_") and len(other) == len("composer_") + 8
    assert other != nft.table_name(Path("/tmp/y/run"))


def test_ruleset_has_dnat_masquerade_isolation_and_internal_drop() -> None:
    script = nft.render("composer_t", [nft.BridgeRules("cm1", ("10.89.0.0/24",), False),
                                       nft.BridgeRules("cm2", ("10.89.1.0/24",), True)],
                        [nft.PortRule("tcp", "", 8080, "10.89.0.2", 80),
                         nft.PortRule("udp", "198.18.0.1", 53, "10.89.0.2", 53)])
    assert script.startswith("table inet composer_t {}\ndelete table inet composer_t\n")
    assert "map any4 {\n    typeof meta l4proto . th dport : ip daddr . th dport;\n" in script
    assert "elements = { tcp . 8080 : 10.89.0.2 . 80 }" in script
    assert "elements = { 198.18.0.1 . udp . 53 : 10.89.0.2 . 53 }" in script
    assert all(rule in script for rule in nft.PORT_RULES)
    assert 'ip saddr 10.89.0.0/24 oifname != "cm1" masquerade' in script
    assert 'ip saddr 10.89.1.0/24 oifname != "cm2" masquerade' not in script
    assert 'iifname "cm2" oifname != "cm2" drop' in script
    assert 'iifname "cm1" oifname { "cm2" } drop' in script
    assert nft.render("t", [], []) == "table inet t {}\ndelete table inet t\n"


def test_wildcard_host_ips_match_every_address_of_their_family() -> None:
    script = nft.render("t", [nft.BridgeRules("cm1", ("10.89.0.0/24",), False)],
                        [nft.PortRule("tcp", "0.0.0.0", 8080, "10.89.0.2", 80),
                         nft.PortRule("tcp", "::", 8081, "10.89.0.2", 80)])
    assert "elements = { tcp . 8080 : 10.89.0.2 . 80 }" in script
    assert "8081" not in script  # a v6 wildcard cannot reach a v4-only container
    assert "0.0.0.0" not in script


def test_port_elements_pick_their_map() -> None:
    el = nft.port_element
    assert el(nft.PortRule("tcp", "", 80, "10.0.0.2", 8080)) == ("any4", "tcp . 80", "10.0.0.2 . 8080")
    assert el(nft.PortRule("udp", "127.0.0.1", 53, "10.0.0.2", 53)) == (
        "at4", "127.0.0.1 . udp . 53", "10.0.0.2 . 53")
    assert el(nft.PortRule("tcp", "::", 80, "fd00::2", 80)) == ("any6", "tcp . 80", "fd00::2 . 80")
    assert el(nft.PortRule("tcp", "2001:db8::1", 80, "fd00::2", 80))[0] == "at6"  # type: ignore[index]
    assert el(nft.PortRule("tcp", "::1", 80, "fd00::2", 80)) is None  # the relay's
    assert el(nft.PortRule("tcp", "127.0.0.1", 80, "fd00::2", 80)) is None  # other family
    assert nft.render_port_change("t") == ""
    assert nft.render_port_change("t", add=[nft.PortRule("tcp", "", 80, "10.0.0.2", 8080)],
                                  remove=[nft.PortRule("tcp", "", 81, "10.0.0.3", 8080)]) == (
        "delete element inet t any4 { tcp . 81 }\nadd element inet t any4 { tcp . 80 : 10.0.0.2 . 8080 }\n")


def test_published_host_ips_overlap_by_family_and_wildcard() -> None:
    from runtime.network.manager import _ips_overlap

    assert _ips_overlap("", "127.0.0.1") and _ips_overlap("0.0.0.0", "192.0.2.2")
    assert _ips_overlap("::", "::1") and not _ips_overlap("0.0.0.0", "::")
    assert not _ips_overlap("127.0.0.1", "192.0.2.2")


def test_in_thread_runs_elsewhere_and_hands_back_its_result_or_its_error() -> None:
    import _thread

    from runtime.network import netns

    assert netns.in_thread(_thread.get_ident) != _thread.get_ident()
    err = KeyError("gone")

    def fails() -> None:
        raise err

    with pytest.raises(KeyError) as caught:
        netns.in_thread(fails)
    assert caught.value is err

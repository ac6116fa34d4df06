"""Pure parts of networking: IPAM, hosts/resolv.conf rendering, the nft table text."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from runtime.errors import NetworkError
from runtime.network import files, ipam, nft


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

"""IP address management: pure functions over subnets and the addresses already taken.

The state (which subnets exist, which addresses are leased) is passed in; callers hold a
BEGIN IMMEDIATE transaction around choose-and-record so two processes never get one address.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator

from runtime.errors import NetworkError
from runtime.network import addr as v4addr

# ipaddress (~1-1.4 ms to import) only where subnets, ranges or addresses come from a user, or are
# IPv6: a container's lease on an IPv4 subnet is int arithmetic (lease, runtime.network.addr)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress

    Net = ipaddress.IPv4Network | ipaddress.IPv6Network
    Addr = ipaddress.IPv4Address | ipaddress.IPv6Address

_HEX = frozenset("0123456789abcdefABCDEF")


def v4_pool() -> Iterator[ipaddress.IPv4Network]:
    """10.89.0.0/24, 10.89.1.0/24, ... as podman, then on into 10.90.x.0/24 ... 10.255.x.0/24."""
    import ipaddress

    for second in range(89, 256):
        for third in range(256):
            yield ipaddress.IPv4Network(f"10.{second}.{third}.0/24")


def v6_pool() -> Iterator[ipaddress.IPv6Network]:
    """/64s from a ULA prefix (fd00::/8): fd89:0:0:0::/64, fd89:0:0:1::/64, ..."""
    import ipaddress

    for n in range(65536):
        yield ipaddress.IPv6Network(f"fd89:0:0:{n:x}::/64")


def version(subnet: str) -> int:
    """4 or 6: the IP version of *subnet* as the engine wrote it (str of an ipaddress network)."""
    return 6 if ":" in subnet else 4


def prefixlen(subnet: str) -> int:
    """The prefix length of *subnet* as the engine wrote it ("10.89.0.0/24": 24)."""
    return int(subnet.rpartition("/")[2])


def overlaps(net: Net, others: Iterable[Net]) -> Net | None:
    for o in others:
        if o.version == net.version and net.overlaps(o):
            return o
    return None


def pick_subnet(pool: Iterable[Net], used: Collection[Net], what: str) -> Net:
    for net in pool:
        if overlaps(net, used) is None:
            return net
    raise NetworkError(f"network {what}: no free subnet left in the address pool")


def parse_subnet(network: str, raw: str) -> Net:
    import ipaddress

    try:
        return ipaddress.ip_network(raw, strict=True)
    except ValueError as exc:
        raise NetworkError(f"network {network}: invalid subnet {raw!r}: {exc}") from None


def parse_address(owner: str, raw: str) -> Addr:
    import ipaddress

    try:
        return ipaddress.ip_address(raw)
    except ValueError:
        raise NetworkError(f"{owner}: invalid ip address {raw!r}") from None


def default_gateway(subnet: Net) -> Addr:
    first = next(iter(subnet.hosts())) if subnet.num_addresses > 2 else subnet.network_address
    return first  # type: ignore[return-value]


def first_free(subnet: Net, ip_range: Net | None, reserved: Collection[Addr],
               after: Addr | None = None) -> Addr | None:
    """The next free host address of *ip_range* (or *subnet*) after *after*, wrapping around.

    Serial allocation, as docker's IPAM: a just-released address is not handed out again at once,
    so stale ARP entries and hosts files of peers do not point at a new container.
    """
    import ipaddress

    span = ip_range or subnet
    taken = {int(a) for a in reserved if a.version == subnet.version}
    free = v4addr.next_free((int(subnet.network_address), int(subnet.broadcast_address)),
                            (int(span.network_address), int(span.broadcast_address)), taken,
                            int(after) if after is not None else None, subnet.version == 4)
    if free is None:
        return None
    return ipaddress.IPv6Address(free) if subnet.version == 6 else ipaddress.IPv4Address(free)


def lease(subnet: str, ip_range: str | None, reserved: Collection[str], after: str | None) -> str | None:
    """first_free over the state's text: *subnet*, *reserved* and *after* as the engine wrote them
    (str of ipaddress objects), *ip_range* as the user gave it. An IPv4 subnet without a range
    (every container on the default network) is int arithmetic; the rest goes through ipaddress."""
    if ":" in subnet or ip_range:
        import ipaddress

        got = first_free(ipaddress.ip_network(subnet), ipaddress.ip_network(ip_range) if ip_range else None,
                         {ipaddress.ip_address(r) for r in reserved},
                         ipaddress.ip_address(after) if after else None)
        return None if got is None else str(got)
    span = v4addr.v4_span(subnet)
    taken = {v4addr.v4(r) for r in reserved if ":" not in r}
    free = v4addr.next_free(span, span, taken, v4addr.v4(after) if after else None, True)
    return None if free is None else v4addr.v4_text(free)


def static_lease(owner: str, network: str, raw: str, subnet: str, reserved: Collection[str]) -> str:
    """The address *raw* the user asked for on *subnet* (text), checked; *reserved* as in lease."""
    import ipaddress

    addr = parse_address(owner, raw)
    taken = {ipaddress.ip_address(r) for r in reserved}
    check_static(owner, network, addr, ipaddress.ip_network(subnet), taken)
    return str(addr)


def check_static(owner: str, network: str, addr: Addr, subnet: Net, reserved: Collection[Addr]) -> None:
    if addr.version != subnet.version or addr not in subnet:
        raise NetworkError(f"{owner}: address {addr} is not in subnet {subnet} of network {network}")
    if addr == subnet.network_address or (subnet.version == 4 and addr == subnet.broadcast_address):
        raise NetworkError(f"{owner}: address {addr} is not a host address of network {network}")
    if addr in reserved:
        raise NetworkError(f"{owner}: address {addr} is already in use on network {network}")


def random_mac() -> str:
    """A random locally administered unicast MAC address, as docker's GenerateRandomMAC."""
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def check_mac(owner: str, mac: str) -> str:
    """A unicast MAC address in canonical lower-case form."""
    # not a regular expression: compiling one at import cost every container set-up ~0.2 ms
    octets = mac.split(":")
    if len(octets) != 6 or not all(len(o) == 2 and _HEX.issuperset(o) for o in octets):
        raise NetworkError(f"{owner}: invalid mac address {mac!r}; expected xx:xx:xx:xx:xx:xx")
    if int(mac[:2], 16) & 1:
        raise NetworkError(f"{owner}: mac address {mac!r} is a multicast address")
    return mac.lower()

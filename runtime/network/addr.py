"""IPv4 addresses as ints: the arithmetic of a container's lease without the ipaddress module.

Importing ipaddress costs ~1-1.4 ms CPU (it builds its IPv6 constant networks), a few percent
of a `container run`. The plain lease (the next free address of an IPv4 subnet, as the engine
wrote it in the state) needs only the few lines below; IPv6, static addresses and user-given
ranges stay with ipaddress (ipam). Standard library only.
"""

from __future__ import annotations

import _socket  # not the socket module: its import converts four enums (~2.5 ms)
from collections.abc import Collection


def v4(text: str) -> int:
    """The dotted-quad IPv4 address *text* as an int (ValueError for anything else)."""
    try:
        return int.from_bytes(_socket.inet_pton(_socket.AF_INET, text), "big")
    except OSError:
        raise ValueError(f"{text!r} does not appear to be an IPv4 address") from None


def v4_text(value: int) -> str:
    return _socket.inet_ntoa(value.to_bytes(4, "big"))


def v4_mask(prefixlen: int) -> str:
    """The dotted netmask of an IPv4 prefix length (24: "255.255.255.0")."""
    if not 0 <= prefixlen <= 32:
        raise ValueError(f"invalid IPv4 prefix length {prefixlen}")
    return v4_text(0xFFFFFFFF << (32 - prefixlen) & 0xFFFFFFFF)


def v4_span(subnet: str) -> tuple[int, int]:
    """The first and last address (network and broadcast) of *subnet*, "a.b.c.d/prefixlen"."""
    base, _, plen = subnet.partition("/")
    size = 1 << (32 - int(plen))
    first = v4(base) & ~(size - 1)
    return first, first + size - 1


def next_free(subnet: tuple[int, int], span: tuple[int, int], taken: Collection[int],
              after: int | None, broadcast: bool) -> int | None:
    """The next address of *span* after *after*, wrapping around, that lies in *subnet*, is not
    its network address (nor its last one when *broadcast*: IPv4's) and is not *taken*."""
    first, last = span
    start = after + 1 if after is not None and first <= after < last else first
    count = last - first + 1
    for i in range(count):
        value = first + (start - first + i) % count
        if not subnet[0] < value <= subnet[1] or value in taken:
            continue
        if broadcast and value == subnet[1]:
            continue
        return value
    return None

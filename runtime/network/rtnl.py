"""A minimal rtnetlink client (standard library only) for the few requests networking makes.

Why not pyroute2 here: importing it costs 0.3-0.7 s, more than the whole per-container budget
(10 ms) in a `composer container create`; the requests below are five fixed message shapes.
Each request is acknowledged (NLM_F_ACK) and a kernel error is raised as OSError(errno).
The socket belongs to the network namespace of the thread that opened it.
"""

from __future__ import annotations

import _socket  # not the socket module: its import converts four enums (~2.5 ms)
import os
import struct

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 20, 24
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_IFALIAS, IFALIASZ = 20, 256
IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 31, 32
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER, IFLA_BR_MCAST_SNOOPING = 1, 2, 1, 23
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS, IFA_F_NODAD = 1, 2, 8, 0x02
RTA_DST, RTA_GATEWAY = 1, 5
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 4, 0, 1
IFF_UP = 0x1
NLA_F_NESTED = 0x8000


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


def _packed(address: str) -> tuple[int, bytes]:
    """The family and packed form of IPv4 or IPv6 *address* (not ipaddress: ~1 ms to import)."""
    fam = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    try:
        return fam, _socket.inet_pton(fam, address)
    except OSError:
        raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 address") from None


def _alias(alias: str) -> bytes:
    return _attr(IFLA_IFALIAS, alias.encode()[:IFALIASZ - 1] + b"\0")


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return struct.pack("=BxHiII", _socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def _mac(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


class Rtnl:
    """One NETLINK_ROUTE socket; use as a context manager."""

    def __init__(self, sock: _socket.socket | None = None) -> None:
        self.sock = sock or _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                                          NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        seq = self._seq
        header = struct.pack("=IHHII", 16 + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0)
        self.sock.sendto(header + body, (0, 0))
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _, mseq, _ = struct.unpack_from("=IHHII", data, off)
                if mtype == NLMSG_ERROR and mseq == seq:
                    err = struct.unpack_from("=i", data, off + 16)[0]
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return
                off += max(length + (-length % 4), 16)

    # ---- links ---------------------------------------------------------------------------

    def add_veth(self, name: str, peer: str, peer_ns_fd: int, *, master: int | None = None,
                 mtu: int | None = None, peer_mac: str | None = None) -> None:
        """A veth pair: *name* here (enslaved to *master*, up) and *peer* made directly in the
        namespace of *peer_ns_fd* (down), each end with one transmit and one receive queue.

        One queue asked for, as `ip link add ... numtxqueues 1 numrxqueues 1`: without it each
        end is made with a queue per CPU and then cut down to one (veth_init_queues), which waits
        for an expedited RCU grace period per end (synchronize_net), under the RTNL lock."""
        queues = _u32(IFLA_NUM_TX_QUEUES, 1) + _u32(IFLA_NUM_RX_QUEUES, 1)
        peer_attrs = _str(IFLA_IFNAME, peer) + _u32(IFLA_NET_NS_FD, peer_ns_fd) + queues
        if peer_mac:
            peer_attrs += _attr(IFLA_ADDRESS, _mac(peer_mac))
        if mtu:
            peer_attrs += _u32(IFLA_MTU, mtu)
        # the peer cannot be brought up in this request (veth_open: its own peer is not linked
        # yet, ENOTCONN); the caller brings it up inside its namespace
        peer_msg = _attr(VETH_INFO_PEER | NLA_F_NESTED, _ifinfo() + peer_attrs)
        info = _str(IFLA_INFO_KIND, "veth") + _attr(IFLA_INFO_DATA | NLA_F_NESTED, peer_msg)
        attrs = _str(IFLA_IFNAME, name) + _attr(IFLA_LINKINFO | NLA_F_NESTED, info) + queues
        if master:
            attrs += _u32(IFLA_MASTER, master)
        if mtu:
            attrs += _u32(IFLA_MTU, mtu)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo(up=True) + attrs)

    def add_bridge(self, name: str, *, mtu: int | None = None) -> None:
        """A bridge, down, without multicast snooping (see links.create_bridge)."""
        data = _attr(IFLA_BR_MCAST_SNOOPING, b"\0")
        info = _str(IFLA_INFO_KIND, "bridge") + _attr(IFLA_INFO_DATA | NLA_F_NESTED, data)
        attrs = _str(IFLA_IFNAME, name) + _attr(IFLA_LINKINFO | NLA_F_NESTED, info)
        if mtu:
            attrs += _u32(IFLA_MTU, mtu)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo() + attrs)

    def set_up(self, index: int, *, alias: str = "") -> None:
        """Bring link *index* up, naming its owner in its alias (`ip link` shows it) when given."""
        self.request(RTM_NEWLINK, 0, _ifinfo(index, up=True) + (_alias(alias) if alias else b""))

    def set_alias(self, name: str, alias: str) -> None:
        """The alias of link *name* (the kernel ignores IFLA_IFALIAS in a request that creates)."""
        self.request(RTM_NEWLINK, 0, _ifinfo() + _str(IFLA_IFNAME, name) + _alias(alias))

    def set_master(self, index: int, master: int) -> None:
        """Enslave link *index* to the bridge *master*, up."""
        self.request(RTM_NEWLINK, 0, _ifinfo(index, up=True) + _u32(IFLA_MASTER, master))

    def delete(self, name: str) -> None:
        self.request(RTM_DELLINK, 0, _ifinfo() + _str(IFLA_IFNAME, name))

    # ---- addresses and routes ------------------------------------------------------------

    def add_address(self, index: int, address: str, prefixlen: int, *, nodad: bool = True) -> None:
        fam, packed = _packed(address)
        flags = IFA_F_NODAD if nodad and fam == _socket.AF_INET6 else 0
        body = struct.pack("=BBBBI", fam, prefixlen, flags, RT_SCOPE_UNIVERSE, index)
        body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed) + _u32(IFA_FLAGS, flags)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_default_route(self, gateway: str) -> None:
        fam, packed = _packed(gateway)
        body = struct.pack("=BBBBBBBBI", fam, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE,
                           RTN_UNICAST, 0)
        body += _attr(RTA_GATEWAY, packed)
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)

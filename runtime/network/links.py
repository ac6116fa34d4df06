"""Netlink work through pyroute2 (imported lazily: CLI start-up must stay lean).

Everything inside a container's namespace goes through an IPRoute bound to a netlink socket that
was opened in that namespace (netns.netlink_socket), never through pyroute2's forking NetNS.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import NetworkError
from runtime.network import netns
from runtime.network.ipam import Net

IFA_F_NODAD = 0x02


@contextmanager
def host_ipr() -> Iterator[Any]:
    from pyroute2 import IPRoute

    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


@contextmanager
def ns_ipr(pin: Path, sock: socket.socket | None = None) -> Iterator[Any]:
    """An IPRoute working inside the namespace at *pin* (through a socket opened there)."""
    from pyroute2 import IPRoute

    ipr = IPRoute(use_socket=sock or netns.netlink_socket(pin))
    try:
        yield ipr
    finally:
        ipr.close()


def ifindex(name: str) -> int | None:
    try:
        with open(f"/sys/class/net/{name}/ifindex") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise NetworkError(f"sysctl {key}={value}: {exc.strerror}") from None


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def host_networks() -> list[Net]:
    """Subnets in use on the host: its routes (but the default ones) and its addresses."""
    out: list[Net] = []
    with host_ipr() as ipr:
        for r in ipr.get_routes(family=2) + ipr.get_routes(family=10):
            dst, plen = r.get_attr("RTA_DST"), r["dst_len"]
            if dst and plen and r.get_attr("RTA_TABLE") in (254, None):
                out.append(ipaddress.ip_network(f"{dst}/{plen}", strict=False))
        for a in ipr.get_addr():
            addr = a.get_attr("IFA_ADDRESS")
            if addr and a["scope"] == 0:
                out.append(ipaddress.ip_network(f"{addr}/{a['prefixlen']}", strict=False))
    return out


def create_bridge(name: str, addrs: Sequence[tuple[str, int]], mtu: int | None) -> None:
    """A Linux bridge with the gateway addresses, up. Removed again if any step fails."""
    with host_ipr() as ipr:
        try:
            ipr.link("add", ifname=name, kind="bridge")
        except Exception as exc:  # pyroute2 NetlinkError: the name is taken, ...
            raise NetworkError(f"bridge {name}: cannot create: {exc}") from None
        try:
            idx = ipr.link_lookup(ifname=name)[0]
            if mtu:
                ipr.link("set", index=idx, mtu=mtu)
            for addr, plen in addrs:
                kw: dict[str, Any] = {"flags": IFA_F_NODAD} if ":" in addr else {}
                ipr.addr("add", index=idx, address=addr, prefixlen=plen, **kw)
            ipr.link("set", index=idx, state="up")
        except Exception as exc:
            delete_link(name)
            raise NetworkError(f"bridge {name}: cannot configure: {exc}") from None


def delete_link(name: str) -> None:
    """Delete a host link (a veth takes its peer with it); quiet if it is gone."""
    if not link_exists(name):
        return
    with host_ipr() as ipr:
        try:
            ipr.link("del", ifname=name)
        except Exception:
            if link_exists(name):
                raise


@dataclass(frozen=True, slots=True)
class Iface:
    host_name: str       # the veth end on the host, enslaved to the bridge
    ifname: str          # the end inside the namespace (eth0, ...)
    bridge: str
    mac: str | None
    addrs: tuple[tuple[str, int], ...]   # (address, prefix length)
    mtu: int | None


def plug(pin: Path, ifaces: Sequence[Iface], gw4: str | None, gw6: str | None, lo: bool = True,
         sock: socket.socket | None = None) -> None:
    """Create each veth with its peer directly inside the namespace, address it, add routes.

    Few netlink requests on purpose (each costs ~1 ms through pyroute2): the host end is created
    enslaved and up in the same request, and the peer's index comes back with one get.
    """
    peer_index: dict[str, int] = {}
    nsfd = os.open(pin, os.O_RDONLY)
    try:
        with host_ipr() as host:
            for i in ifaces:
                master = ifindex(i.bridge)
                if master is None:
                    raise NetworkError(f"bridge {i.bridge} is missing; remove and recreate its network")
                peer: dict[str, Any] = {"ifname": i.ifname, "net_ns_fd": nsfd}
                if i.mac:
                    peer["address"] = i.mac
                if i.mtu:
                    peer["mtu"] = i.mtu
                kw: dict[str, Any] = {"mtu": i.mtu} if i.mtu else {}
                host.link("add", ifname=i.host_name, kind="veth", peer=peer, master=master, state="up", **kw)
                peer_index[i.ifname] = host.link("get", ifname=i.host_name)[0].get_attr("IFLA_LINK")
    finally:
        os.close(nsfd)
    with ns_ipr(pin, sock) as ipr:
        if lo:
            ipr.link("set", index=1, state="up")  # lo is always index 1 in a new namespace
        for i in ifaces:
            idx = peer_index[i.ifname]
            for addr, plen in i.addrs:
                kw = {"flags": IFA_F_NODAD} if ":" in addr else {}
                ipr.addr("add", index=idx, address=addr, prefixlen=plen, **kw)
            ipr.link("set", index=idx, state="up")
        if gw4:
            ipr.route("add", dst="0.0.0.0/0", gateway=gw4)
        if gw6:
            ipr.route("add", dst="::/0", gateway=gw6)


def lo_up(pin: Path, sock: socket.socket | None = None) -> None:
    with ns_ipr(pin, sock) as ipr:
        ipr.link("set", index=1, state="up")

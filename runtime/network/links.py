"""Netlink work through pyroute2 (imported lazily: CLI start-up must stay lean).

Work inside a container's namespace happens in a helper thread that is in it (netns.create_pin,
netns.run_in), never through pyroute2's NetNS, which forks a helper process per namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runtime.errors import NetworkError
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


def ifindex(name: str) -> int | None:
    try:
        with open(f"/sys/class/net/{name}/ifindex") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def sysctl(key: str, value: str) -> None:
    """Write /proc/sys/*key* (a "/"-separated path: interface names may contain dots)."""
    path = "/proc/sys/" + key
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
            # no multicast snooping: a new port's IPv6 neighbour solicitations would be dropped
            # until its MLD report, which waits for DAD on its link-local address (~2 s)
            ipr.link("add", ifname=name, kind="bridge", br_mcast_snooping=0)
        except Exception as exc:  # pyroute2 NetlinkError: the name is taken, ...
            raise NetworkError(f"bridge {name}: cannot create: {exc}") from None
        try:
            # the bridge's own link-local address must not wait for DAD: until it is usable the
            # host sends no neighbour solicitations on the bridge (IPv6 stalls ~1 s)
            with contextlib.suppress(NetworkError):  # no IPv6 on this host
                sysctl(f"net/ipv6/conf/{name}/accept_dad", "0")
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


def plug_here(host_sock: socket.socket, ifaces: Sequence[Iface], gw4: str | None, gw6: str | None) -> None:
    """Plug *ifaces* into the namespace of the calling thread (see netns.create_pin/run_in).

    The veth is created from the host's side (*host_sock*, opened in the host's namespace) with its
    peer made directly in this namespace, enslaved and up in the same request. Inside, IPv4 is
    configured by ioctl (ifconf: ~0.05 ms a call against ~1-3 ms per pyroute2 request); only
    IPv6 goes through netlink.
    """
    from pyroute2 import IPRoute

    from runtime.network import ifconf

    # no duplicate address detection in here: addresses are unique by IPAM, and a tentative
    # link-local address holds back IPv6 neighbour discovery for a second or more
    with contextlib.suppress(OSError), open("/proc/sys/net/ipv6/conf/default/accept_dad", "w") as f:
        f.write("0")
    nsfd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        host = IPRoute(use_socket=host_sock)
        try:
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
        finally:
            host.close()
    finally:
        os.close(nsfd)
    v6: list[tuple[str, str, int]] = []
    for i in ifaces:
        for addr, plen in i.addrs:
            if ":" in addr:
                v6.append((i.ifname, addr, plen))
            else:
                ifconf.add_ipv4(i.ifname, addr, plen)
        ifconf.link_up(i.ifname)
    if gw4:
        ifconf.add_default_ipv4(gw4)
    if v6 or gw6:
        # a socket opened here, in this thread, belongs to this namespace
        ipr = IPRoute(use_socket=socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0))
        try:
            for name, addr, plen in v6:
                ipr.addr("add", index=ipr.link_lookup(ifname=name)[0], address=addr, prefixlen=plen,
                         flags=IFA_F_NODAD)
            if gw6:
                ipr.route("add", dst="::/0", gateway=gw6)
        finally:
            ipr.close()

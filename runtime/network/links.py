"""Host links and a container's interfaces, through rtnl (a stdlib netlink client) and ioctls.

Work inside a container's namespace goes through sockets opened in it (netns.Inside, by a helper
thread that entered it: netns.Pinning, netns.run_in): no helper process is forked per namespace
(pyroute2's NetNS does), and no third-party import is paid on the container path.
"""

from __future__ import annotations

import _socket  # not the socket module: its import converts four enums (~2.5 ms)
import contextlib
import os
from collections.abc import Sequence

from runtime.errors import NetworkError
from runtime.network import ifconf
from runtime.network.rtnl import Rtnl
from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from runtime.network.ipam import Net
    from runtime.network.netns import Inside


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
    """Subnets in use on the host: its main-table routes (but default ones) and its addresses."""
    import ipaddress  # a network's creation only (~1 ms to import): not on a container's path

    out: list[Net] = []
    with contextlib.suppress(OSError), open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            dst, mask = (_socket.inet_ntoa(bytes.fromhex(c)[::-1]) for c in (cols[1], cols[7]))
            if mask != "0.0.0.0":
                out.append(ipaddress.IPv4Network(f"{dst}/{mask}", strict=False))
    with contextlib.suppress(OSError), open("/proc/net/ipv6_route") as f:
        for line in f:
            cols = line.split()
            plen, dev = int(cols[1], 16), cols[9]
            addr = ipaddress.IPv6Address(bytes.fromhex(cols[0]))
            if 0 < plen < 128 and dev != "lo" and not addr.is_link_local and not addr.is_multicast:
                out.append(ipaddress.IPv6Network(f"{addr}/{plen}", strict=False))
    with contextlib.suppress(OSError), open("/proc/net/if_inet6") as f:
        for line in f:
            cols = line.split()
            addr = ipaddress.IPv6Address(bytes.fromhex(cols[0]))
            if not addr.is_link_local and not addr.is_loopback:
                out.append(ipaddress.IPv6Network(f"{addr}/{int(cols[2], 16)}", strict=False))
    return out


def create_bridge(name: str, addrs: Sequence[tuple[str, int]], mtu: int | None, alias: str = "") -> None:
    """A Linux bridge with the gateway addresses, up, its *alias* naming its engine and network
    (owner_alias). Removed again if any step fails.

    No multicast snooping (a new port's IPv6 neighbour solicitations would be dropped until its
    MLD report) and no DAD for the bridge's own link-local address (until it is usable the host
    sends no neighbour solicitations on the bridge): either stalls IPv6 for 1-2 s.
    """
    with Rtnl() as nl:
        try:
            nl.add_bridge(name, mtu=mtu)
        except OSError as exc:
            raise NetworkError(f"bridge {name}: cannot create: {exc.strerror}") from None
        try:
            _configure_bridge(nl, name, addrs, alias)
        except OSError as exc:
            delete_link(name)
            raise NetworkError(f"bridge {name}: cannot configure: {exc.strerror}") from None


def complete_bridge(name: str, addrs: Sequence[tuple[str, int]], mtu: int | None, alias: str = "") -> None:
    """create_bridge for a bridge whose making a kill may have cut short: what it lacks of its
    configuration is added (without deleting it: a concurrent set-up may be plugging into it)."""
    if not link_exists(name):
        with contextlib.suppress(NetworkError):  # another process made it meanwhile
            create_bridge(name, addrs, mtu, alias)
        return
    with Rtnl() as nl:
        try:
            _configure_bridge(nl, name, addrs, alias)
        except OSError as exc:
            raise NetworkError(f"bridge {name}: cannot configure: {exc.strerror}") from None


def _configure_bridge(nl: Rtnl, name: str, addrs: Sequence[tuple[str, int]], alias: str) -> None:
    with contextlib.suppress(NetworkError):  # no IPv6 on this host
        sysctl(f"net/ipv6/conf/{name}/accept_dad", "0")
    idx = _socket.if_nametoindex(name)
    for addr, plen in addrs:
        with contextlib.suppress(FileExistsError):  # complete_bridge: there already
            nl.add_address(idx, addr, plen)
    nl.set_up(idx, alias=alias)


def owner_alias(table: str, kind: str, name: str) -> str:
    """The alias composer gives a host link it makes: its engine's nft table name (one per run
    dir), then what it belongs to (`network NAME`, `container NAME`), so that `ip link` and a
    leak check can tell whose a link is; the kernel keeps at most 255 bytes."""
    return f"{table} {kind} {name}"


def owner_of(link: str) -> str:
    """The engine tag (owner_alias' first word) of host link *link*; "" for none or no link."""
    try:
        with open(f"/sys/class/net/{link}/ifalias") as f:
            return f.read().split(" ", 1)[0].strip()
    except OSError:
        return ""


def delete_link(name: str) -> None:
    """Delete a host link (a veth takes its peer with it); quiet if it is gone."""
    if not link_exists(name):
        return
    with Rtnl() as nl:
        try:
            nl.delete(name)
        except OSError:
            if link_exists(name):
                raise


def enslave(port: str, bridge: str) -> bool:
    """Put host link *port* back on *bridge* (both up); False when either is gone."""
    index, master = ifindex(port), ifindex(bridge)
    if index is None or master is None:
        return False
    with Rtnl() as nl:
        nl.set_master(index, master)
    return True


def delete_bridge(name: str) -> None:
    """Delete a bridge of a network no container uses any more. A port still on it is the veth
    of a torn-down container whose namespace the kernel has not finished destroying (that can
    take seconds on a busy host): delete it now, so that nothing of the network outlives it."""
    with contextlib.suppress(FileNotFoundError):
        for port in os.listdir(f"/sys/class/net/{name}/brif"):
            delete_link(port)
    delete_link(name)


@record(kw_only=False)
class Iface:
    host_name: str       # the veth end on the host, enslaved to the bridge
    ifname: str          # the end inside the namespace (eth0, ...)
    bridge: str
    mac: str | None
    addrs: tuple[tuple[str, int], ...]   # (address, prefix length)
    mtu: int | None
    alias: str = ""      # of the host end (owner_alias)


def plug(inside: Inside, ifaces: Sequence[Iface], gw4: str | None, gw6: str | None) -> None:
    """Plug *ifaces* into the namespace *inside* holds handles on (netns.Inside), from any thread.

    Each veth is created from the host's side with its peer made directly in that namespace, the
    host end enslaved and both ends up, in one request. Inside, IPv4 is configured by ioctl
    (ifconf) and IPv6 by netlink, on the namespace's own sockets.
    """
    with Rtnl() as host:  # this thread's: the host's namespace
        for i in ifaces:
            master = ifindex(i.bridge)
            if master is None:
                raise NetworkError(f"bridge {i.bridge} is missing; remove and recreate its network")
            host.add_veth(i.host_name, i.ifname, inside.fd, master=master, mtu=i.mtu, peer_mac=i.mac)
            if i.alias:
                host.set_alias(i.host_name, i.alias)
    v6: list[tuple[str, str, int]] = []
    for i in ifaces:
        for addr, plen in i.addrs:
            if ":" in addr:
                v6.append((i.ifname, addr, plen))
            else:
                ifconf.add_ipv4(i.ifname, addr, plen, inside.inet)
        ifconf.link_up(i.ifname, inside.inet)
    if gw4:
        ifconf.add_default_ipv4(gw4, inside.inet)
    if v6 or gw6:
        nl = Rtnl(inside.route)
        for name, addr, plen in v6:
            nl.add_address(ifconf.index(name, inside.inet), addr, plen)
        if gw6:
            nl.add_default_route(gw6)

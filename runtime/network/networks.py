"""The network verbs: create (a bridge, its addresses and rules; its subnets chosen in the state),
get, list, remove, prune, drop_bridge (`down` deletes a bridge ahead of its removal) and the
removal of other engines' leftover nftables tables. Functions of a NetworkManager; its methods
delegate here, so that a container's set-up and teardown (`container run`) do not load them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Collection, Mapping

from runtime.errors import Conflict, InvalidSpec, NetworkError, NotFound
from runtime.logs import rfc3339_nano  # not datetime: ~1.5 ms of every `up` to import
from runtime.network import ipam
from runtime.network.manager import CTR, GONE, IP, NET, _mntns, _owner
from runtime.spec import NetworkInfo, NetworkMember, NetworkSpec, endpoint_id
from runtime.state import Doc, Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from runtime.network import nft
    from runtime.network.ipam import Net
    from runtime.network.manager import NetworkManager
else:
    from runtime.lazy import lazy

    nft = lazy("runtime.network.nft")  # its library's load only where nftables is used

BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
MTU_OPTS = ("mtu", "com.docker.network.driver.mtu")


def _state_exists(root: str) -> bool:
    """Whether the engine whose state root is *root* still has its state DB (Paths.db)."""
    return os.path.exists(os.path.join(root, "state.db"))


def _attached(doc: Doc, network: str) -> bool:
    """Whether the container record *doc* has an interface on *network*."""
    return any(a["network"] == network for a in doc.get("attachments", []))


def _labels_match(labels: Mapping[str, str], want: Mapping[str, str] | None) -> bool:
    if not want:
        return True
    return all(k in labels and (v == "" or labels[k] == v) for k, v in want.items())


def create(mgr: NetworkManager, spec: NetworkSpec) -> NetworkInfo:
    """Create a bridge network. Raises Conflict (name taken) or NetworkError (subnets)."""
    from runtime.network import links

    name = spec.name
    if not name or "/" in name:
        raise InvalidSpec(f"network {name!r}: invalid name")
    mtu = _mtu(spec)
    bridge = spec.driver_opts.get(BRIDGE_NAME_OPT, "")
    if bridge and (len(bridge) > 15 or "/" in bridge or " " in bridge):
        raise InvalidSpec(f"network {name}: bridge name {bridge!r} must be at most 15 characters")
    explicit = [(ipam.parse_subnet(name, c.subnet), c) for c in spec.ipam]
    for i, (a, _) in enumerate(explicit):
        for b, _ in explicit[:i]:
            if a.overlaps(b):
                raise NetworkError(f"network {name}: subnet {a} overlaps subnet {b}")
    if not mgr.nft_ok and (spec.enable_ipv6 or any(n.version == 6 for n, _ in explicit)):
        raise NetworkError(f"network {name}: ipv6 needs nftables to isolate forwarded traffic; "
                           "nft is not installed")
    remove_leftover_tables(mgr)
    host_nets = links.host_networks()
    net_id = os.urandom(32).hex()
    while not bridge or links.link_exists(bridge):
        if bridge and spec.driver_opts.get(BRIDGE_NAME_OPT):
            raise NetworkError(f"network {name}: interface {bridge} already exists on the host")
        net_id = os.urandom(32).hex()
        bridge = "cm" + net_id[:8]
    with mgr.store.transaction() as tx:
        if tx.by_name(NET, name) is not None:
            raise Conflict(f"network {name}: already exists")
        used: list[tuple[str, Net]] = [
            (d["name"], ipaddress.ip_network(s)) for _, d in tx.list(NET) for s in d["subnets"]
        ]
        subnets: list[Net] = []
        gateways: list[str] = []
        ranges: list[str | None] = []
        for net, cfg in explicit:
            for other, s in used:
                if s.version == net.version and s.overlaps(net):
                    raise NetworkError(
                        f"network {name}: subnet {net} overlaps subnet {s} of network {other}")
            if (o := ipam.overlaps(net, host_nets)) is not None:
                raise NetworkError(
                    f"network {name}: subnet {net} overlaps {o}, already in use on the host")
            gw = (ipam.parse_address(f"network {name}", cfg.gateway) if cfg.gateway
                  else ipam.default_gateway(net))
            if gw not in net:
                raise NetworkError(f"network {name}: gateway {gw} is not in subnet {net}")
            if cfg.ip_range:
                rng = ipam.parse_subnet(name, cfg.ip_range) if "/" in cfg.ip_range else None
                if rng is None or not rng.subnet_of(net):  # type: ignore[arg-type]
                    raise NetworkError(f"network {name}: ip range {cfg.ip_range} is not inside {net}")
            subnets.append(net)
            gateways.append(str(gw))
            ranges.append(cfg.ip_range)
        taken = [s for _, s in used] + host_nets
        if not any(s.version == 4 for s in subnets):
            s4 = ipam.pick_subnet(ipam.v4_pool(), taken, name)
            subnets.insert(0, s4)
            gateways.insert(0, str(ipam.default_gateway(s4)))
            ranges.insert(0, None)
        if spec.enable_ipv6 and not any(s.version == 6 for s in subnets):
            s6 = ipam.pick_subnet(ipam.v6_pool(), taken, name)
            subnets.append(s6)
            gateways.append(str(ipam.default_gateway(s6)))
            ranges.append(None)
        for _, d in tx.list(NET):
            if d["bridge"] == bridge:
                raise NetworkError(f"network {name}: bridge {bridge} is used by network {d['name']}")
        doc: Doc = {
            "id": net_id, "name": name, "bridge": bridge,
            "subnets": [str(s) for s in subnets], "gateways": gateways, "ip_ranges": ranges,
            "internal": spec.internal,
            "enable_ipv6": spec.enable_ipv6 or any(s.version == 6 for s in subnets),
            "labels": dict(spec.labels), "driver_opts": dict(spec.driver_opts), "mtu": mtu,
            "attachable": spec.attachable, "created_at": rfc3339_nano(),
            "dns_enabled": spec.dns_enabled,
            # until its bridge and rules are made: a kill before then leaves them to the
            # next set-up on it (_ensure_bridges), which would otherwise find a bridge that
            # may lack its addresses and sysctls, and an nftables table without it
            "pending": _owner(),
        }
        tx.put(NET, net_id, doc, name=name)
    try:
        with mgr._lock("bridges"):  # see _bridge_gone
            if mgr.store.read().get(NET, net_id) is None:
                raise NotFound(f"network {name}: removed while it was being created")
            mgr._make_bridge(doc)
        mgr._refresh_nft()
        mgr._made({net_id: doc})
        if not mgr.nft_ok and not spec.internal:
            mgr.warnings.append(f"network {name}: no egress: nftables (nft) is missing, so "
                                 "containers reach only the host and their own network")
    except BaseException:
        with mgr.store.transaction() as tx:
            tx.delete(NET, net_id)
        mgr._bridge_gone(bridge)
        raise
    return _info(doc, mgr.store.read())


def _mtu(spec: NetworkSpec) -> int | None:
    for key in MTU_OPTS:
        if key in spec.driver_opts:
            raw = spec.driver_opts[key]
            if not raw.isdigit() or not 68 <= int(raw) <= 65535:
                raise InvalidSpec(f"network {spec.name}: invalid mtu {raw!r}; expected 68-65535")
            return int(raw)
    return None


def _doc(tx: Tx, name: str) -> tuple[str, Doc]:
    found = tx.by_name(NET, name)
    if found is None:
        doc = tx.get(NET, name)
        if doc is None:
            matches = [(i, d) for i, d in tx.list(NET, name)] if len(name) >= 6 else []
            if len(matches) != 1:
                raise NotFound(f"network {name}: not found")
            return matches[0]
        return name, doc
    return found


def _info(doc: Doc, tx: Tx) -> NetworkInfo:
    addresses: dict[str, str] = {}
    members: dict[str, NetworkMember] = {}
    for cid, c in tx.list(CTR):
        for a in c.get("attachments", []):
            if a["network"] == doc["name"]:
                addresses[cid] = a.get("ipv4") or ""
                members[cid] = NetworkMember(
                    name=c.get("name") or cid, endpoint_id=endpoint_id(cid, doc["id"]),
                    mac=a.get("mac") or "", ipv4=a.get("ipv4") or "", prefix4=a.get("prefix4") or 0,
                    ipv6=a.get("ipv6") or "", prefix6=a.get("prefix6") or 0)
    return NetworkInfo(
        name=doc["name"], id=doc["id"], bridge=doc["bridge"], subnets=tuple(doc["subnets"]),
        gateways=tuple(doc["gateways"]), internal=doc["internal"], enable_ipv6=doc["enable_ipv6"],
        labels=doc["labels"], created_at=doc["created_at"], containers=addresses,
        attachable=bool(doc.get("attachable")), driver_opts=dict(doc.get("driver_opts") or {}),
        mtu=doc.get("mtu"), ip_ranges=tuple(doc.get("ip_ranges") or ()), members=members,
    )


def get(mgr: NetworkManager, name: str) -> NetworkInfo:
    """A network by name (or id, or an unambiguous id prefix). Raises NotFound."""
    tx = mgr.store.read()
    return _info(_doc(tx, name)[1], tx)


def list_networks(mgr: NetworkManager, labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
    tx = mgr.store.read()
    docs = sorted((d for _, d in tx.list(NET)), key=lambda d: d["name"])
    return [_info(d, tx) for d in docs if _labels_match(d["labels"], labels)]


def remove(mgr: NetworkManager, name: str) -> None:
    """Remove a network and its bridge. Raises Conflict while containers are attached."""
    mgr.repair()
    with mgr.store.transaction() as tx:
        net_id, doc = _doc(tx, name)
        users = sorted(c.get("name", cid) for cid, c in tx.list(CTR) if _attached(c, doc["name"]))
        if users:
            raise Conflict(f"network {doc['name']}: in use by container {', '.join(users)}")
        tx.delete(NET, net_id)
        for ip_id, _ in tx.list(IP, doc["name"] + "/"):
            tx.delete(IP, ip_id)
        tx.put(GONE, net_id, {"bridge": doc["bridge"]})  # until the bridge is gone (see repair)
    mgr._bridge_gone(doc["bridge"])
    mgr._refresh_nft()
    with mgr.store.transaction() as tx:
        tx.delete(GONE, net_id)


def remove_leftover_tables(mgr: NetworkManager) -> list[str]:
    """Delete the nftables tables other engines left behind (nft.leftover_reason: the state of
    their engine is gone, or none of their links exists), never a live engine's: a table that
    names a link that exists is kept, whatever its engine, and one rendered again while this
    looked at it is not the one deleted. Returns their names. A few ms per other engine."""
    from runtime.network import links

    if not mgr.nft_ok:
        return []
    others = [t for t in nft.engine_tables() if t != mgr.table]
    if not others:
        return []
    owners = {links.owner_of(link) for link in os.listdir("/sys/class/net")}
    mntns = _mntns()
    removed = []
    for name in others:
        t = nft.show_table(name)
        if t is None or t.handle is None:
            continue
        why = nft.leftover_reason(t, mntns=mntns, owned=owners.__contains__,
                                  link_exists=links.link_exists, state_exists=_state_exists)
        if why:
            with contextlib.suppress(NetworkError):  # gone, or rendered again meanwhile
                nft.delete_table(name, t.handle)
                removed.append(name)
    return removed


def drop_bridge(mgr: NetworkManager, name: str, leaving: Collection[str]) -> bool:
    """Delete network *name*'s bridge ahead of its removal when every container attached to
    it is one of *leaving* (ids or names, stopped and about to be removed: `down`), so that the
    kernel's unregistration of the bridge (40-70 ms here, FINDINGS F18) overlaps their removal
    instead of following it. The network's record stays until remove(); a container that stays
    after all gets the bridge back, its veth on it, when it starts (ensure_attached) and any
    container set-up on the network recreates it. Returns whether the bridge was deleted."""
    from runtime.network import links

    def others() -> bool:
        return any(cid not in leaving and c.get("name") not in leaving and _attached(c, doc["name"])
                   for cid, c in mgr.store.read().list(CTR))

    try:
        _, doc = _doc(mgr.store.read(), name)
    except NotFound:
        return False
    if others():
        return False
    links.delete_link(doc["bridge"])  # its ports come off with it; their namespaces remove them
    if others():  # another process set a container up on it meanwhile: its bridge comes back
        mgr._ensure_bridges({doc["name"]: doc})
    return True


def prune(mgr: NetworkManager, labels: Mapping[str, str] | None = None) -> list[str]:
    """Remove every network without containers (matching *labels*); returns their names."""
    mgr.repair()
    remove_leftover_tables(mgr)
    removed = []
    for info in list_networks(mgr, labels):
        if info.containers:
            continue
        try:
            remove(mgr, info.name)
        except (Conflict, NotFound):
            continue
        removed.append(info.name)
    return removed

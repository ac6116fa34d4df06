"""NetworkManager: networks (bridges + IPAM in state) and per-container network setup.

Order of work for a container: validate → reserve addresses and ports in one BEGIN IMMEDIATE
transaction (no netlink inside it; the record names its owner process) → pin a netns (or take the
one its create started pinning ahead: pin_ahead), plug veths → write hosts/resolv.conf → hand
ports the kernel cannot DNAT to the run dir's relay (proxy.py) → rewrite the peers' hosts files in
place → add its published ports to composer's nftables maps. Any failure tears down what was made
(teardown_container is idempotent). repair() undoes what a killed command left: records of no
container row whose owner is dead, leases, pins and run files of neither a record nor a container
row, half-removed bridges, a killed relay; remove/prune/inspect run it, and a set-up that meets a
taken address or port runs it and retries once. As with docker, a stopped container holds no
published host port: release_ports when its exit is folded in, claim_ports when it starts again.

This module is a container's set-up and teardown (what `container run` needs) and the derived
files and rules; the network verbs (networks.py: create, get, list, remove, prune, drop_bridge),
repair (repair.py) and connect/disconnect (connect.py) are modules of their own, which the
methods of the same names here delegate to.
"""

from __future__ import annotations

import _signal  # not the signal module: it turns every constant into an enum at import
import _thread  # locks only: threading's import costs ~0.5-1 ms
import builtins
import contextlib
import fcntl
import os
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager

from runtime import procs
from runtime.digest import sha256
from runtime.errors import EngineError, InvalidSpec, NetworkError
from runtime.network import files, ipam, netns
from runtime.network.nftlite import table_name, which
from runtime.paths import Paths
from runtime.spec import (
    ContainerNet,
    ContainerSpec,
    NetworkAttachment,
    NetworkInfo,
    NetworkSpec,
    PortMapping,
    default_hostname,
)
from runtime.state import Doc, Store, Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

    from runtime.network import nft
else:  # published ports and network changes only: a container without ports needs none of it
    from runtime.lazy import lazy

    nft = lazy("runtime.network.nft")

NET = "network"
CTR = "netctr"     # per-container network record
IP = "ip"          # id = f"{network}/{addr}", data = {"container": id}
GONE = "netgone"   # a removed network whose bridge may still exist (a crash mid-remove)
# hosts files and nft elements due from a process (its owner): a batch's, whose peers' files and
# ports are written when it ends, or a rename's. A row of a dead owner makes repair() write them all
DUE = "netdue"
CONTAINER = "container"  # runtime.containers' row kind (not imported: that module is heavy)
RUN_FILES = ("hosts", "resolv.conf", "port-proxy.log")  # what setup_container writes in the run dir

HOST_RESOLV = "/etc/resolv.conf"
UPSTREAM_RESOLV = "/run/systemd/resolve/resolv.conf"


def host_veth(container_id: str, network: str) -> str:
    """The host end of a container's veth: deterministic, so teardown finds it after a crash."""
    return "ve" + sha256(f"{container_id}/{network}".encode()).hexdigest()[:10]


def _kill_proxy(pid: int, start: str | None) -> None:
    """Kill a port relay by pid, but only if that pid still is our relay (pids are reused): its
    start time matches the recorded one (a record from before relays were forked has none: its
    relay ran proxy.py)."""
    try:
        if start is not None:
            if _proc_start(pid) != start:
                return
        else:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"proxy.py" not in f.read():
                    return
        os.kill(pid, _signal.SIGKILL)
    except (OSError, ValueError):
        return
    # reap it if it is our child; otherwise wait until it is gone (a zombie has no start time)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)
        return
    for _ in range(200):
        if _proc_start(pid) is None:
            return
        time.sleep(0.005)


def _proc_start(pid: int) -> str | None:
    """A process's start time as recorded in owner fields (a string), None if it is gone."""
    start = procs.starttime(pid)
    return None if start is None else str(start)


def _owner() -> list[Any]:
    """This process, recorded in every container record it sets up: while the process lives, a
    record without a container row is a set-up in progress (or an in-process user such as the
    bench), not a crash's leftover."""
    return [os.getpid(), _proc_start(os.getpid())]


def _owner_alive(owner: Any) -> bool:
    if not isinstance(owner, list) or len(owner) != 2 or not owner[1]:
        return False
    return bool(_proc_start(int(owner[0])) == owner[1])


def _mntns() -> int:
    """This process's mount namespace (the inode of its ns file), in which paths are read."""
    try:
        return os.stat("/proc/self/ns/mnt").st_ino
    except OSError:
        return 0


def _ips_overlap(a: str, b: str) -> bool:
    """Whether two published-port host addresses can receive the same traffic."""
    if not a or not b or a == b:
        return True
    if ":" in a and ":" in b:
        return "::" in (a, b)
    if ":" not in a and ":" not in b:
        return "0.0.0.0" in (a, b)
    return False


Member = tuple[str, files.HostEntry, str | None]  # (container id, its names there, their hosts line)


def _members(docs: Mapping[str, Doc]) -> dict[str, builtins.list[Member]]:
    """network -> [(container id, entry, hosts line)] for every address on it of a container that
    is not stopped, ordered by container name. A peer answers to the names docker's DNS gives it
    (buildEndpointDNSNames): its aliases, its container name, its short id and its hostname."""
    out: dict[str, builtins.list[Member]] = {}
    for cid, doc in sorted(docs.items(), key=lambda kv: kv[1].get("name", "")):
        if doc.get("stopped"):  # docker's DNS forgets a container when it stops
            continue
        for b in doc.get("attachments", []):
            for v in ("ipv4", "ipv6"):
                if b.get(v):
                    names = (*b["aliases"], doc["name"], cid[:12], doc.get("hostname", ""))
                    entry = files.HostEntry(b[v], names)
                    out.setdefault(b["network"], []).append((cid, entry, files.host_line(entry)))
    return out


def _extra_hosts(extra: Sequence[tuple[str, str]], gateway: str) -> builtins.list[builtins.list[str]]:
    """extra_hosts with docker's `host-gateway` replaced by *gateway*, an address of the host the
    container reaches (`host.docker.internal:host-gateway`, to reach a server on the host)."""
    return [[host, gateway if addr == "host-gateway" else addr] for host, addr in extra]


def _hosts_text(cid: str, doc: Doc, members: Mapping[str, Sequence[Member]]) -> str:
    """A container's hosts file: its extra_hosts, its own names, then its peers on each of its
    networks. A name extra_hosts gives is left out of the peers' lines: in docker the hosts file
    is read before the DNS that knows the peers, so extra_hosts overrides a service's name."""
    # as docker writes it: the FQDN (hostname.domainname) first, then the bare hostname
    fqdn = ".".join(filter(None, (doc["hostname"], doc.get("domainname"))))
    names = (fqdn, fqdn.partition(".")[0], doc["name"])
    # its service name and aliases on each network resolve to itself too, as docker's DNS answers
    # them inside the container (a service that advertises or connects to its own name)
    own = [files.HostEntry(a[v], (*names, *a.get("aliases", ()))) for a in doc["attachments"]
           for v in ("ipv4", "ipv6") if a.get(v)]
    if not own:
        own.append(files.HostEntry("127.0.0.1", names))
    extra = [(h, addr) for h, addr in doc.get("extra_hosts", [])]
    shadowed = {h for h, _ in extra}
    peers = [line if not shadowed or shadowed.isdisjoint(entry.names) else _without(entry, shadowed)
             for a in doc["attachments"] for other, entry, line in members.get(a["network"], ())
             if other != cid]
    return files.join_hosts([files.host_line(e) for e in own], peers, extra)


def _without(entry: files.HostEntry, names: Collection[str]) -> str | None:
    """*entry*'s hosts line without *names*."""
    return files.host_line(files.HostEntry(entry.address, tuple(n for n in entry.names if n not in names)))


def _port_target(records: Sequence[Doc], nets: Mapping[str, Doc]) -> Doc | None:
    """The attachment published ports lead to: the first on a network that is not internal."""
    return next((a for a in records if a["network"] in nets and not nets[a["network"]]["internal"]), None)


def relay_rules(ports: Sequence[Doc], records: Sequence[Doc], nets: Mapping[str, Doc],
                everything: bool) -> builtins.list[Doc]:
    """The published ports a userspace relay must serve: all of them where nftables is missing
    (*everything*); otherwise only what the kernel cannot DNAT. IPv6 has no route_localnet: a
    packet from ::1 never leaves lo, so [::1]:PORT (asked for, or part of a wildcard on a network
    with IPv6) is relayed, as docker's userland proxy does; and so is a v6 host address when the
    container has no v6 address (the relay connects to its v4 one)."""
    target = _port_target(records, nets) if not everything else next(
        (a for a in records if a.get("ipv4")), None)
    if target is None:
        return []
    out: builtins.list[Doc] = []
    for p in ports:
        host, v6 = p["host_ip"], target.get("ipv6")
        if everything:
            listen = host
        elif host == "::1" or (host in ("", "::") and v6):
            listen = "::1"
        elif ":" in host and not v6:
            listen = host
        else:
            continue
        dest = v6 if (":" in listen and v6) else target.get("ipv4") or v6
        out.append({"protocol": p["protocol"], "host_ip": listen, "host_port": p["actual"],
                    "address": dest, "container_port": p["container_port"]})
    return out


def _resolver_address(records: Sequence[Doc], nets: Mapping[str, Doc]) -> str:
    """The nameserver of a container's resolv.conf: the IPv4 gateway of its first dns-enabled
    network (where the resolver listens), or "" when none of its networks has DNS."""
    for r in records:
        net = nets[r["network"]]
        if net.get("dns_enabled"):
            gw = next((g for g in net["gateways"] if ":" not in g), "")
            if gw:
                return gw
    return ""


def _upstreams() -> builtins.list[str]:
    """Where the resolver forwards names that are not containers': the host's nameservers but
    loopback ones (the resolver runs on the host, but 127.0.0.53 may be systemd-resolved's stub
    that forwards to the upstream file's). None: the resolver answers SERVFAIL at once."""
    for path in (HOST_RESOLV, UPSTREAM_RESOLV):
        servers = [s for s in files.nameservers(files.read_text(path)) if not files.is_loopback(s)]
        if servers:
            return servers
    return []


def dns_records(docs: Mapping[str, Doc], members: Mapping[str, Sequence[Member]],
                nets: Mapping[str, Doc], default: Sequence[str]) -> Doc | None:
    """The resolver's records (runtime/network/resolver.py): per dns-enabled network, by its IPv4
    gateway, the names of its running containers (lower-cased: DNS is case-insensitive) with their
    addresses, and an address's container name (PTR); per container address, the gateways of
    its networks (a name is answered from each network the asker is on) and its own `dns:`
    servers; the host's servers. None when no dns-enabled network has a running container."""
    networks: dict[str, Doc] = {}
    gateways: dict[str, builtins.list[str]] = {}   # container id -> gateways of its networks
    for name, group in members.items():
        net = nets.get(name)
        gw = next((g for g in net["gateways"] if ":" not in g), None) if net else None
        if not net or not net.get("dns_enabled") or gw is None:
            continue
        names: dict[str, builtins.list[str]] = {}
        ptr: dict[str, str] = {}
        for cid, entry, _ in group:
            for n in dict.fromkeys(n.lower() for n in entry.names if n and len(n.split()) == 1):
                names.setdefault(n, []).append(entry.address)
            ptr.setdefault(entry.address, docs[cid]["name"])
            gateways.setdefault(cid, []).append(gw)
        networks[gw] = {"subnets": net["subnets"], "internal": bool(net.get("internal")),
                        "names": names, "ptr": ptr}
    if not networks:
        return None
    clients: dict[str, builtins.list[str]] = {}
    upstreams: dict[str, builtins.list[str]] = {}
    for group in members.values():
        for cid, entry, _ in group:
            if cid in gateways:
                clients[entry.address] = gateways[cid]
                own = [s for s in docs[cid].get("dns", ()) if not files.is_loopback(s)]
                if own:
                    upstreams[entry.address] = own
    return {"networks": networks, "clients": clients, "upstreams": upstreams, "default": list(default)}


class NetworkManager:
    def __init__(self, paths: Paths, store: Store) -> None:
        self.paths = paths
        self.store = store
        self.table = table_name(paths.rundir)
        self._port_driver: str | None = None
        self._nft_ok: bool | None = None
        self.warnings: builtins.list[str] = []  # for the CLI to print (e.g. no egress without nft)
        self._batch = 0                           # depth of batch() blocks open in this process
        self._pending_nets: set[str] = set()      # networks whose peers' hosts files are due
        self._pending_add: builtins.list[nft.PortRule] = []     # published ports due in nft
        self._pending_remove: builtins.list[nft.PortRule] = []
        self._batch_lock = _thread.allocate_lock()
        self._launched: tuple[int, int] | None = None  # a resolver started, not yet waited for
        self._dns_lock = _thread.allocate_lock()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group set-ups and teardowns (compose up/down of many containers): the peers' hosts
        files and the published ports' nft elements are written once when the outermost block
        ends instead of after every container. Each container's own hosts file is still written at once (it is
        bind-mounted when it starts); a peer's name or a published port appears at the end."""
        with self._batch_lock:
            if self._batch == 0:  # what it defers is in memory only: a kill leaves this row to say so
                self.mark_due(self._batch_due())
            self._batch += 1
        try:
            yield
        finally:
            with self._batch_lock:
                self._batch -= 1
                nets: set[str] = set()
                add: builtins.list[nft.PortRule] = []
                remove: builtins.list[nft.PortRule] = []
                last = self._batch == 0
                if last:
                    nets, add, remove = self._pending_nets, self._pending_add, self._pending_remove
                    self._pending_nets, self._pending_add, self._pending_remove = set(), [], []
            if nets:
                self._refresh_hosts(nets)
            if add or remove:
                self._change_ports(add, remove)
            if last:
                self.done_due(self._batch_due())

    def _batch_due(self) -> str:
        """The key of this manager's batches' debt (mark_due): this process, this manager."""
        return f"batch {' '.join(map(str, _owner()))} {id(self)}"

    def mark_due(self, key: str, tx: Tx | None = None) -> None:
        """Note in the state that this process owes hosts files or nft elements (*key* names the
        debt, done_due settles it): if it dies first, repair() writes them all from the state.
        In *tx* when given (the change that makes the debt, in the same transaction)."""
        if tx is not None:
            tx.put(DUE, key, {"owner": _owner()})
            return
        with self.store.transaction() as wtx:
            wtx.put(DUE, key, {"owner": _owner()})

    def done_due(self, key: str) -> None:
        with self.store.transaction() as tx:
            tx.delete(DUE, key)

    def finish_due(self) -> None:
        """The hosts files and nft elements a dead process owed (mark_due): all of them again.
        One read when none is owed (`up` runs it: a converged project's plan writes nothing)."""
        tx = self.store.read()
        dead = [key for key, d in tx.list(DUE) if not _owner_alive(d.get("owner"))]
        if not dead:
            return
        nets = {a["network"] for _, d in tx.list(CTR) for a in d.get("attachments", [])}
        if nets:
            self._refresh_hosts(nets)
        if self.nft_ok:
            self._refresh_nft()
        with self.store.transaction() as wtx:
            for key in dead:
                wtx.delete(DUE, key)

    @property
    def nft_ok(self) -> bool:
        """Whether nftables can be used (libnftables or the nft command). Without it: published
        ports go through a userspace relay, isolation holds by turning IPv4 forwarding off on the
        bridges (so there is no egress either: masquerade needs nftables), and IPv6 networks are
        refused (nothing else would isolate forwarded IPv6 traffic). Decided on first use."""
        if self._nft_ok is None:
            # the command on PATH says so without nft.py's import (or its library's load)
            self._nft_ok = which("nft") is not None or nft.nft_available()
        return self._nft_ok

    @property
    def port_driver(self) -> str:
        """"nft": DNAT in composer's table; "proxy": a userspace relay process per container (the
        fallback where nftables is missing)."""
        if self._port_driver is None:
            self._port_driver = "nft" if self.nft_ok else "proxy"
        return self._port_driver

    @port_driver.setter
    def port_driver(self, value: str) -> None:
        self._port_driver = value

    # ---- networks: create, inspect, remove (runtime/network/networks.py) ---------------------

    def create(self, spec: NetworkSpec) -> NetworkInfo:
        """Create a bridge network. Raises Conflict (name taken) or NetworkError (subnets)."""
        from runtime.network import networks

        return networks.create(self, spec)

    def get(self, name: str) -> NetworkInfo:
        """A network by name (or id, or an unambiguous id prefix). Raises NotFound."""
        from runtime.network import networks

        return networks.get(self, name)

    def list(self, labels: Mapping[str, str] | None = None) -> builtins.list[NetworkInfo]:
        from runtime.network import networks

        return networks.list_networks(self, labels)

    def remove(self, name: str) -> None:
        """Remove a network and its bridge. Raises Conflict while containers are attached."""
        from runtime.network import networks

        networks.remove(self, name)

    def remove_leftover_tables(self) -> builtins.list[str]:
        """Delete the nftables tables other engines left behind, never a live engine's; their names."""
        from runtime.network import networks

        return networks.remove_leftover_tables(self)

    def drop_bridge(self, name: str, leaving: Collection[str]) -> bool:
        """Delete network *name*'s bridge ahead of its removal when only *leaving* use it (`down`)."""
        from runtime.network import networks

        return networks.drop_bridge(self, name, leaving)

    def prune(self, labels: Mapping[str, str] | None = None) -> builtins.list[str]:
        """Remove every network without containers (matching *labels*); returns their names."""
        from runtime.network import networks

        return networks.prune(self, labels)

    def _make_bridge(self, doc: Doc, complete: bool = False) -> None:
        """Make network *doc*'s bridge; *complete*: the one a killed create may have left half made."""
        from runtime.network import links

        addrs = [(gw, ipam.prefixlen(s))
                 for s, gw in zip(doc["subnets"], doc["gateways"], strict=True)]
        make = links.complete_bridge if complete else links.create_bridge
        make(doc["bridge"], addrs, doc.get("mtu"), links.owner_alias(self.table, "network", doc["name"]))
        if not self.nft_ok:
            # without our forward chain nothing else stops routing between bridges: a bridge
            # that does not forward what it receives keeps its containers to the host and itself
            links.sysctl(f"net/ipv4/conf/{doc['bridge']}/forwarding", "0")
            return
        links.sysctl("net/ipv4/ip_forward", "1")
        links.sysctl(f"net/ipv4/conf/{doc['bridge']}/route_localnet", "1")
        if doc["enable_ipv6"]:
            links.sysctl("net/ipv6/conf/all/forwarding", "1")

    def _ensure_bridges(self, nets: Mapping[str, Doc]) -> None:
        """Recreate bridges that vanished while the state kept their networks (after a reboot the
        run dir and the links are gone, the state under the root is not; drop_bridge went ahead
        of a removal that failed; a bridge deleted by hand), with the host veths of their
        containers that still exist back on them. Only for networks the state still has when the
        bridges lock is held: *nets* may have been read before another command removed one."""
        from runtime.network import links

        cut = [d for d in nets.values() if d.get("pending") and not _owner_alive(d["pending"])]
        missing = [d for d in nets.values() if not links.link_exists(d["bridge"])]
        if cut or missing:
            with self._lock("bridges"):  # see _bridge_gone
                tx = self.store.read()
                cut = [d for d in cut if tx.get(NET, d["id"]) is not None]
                for d in cut:  # its create was killed: what it had not done yet (idempotent, concurrent-safe)
                    self._make_bridge(d, complete=True)
                missing = [d for d in missing if tx.get(NET, d["id"]) is not None]
                for d in missing:
                    if not links.link_exists(d["bridge"]):  # another process may have made it
                        with contextlib.suppress(NetworkError):
                            self._make_bridge(d)
        if missing:
            bridges = {d["name"]: d["bridge"] for d in missing}
            for _, doc in self.store.read().list(CTR):
                for a in doc.get("attachments", []):
                    if a["network"] in bridges and a.get("veth"):
                        with contextlib.suppress(OSError):  # gone meanwhile: nothing to put back
                            links.enslave(a["veth"], bridges[a["network"]])
        if not self.nft_ok:  # writing conf/all/forwarding (any tool may) resets every interface's
            for _, d in self.store.read().list(NET):
                if links.link_exists(d["bridge"]):
                    links.sysctl(f"net/ipv4/conf/{d['bridge']}/forwarding", "0")
        if missing or cut:
            self._refresh_nft()
        if cut:
            self._made({d["id"]: d for d in cut})

    def _made(self, nets: Mapping[str, Doc]) -> None:
        """Networks *nets* (by id) have their bridges and rules: no longer pending."""
        with self.store.transaction() as tx:
            for net_id in nets:
                doc = tx.get(NET, net_id)
                if doc is not None and doc.pop("pending", None) is not None:
                    tx.put(NET, net_id, doc, name=doc["name"])

    def exists(self, name: str) -> bool:
        """Whether a network is named *name* (one indexed read: no member listing, as get's)."""
        return self.store.read().by_name(NET, name) is not None

    def ensure_attached(self, container_id: str) -> None:
        """Before a stopped container starts again: the bridges of its networks exist, its veths on
        them (see drop_bridge). A look at /sys per network when nothing is missing."""
        doc = self.store.read().get(CTR, container_id)
        if not doc or doc.get("mode") != "bridge":
            return
        nets = {}
        for a in doc.get("attachments", []):
            with contextlib.suppress(NetworkError):  # removed meanwhile: its set-up says so
                nets[a["network"]] = self._net_doc(a["network"])
        self._ensure_bridges(nets)

    # ---- containers ------------------------------------------------------------------------

    def pin_ahead(self, container_id: str, spec: ContainerSpec) -> netns.Pinning | None:
        """Start pinning the network namespace of a container whose row exists (repair() leaves
        the pin of a container row alone) and whose set-up makes one, ahead of setup_container,
        which is then given it (*ahead*): the kernel's part overlaps the caller's work until then.
        A create that fails before its set-up discards it (Pinning.discard)."""
        if (spec.network_mode or "bridge") not in ("bridge", "none"):
            return None
        return netns.Pinning(self.paths.netns(container_id))

    def planned(self, container_id: str, spec: ContainerSpec, ahead: netns.Pinning) -> ContainerNet:
        """What setup_container will return for a container pinned ahead (*ahead*, pin_ahead):
        its paths, for an init asked for before its set-up (its network gate, see
        runtime/container_create.py; it is asked for once ahead.wait() returned), with the hosts
        and resolv.conf files it binds made, empty (written in place by the set-up)."""
        ahead.joined = True
        run = self.paths.container_run(container_id)
        hosts, resolv = f"{run}/hosts", f"{run}/resolv.conf"
        for path in (hosts, resolv):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        return ContainerNet(netns_path=self.paths.netns(container_id), hosts_path=hosts,
                            resolv_path=resolv, hostname=default_hostname(spec, container_id))

    def setup_container(self, container_id: str, spec: ContainerSpec, replaces: str = "",
                        ahead: netns.Pinning | None = None, joined: bool = False) -> ContainerNet:
        """Prepare a container's network before its init starts (the init joins netns_path).
        *replaces*: a stopped container this one replaces (a recreate), whose static addresses
        it may take: they are handed over, the lease naming both, until one of them goes.
        *ahead*: its namespace's pinning, started by pin_ahead (it is taken or discarded here).
        *joined*: its init may be in that namespace already, its files bound (planned): a failed
        attempt leaves both, and the second one, after a repair, plugs into the same."""
        try:
            return self._setup_container(container_id, spec, replaces, ahead, joined)
        finally:
            if ahead is not None:
                ahead.discard()  # not taken: a set-up that failed, or a mode without its own netns

    def _setup_container(self, container_id: str, spec: ContainerSpec, replaces: str,
                         ahead: netns.Pinning | None, joined: bool = False) -> ContainerNet:
        stale = self.store.read().get(CTR, container_id) is not None
        if stale or (ahead is None and os.path.lexists(self.paths.netns(container_id))):
            self.teardown_container(container_id)
        # the run dir is made only after this container's record is written (repair() relies on it)
        run = self.paths.container_run(container_id)
        hosts, resolv = f"{run}/hosts", f"{run}/resolv.conf"
        mode = spec.network_mode or "bridge"
        if mode == "host":
            return self._setup_host(container_id, spec, hosts, resolv)
        if mode.startswith("container:"):
            return self._setup_joined(container_id, spec, mode.split(":", 1)[1])
        if mode not in ("bridge", "none"):
            raise InvalidSpec(f"container {spec.name}: unknown network mode {mode!r}")
        for attempt in (1, 2):
            try:
                return self._setup_own(container_id, spec, mode, hosts, resolv, replaces, ahead)
            except BaseException as exc:
                if ahead is not None:  # its pin goes with the teardown: a retry makes its own
                    ahead.discard()
                    ahead = None
                self.teardown_container(container_id, keep_netns=joined)
                # an address or port held by a crashed command's leftovers: repair and retry once
                if attempt == 1 and isinstance(exc, NetworkError) and self.repair():
                    if joined:
                        ahead = netns.Rejoin(self.paths.netns(container_id))
                    continue
                if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                    raise
                raise NetworkError(f"container {spec.name}: network setup failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _setup_host(self, cid: str, spec: ContainerSpec, hosts: str, resolv: str) -> ContainerNet:
        import _socket

        hostname = spec.hostname or _socket.gethostname()
        doc: Doc = {"name": spec.name, "hostname": hostname, "mode": "host", "netns_path": None,
                    "hosts_path": hosts, "resolv_path": resolv, "attachments": [], "ports": [],
                    "owner": _owner()}
        with self.store.transaction() as tx:
            tx.put(CTR, cid, doc)
        os.makedirs(os.path.dirname(hosts), exist_ok=True)
        # the host's file, then extra_hosts as docker appends them (the host is this netns's own)
        text = files.read_text("/etc/hosts")
        extra = "".join(f"{a}\t{h}\n" for h, a in _extra_hosts(spec.extra_hosts, "127.0.0.1"))
        files.write_in_place(hosts, text + ("\n" if text and not text.endswith("\n") else "") + extra)
        files.write_in_place(resolv, files.read_text(HOST_RESOLV))
        return ContainerNet(netns_path=None, hosts_path=hosts, resolv_path=resolv, hostname=hostname)

    def _find_ctr(self, tx: Tx, ref: str) -> tuple[str, Doc] | None:
        doc = tx.get(CTR, ref)
        if doc is not None:
            return ref, doc
        for cid, d in tx.list(CTR):
            if d.get("name") == ref or (len(ref) >= 6 and cid.startswith(ref)):
                return cid, d
        return None

    def _setup_joined(self, cid: str, spec: ContainerSpec, ref: str) -> ContainerNet:
        with self.store.transaction() as tx:
            found = self._find_ctr(tx, ref)
            if found is None or found[1]["mode"] == "container":
                raise NetworkError(f"container {spec.name}: network container {ref} is not set up")
            other_id, other = found
            tx.put(CTR, cid, {"name": spec.name, "hostname": other["hostname"], "mode": "container",
                              "target": other_id, "netns_path": other["netns_path"],
                              "hosts_path": other["hosts_path"], "resolv_path": other["resolv_path"],
                              "attachments": [], "ports": [], "owner": _owner()})
        return ContainerNet(netns_path=other["netns_path"], hosts_path=other["hosts_path"],
                            resolv_path=other["resolv_path"], hostname=other["hostname"],
                            addresses={a["network"]: a["ipv4"]
                                       for a in other["attachments"] if a.get("ipv4")},
                            ports=tuple(self._ports_of(other)))

    def _setup_own(self, cid: str, spec: ContainerSpec, mode: str, hosts: str, resolv: str,
                   replaces: str = "", ahead: netns.Pinning | None = None) -> ContainerNet:
        from runtime.network import links

        who = f"container {spec.name}"
        hostname = default_hostname(spec, cid)
        pin = self.paths.netns(cid)
        atts = sorted(spec.networks, key=lambda a: -a.priority) if mode == "bridge" else []
        ports = list(spec.ports) if mode == "bridge" else []
        self._check_attachments(who, atts)
        asks_gateway = any(addr == "host-gateway" for _, addr in spec.extra_hosts)
        gateway = self._host_gateway(atts) if asks_gateway else ""
        if ports:
            self._release_exited(cid)
        chosen = [self._probe_port(who, p) for p in ports]
        with self.store.transaction() as tx:
            records = [self._lease(tx, who, cid, a, i, replaces) for i, a in enumerate(atts)]
            names = [r["ifname"] for r in records]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise NetworkError(f"{who}: two networks use interface name {dupes[0]}")
            port_docs = self._reserve_ports(tx, who, cid, ports, chosen)
            doc: Doc = {"name": spec.name, "hostname": hostname, "domainname": spec.domainname,
                        "mode": mode, "netns_path": pin,
                        "hosts_path": hosts, "resolv_path": resolv, "attachments": records,
                        "ports": port_docs, "extra_hosts": _extra_hosts(spec.extra_hosts, gateway),
                        "port_driver": self.port_driver if port_docs else None, "owner": _owner()}
            if spec.dns:  # the resolver's upstreams for this container's other names
                doc["dns"] = list(spec.dns)
            tx.put(CTR, cid, doc)
        os.makedirs(os.path.dirname(hosts), exist_ok=True)
        nets = {r["network"]: self._net_doc(r["network"]) for r in records}
        self._ensure_bridges(nets)
        ifaces = [self._iface(spec.name, r, nets[r["network"]]) for r in records]
        gw4, gw6 = self._gateways(records, nets) if records else (None, None)
        for i in ifaces:  # one left by the dying namespace of this id's last set-up (see teardown)
            links.delete_link(i.host_name)
        netns.pinned(ahead or netns.Pinning(pin),
                     (lambda inside: links.plug(inside, ifaces, gw4, gw6)) if ifaces else None)
        resolver = _resolver_address(records, nets)
        files.write_in_place(resolv, files.render_resolv(
            (resolver,) if resolver else spec.dns, spec.dns_search, spec.dns_opt,
            files.read_text(HOST_RESOLV), files.read_text(UPSTREAM_RESOLV)))
        relays = relay_rules(port_docs, records, nets, everything=self.port_driver == "proxy")
        if relays:
            if self.port_driver == "proxy" and not any(r.get("ipv4") for r in records):
                raise NetworkError(f"{who}: published ports need a network with an ipv4 address")
            doc["relay"] = True
            with self.store.transaction() as tx:  # before the relay has it: teardown must ask it
                tx.put(CTR, cid, doc)
            self._start_proxy(who, cid, relays)
        self._refresh_hosts({r["network"] for r in records}, also=cid)
        self._nft_ports(doc, added=True)
        return ContainerNet(netns_path=pin, hosts_path=hosts, resolv_path=resolv, hostname=hostname,
                            addresses={r["network"]: r["ipv4"] for r in records if r.get("ipv4")},
                            ports=tuple(self._ports_of(doc)))

    def _check_attachments(self, who: str, atts: Sequence[NetworkAttachment]) -> None:
        seen = set()
        for a in atts:
            if a.network in seen:
                raise NetworkError(f"{who}: network {a.network} is listed twice")
            seen.add(a.network)
            if a.mac_address:
                ipam.check_mac(who, a.mac_address)
            if a.interface_name and (len(a.interface_name) > 15 or "/" in a.interface_name
                                     or a.interface_name in (".", "..", "lo")):
                raise NetworkError(f"{who}: invalid interface name {a.interface_name!r}")

    def _host_gateway(self, atts: Sequence[NetworkAttachment]) -> str:
        """The address `host-gateway` stands for: the gateway (the bridge's address on the host) of
        the container's first network, as docker's is its default bridge's; 127.0.0.1 without one."""
        if not atts:
            return "127.0.0.1"
        gws = self._net_doc(atts[0].network).get("gateways") or []
        return next((g for g in gws if ":" not in g), gws[0] if gws else "127.0.0.1")

    def _net_doc(self, name: str) -> Doc:
        doc = self.store.read().by_name(NET, name)
        if doc is None:
            raise NetworkError(f"network {name}: not found")
        return doc[1]

    def _lease(self, tx: Tx, who: str, cid: str, a: NetworkAttachment, index: int, replaces: str = "") -> Doc:
        """Choose and record this attachment's addresses (inside the caller's transaction)."""
        found = tx.by_name(NET, a.network)
        if found is None:
            raise NetworkError(f"{who}: network {a.network} not found")
        net = found[1]
        # addresses as the engine wrote them (str of ipaddress objects: one text for one address)
        leases = {i.split("/", 1)[1]: d for i, d in tx.list(IP, a.network + "/")}
        reserved = set(net["gateways"]) | set(leases)
        # a static address of the container this one replaces is handed over (docker gives it up
        # at the stop; here a stopped container keeps its lease until it is removed)
        handed = {addr for addr, d in leases.items() if replaces and d.get("container") == replaces}
        rec: Doc = {"network": a.network, "ifname": a.interface_name or f"eth{index}",
                    "veth": host_veth(cid, a.network), "aliases": list(a.aliases),
                    # chosen here, not by the kernel, so that inspect can show it
                    "mac": a.mac_address.lower() if a.mac_address else ipam.random_mac(),
                    "ipv4": None, "ipv6": None,
                    "prefix4": None, "prefix6": None}
        if net.get("dns_enabled"):  # _refresh_hosts tells from the records alone whether DNS is due
            rec["dns"] = True
        for version, static in ((4, a.ipv4_address), (6, a.ipv6_address)):
            idx = next((k for k, s in enumerate(net["subnets"]) if ipam.version(s) == version), None)
            if idx is None:
                if static:
                    raise NetworkError(f"{who}: network {a.network} has no ipv{version} subnet for {static}")
                continue
            subnet = net["subnets"][idx]
            if static:
                addr = ipam.static_lease(who, a.network, static, subnet, reserved - handed)
            else:
                free = ipam.lease(subnet, net["ip_ranges"][idx], reserved, net.get(f"last{version}"))
                if free is None:
                    raise NetworkError(f"{who}: no free address left on network {a.network}")
                addr = free
                net[f"last{version}"] = addr
                tx.put(NET, found[0], net, name=a.network)
            lease = {"container": cid, "replaces": replaces} if addr in handed else {"container": cid}
            tx.put(IP, f"{a.network}/{addr}", lease)
            rec[f"ipv{version}"] = addr
            rec[f"prefix{version}"] = ipam.prefixlen(subnet)
        return rec

    def _iface(self, container: str, rec: Doc, net: Doc) -> Any:
        from runtime.network.links import Iface, owner_alias

        addrs = tuple((rec[f"ipv{v}"], rec[f"prefix{v}"]) for v in (4, 6) if rec.get(f"ipv{v}"))
        return Iface(host_name=rec["veth"], ifname=rec["ifname"], bridge=net["bridge"], mac=rec["mac"],
                     addrs=addrs, mtu=net.get("mtu"), alias=owner_alias(self.table, "container", container))

    def _gateways(self, records: Sequence[Doc], nets: Mapping[str, Doc]) -> tuple[str | None, str | None]:
        """The default routes: the IPv4 one via the first (highest priority) network that is not
        internal and gives the container an IPv4 address, the IPv6 one likewise. As docker's
        gateway endpoint: an internal network gives no gateway, so a container whose first
        network is internal still reaches out through another one."""
        gw4 = gw6 = None
        for rec in records:
            net = nets[rec["network"]]
            if net["internal"]:
                continue
            if gw4 is None and rec.get("ipv4"):
                gw4 = next((g for g in net["gateways"] if ":" not in g), None)
            if gw6 is None and rec.get("ipv6"):
                gw6 = next((g for g in net["gateways"] if ":" in g), None)
        return gw4, gw6

    # ---- published ports -------------------------------------------------------------------

    def _probe_port(self, who: str, p: PortMapping) -> int:
        """Check that the host port is free on the host (or pick one); the state is checked later."""
        import _socket  # not the socket module (~2.5 ms): stop (release_ports) and teardown need none

        kind = _socket.SOCK_STREAM if p.protocol == "tcp" else _socket.SOCK_DGRAM
        host = p.host_ip or "0.0.0.0"
        fam = _socket.AF_INET6 if ":" in host else _socket.AF_INET
        with contextlib.closing(_socket.socket(fam, kind)) as s:
            if kind == _socket.SOCK_STREAM:
                s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, p.host_port))
            except OSError as exc:
                if exc.errno == 99:  # EADDRNOTAVAIL
                    raise NetworkError(f"{who}: host ip {host} is not an address of this host") from None
                raise NetworkError(
                    f"{who}: host port {host}:{p.host_port}/{p.protocol} is already in use") from None
            return int(s.getsockname()[1])

    def _reserve_ports(self, tx: Tx, who: str, cid: str, ports: Sequence[PortMapping],
                       chosen: Sequence[int]) -> builtins.list[Doc]:
        used: builtins.list[tuple[str, str, int]] = []
        for other, d in tx.list(CTR):
            if other != cid and not d.get("ports_off"):  # a stopped container holds no port
                used += [(p["protocol"], p["host_ip"], p["actual"]) for p in d.get("ports", [])]
        out: list[Doc] = []
        for p, actual in zip(ports, chosen, strict=True):
            def clash(port: int, p: PortMapping = p) -> bool:
                return any(proto == p.protocol and port == hp and _ips_overlap(ip, p.host_ip)
                           for proto, ip, hp in used)
            tries = 0
            while clash(actual):
                if p.host_port or tries > 50:
                    raise NetworkError(f"{who}: host port {p.host_ip or '0.0.0.0'}:{actual}/{p.protocol} "
                                       "is already in use")
                actual = self._probe_port(who, p)
                tries += 1
            used.append((p.protocol, p.host_ip, actual))
            out.append({"container_port": p.container_port, "host_port": p.host_port,
                        "protocol": p.protocol, "host_ip": p.host_ip, "actual": actual})
        return out

    def relay_dir(self) -> str:
        """Where the run dir's one port relay keeps its socket, lock and log (proxy.py)."""
        return f"{self.paths.rundir}/relay"

    def _start_proxy(self, who: str, cid: str, rules: Sequence[Doc]) -> None:
        """Have the run dir's port relay serve these ports (relay_rules); it has bound them all
        when this returns."""
        from runtime.network import proxy

        try:
            proxy.add(self.relay_dir(), cid, [dict(r) for r in rules])
        except proxy.RelayError as exc:
            raise NetworkError(f"{who}: port relay: {exc}") from None

    @staticmethod
    def _ports_of(doc: Doc) -> builtins.list[tuple[PortMapping, int]]:
        return [(PortMapping(container_port=p["container_port"], host_port=p["host_port"],
                             protocol=p["protocol"], host_ip=p["host_ip"]), p["actual"])
                for p in doc.get("ports", [])]

    def ports(self, container_id: str) -> builtins.list[tuple[PortMapping, int]]:
        doc = self.store.read().get(CTR, container_id)
        return [] if doc is None else self._ports_of(doc)

    def release_ports(self, container_id: str) -> None:
        """The container stopped: free its published host ports (docker does) so another
        container, or `run --service-ports`, may publish them; claim_ports takes them again.
        The record keeps the mappings, marked off; idempotent."""
        doc = self.store.read().get(CTR, container_id)
        if doc is None or not doc.get("ports") or doc.get("ports_off"):
            return
        with self.store.transaction() as tx:
            doc = tx.get(CTR, container_id)
            if doc is None or not doc.get("ports") or doc.get("ports_off"):
                return
            before = dict(doc)
            doc["ports_off"] = True
            tx.put(CTR, container_id, doc)
        # off in the state first: a crash from here leaves stale elements, which the next port
        # change that meets them replaces by rendering the table from state
        self._nft_ports(before, added=False)
        if before.get("relay"):
            from runtime.network import proxy

            proxy.remove(self.relay_dir(), container_id)

    def set_stopped(self, container_id: str, stopped: bool) -> None:
        """The container stopped (or starts again): as docker's DNS, which answers for running
        containers only, its names leave its peers' hosts files (or come back). Idempotent."""
        doc = self.store.read().get(CTR, container_id)
        if doc is None or bool(doc.get("stopped")) == stopped:
            return
        with self.store.transaction() as tx:
            doc = tx.get(CTR, container_id)
            if doc is None or bool(doc.get("stopped")) == stopped:
                return
            if stopped:
                doc["stopped"] = True
            else:
                doc.pop("stopped")
            tx.put(CTR, container_id, doc)
        networks = {a["network"] for a in doc.get("attachments", [])}
        if networks:
            # one that starts gets its own file at once, even inside batch(): its peers may have
            # come back (or gone) while it was stopped, and it may look them up as it starts
            self._refresh_hosts(networks, also=None if stopped else container_id)

    def claim_ports(self, container_id: str) -> builtins.list[tuple[PortMapping, int]] | None:
        """Take a stopped container's published ports again before it starts (a random host
        port may get a new number, as in docker). Raises NetworkError naming the container and
        the port when one is taken now, holding none of them. None when nothing was released."""
        doc = self.store.read().get(CTR, container_id)
        if doc is None or not doc.get("ports_off"):
            return None
        who = f"container {doc['name']}"
        self._release_exited(container_id)
        asked = [m for m, _ in self._ports_of(doc)]
        chosen = [self._probe_port(who, p) for p in asked]
        with self.store.transaction() as tx:
            doc = tx.get(CTR, container_id)
            if doc is None or not doc.get("ports_off"):
                return None if doc is None else self._ports_of(doc)
            doc["ports"] = self._reserve_ports(tx, who, container_id, asked, chosen)
            doc.pop("ports_off")
            tx.put(CTR, container_id, doc)
        try:
            if doc.get("relay"):
                nets = {d["name"]: d for _, d in self.store.read().list(NET)}
                self._start_proxy(who, container_id, relay_rules(
                    doc["ports"], doc["attachments"], nets, everything=doc.get("port_driver") == "proxy"))
            self._nft_ports(doc, added=True)
        except BaseException:
            self.release_ports(container_id)
            raise
        return self._ports_of(doc)

    def _release_exited(self, container_id: str) -> None:
        """Free the ports of containers that exited with no command since to fold their exit
        file in (containers.py does that, and calls release_ports): the file is the monitor's
        last write, so such a container is done for good."""
        for cid, d in self.store.read().list(CTR):
            if (cid != container_id and d.get("ports") and not d.get("ports_off")
                    and os.path.exists(f"{self.paths.container_run(cid)}/exit.json")):
                self.release_ports(cid)

    # ---- teardown --------------------------------------------------------------------------

    def teardown_container(self, container_id: str, keep_netns: bool = False) -> None:
        """Undo setup_container; idempotent, and repairs whatever a crash left half made.
        *keep_netns*: but for the pinned namespace and the files an init may have bound (a
        failed attempt of a set-up done again in them: setup_container's *joined*)."""
        from runtime.network import links

        tx = self.store.read()
        doc = tx.get(CTR, container_id)
        mode = doc["mode"] if doc else "bridge"
        networks = {a["network"] for a in doc.get("attachments", [])} if doc else set()
        if doc and doc.get("relay"):
            from runtime.network import proxy

            proxy.remove(self.relay_dir(), container_id)
        if doc and doc.get("proxy_pid"):  # a record from before the shared relay (day 2, 02:20)
            _kill_proxy(int(doc["proxy_pid"]), doc.get("proxy_start"))
        if mode in ("bridge", "none"):
            pin = self.paths.netns(container_id)
            veths = {a["veth"] for a in doc.get("attachments", [])} if doc else set()
            veths |= {host_veth(container_id, d["name"]) for _, d in tx.list(NET)}
            # Every veth of ours has its peer in the pinned namespace, so unmounting the last
            # reference destroys the namespace and the pair with it (the kernel does it
            # asynchronously), much cheaper than an rtnetlink delete per veth (bench F8). Delete
            # them ourselves only when the namespace may outlive the pin: another container joined
            # it (network_mode container:), or the pin is already gone (a crash left a veth).
            joined = any(
                d.get("mode") == "container" and d.get("target") == container_id for _, d in tx.list(CTR)
            )
            if joined or keep_netns or not netns.is_pinned(pin):
                for v in sorted(veths):
                    links.delete_link(v)
            if not keep_netns:
                netns.remove_pin(pin)
        if doc:  # before the record goes: a crash in between leaves the record for repair() to redo
            self._nft_ports(doc, added=False)
        with self.store.transaction() as tx:
            for ip_id, data in tx.list(IP):
                before = data.get("replaces")
                if data.get("container") == container_id:
                    if before and tx.get(CTR, before) is not None:  # a replacement undone: give it back
                        tx.put(IP, ip_id, {"container": before})
                    else:
                        tx.delete(IP, ip_id)
                    networks.add(ip_id.rsplit("/", 1)[0])
                elif before == container_id:  # the replaced one goes: the lease is its successor's
                    tx.put(IP, ip_id, {"container": data["container"]})
            tx.delete(CTR, container_id)
        if not keep_netns:
            self._remove_run_files(container_id)
        if networks:
            self._refresh_hosts(networks)

    def repair(self) -> builtins.list[str]:
        """Undo what crashed commands left; the container ids torn down."""
        from runtime.network import repair

        return repair.repair(self)

    def _dns_files(self) -> bool:
        """Whether the resolver's records or control socket exist (two stats)."""
        where = self.dns_dir()
        return os.path.exists(f"{where}/{files.DNS_RECORDS}") or os.path.exists(f"{where}/{files.DNS_CTL}")

    def ensure_resolver(self) -> None:
        """Repair what a kill left: the DNS resolver killed while its records still name networks
        is started again, one left running without records (a command killed between removing
        them and telling it) exits; the records are rewritten from state on the way. Two stats
        when no network has DNS, a connect to its socket when it runs."""
        if not self._dns_files():
            return
        from runtime.network import dnsctl

        where = self.dns_dir()
        if os.path.exists(f"{where}/{files.DNS_RECORDS}") and dnsctl.alive(where):
            return
        self._refresh_hosts(set())

    def _remove_run_files(self, cid: str) -> None:
        run = self.paths.container_run(cid)
        with self._lock():  # not while _refresh_hosts may be writing this container's hosts file
            for name in RUN_FILES:  # ours, by these names (a joined container points at its target's)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{run}/{name}")
            with contextlib.suppress(OSError):  # the container manager's files may still be there
                os.rmdir(run)

    # ---- connect / disconnect (runtime/network/connect.py) ----------------------------------

    def connect(self, container_id: str, attachment: NetworkAttachment) -> None:
        """Attach a set-up (running or created) container to one more network."""
        from runtime.network import connect

        connect.connect(self, container_id, attachment)

    def disconnect(self, container_id: str, network: str) -> None:
        from runtime.network import connect

        connect.disconnect(self, container_id, network)

    # ---- derived files and rules -----------------------------------------------------------

    def _bridge_gone(self, bridge: str) -> None:
        """Delete the bridge of a network whose row is gone (removed, or its create undone),
        unless a network has taken its name since. A bridge is made only holding the bridges
        lock, by one that saw its network's row there (create, _ensure_bridges): taking the lock
        after the row went waits for any that saw it before, so their bridge exists to be deleted
        here, and any later one sees no row and makes none. (Without it a `network rm` beside a
        create or a set-up that had read the row deleted no bridge yet, and one was then made
        for a network no longer in the state: an orphan bridge.)"""
        from runtime.network import links

        with self._lock("bridges"):
            if any(d["bridge"] == bridge for _, d in self.store.read().list(NET)):
                return
        links.delete_bridge(bridge)  # outside the lock: the kernel takes 40-70 ms (FINDINGS F18)

    @contextmanager
    def _lock(self, name: str = "network") -> Iterator[None]:
        """An exclusive flock on the run dir's *name* lock, across processes and threads (each
        holder opens its own file description); not reentrant. "network": the derived files and
        the nft table; "bridges": making a bridge (_bridge_gone). Never one inside the other."""
        path = self.paths.lock(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def refresh_hosts(self, networks: set[str], also: str | None = None) -> None:
        """Rewrite the hosts files of the containers on *networks* and of *also* (a container
        renamed: the name its record gives, in its own file and its peers')."""
        self._refresh_hosts(networks, also)

    def _refresh_hosts(self, networks: set[str], also: str | None = None) -> None:
        """Rewrite (in place) the hosts file of every container on *networks*, and of *also*
        (inside batch(): only *also*'s now, the others when the batch ends)."""
        with self._batch_lock:
            if self._batch:
                self._pending_nets |= networks
                if also is None:
                    return
                networks = set()
        with self._lock():
            docs = dict(self.store.read().list(CTR))
            members = _members(docs)
            for cid, doc in docs.items():
                if doc["mode"] not in ("bridge", "none"):
                    continue
                mine = {a["network"] for a in doc["attachments"]}
                if cid != also and not (mine & networks):
                    continue
                if cid != also and not os.path.exists(doc["hosts_path"]):
                    continue
                files.write_in_place(doc["hosts_path"], _hosts_text(cid, doc, members))
            self._write_dns(docs, members)

    def dns_dir(self) -> str:
        """Where the run dir's DNS resolver keeps its records, control socket and log."""
        return f"{self.paths.rundir}/dns"

    def _write_dns(self, docs: Mapping[str, Doc], members: Mapping[str, Sequence[Member]]) -> None:
        """Write the resolver's records as the hosts files were just written, and have it read them
        (started when needed, gone when no dns-enabled network has a running container). Nothing
        at all while no container is on a dns-enabled network (the engine's default network has
        no DNS: `container run` there pays nothing for it, not even dnsctl's import). Called holding
        the network lock."""
        wanted = any(a.get("dns") for d in docs.values() for a in d.get("attachments", ()))
        if not wanted and not self._dns_files():
            return
        from runtime.network import dnsctl

        directory = self.dns_dir()
        path = f"{directory}/{files.DNS_RECORDS}"
        nets = {d["name"]: d for _, d in self.store.read().list(NET)} if wanted else {}
        records = dns_records(docs, members, nets, _upstreams()) if wanted else None
        if records is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self.resolver_ready()
            dnsctl.reload(directory)  # it exits
            return
        old, text = files.read_text(path), dnsctl.render_records(records)
        if old != text:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{directory}/{files.DNS_RECORDS}.tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)  # whole: the resolver reads it at any time
        running = dnsctl.alive(directory)
        # only names changed: it reads the file itself before each answer, no need to wait on it
        # (a reload waits for the resolver to be scheduled, 10-15 ms while `up` starts containers)
        if running and dnsctl.gateways(old) == set(records["networks"]):
            return
        if running:  # a new network: wait until it listens there too
            error = dnsctl.reload(directory)
        else:
            self.resolver_ready()  # one this command launched that died: reaped
            try:
                launched = dnsctl.launch(directory)
                error = None
            except OSError as exc:
                error = f"dns resolver: cannot start: {exc}"
            else:
                with self._dns_lock:
                    self._launched = launched
        if error:
            self.warnings.append(error)

    def resolver_ready(self) -> None:
        """Before a container starts: the resolver this command launched (dnsctl.launch, not
        waited for: its ~25 ms start overlaps the containers' set-up) listens, since the
        container may ask it at once."""
        with self._dns_lock:
            launched, self._launched = self._launched, None
        if launched is not None:
            from runtime.network import dnsctl

            error = dnsctl.started(self.dns_dir(), launched)
            if error:
                self.warnings.append(error)

    @staticmethod
    def _port_rules(doc: Doc, nets: Mapping[str, Doc]) -> builtins.list[nft.PortRule]:
        """The DNAT rules of one container's published ports (none when a relay serves them)."""
        if doc.get("port_driver") == "proxy" or doc.get("ports_off"):
            return []
        target = _port_target(doc.get("attachments", []), nets)
        if target is None:
            return []
        return [nft.PortRule(p["protocol"], p["host_ip"], p["actual"], target[v], p["container_port"])
                for p in doc.get("ports", []) for v in ("ipv4", "ipv6") if target.get(v)]

    def _nft_ports(self, doc: Doc, added: bool) -> None:
        """A container's published ports came (*added*) or went: change only their elements."""
        if not doc.get("ports") or doc.get("port_driver") == "proxy" or not self.nft_ok:
            return
        rules = self._port_rules(doc, {d["name"]: d for _, d in self.store.read().list(NET)})
        if not rules:
            return
        with self._batch_lock:
            if self._batch:
                (self._pending_add if added else self._pending_remove).extend(rules)
                return
        self._change_ports(rules if added else [], [] if added else rules)

    def _change_ports(self, add: Sequence[nft.PortRule], remove: Sequence[nft.PortRule]) -> None:
        # within one batch a container may come and go: what is both added and removed is neither
        both = set(add) & set(remove)
        add, remove = [r for r in add if r not in both], [r for r in remove if r not in both]
        script = nft.render_port_change(self.table, add, remove)
        if not script:
            return
        with self._lock():
            try:
                nft.apply(script)
                return
            except NetworkError:
                pass  # the table is missing or out of step with the state: render it whole
        # without what goes: a teardown removes its ports while its record is still in the state
        # (a crash in between leaves the record for repair), and a create killed before its
        # element came makes that removal fail, so the render would put the element back for good
        self._refresh_nft(without=remove)

    def _refresh_nft(self, without: Sequence[nft.PortRule] = ()) -> None:
        """Re-render composer's table from state (less the port rules *without*) and apply it in
        one transaction. The state is read under the lock the other writers of the table take: a
        refresh that read it before another's and applied after (a container's port removal in
        `down` beside the last network's removal) put back a table for a network already gone."""
        with self._lock():
            tx = self.store.read()
            nets = {d["name"]: d for _, d in tx.list(NET)}
            bridges = [nft.BridgeRules(d["bridge"], tuple(d["subnets"]), d["internal"],
                                       _resolver_address([{"network": d["name"]}], nets))
                       for d in sorted(nets.values(), key=lambda d: d["name"])]
            rules = [r for _, doc in tx.list(CTR) for r in self._port_rules(doc, nets) if r not in without]
            if not self.nft_ok:
                if rules:
                    from runtime.errors import MissingTool
                    raise MissingTool("nft", "nftables")
                return
            nft.apply(nft.render(self.table, bridges, rules, nft.owner_comment(self.paths.root, _mntns())))

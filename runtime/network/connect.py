"""NetworkManager.connect and disconnect: a set-up container gets one more network (a lease, a
veth into its namespace, maybe its default route) or loses one, and its published ports follow
its first network. Functions of a NetworkManager; its methods delegate here.
"""

from __future__ import annotations

from runtime.errors import Conflict, NetworkError, NotFound
from runtime.network import netns
from runtime.network.manager import CTR, IP, NET, host_veth, relay_rules
from runtime.spec import NetworkAttachment
from runtime.state import Doc

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from runtime.network.manager import NetworkManager


def connect(mgr: NetworkManager, container_id: str, attachment: NetworkAttachment) -> None:
    """Attach a set-up (running or created) container to one more network."""
    from runtime.network import links

    with mgr.store.transaction() as tx:
        doc = tx.get(CTR, container_id)
        if doc is None or doc["mode"] != "bridge":
            raise NetworkError(f"container {container_id}: not on a bridge network; cannot connect")
        who = f"container {doc['name']}"
        if any(a["network"] == attachment.network for a in doc["attachments"]):
            raise Conflict(f"{who}: already connected to network {attachment.network}")
        mgr._check_attachments(who, [attachment])
        taken = {a["ifname"] for a in doc["attachments"]}
        index = next(i for i in range(len(taken) + 1) if f"eth{i}" not in taken)
        rec = mgr._lease(tx, who, container_id, attachment, index)
        if rec["ifname"] in taken:
            raise NetworkError(f"{who}: interface {rec['ifname']} already exists")
        before = {**doc, "attachments": list(doc["attachments"])}
        doc["attachments"].append(rec)
        tx.put(CTR, container_id, doc)
    try:
        net = mgr._net_doc(attachment.network)
        mgr._ensure_bridges({attachment.network: net})
        # a default route it has none of yet (it had only internal networks, or none) comes
        # with this network, as docker moves its gateway endpoint
        had = before["attachments"]
        old4, old6 = mgr._gateways(had, {a["network"]: mgr._net_doc(a["network"]) for a in had})
        new4, new6 = mgr._gateways([rec], {rec["network"]: net})
        gws = (None if old4 else new4, None if old6 else new6)
        iface = mgr._iface(doc["name"], rec, net)
        inside = netns.run_in(doc["netns_path"], netns.Inside)
        try:
            links.plug(inside, [iface], *gws)
        finally:
            inside.close()
    except BaseException:
        _drop_attachment(mgr, container_id, attachment.network)
        raise
    mgr._refresh_hosts({attachment.network}, also=container_id)
    _retarget_ports(mgr, container_id, before, doc)


def disconnect(mgr: NetworkManager, container_id: str, network: str) -> None:
    doc = mgr.store.read().get(CTR, container_id)
    if doc is None or not any(a["network"] == network for a in doc.get("attachments", [])):
        raise NotFound(f"container {container_id}: not connected to network {network}")
    _drop_attachment(mgr, container_id, network)
    mgr._refresh_hosts({network}, also=container_id)
    _retarget_ports(mgr, container_id, doc, {**doc, "attachments": [a for a in doc["attachments"]
                                                      if a["network"] != network]})


def _retarget_ports(mgr: NetworkManager, container_id: str, before: Doc, after: Doc) -> None:
    """Published ports lead to the first non-internal attachment: when connect or disconnect
    changed it, move only this container's map elements (and its relay's rules), as set-up and
    teardown do, instead of rendering the whole table."""
    if not after.get("ports") or after.get("ports_off"):
        return
    nets = {d["name"]: d for _, d in mgr.store.read().list(NET)}
    if after.get("relay"):
        everything = after.get("port_driver") == "proxy"
        relays = relay_rules(after["ports"], after["attachments"], nets, everything)
        if relays != relay_rules(before["ports"], before["attachments"], nets, everything):
            mgr._start_proxy(f"container {after['name']}", container_id, relays)
    old, new = mgr._port_rules(before, nets), mgr._port_rules(after, nets)
    if mgr.nft_ok and old != new:
        mgr._change_ports([r for r in new if r not in old], [r for r in old if r not in new])


def _drop_attachment(mgr: NetworkManager, container_id: str, network: str) -> None:
    from runtime.network import links

    links.delete_link(host_veth(container_id, network))
    with mgr.store.transaction() as tx:
        for ip_id, data in tx.list(IP, network + "/"):
            if data.get("container") == container_id:
                tx.delete(IP, ip_id)
        doc = tx.get(CTR, container_id)
        if doc is not None:
            doc["attachments"] = [a for a in doc["attachments"] if a["network"] != network]
            tx.put(CTR, container_id, doc)

"""NetworkManager.repair: undo what killed commands left (records of no container whose owner is
dead, leases, pins and run files of no record, half-removed bridges, a killed port relay, the hosts
files and nft elements a killed batch owed). `remove`, `prune`, `down` and a set-up that meets a
taken address or port run it. Functions of a NetworkManager; its methods delegate here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from runtime.errors import NetworkError
from runtime.network import netns
from runtime.network.manager import CONTAINER, CTR, GONE, IP, NET, _owner_alive, relay_rules
from runtime.paths import TRASH
from runtime.state import Doc
from runtime.trees import remove_trees

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from runtime.network.manager import NetworkManager


def repair(mgr: NetworkManager) -> list[str]:
    """Undo what crashed commands left: container records whose container row is gone and
    whose owner process is dead, address leases, netns pins and run files of no record, the
    trash of removed containers' dirs whose remover was killed (Paths.container_trash), and
    the bridges of networks removed from the state whose removal did not finish, and the
    hosts files and nft elements a killed batch or rename owed (mark_due).
    Returns the container ids torn down. Cheap when nothing is stale (one read)."""
    # Pins and run dirs are listed before the records are read: set-up writes a record before
    # it makes either (a create pinning ahead has its container row first: pin_ahead),
    # teardown deletes the record last but for the run files, so a pin or run dir seen here
    # without a record or a container row afterwards belongs to no set-up in progress.
    pins_dir, runs_dir = os.path.dirname(mgr.paths.netns("x")), os.path.dirname(mgr.paths.container_run("x"))
    pins, runs = set(), set()
    with contextlib.suppress(FileNotFoundError):
        pins = set(os.listdir(pins_dir))
    with contextlib.suppress(FileNotFoundError):
        runs = set(os.listdir(runs_dir))
    tx = mgr.store.read()
    records = dict(tx.list(CTR))
    stale = [cid for cid, d in records.items()
             if tx.get(CONTAINER, cid) is None and not _owner_alive(d.get("owner"))]
    orphan_leases = [i for i, d in tx.list(IP) if d.get("container") not in records]
    for cid in stale:
        mgr.teardown_container(cid)
    _restore_relay(mgr, {cid: d for cid, d in records.items()
                         if d.get("relay") and not d.get("ports_off") and cid not in stale})
    if orphan_leases:
        with mgr.store.transaction() as wtx:
            for ip_id in orphan_leases:
                data = wtx.get(IP, ip_id)
                if data is not None and wtx.get(CTR, data.get("container", "")) is None:
                    wtx.delete(IP, ip_id)
    for cid in pins - set(records):
        if tx.get(CONTAINER, cid) is None:  # else pinned ahead of its set-up (pin_ahead), or
            netns.remove_pin(mgr.paths.netns(cid))  # left by a killed create: its removal's
    for cid in runs - set(records):
        if cid.startswith(TRASH):  # a removed container's dirs, their remover killed
            remove_trees(mgr.paths.container_trash(cid[len(TRASH):]))
        elif tx.get(CONTAINER, cid) is None:  # else the container manager's (and maybe in use)
            mgr._remove_run_files(cid)
    mgr.finish_due()
    mgr.ensure_resolver()
    gone = tx.list(GONE)
    if gone:
        for _, d in gone:
            mgr._bridge_gone(d["bridge"])
        mgr._refresh_nft()
        with mgr.store.transaction() as wtx:
            for net_id, _ in gone:
                wtx.delete(GONE, net_id)
    return stale


def _restore_relay(mgr: NetworkManager, relayed: Mapping[str, Doc]) -> None:
    """The port relay was killed while containers still had ports on it: start it again with
    their ports (it holds them in memory only)."""
    from runtime.network import proxy

    if not relayed or proxy.running(mgr.relay_dir()):
        return
    nets = {d["name"]: d for _, d in mgr.store.read().list(NET)}
    for cid, d in relayed.items():
        rules = relay_rules(d.get("ports", []), d.get("attachments", []), nets,
                            everything=d.get("port_driver") == "proxy")
        try:
            mgr._start_proxy(f"container {d['name']}", cid, rules)
        except NetworkError as exc:  # a port taken meanwhile: the others still come
            mgr.warnings.append(str(exc))

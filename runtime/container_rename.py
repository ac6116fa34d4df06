"""rename: a container's name changes, nothing else (its id, labels, volumes, addresses stay), as
moby's daemon/rename.go. A recreate makes its new container under a temporary name and renames
it once the old one is gone (docker compose's recreateContainer), so a rename must be whole or
not at all: the row's name and the name its network record gives the hosts files change in one
transaction. The errors are the daemon's words (docker rename prints them after 'Error response
from daemon: ').
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import re
import sqlite3
from pathlib import Path

from runtime.container_records import event_attrs
from runtime.containers import KIND, NETCTR_KIND
from runtime.errors import Conflict, InvalidSpec, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from runtime.containers import ContainerManager

VALID_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")  # moby's validContainerNamePattern


def rename(mgr: ContainerManager, ref: str, new: str) -> None:
    """Give container *ref* the name *new*.

    Raises:
        NotFound: no container *ref*. Conflict: *new* is another container's name.
        InvalidSpec: an empty name, *new* is its name already, or *new* is not a valid name.
    """
    if not ref or not new:
        raise InvalidSpec("Neither old nor new names may be empty")
    new = new.removeprefix("/")
    try:
        cid, doc = mgr._find(ref)
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None
    old = doc["name"]
    if new == old:
        raise InvalidSpec("Renaming a container with the same name as its current name")
    if not VALID_NAME.fullmatch(new):
        raise InvalidSpec(f"Error when allocating new name: Invalid container name ({new}), "
                          "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    _check_free(mgr.store.read().by_name(KIND, new), cid, new)
    # the bundle first (what the next monitor calls it): a kill before the row's change leaves the
    # old name in the row, which is the name; the bundle's is only the events' and errors' word
    _rewrite_bundle(mgr, cid, {**doc, "name": new})
    try:
        with mgr.store.transaction() as tx:
            row = tx.get(KIND, cid)
            if row is None:
                raise NotFound(f"No such container: {ref}")
            _check_free(tx.by_name(KIND, new), cid, new)  # taken meanwhile by another process
            row["name"] = new
            try:
                tx.put(KIND, cid, row, name=new)
            except sqlite3.IntegrityError:  # the unique index: a create of that name won the race
                _check_free((new, None), cid, new)
            net = tx.get(NETCTR_KIND, cid)  # the name its peers' hosts files resolve
            if net is not None:
                net["name"] = new
                tx.put(NETCTR_KIND, cid, net)
                # their files say the old name until refresh_hosts below: owed if killed before
                mgr.engine.networks.mark_due(f"rename {cid}", tx)
    except Conflict:
        _rewrite_bundle(mgr, cid, {**doc, "name": old})
        raise
    if mgr._monitor_alive(cid):
        with contextlib.suppress(OSError):  # gone meanwhile: the next monitor reads the bundle
            mgr._write_ctl(cid, "renamed")
    if net is not None:  # its own hosts file, and its peers' on its networks
        mgr.engine.networks.refresh_hosts({a["network"] for a in net.get("attachments") or ()}, also=cid)
        mgr.engine.networks.done_due(f"rename {cid}")
    from runtime.container_lifecycle import log_event

    log_event(mgr, cid, row, "rename", json.dumps({"oldName": f"/{old}"}, separators=(",", ":"))[1:-1])


def _check_free(hit: tuple[str, object] | None, cid: str, new: str) -> None:
    if hit is not None and hit[0] != cid:
        raise Conflict(f'Error when allocating new name: Conflict. The container name "/{new}" is already '
                       f'in use by container "{hit[0]}". You have to remove (or rename) that container '
                       "to be able to reuse that name.")


def _rewrite_bundle(mgr: ContainerManager, cid: str, doc: dict[str, object]) -> None:
    """The name a monitor started from now on gives its events and errors (a monitor already
    running keeps the name it was started with)."""
    cdir = Path(mgr.paths.container_dir(cid))
    try:
        with open(cdir / "monitor.bin", "rb") as f:
            bundle = marshal.load(f)
    except (OSError, ValueError, EOFError):
        return  # a half-created container: it cannot start anyway
    meta = bundle["meta"]
    meta["name"] = doc["name"]
    meta["event_attrs"] = event_attrs(doc)
    (cdir / "container.json.tmp").write_text(json.dumps(meta))
    os.replace(cdir / "container.json.tmp", cdir / "container.json")
    (cdir / "monitor.bin.tmp").write_bytes(marshal.dumps(bundle))
    os.replace(cdir / "monitor.bin.tmp", cdir / "monitor.bin")

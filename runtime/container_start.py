"""The lifecycle verbs that (re)start a container: start (a created container's gate, or a fresh
monitor for a stopped one, its run dir, cgroup and joined namespaces repaired first), restart,
pause and unpause. Functions of a ContainerManager; its methods delegate here. stop, kill and
remove are container_lifecycle's.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
from pathlib import Path

from runtime import container_monitor
from runtime.container_lifecycle import _cgroup, _thaw, kill_everything, log_event, stop
from runtime.container_records import asdict
from runtime.containers import CHANGING, check_transition, read_json
from runtime.errors import ExecError
from runtime.spec import ContainerInfo, ContainerSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from runtime.containers import ContainerManager


def start(mgr: ContainerManager, ref: str) -> ContainerInfo:
    """Start a created (or stopped) container; returns when its process was exec'd."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    check_transition("start", info.status, info.name)
    if info.status == "running":
        return info
    if info.status == "created" and not info.error and mgr._monitor_alive(cid):
        container_monitor.start_created(mgr, cid)  # its init waits at the gate
        return mgr.get(cid)
    # exited, dead, or created with a start that failed: a fresh monitor with the gate open
    mgr._bundle(cid, info.name)  # a half-created container fails here, before anything changes
    ipc = info.spec.ipc_mode if info.spec is not None else None
    donor = ipc.split(":", 1)[1] if ipc and ipc.startswith("container:") else None
    if info.spec is not None:
        _rejoin_namespaces(mgr, cid, info.spec)  # before anything changes: X may be stopped
    if not doc.get("device_volumes"):
        _fresh_start(mgr, cid, doc, info, donor)
    else:  # its device volumes mounted (held) first, as moby's setupMounts: a failure changes nothing
        from runtime.container_create import drop_hold, hold_for_start

        hold_for_start(mgr, cid, doc, info.name)
        try:
            _fresh_start(mgr, cid, doc, info, donor)
        finally:  # the monitor holds them now; a start that failed leaves them to the others
            drop_hold(mgr, cid)
            if not mgr._monitor_alive(cid):
                mgr.engine.volumes.release(doc["device_volumes"])
    info = mgr.get(cid)
    error = container_monitor.started_state(mgr, cid).get("error")
    if error:
        raise ExecError(str(error))
    return info


def _fresh_start(mgr: ContainerManager, cid: str, doc: dict[str, Any], info: ContainerInfo,
                 donor: str | None) -> None:
    """start's part from its ports to its new monitor, which forks the init, its gate open."""
    run = Path(mgr.paths.container_run(cid))
    # its published ports, freed when it stopped (NetworkError when one is taken: nothing changed)
    ports = mgr.engine.networks.claim_ports(cid) if doc.get("ports") else None
    if info.spec is None or (info.spec.network_mode or "bridge") == "bridge":
        mgr.engine.networks.ensure_attached(cid)  # its bridges, if a `down` that failed dropped them
    if ports is not None:
        doc["ports"] = [[asdict(p), h] for p, h in ports]
    kill_everything(mgr, cid)
    for name in ("stopping", "exit.json", "health.json", "ctl"):
        with contextlib.suppress(FileNotFoundError):
            (run / name).unlink()
    run.mkdir(parents=True, exist_ok=True)
    last = doc.pop("last_state", None)
    if isinstance(last, dict):
        (run / "state.json").write_text(json.dumps({"restart_count": 0}))
        if last.get("started_at"):  # kept should this start fail: docker's State keeps them
            doc["prior_run"] = {k: last.get(k) or "" for k in ("started_at", "finished_at")}
    _repair_run_dir(mgr, cid, doc, info)
    _repair_cgroup(mgr, cid, info)
    # its names resolve again in its peers (after its last exit file is gone: a reader folding
    # that file in would mark it stopped again)
    if info.spec is None or (info.spec.network_mode or "bridge") == "bridge":
        mgr.engine.networks.set_stopped(cid, False)
    mgr._save(cid, doc)
    # joining X's ipc: its /dev/shm goes over ours while the init waits at the gate, as at create
    container_monitor.spawn_monitor(mgr, cid, info.name, start=donor is None)
    if donor is not None:
        from runtime.container_access import share_shm

        try:
            share_shm(mgr, cid, donor)
        except BaseException:
            kill_everything(mgr, cid)
            raise
        container_monitor.start_created(mgr, cid)


def _rejoin_namespaces(mgr: ContainerManager, cid: str, spec: ContainerSpec) -> None:
    """Point ``ipc``/``pid: container:X`` at X's current init: X may have been restarted since
    the bundle was written (a stale /proc/PID path fails, or names a reused pid)."""
    from runtime.container_create import joined_namespaces

    paths = joined_namespaces(mgr, spec)  # Conflict when X is not running
    if not paths:
        return
    cdir = Path(mgr.paths.container_dir(cid))
    config = json.loads((cdir / "config.json").read_text())
    namespaces = config["linux"]["namespaces"]
    stale = [n for n in namespaces if n["type"] in paths and n.get("path") != paths[n["type"]]]
    if not stale:
        return
    for n in stale:
        n["path"] = paths[n["type"]]
    meta = json.loads((cdir / "container.json").read_text())
    _write_bundle(cdir, config, meta)


def _repair_run_dir(mgr: ContainerManager, cid: str, doc: dict[str, Any], info: ContainerInfo) -> None:
    """Recreate what the volatile run dir held (netns pin, hosts, resolv.conf, hostname) when
    it is gone, e.g. after a reboot, before the init needs it."""
    cdir, run = Path(mgr.paths.container_dir(cid)), Path(mgr.paths.container_run(cid))
    config = mgr._bundle(cid, info.name)
    linux = config["linux"]
    netns = next((n.get("path") for n in linux["namespaces"] if n["type"] == "network"), None)
    files = {m["destination"]: m for m in config["mounts"] if m["type"] == "bind"}
    stale = [
        m
        for d, m in files.items()
        if d in ("/etc/hosts", "/etc/resolv.conf") and not os.path.exists(m["source"])
    ]
    mode = info.spec.network_mode if info.spec else "bridge"
    if (
        info.spec is not None
        and ((netns and not os.path.exists(netns)) or stale)
        and not mode.startswith("container:")
    ):
        net = mgr.engine.networks.setup_container(cid, info.spec)
        for n in linux["namespaces"]:
            if n["type"] == "network":
                n["path"] = net.netns_path
        for dest, src in (("/etc/hosts", net.hosts_path), ("/etc/resolv.conf", net.resolv_path)):
            if dest in files:
                files[dest]["source"] = src
        doc["networks"] = dict(net.addresses)
        doc["ports"] = [[asdict(p), h] for p, h in net.ports]
        meta = json.loads((cdir / "container.json").read_text())
        _write_bundle(cdir, config, meta)
    hostname = run / "hostname"
    if not hostname.exists():
        hostname.write_text(str(config.get("hostname") or cid[:12]) + "\n")


def _repair_cgroup(mgr: ContainerManager, cid: str, info: ContainerInfo) -> None:
    """Make the container's cgroup again where it is gone, before its init must join it (else:
    'cannot join the cgroup'): a reboot empties /sys/fs/cgroup while the state stays, and an rm
    killed after the cgroup's removal leaves the container, which up -d then starts."""
    meta = read_json(f"{mgr.paths.container_dir(cid)}/container.json") or {}
    procs, parts = meta.get("cgroup_procs") or [], meta.get("cgroup")
    if not parts or info.spec is None or all(os.path.isdir(os.path.dirname(p)) for p in procs):
        return
    from runtime.container_create import create_cgroup

    create_cgroup(parts, info.spec)


def restart(mgr: ContainerManager, ref: str, timeout: float | None = None) -> ContainerInfo:
    """stop, then start. An auto-remove container is kept, as moby's (HasBeenManuallyRestarted
    skips its autoRemove): the removal claim is held across the stop and marked ``restarted``
    (the file unlinked for the next run's monitor) before the start."""
    cid, doc = mgr._find(ref)
    if not (doc.get("spec") or {}).get("volatile"):
        stop(mgr, cid, timeout)
        info = start(mgr, cid)
    else:
        from runtime import autoremove

        claim = autoremove.held(mgr, cid)
        try:
            stop(mgr, cid, timeout)
            if claim >= 0:
                autoremove.mark(claim, b"restarted")
                with contextlib.suppress(OSError):
                    os.unlink(f"{mgr.paths.container_run(cid)}/{autoremove.CLAIM}")
        finally:
            autoremove.release(claim)
        info = start(mgr, cid)
    log_event(mgr, info.id, mgr._find(info.id)[1], "restart")  # docker's, after the start
    return info


def pause(mgr: ContainerManager, ref: str) -> ContainerInfo:
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    check_transition("pause", info.status, info.name)
    cg = _cgroup(mgr, doc)
    if cg is None:
        raise ExecError(f"container {info.name}: cannot pause without a freezer cgroup")
    mgr._set_paused(cid, CHANGING)  # a kill from here on leaves the freezer to say which it is
    with contextlib.suppress(OSError):
        mgr._write_ctl(cid, "pause")  # the monitor holds its healthchecks
    cg.freeze()
    mgr._set_paused(cid, True)
    log_event(mgr, cid, doc, "pause")
    return mgr.get(cid)


def unpause(mgr: ContainerManager, ref: str) -> ContainerInfo:
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    check_transition("unpause", info.status, info.name)
    _thaw(mgr, cid, doc)
    return mgr.get(cid)


def _write_bundle(cdir: Path, config: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Rewrite a bundle's config, each file through a rename: a kill leaves the old or the new."""
    (cdir / "config.json.tmp").write_text(json.dumps(config))
    os.replace(cdir / "config.json.tmp", cdir / "config.json")
    (cdir / "monitor.bin.tmp").write_bytes(marshal.dumps({"config": config, "meta": meta}))
    os.replace(cdir / "monitor.bin.tmp", cdir / "monitor.bin")

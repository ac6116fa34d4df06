"""The lifecycle verbs that end a container's run: stop, kill and remove (with the thaw of a
paused one, and kill_everything, which create's undo and start use too). Functions of a
ContainerManager; its methods delegate here. start, restart, pause and unpause are
container_start's: `container run --rm` (and `down`) load only this module.
"""

from __future__ import annotations

import _signal  # not the signal module: it turns every constant into an enum at import
import contextlib
import os
from collections.abc import Mapping

from runtime import container_monitor
from runtime.container_records import event_attrs
from runtime.containers import CHANGING, KIND, check_transition, pid_alive, read_json
from runtime.errors import Conflict, EngineError, ExecError
from runtime.logs import EVENTS_FILE, append_event, rfc3339_nano
from runtime.spec import ContainerInfo
from runtime.trees import remove_tree, remove_trees  # not shutil (zlib, bz2, lzma: ~3 ms)

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.containers import ContainerManager


def log_event(mgr: ContainerManager, cid: str, doc: Mapping[str, Any], action: str, extra: str = "") -> None:
    """Append the event of a verb this process performs to the engine's event log (what a
    container's monitor does itself, start, die, oom and health_status, it logs)."""
    append_event(f"{mgr.paths.rundir}/{EVENTS_FILE}", cid, action, event_attrs(doc), extra)


def stop(mgr: ContainerManager, ref: str, timeout: float | None = None) -> ContainerInfo:
    """Stop signal, then SIGKILL after *timeout* (default: the spec's stop_timeout)."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    check_transition("stop", info.status, info.name)
    if info.status in ("exited", "dead", "created"):  # as docker: a created container stays created
        return info
    _end_restarts(mgr, cid)
    grace = info.spec.stop_timeout if timeout is None and info.spec else (timeout or 0.0)
    sig = int(doc.get("stop_signal") or _signal.SIGTERM)
    # docker's order: kill (each signal sent), die (the monitor's), stop; a restarting container
    # has no process to signal, and docker logs no kill for it
    running = info.status != "restarting"
    if running:
        log_event(mgr, cid, doc, "kill", f'"signal":"{sig}"')  # before: the die may come at once
    if info.status == "paused":
        _thaw(mgr, cid, doc)
    if container_monitor.signal_init(mgr, cid, sig) and grace > 0:
        container_monitor.wait_monitor_exit(mgr, cid, grace)
    if mgr._monitor_alive(cid):
        if running:
            log_event(mgr, cid, doc, "kill", f'"signal":"{int(_signal.SIGKILL)}"')
        container_monitor.signal_init(mgr, cid, _signal.SIGKILL)
        if not container_monitor.wait_monitor_exit(mgr, cid, 10.0):
            raise ExecError(f"container {info.name}: did not stop after SIGKILL")
    log_event(mgr, cid, doc, "stop")
    return mgr.get(cid)


def kill(mgr: ContainerManager, ref: str, signal: str | int = "SIGKILL") -> ContainerInfo:
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    check_transition("kill", info.status, info.name)
    from runtime.executor import oci

    sig = oci.parse_signal(signal, info.name)
    ends = _kill_ends_restarts(info, doc, sig)
    if ends:
        # docker's kill cancels the restart manager (ExitOnNext), as a stop does: the container
        # stays down until it is started again
        _end_restarts(mgr, cid)
    if info.status == "paused" and ends:  # and resumes a paused one, for the signal to end it
        _thaw(mgr, cid, doc)
    if info.status != "restarting":  # as docker's: no process, no kill event
        log_event(mgr, cid, doc, "kill", f'"signal":"{int(sig)}"')
    container_monitor.signal_init(mgr, cid, sig)
    return mgr.get(cid)


def _mark_stopping(run: str) -> None:
    """The ``stopping`` marker in the container's run dir: its monitor restarts it no more."""
    with open(f"{run}/stopping", "w") as f:
        f.write(rfc3339_nano())


def _end_restarts(mgr: ContainerManager, cid: str) -> None:

    """No restart of *cid* by its restart policy until it is started again (stop, kill, rm -f):
    the ``stopping`` marker its monitor reads when the init dies, and the word that wakes a
    monitor waiting out a back-off."""
    with contextlib.suppress(OSError):
        _mark_stopping(mgr.paths.container_run(cid))
    with contextlib.suppress(OSError):
        mgr._write_ctl(cid, "stop")


def _kill_ends_restarts(info: ContainerInfo, doc: Mapping[str, Any], sig: int) -> bool:
    """As moby's killWithSignal: SIGKILL, the container's stop signal, or any signal when neither
    the container nor its image names a stop signal, ends the restart policy's run."""
    named = info.spec.stop_signal if info.spec else None
    named = named or (doc.get("image_config") or {}).get("StopSignal")
    return sig in (_signal.SIGKILL, int(doc.get("stop_signal") or _signal.SIGTERM)) or not named


def _cgroup(mgr: ContainerManager, doc: Mapping[str, Any], cid: str = "") -> Any:
    try:
        from runtime.cgroups import Cgroup
    except ImportError:
        return None
    parts = _cgroup_parts(mgr, doc, cid)
    if not parts:
        return None
    try:
        return Cgroup.open(parts)
    except (EngineError, OSError):
        return None


def _cgroup_parts(mgr: ContainerManager, doc: Mapping[str, Any], cid: str = "") -> list[str] | None:
    from runtime.cgroups import engine_scope

    # a create killed before it recorded the cgroup made it where container_create._prepare does
    fallback = [*engine_scope(mgr.paths.root), doc.get("pod") or "standalone", cid]
    parts = doc.get("cgroup") or (fallback if cid else None)
    return list(parts) if parts else None


def _thaw(mgr: ContainerManager, cid: str, doc: Mapping[str, Any]) -> None:
    cg = _cgroup(mgr, doc)
    mgr._set_paused(cid, CHANGING)
    if cg is not None:
        cg.thaw()
    with contextlib.suppress(OSError):
        mgr._write_ctl(cid, "unpause")
    mgr._set_paused(cid, False)
    log_event(mgr, cid, doc, "unpause")  # also when a stop or kill thaws it, as docker's resume


def kill_everything(mgr: ContainerManager, cid: str, doc: Mapping[str, Any] | None = None, *,
                    await_pod_monitor: bool = True) -> Any:
    """Kill whatever still runs for *cid*: its monitor, its init, anything in its cgroup.
    Returns its cgroup (None without one). A stopped container costs only the looks: no
    "stopping" file, no freeze and thaw of an empty cgroup (`down` removes stopped ones).
    Without *await_pod_monitor* the caller waits for a shared monitor's process to end itself,
    and for its thread for *cid* too once that wrote its exit file (_remove): the thread then
    only hands over the removal, and the process holds nothing of the container."""
    run = mgr.paths.container_run(cid)
    state = read_json(f"{run}/state.json") or {}
    mon = read_json(f"{run}/monitor.json") or {}
    shared = bool(mon.get("process"))
    # a shared monitor's thread past its exit file (`run --rm` as its workload exits) ends by
    # itself: no restart to hold off, nothing to stop
    ending = shared and os.path.exists(f"{run}/exit.json")
    if pid_alive(int(state.get("pid") or 0), state.get("pid_start")) or (
        not ending and pid_alive(int(mon.get("pid") or 0), mon.get("starttime"))
    ):
        with contextlib.suppress(OSError):
            _mark_stopping(run)
        # a shared monitor's thread ends once its init is gone: waited for after the cgroup kill
        container_monitor.kill_monitor(mgr, cid, wait=not shared)
    if doc is None:
        doc = mgr.store.read().get(KIND, cid) or {}
    cg = _cgroup(mgr, doc, cid)
    if cg is not None:
        with contextlib.suppress(Exception):
            if cg.frozen():  # a paused container: its processes die only once thawed
                cg.thaw()
        with contextlib.suppress(Exception):
            if cg.pids():
                cg.kill_all(_signal.SIGKILL)
    if shared and (await_pod_monitor or not ending):
        container_monitor.wait_monitor_exit(mgr, cid, 5.0)
    if shared and await_pod_monitor:
        container_monitor.wait_pod_monitor_exit(mon)
    return cg


def remove(mgr: ContainerManager, ref: str, *, force: bool = False, volumes: bool = False,
           dirs_later: bool = False) -> None:
    """Remove a container and everything it holds (not while running unless *force*). An
    auto-remove one's removal claim is held while it is done (runtime/autoremove.py): its
    monitor's remover waits for it and finds the container removed. With *dirs_later* (an
    attached ``run --rm``), that waiting child deletes the container's dirs (_dirs_to_trash)."""
    from runtime import autoremove

    try:
        cid, doc = mgr._find(ref)
    except EngineError:
        autoremove.release(mgr.claims.pop(ref, -1))  # one this process held: removed meanwhile
        raise
    claim = autoremove.held(mgr, cid) if (doc.get("spec") or {}).get("volatile") else -1
    try:
        _remove(mgr, cid, doc, claim, force=force, volumes=volumes, dirs_later=dirs_later)
    finally:
        autoremove.release(claim)


def _remove(mgr: ContainerManager, cid: str, doc: dict[str, Any], claim: int, *, force: bool,
            volumes: bool, dirs_later: bool = False) -> None:
    from runtime import autoremove

    info = mgr._info(cid, doc, fold=False)  # the row goes: no fold of an exit file into it first
    if not force and info.status in ("running", "paused", "restarting"):
        raise Conflict(
            f"container {info.name}: cannot remove a {info.status} container; stop it first or use force"
        )
    if info.status in ("running", "paused", "restarting"):
        _force_kill(mgr, cid, doc, info)
    # a shared monitor's thread (its fork that hands over the removal, ~1 ms) and then its process
    # (which ends after its last thread, 1-5 ms) are waited for late, overlapping the removal
    mon = read_json(f"{mgr.paths.container_run(cid)}/monitor.json") or {}
    cg = kill_everything(mgr, cid, doc, await_pod_monitor=False)  # also when a crashed create left none
    errors: list[str] = []
    try:
        mgr.engine.networks.teardown_container(cid)
    except Exception as exc:  # noqa: BLE001 - keep cleaning, report at the end
        errors.append(f"network: {exc}")
    if cg is not None:
        try:
            cg.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"cgroup: {exc}")
    elif (parts := _cgroup_parts(mgr, doc, cid)) is not None:
        from runtime.cgroups import remove_parents

        remove_parents(parts)  # a create killed amid its mkdirs: its parents, but no cgroup
    shared_monitor = bool(mon.get("process"))
    trashed = dirs_later and claim >= 0 and _dirs_to_trash(mgr, cid)
    if not trashed:
        _remove_dirs(mgr, cid, shared_monitor)
    shared: list[str] = []  # anonymous volumes another container's row named too
    if volumes:  # while the row names them: a kill before its deletion leaves them to the next rm
        for name in doc.get("anonymous_volumes", []):
            try:
                if not mgr.engine.volumes.remove_owned(name, cid):  # not when another container uses it
                    shared.append(name)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"volume {name}: {exc}")
    mgr._delete_row(cid)
    if doc.get("device_volumes"):  # unmounted if it was their last user
        mgr.engine.volumes.release(doc["device_volumes"])
    for name in shared:  # that one may be going at once (down -v of a recreate's two containers, each
        try:  # skipping the volume for the other): whichever row goes last takes the volume with it
            mgr.engine.volumes.remove_owned(name, cid)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"volume {name}: {exc}")
    autoremove.mark(claim, b"removed")
    if trashed:  # the monitor's thread ends meanwhile: waited for here, not before the row went
        _trash_unless_awaited(mgr, cid, claim, shared_monitor)
    log_event(mgr, cid, doc, "destroy")
    _retire_zygote_when_idle(mgr)
    if mon.get("process"):  # its thread for cid has ended (above): no process left behind
        container_monitor.wait_pod_monitor_exit(mon)
    if errors:
        raise ExecError(f"container {info.name}: removed, but " + "; ".join(errors))


def _dirs_to_trash(mgr: ContainerManager, cid: str) -> bool:
    """An attached ``run --rm``: rename the container's two dirs to their trash names
    (Paths.container_trash) for its monitor's child to delete once the claim says "removed"
    (~12 unlinks and rmdirs, 2-3 ms, off the CLI's path); False when they stay (deleted here).
    Only once the exit file is there: the monitor opened the claim before it (removal_claim),
    so the run dir's new name keeps nothing from its child. The container dir goes first, the run
    dir last: a run dir's trash left by a kill is what a repair finds (NetworkManager.repair)."""
    cdir, run = mgr.paths.container_dir(cid), mgr.paths.container_run(cid)
    cdir_trash, run_trash = mgr.paths.container_trash(cid)
    return os.path.exists(f"{run}/exit.json") and _renamed(cdir, cdir_trash) and _renamed(run, run_trash)


def _renamed(path: str, trash: str) -> bool:
    try:
        os.rename(path, trash)
    except OSError:  # gone already, or a trash of a killed removal in the way: deleted here
        return False
    return True


def _remove_dirs(mgr: ContainerManager, cid: str, shared_monitor: bool) -> None:
    """Delete the container's two dirs, and their trash left by an earlier removal, killed."""
    remove_tree(mgr.paths.container_dir(cid))
    if shared_monitor:  # its thread may still make a file in the run dir (the removal claim)
        container_monitor.wait_monitor_exit(mgr, cid, 5.0)
    remove_tree(mgr.paths.container_run(cid))
    remove_trees(mgr.paths.container_trash(cid))


def _trash_unless_awaited(mgr: ContainerManager, cid: str, claim: int, shared_monitor: bool) -> None:
    """The dirs _dirs_to_trash renamed: left to the monitor's child if one waits for the claim,
    which its monitor (its thread) says before it ends (autoremove.WAITED_AT); else deleted."""
    from runtime import autoremove

    if shared_monitor:
        container_monitor.wait_monitor_exit(mgr, cid, 5.0)
    if not autoremove.waited_for(claim):  # a monitor killed before its fork (or a former one's)
        remove_trees(mgr.paths.container_trash(cid))


def _force_kill(mgr: ContainerManager, cid: str, doc: Mapping[str, Any], info: ContainerInfo) -> None:
    """rm -f of a running container: SIGKILL its init and let the monitor see it die (kill and
    die events, as docker's), before kill_everything ends whatever is left."""
    _end_restarts(mgr, cid)
    if info.status == "restarting":
        return
    if info.status == "paused":
        _thaw(mgr, cid, doc)
    log_event(mgr, cid, doc, "kill", f'"signal":"{int(_signal.SIGKILL)}"')
    if container_monitor.signal_init(mgr, cid, _signal.SIGKILL):
        container_monitor.wait_monitor_exit(mgr, cid, 5.0)


def _retire_zygote_when_idle(mgr: ContainerManager) -> None:
    """The engine's last container is gone: stop the monitor fork server too, so that `down`
    leaves no process behind (the next create starts a new one)."""
    # whether or not this process would use it: another one (or an older setting) started it
    if not mgr.engine.store.read().any("container"):
        from runtime import zygote

        zygote.stop(mgr.paths)


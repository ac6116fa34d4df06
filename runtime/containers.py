"""ContainerManager: the containers of an engine (Engine.containers), its public API.

State is a row of kind "container" (the spec, image id, volumes, created time) plus what the
container's monitor writes in its run dir (state.json, exit.json, health.json). Status is derived
on every read from the row, the monitor's liveness (pid + start time) and those files; an exit
file found by a reader is folded into the row, so a crash or a reboot leaves a truthful status.

This module looks containers up, derives their status and writes their rows; the verbs live in
modules of their own, imported by the method that needs them (`ps` and `logs` load none):
container_create (create), container_lifecycle (start, stop, kill, pause, remove, ...),
container_monitor (the monitor process), container_access (exec, top, cp), container_records
(spec <-> JSON).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence

from runtime import procs
from runtime import spec as S
from runtime.container_records import spec_from_json
from runtime.container_records import spec_to_json as spec_to_json  # re-exported: tests, callers
from runtime.errors import Conflict, EngineError, ExecError, NotFound
from runtime.json_accel import load as json_load
from runtime.json_accel import loads as json_loads
from runtime.logs import follow_log, read_log
from runtime.spec import ContainerInfo, ContainerSpec, ExecSpec, LogRecord

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any, Final

    from runtime.engine import Engine
    from runtime.warm_monitor import WarmMonitor

KIND: Final = "container"
CHANGING: Final = "changing"  # a row's "paused" while pause or unpause works the freezer
NETCTR_KIND: Final = "netctr"    # runtime.network's per-container record (not imported: ~50 ms)
NETWORK_KIND: Final = "network"
# the bundle of a container dir; monitor.bin is written last and whole (a rename), so its presence
# says the create got that far
BUNDLE_FILES: Final = ("config.json", "container.json", "monitor.bin")

# Lifecycle: which statuses each verb accepts (checked before acting).
ALLOWED: Final[dict[str, frozenset[str]]] = {
    "start": frozenset({"created", "exited", "dead", "running"}),
    "stop": frozenset({"created", "running", "paused", "restarting", "exited", "dead"}),
    "kill": frozenset({"running", "paused", "restarting"}),
    "pause": frozenset({"running"}),
    "unpause": frozenset({"paused"}),
    "exec": frozenset({"running"}),
    "remove": frozenset({"created", "exited", "dead"}),
}


class StartError(ExecError):
    """``create(spec, start=True)``: the container was made but its process failed to start (a
    missing command, ...). It stays, exited, as after a failed ``start``; *container_id* names it
    (``run --rm`` removes it)."""

    def __init__(self, message: str, container_id: str) -> None:
        super().__init__(message)
        self.container_id = container_id
        self.exit_code = run_exit_code(message)


def run_exit_code(message: str) -> int:
    """docker run's code for a start that failed (docker/cli run.go toStatusError, on the words of
    the error): 127 when the command is not there, 126 when it cannot be run, 125 otherwise."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


# the statuses whose info shows an exit: a created one's is that of a start that failed
_DOWN: Final = ("exited", "dead", "created")


def _final_status(final: dict[str, Any], doc: Mapping[str, Any] | None) -> str:
    """The status an exit file leaves. A start that failed (``start_failed``: nothing was
    exec'd) keeps the times of the container's last run (the row's ``prior_run``, kept by the
    start) and, as moby's State, reads "created" when it never ran, "exited" when it did."""
    if final.get("start_failed"):
        prior = (doc or {}).get("prior_run") or {}
        for key in ("started_at", "finished_at"):
            if not final.get(key):
                final[key] = str(prior.get(key) or "")
        return "exited" if final.get("started_at") else "created"
    return "exited" if final.get("started_at") else "dead"


def _refresh(doc: dict[str, Any], fresh: Mapping[str, Any]) -> None:
    """Make the caller's copy *doc* of a container's row what the row now holds."""
    if doc is not fresh:
        doc.clear()
        doc.update(fresh)


def check_transition(verb: str, status: str, name: str) -> None:
    if status not in ALLOWED[verb]:
        raise Conflict(f"container {name}: cannot {verb} while {status}")


# ---- liveness ----------------------------------------------------------------------------------


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json_load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int, starttime: int | None) -> bool:
    return pid > 0 and starttime is not None and procs.starttime(pid) == starttime


class ContainerManager:
    """Containers of one engine. Every method is safe to call from several processes at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.paths = engine.paths
        self.store = engine.store
        self.warnings: builtins.list[str] = []  # warnings of the last create (e.g. clamped ulimits)
        # cid -> (the row's spec document, its ContainerSpec): a lifecycle reads a container ~7
        # times (create, start, wait, stop, remove each get()); comparing the freshly decoded
        # document with the last one is ~30x cheaper than building the records again (F16)
        self._specs: dict[str, tuple[Any, ContainerSpec]] = {}
        # cid -> the removal claim this process holds for an auto-remove container it created
        # (runtime/autoremove.py): kept while it may remove the container itself
        self.claims: dict[str, int] = {}

    # ---- lookup ----
    def _find(self, ref: str) -> tuple[str, dict[str, Any]]:
        tx = self.store.read()
        doc = tx.get(KIND, ref)
        if doc is not None:
            return ref, doc
        hit = tx.by_name(KIND, ref.lstrip("/"))
        if hit is not None:
            return hit
        if ref and all(c in "0123456789abcdef" for c in ref):
            rows = tx.list(KIND, ref)
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise Conflict(f"container id prefix {ref} is ambiguous: it matches {len(rows)} containers")
        raise NotFound(f"no container with name or ID {ref} found")

    def get(self, ref: str, *, warnings: tuple[str, ...] = (), fold: bool = True) -> ContainerInfo:
        """The container named by a full id, a unique id prefix, or its name (*warnings*: create's).
        Without *fold*, an exit file is read but left for the next reader to fold into the row:
        for a caller that removes the container next (an attached ``run --rm``), whose removal
        deletes the row that fold would write (a transaction and the network's names, ~0.6 ms)."""
        cid, doc = self._find(ref)
        return self._info(cid, doc, warnings, fold=fold)

    def list(
        self, *, all: bool = True, labels: Mapping[str, str] | None = None
    ) -> builtins.list[ContainerInfo]:
        dns = f"{self.paths.rundir}/dns"  # NetworkManager.dns_dir(): a resolver killed, or left
        if os.path.exists(f"{dns}/records") or os.path.exists(f"{dns}/ctl.sock"):  # without records
            self.engine.networks.ensure_resolver()  # every listing command repairs it
        out = []
        for cid, doc in self.store.read().list(KIND):
            if labels and any(doc.get("labels", {}).get(k) != v for k, v in labels.items()):
                continue
            info = self._info(cid, doc)
            if all or info.status in ("running", "paused", "restarting"):
                out.append(info)
        return sorted(out, key=lambda i: i.created_at)

    def intact(self, cid: str) -> bool:
        """Whether *cid*'s bundle was written whole. A create killed between its state row and its
        bundle leaves a row without one: such a container cannot start, only be removed."""
        cdir = self.paths.container_dir(cid)
        return all(os.path.isfile(f"{cdir}/{n}") for n in BUNDLE_FILES)

    def _bundle(self, cid: str, name: str) -> dict[str, Any]:
        """The OCI config of *cid*, or a one-line error when its bundle is missing or damaged."""
        cdir = self.paths.container_dir(cid)
        try:
            with open(f"{cdir}/config.json") as f:
                config = json_loads(f.read())
            if not self.intact(cid) or not isinstance(config, dict):
                raise ValueError
            return config
        except (OSError, ValueError):
            raise ExecError(
                f"container {name}: its bundle is missing or damaged (an interrupted create); "
                "remove it and create it again"
            ) from None

    def _monitor_alive(self, cid: str) -> bool:
        mon = read_json(f"{self.paths.container_run(cid)}/monitor.json")
        return mon is not None and pid_alive(int(mon.get("pid") or 0), mon.get("starttime"))

    def _runtime_state(
        self, cid: str, doc: dict[str, Any], *, again: bool = True, fold: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """(status, state record) from the monitor's files, folding an exit file into the row
        (unless not *fold*: see get)."""
        run = self.paths.container_run(cid)
        # exit.json is the monitor's last write: once it exists the container is done for good
        final = read_json(f"{run}/exit.json")
        if final is not None:
            if fold:
                self._fold(cid, final, doc)
            else:
                final["status"] = _final_status(final, doc)
            return str(final["status"]), final
        state = read_json(f"{run}/state.json") or {}
        last = doc.get("last_state")
        if isinstance(last, dict) and not state:  # folded; start() drops it before a new monitor
            return str(last.get("status") or "exited"), last
        alive = self._monitor_alive(cid)
        if not alive and again:
            # the monitor may have written exit.json and exited since we looked, or another reader
            # folded it into the row meanwhile: look once more, else a clean exit reads as "dead"
            fresh = self.store.read().get(KIND, cid)
            if fresh is not None:
                _refresh(doc, fresh)
                return self._runtime_state(cid, doc, again=False, fold=fold)
        if alive:
            status = str(state.get("status") or "created")
            if status == "running" and doc.get("paused"):
                status = "paused" if doc["paused"] is True or self._frozen(cid, doc) else "running"
            if status == "exited":  # between the last state.json and exit.json
                status = "running"
            return status, state
        if state.get("status") == "exited":
            return "exited", state
        return "dead", state

    def _fold(self, cid: str, final: dict[str, Any], seen: dict[str, Any]) -> None:
        """Fold the monitor's exit file *final* into the row and into *seen*, the caller's copy of
        the row (a verb that saves it again, as start does, must not undo the fold); sets
        final["status"]."""
        with self.store.transaction() as tx:
            doc = tx.get(KIND, cid)
            final["status"] = _final_status(final, doc)
            if doc is None:
                return
            doc.pop("prior_run", None)
            doc["last_state"] = final
            doc.pop("paused", None)
            tx.put(KIND, cid, doc, name=doc["name"])
        _refresh(seen, doc)
        if doc.get("ports"):  # stopped for good: its host ports are free until it starts again
            self.engine.networks.release_ports(cid)
        if (doc.get("spec") or {}).get("network_mode") in (None, "", "bridge"):
            self.engine.networks.set_stopped(cid, True)  # and its names no longer resolve
        run = self.paths.container_run(cid)
        for name in ("exit.json", "state.json"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{run}/{name}")
        if doc.get("device_volumes"):  # unmounted if it was their last user (container_create)
            self.engine.volumes.release(doc["device_volumes"])

    def _spec_of(self, cid: str, raw: Mapping[str, Any]) -> ContainerSpec:
        hit = self._specs.get(cid)
        if hit is not None and hit[0] == raw:
            return hit[1]
        spec = spec_from_json(raw)
        if len(self._specs) >= 1024:  # a long-lived caller: forget the old ones
            self._specs.clear()
        self._specs[cid] = (raw, spec)
        return spec

    def _info(self, cid: str, doc: dict[str, Any], warnings: tuple[str, ...] = (), *,
              fold: bool = True) -> ContainerInfo:
        status, st = self._runtime_state(cid, doc, fold=fold)
        health = ""
        if doc.get("healthcheck") and status in ("running", "paused"):
            h = read_json(f"{self.paths.container_run(cid)}/health.json")
            health = str(h.get("Status", "starting")) if h else "starting"
        spec = self._spec_of(cid, doc["spec"])
        return ContainerInfo(
            id=cid,
            name=doc["name"],
            image=doc["image"],
            image_id=doc.get("image_id", ""),
            labels=dict(doc.get("labels", {})),
            status=status,  # type: ignore[arg-type]
            created_at=doc["created_at"],
            started_at=str(st.get("started_at") or ""),
            # and a created container's failed start (its code and error, as docker's)
            finished_at=str(st.get("finished_at") or "") if status in _DOWN else "",
            exit_code=st.get("exit_code") if status in _DOWN else None,
            exit_signal=st.get("signal") if status in _DOWN else None,
            oom_killed=bool(st.get("oom_killed")),
            pid=int(st.get("pid") or 0) if status in ("running", "paused", "created") else 0,
            health=health,  # type: ignore[arg-type]
            restart_count=int(st.get("restart_count") or 0),
            command=tuple(doc.get("command", ())),
            # held only while it runs (released on exit, as docker shows: none when stopped)
            ports=tuple((S.PortMapping(**p), int(h)) for p, h in doc.get("ports", []))
            if status in ("running", "paused", "restarting") else (),
            networks=dict(doc.get("networks", {})),
            pod=spec.pod,
            spec=spec,
            mounts=tuple(sorted(doc.get("volume_targets", {}).items())),
            error=str(st.get("error") or ""),
            warnings=warnings,
        )

    def inspect(self, ref: str) -> S.ContainerDetails:
        """get() and what only `inspect` shows: the image config the container was made from, its
        last health state (kept after it exits, as docker's), its network endpoints, volume dirs."""
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        health = None
        if doc.get("healthcheck") and info.status != "created":
            health = read_json(f"{self.paths.container_run(cid)}/health.json") or {
                "Status": "starting", "FailingStreak": 0, "Log": []}
        image_config = doc.get("image_config")
        if image_config is None:  # made before the row kept it: the image, while it is there
            try:
                image_config = dict(self.engine.images.resolve(info.image_id or info.image).config)
            except EngineError:
                image_config = {}
        run = self.paths.container_run(cid)
        rec = self.store.read().get(NETCTR_KIND, cid) or {}
        return S.ContainerDetails(
            info=info, image_config=image_config, health=health, endpoints=self._endpoints(cid, rec),
            volume_dirs={t: f"{self.paths.volumes}/{name}/_data" for t, name in info.mounts},
            container_dir=self.paths.container_dir(cid),
            log_path=f"{self.paths.container_dir(cid)}/ctr.log",
            hosts_path=str(rec.get("hosts_path") or f"{run}/hosts"),
            resolv_path=str(rec.get("resolv_path") or f"{run}/resolv.conf"),
            hostname_path=f"{run}/hostname",
            sandbox_key=str(rec.get("netns_path") or "") if rec.get("mode") != "host" else "")

    def _endpoints(self, cid: str, rec: Mapping[str, Any]) -> tuple[S.EndpointInfo, ...]:
        # the network records, read as rows: runtime.network costs ~50 ms to import
        tx = self.store.read()
        out = []
        for a in rec.get("attachments") or ():
            net = tx.by_name(NETWORK_KIND, a["network"])
            gws = net[1].get("gateways") or [] if net else []
            out.append(S.EndpointInfo(
                network=a["network"], network_id=net[1].get("id", "") if net else "",
                ipv4=a.get("ipv4") or "", prefix4=a.get("prefix4") or 0,
                gateway4=next((g for g in gws if ":" not in g), "") if a.get("ipv4") else "",
                ipv6=a.get("ipv6") or "", prefix6=a.get("prefix6") or 0,
                gateway6=next((g for g in gws if ":" in g), "") if a.get("ipv6") else "",
                mac=a.get("mac") or "", aliases=tuple(a.get("aliases") or ()),
                endpoint_id=S.endpoint_id(cid, net[1].get("id", "")) if net else ""))
        return tuple(out)

    # ---- rows ----
    def _delete_row(self, cid: str) -> None:
        with self.store.transaction() as tx:
            tx.delete(KIND, cid)

    def _set_paused(self, cid: str, paused: bool | str) -> None:
        """Record a pause (True), its end (False), or CHANGING, while pause or unpause works the
        freezer: a kill then leaves the freezer's state as the truth (see _frozen)."""
        with self.store.transaction() as tx:  # read-modify-write: a reader may have folded an exit
            doc = tx.get(KIND, cid)
            if doc is None:
                return
            if paused:
                doc["paused"] = paused
            else:
                doc.pop("paused", None)
            tx.put(KIND, cid, doc, name=doc["name"])

    def _frozen(self, cid: str, doc: Mapping[str, Any]) -> bool:
        """Whether the freezer holds *cid*: asked only of a row that a pause or unpause killed
        in the middle left CHANGING (the row said running while the container was frozen, and
        stop failed: SIGKILL waits for a thaw)."""
        from runtime.container_lifecycle import _cgroup

        cg = _cgroup(self, doc, cid)
        try:
            return cg is not None and bool(cg.frozen())
        except (OSError, EngineError):
            return False

    def _save(self, cid: str, doc: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.put(KIND, cid, doc, name=doc["name"])

    def _write_ctl(self, cid: str, cmd: str) -> None:
        fd = os.open(f"{self.paths.container_run(cid)}/ctl", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (cmd + "\n").encode())
        finally:
            os.close(fd)

    # ---- create ----
    def create(self, spec: ContainerSpec, *, start: bool = False,
               warm: WarmMonitor | None = None, replaces: str = "") -> ContainerInfo:
        """Create a container and its init, stopped at the start gate; with *start*, the monitor
        opens the gate itself (`run`: no start round trip, one state write less). *warm*: a
        monitor started ahead by the caller (runtime/warm_monitor.py), used if the container gets
        a monitor of its own and discarded otherwise. *replaces*: the id of a stopped container
        this one replaces (a recreate: docker compose makes the new one before it removes the
        old), whose static addresses it takes over.

        Raises:
            Conflict: the name is taken. NotFound: no such image or volume.
            InvalidSpec / ExecError: the container cannot be set up; nothing is left behind.
            StartError: (*start*) it was created, but its process failed to start; it stays,
                exited, as after a failed `start`.
        """
        self.warnings = []
        try:
            from runtime import container_create

            return container_create.create(self, spec, start, warm, replaces)
        finally:
            if warm is not None:
                warm.discard()  # unused (or used: then it has exited already)

    # ---- verbs: runtime/container_start.py (start, restart, pause, unpause), container_lifecycle.py ----
    def start(self, ref: str) -> ContainerInfo:
        """Start a created (or stopped) container; returns when its process was exec'd."""
        from runtime import container_start

        return container_start.start(self, ref)

    def stop(self, ref: str, timeout: float | None = None) -> ContainerInfo:
        """Stop signal, then SIGKILL after *timeout* (default: the spec's stop_timeout)."""
        from runtime import container_lifecycle

        return container_lifecycle.stop(self, ref, timeout)

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> ContainerInfo:
        from runtime import container_lifecycle

        return container_lifecycle.kill(self, ref, signal)

    def restart(self, ref: str, timeout: float | None = None) -> ContainerInfo:
        from runtime import container_start

        return container_start.restart(self, ref, timeout)

    def pause(self, ref: str) -> ContainerInfo:
        from runtime import container_start

        return container_start.pause(self, ref)

    def unpause(self, ref: str) -> ContainerInfo:
        from runtime import container_start

        return container_start.unpause(self, ref)

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False,
               dirs_later: bool = False) -> None:
        """Remove a container and everything it holds (not while running unless *force*);
        *dirs_later*: an attached ``run --rm`` leaves its dirs to its monitor's child."""
        from runtime import container_lifecycle

        container_lifecycle.remove(self, ref, force=force, volumes=volumes, dirs_later=dirs_later)

    def rename(self, ref: str, new: str) -> None:
        """Give container *ref* the name *new* (runtime/container_rename.py)."""
        from runtime import container_rename

        container_rename.rename(self, ref, new)

    def release_removal(self, cid: str) -> None:
        """Leave the removal of auto-remove container *cid*, created by this process, to its
        monitor (``run -d --rm``): give back the claim its create took."""
        from runtime import autoremove

        autoremove.release(self.claims.pop(cid, -1))

    def await_exit_file(self, cid: str, timeout: float) -> bool:
        """Wait up to *timeout* s for the monitor of container *cid* (a full id) to write its exit
        file, once its init has exited; True when it is there. A stat per millisecond: a get() per
        poll decodes the row and reads three files (F16). Another reader may fold the file into
        the row first: then this times out and the caller's get() sees the exit."""
        path = f"{self.paths.container_run(cid)}/exit.json"
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def wait(self, ref: str, *, condition: str = "not-running", timeout: float | None = None) -> int:
        """Block until the container meets *condition*; returns its exit code (-1 if none)."""
        cid, _ = self._find(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        first = self.get(cid)
        seen_running = first.status in ("running", "paused", "restarting")
        while True:
            try:
                info = self.get(cid)
            except NotFound:
                if condition == "removed":
                    return first.exit_code if first.exit_code is not None else 0
                raise
            running = info.status in ("running", "paused", "restarting")
            seen_running = seen_running or running
            if condition == "not-running" and not running:
                return info.exit_code if info.exit_code is not None else 0
            if condition == "next-exit" and seen_running and not running:
                return info.exit_code if info.exit_code is not None else 0
            if deadline is not None and time.monotonic() > deadline:
                raise ExecError(f"container {info.name}: timed out waiting for {condition}")
            first = info
            time.sleep(0.02)

    # ---- logs ----
    def log_path(self, ref: str) -> str:
        cid, _ = self._find(ref)
        return f"{self.paths.container_dir(cid)}/ctr.log"

    def logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[LogRecord]:
        cid, _ = self._find(ref)
        path = f"{self.paths.container_dir(cid)}/ctr.log"
        if not follow:
            return iter(read_log(path, tail=tail, since=since, until=until))
        return follow_log(path, lambda: self._monitor_alive(cid), tail=tail, since=since, until=until)

    # ---- exec / top / copy: runtime/container_access.py ----
    def export(self, ref: str, out: IO[bytes]) -> None:
        """Write the container's file system (its image's layers under its changes) to *out* as a tar."""
        from runtime import container_archive

        container_archive.export(self, ref, out)

    def commit(self, ref: str, reference: str | None = None, *, author: str = "", message: str = "",
               changes: Sequence[str] = (), pause: bool = True) -> str:
        """A new image from the container's image and its changes (named *reference* if given);
        returns its id. *changes*: Dockerfile instructions applied to its config."""
        from runtime import container_archive

        return container_archive.commit(self, ref, reference, author=author, message=message,
                                        changes=changes, pause=pause)

    def exec(self, ref: str, spec: ExecSpec, *, stdin: int = 0, stdout: int = 1, stderr: int = 2) -> int:
        """Run a process in a running container (its namespaces, cgroup, user, caps, seccomp)."""
        from runtime import container_access

        return container_access.exec(self, ref, spec, stdin=stdin, stdout=stdout, stderr=stderr)

    def resize_tty(self, ref: str, rows: int, columns: int) -> bool:
        """Set a running container's terminal size (docker's resize); False without one."""
        from runtime import container_access

        return container_access.resize_tty(self, ref, rows, columns)

    def attach_stdin(self, ref: str, fd: int) -> None:
        """Copy *fd* into the stdin of a running ``stdin_open`` container until EOF."""
        from runtime import container_access

        container_access.attach_stdin(self, ref, fd)

    def top(self, ref: str) -> builtins.list[dict[str, str]]:
        """The processes of a running container (host view): PID, PPID, UID, CMD."""
        from runtime import container_access

        return container_access.top(self, ref)

    def copy_to(self, ref: str, src: str | os.PathLike[str], dst: str, *, follow_link: bool = False,
                copy_uid_gid: bool = False) -> None:
        """Copy host file or directory *src* (``-``: a tar stream on stdin) to *dst* inside the
        container; with *copy_uid_gid* its owners are kept, else root owns the copy."""
        from runtime import container_access

        container_access.copy_to(self, ref, src, dst, follow_link=follow_link, copy_uid_gid=copy_uid_gid)

    def sync_files(self, ref: str, copies: Sequence[tuple[str, str]], deletes: Sequence[str]) -> None:
        """Remove *deletes* in the container, then write each (host path, container path) of
        *copies* with its owners kept: a compose watch sync."""
        from runtime import container_access

        container_access.sync_files(self, ref, copies, deletes)

    def copy_from(self, ref: str, src: str, dst: str | os.PathLike[str], *,
                  follow_link: bool = False) -> None:
        """Copy *src* inside the container to host path *dst* (``-``: a tar stream on stdout)."""
        from runtime import container_access

        container_access.copy_from(self, ref, src, dst, follow_link=follow_link)

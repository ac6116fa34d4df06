"""ContainerManager: the lifecycle of containers (create, start, stop, kill, remove, ...).

State is a row of kind "container" (the spec, image id, volumes, created time) plus what the
container's monitor writes in its run dir (state.json, exit.json, health.json). Status is derived
on every read from the row, the monitor's liveness (pid + start time) and those files; an exit
file found by a reader is folded into the row, so a crash or a reboot leaves a truthful status.
"""

from __future__ import annotations

import _thread
import builtins
import contextlib
import functools
import json
import marshal
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from runtime import procs
from runtime import spec as S
from runtime.errors import Conflict, EngineError, ExecError, InvalidSpec, MissingTool, NotFound
from runtime.logs import follow_log, read_log, rfc3339_nano
from runtime.record import field_names
from runtime.spec import ContainerInfo, ContainerSpec, ExecSpec, LogRecord
from runtime.state import StateError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

# runtime.executor.oci and .user (~8 ms CPU with their dataclasses) are imported where a container is
# created or signalled: ps, logs, stop, rm... list and read and do not need them.

if TYPE_CHECKING:
    import dataclasses
    import shutil
    import signal as _signal
    import threading
    from typing import Any, Final

    from runtime.engine import Engine
    from runtime.warm_monitor import WarmMonitor
else:  # listing and reading (ps, logs) need none of them: ~16 ms CPU of imports (FINDINGS F14)
    from runtime.lazy import lazy

    dataclasses, shutil, _signal = lazy("dataclasses"), lazy("shutil"), lazy("signal")

KIND: Final = "container"
MONITOR: Final = str(Path(__file__).resolve().parent / "monitor.py")
INIT_BINARY: Final = "/usr/bin/tini-static"  # static: it runs inside any image
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


def check_transition(verb: str, status: str, name: str) -> None:
    if status not in ALLOWED[verb]:
        raise Conflict(f"container {name}: cannot {verb} while {status}")


# ---- spec <-> JSON ---------------------------------------------------------------------------


def spec_to_json(spec: ContainerSpec) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(_asdict(spec)))  # tuples -> lists
    return out


def _asdict(obj: Any) -> Any:
    """``dataclasses.asdict`` of a record (records, tuples, lists and dicts inside it), without
    importing dataclasses: its inspect, ast, dis and tokenize cost ~13 ms CPU of every create (F16)."""
    names = getattr(type(obj), "__record_fields__", None)
    if names is not None:
        return {n: _asdict(getattr(obj, n)) for n in names}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _asdict(v) for k, v in obj.items()}
    return obj


def _tup(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


# the fields that are not a plain value or a list of them (a list becomes a tuple)
_FROM_JSON: Final[dict[str, Callable[[Any], Any]]] = {
    "mounts": lambda v: tuple(S.Mount(**m) for m in v),
    "networks": lambda v: tuple(S.NetworkAttachment(**{k: _tup(x) for k, x in a.items()}) for a in v),
    "ports": lambda v: tuple(S.PortMapping(**p) for p in v),
    "restart": lambda v: S.RestartPolicy(**v),
    "resources": lambda v: S.Resources(**v),
    "healthcheck": lambda v: None if v is None else S.Healthcheck(**{k: _tup(x) for k, x in v.items()}),
    "ulimits": lambda v: {k: tuple(x) for k, x in v.items()},
    "extra_hosts": lambda v: tuple(tuple(x) for x in v),
}


_SPEC_FIELDS: Final = frozenset(field_names(ContainerSpec))


def spec_from_json(d: Mapping[str, Any]) -> ContainerSpec:
    # by the stored keys, not the ~50 fields: every `ps` decodes each listed container's spec
    known = _SPEC_FIELDS
    kw: dict[str, Any] = {}
    for name, v in d.items():
        convert = _FROM_JSON.get(name)
        if convert is not None:
            kw[name] = convert(v)
        elif name in known:
            kw[name] = tuple(v) if isinstance(v, list) else v
    return ContainerSpec(**kw)


def _parse_device(raw: str, name: str) -> tuple[str, str, str, int, int, str]:
    """ "/dev/x[:/dev/y[:rwm]]" -> (host path, container path, type, major, minor, permissions)."""
    import stat

    parts = raw.split(":")
    host = parts[0]
    path = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
    perm = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
    if not set(perm) <= set("rwm") or not perm:
        raise InvalidSpec(f"container {name}: device {raw!r}: invalid permissions {perm!r}")
    try:
        st = os.stat(host)
    except OSError:
        raise InvalidSpec(f"container {name}: device {host} does not exist on the host") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidSpec(f"container {name}: {host} is not a device")
    return host, path, kind, os.major(st.st_rdev), os.minor(st.st_rdev), perm


def _image_healthcheck(config: Mapping[str, Any]) -> S.Healthcheck | None:
    hc = config.get("Healthcheck")
    if not isinstance(hc, Mapping) or not hc.get("Test"):
        return None

    def sec(key: str, default: float) -> float:
        v = hc.get(key)
        return float(v) / 1e9 if v else default

    return S.Healthcheck(
        test=tuple(hc["Test"]),
        interval=sec("Interval", 30.0),
        timeout=sec("Timeout", 30.0),
        retries=int(hc.get("Retries") or 3),
        start_period=sec("StartPeriod", 0.0),
        start_interval=sec("StartInterval", 5.0),
    )


# ---- liveness ----------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _alive(pid: int, starttime: int | None) -> bool:
    return pid > 0 and starttime is not None and procs.starttime(pid) == starttime


def _monitor_status(name: str, out: bytes) -> None:
    """Read a monitor's answer on one stream (stdout and stderr): its first ok/error line."""
    lines = out.decode(errors="replace").strip().splitlines()
    status = next((ln for ln in lines if ln.startswith(("ok ", "error "))), "")
    if status.startswith("ok "):
        return
    if status.startswith("error "):
        raise ExecError(status[6:])
    detail = (lines or ["no status"])[-1]
    raise ExecError(f"container {name}: the monitor failed to start: {detail}")


# (run dir, pod) -> the thread starting that pod's shared monitor ahead (_warm_pod_monitor)
_WARMING: dict[tuple[str, str], threading.Thread] = {}
_WARMING_LOCK = _thread.allocate_lock()


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

    def get(self, ref: str) -> ContainerInfo:
        """The container named by a full id, a unique id prefix, or its name."""
        cid, doc = self._find(ref)
        return self._info(cid, doc)

    def list(
        self, *, all: bool = True, labels: Mapping[str, str] | None = None
    ) -> builtins.list[ContainerInfo]:
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
        return all(os.path.isfile(cdir / n) for n in BUNDLE_FILES)

    def _bundle(self, cid: str, name: str) -> dict[str, Any]:
        """The OCI config of *cid*, or a one-line error when its bundle is missing or damaged."""
        cdir = self.paths.container_dir(cid)
        try:
            config = json.loads((cdir / "config.json").read_text())
            if not self.intact(cid) or not isinstance(config, dict):
                raise ValueError
            return config
        except (OSError, ValueError):
            raise ExecError(
                f"container {name}: its bundle is missing or damaged (an interrupted create); "
                "remove it and create it again"
            ) from None

    def _monitor_alive(self, cid: str) -> bool:
        mon = read_json(self.paths.container_run(cid) / "monitor.json")
        return mon is not None and _alive(int(mon.get("pid") or 0), mon.get("starttime"))

    def _runtime_state(
        self, cid: str, doc: dict[str, Any], *, again: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """(status, state record) from the monitor's files, folding an exit file into the row."""
        run = self.paths.container_run(cid)
        # exit.json is the monitor's last write: once it exists the container is done for good
        final = read_json(run / "exit.json")
        if final is not None:
            final["status"] = "exited" if final.get("started_at") else "dead"
            self._fold(cid, final)
            return str(final["status"]), final
        state = read_json(run / "state.json") or {}
        last = doc.get("last_state")
        if isinstance(last, dict) and not state:  # folded; start() drops it before a new monitor
            return str(last.get("status") or "exited"), last
        alive = self._monitor_alive(cid)
        if not alive and again:
            # the monitor may have written exit.json and exited since we looked, or another reader
            # folded it into the row meanwhile: look once more, else a clean exit reads as "dead"
            fresh = self.store.read().get(KIND, cid)
            if fresh is not None:
                return self._runtime_state(cid, fresh, again=False)
        if alive:
            status = str(state.get("status") or "created")
            if status == "running" and doc.get("paused"):
                status = "paused"
            if status == "exited":  # between the last state.json and exit.json
                status = "running"
            return status, state
        if state.get("status") == "exited":
            return "exited", state
        return "dead", state

    def _fold(self, cid: str, final: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            doc = tx.get(KIND, cid)
            if doc is None:
                return
            doc["last_state"] = final
            doc.pop("paused", None)
            tx.put(KIND, cid, doc, name=doc["name"])
        if doc.get("ports"):  # stopped for good: its host ports are free until it starts again
            self.engine.networks.release_ports(cid)
        run = self.paths.container_run(cid)
        for name in ("exit.json", "state.json"):
            with contextlib.suppress(FileNotFoundError):
                (run / name).unlink()

    def _spec_of(self, cid: str, raw: Mapping[str, Any]) -> ContainerSpec:
        hit = self._specs.get(cid)
        if hit is not None and hit[0] == raw:
            return hit[1]
        spec = spec_from_json(raw)
        if len(self._specs) >= 1024:  # a long-lived caller: forget the old ones
            self._specs.clear()
        self._specs[cid] = (raw, spec)
        return spec

    def _info(self, cid: str, doc: dict[str, Any]) -> ContainerInfo:
        status, st = self._runtime_state(cid, doc)
        health = ""
        if doc.get("healthcheck") and status in ("running", "paused"):
            h = read_json(self.paths.container_run(cid) / "health.json")
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
            finished_at=str(st.get("finished_at") or "") if status in ("exited", "dead") else "",
            exit_code=st.get("exit_code") if status in ("exited", "dead") else None,
            exit_signal=st.get("signal") if status in ("exited", "dead") else None,
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
        )

    # ---- create ----
    def create(self, spec: ContainerSpec, *, start: bool = False,
               warm: WarmMonitor | None = None) -> ContainerInfo:
        """Create a container and its init, stopped at the start gate; with *start*, the monitor
        opens the gate itself (`run`: no start round trip, one state write less). *warm*: a
        monitor started ahead by the caller (runtime/warm_monitor.py), used if the container gets
        a monitor of its own and discarded otherwise.

        Raises:
            Conflict: the name is taken. NotFound: no such image or volume.
            InvalidSpec / ExecError: the container cannot be set up; nothing is left behind.
            StartError: (*start*) it was created, but its process failed to start; it stays,
                exited, as after a failed `start`.
        """
        self.warnings = []
        try:
            return self._create(spec, start, warm)
        finally:
            if warm is not None:
                warm.discard()  # unused (or used: then it has exited already)

    def _create(self, spec: ContainerSpec, start: bool, warm: WarmMonitor | None) -> ContainerInfo:
        try:
            image = self.engine.images.resolve(spec.image)
        except NotFound as exc:
            raise NotFound(f"container {spec.name}: {exc}") from None
        self._check(spec)
        cid = os.urandom(32).hex()  # as secrets.token_hex(32); secrets imports hashlib, hmac
        doc: dict[str, Any] = {
            "name": spec.name,
            "image": spec.image,
            "image_id": image.id,
            "labels": dict(spec.labels),
            "spec": spec_to_json(spec),
            "created_at": rfc3339_nano(),
            "volume_names": [],
            "anonymous_volumes": [],
            "pod": spec.pod,
        }
        try:
            with self.store.transaction() as tx:
                if tx.by_name(KIND, spec.name) is not None:
                    raise Conflict(f'container name "{spec.name}" is already in use')
                tx.put(KIND, cid, doc, name=spec.name)
        except sqlite3.IntegrityError:
            raise Conflict(f'container name "{spec.name}" is already in use') from None
        except StateError as exc:
            raise StateError(f"container {spec.name}: {exc}") from None
        undo: builtins.list[Callable[[], object]] = [lambda: self._delete_row(cid)]
        warming = self._warm_pod_monitor(spec.pod) if spec.pod else None
        if warming is not None:
            undo.append(lambda: self._retire_warm_pod_monitor(spec.pod or "", warming))
        try:
            self._prepare(cid, spec, image, doc, undo, start=start, warm=warm)
            return self.get(cid)
        except StartError:
            raise  # made whole: it stays, as a container whose start failed
        except BaseException as exc:
            undo.append(undo.pop(0))  # the row goes first: volumes refuse removal while it names them
            for step in reversed(undo):
                with contextlib.suppress(Exception):
                    step()
            if isinstance(exc, StateError):
                raise StateError(f"container {spec.name}: {exc}") from exc
            if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                raise
            raise ExecError(f"container {spec.name}: {_one_line(exc)}") from exc

    def _check(self, spec: ContainerSpec) -> None:
        """Refuse bad input that needs no state before anything is made (nothing to undo)."""
        from runtime.cgroups import check_resources
        from runtime.network.portcheck import check_ports

        check_ports(spec.name, spec.ports)
        try:
            check_resources(spec.resources)
        except InvalidSpec as exc:
            raise InvalidSpec(f"container {spec.name}: {exc}") from None
        if spec.cap_add or spec.cap_drop:
            self._caps(spec)  # an unknown name (resolved again, a few µs, where the bundle is built)

    def _delete_row(self, cid: str) -> None:
        with self.store.transaction() as tx:
            tx.delete(KIND, cid)

    def _set_paused(self, cid: str, paused: bool) -> None:
        with self.store.transaction() as tx:  # read-modify-write: a reader may have folded an exit
            doc = tx.get(KIND, cid)
            if doc is None:
                return
            if paused:
                doc["paused"] = True
            else:
                doc.pop("paused", None)
            tx.put(KIND, cid, doc, name=doc["name"])

    def _save(self, cid: str, doc: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.put(KIND, cid, doc, name=doc["name"])

    def _prepare(
        self,
        cid: str,
        spec: ContainerSpec,
        image: S.ImageInfo,
        doc: dict[str, Any],
        undo: builtins.list[Callable[[], object]],
        *,
        start: bool = False,
        warm: WarmMonitor | None = None,
    ) -> None:
        from runtime.executor import oci
        from runtime.executor.user import UserError, resolve_in_dirs

        cdir, run = self.paths.container_dir(cid), self.paths.container_run(cid)
        undo.append(lambda: shutil.rmtree(cdir, ignore_errors=True))
        undo.append(lambda: shutil.rmtree(run, ignore_errors=True))
        for d in (cdir / "upper", cdir / "work", cdir / "rootfs", run):
            d.mkdir(parents=True, exist_ok=True)
        config = dict(image.config)
        spec = self._with_volumes_from(spec)
        devices = [_parse_device(d, spec.name) for d in spec.devices]
        ns_paths = self._joined_namespaces(spec)
        # user (from the image's files, read on the host before start)
        try:
            user = resolve_in_dirs(
                spec.user or str(config.get("User") or "") or None,
                spec.group_add,
                [cdir / "upper", *reversed(image.layer_dirs)],
            )
        except UserError as exc:
            raise InvalidSpec(f"container {spec.name}: {exc}") from None
        if spec.init and not os.path.exists(INIT_BINARY):
            raise MissingTool(INIT_BINARY, "tini")
        caps, user_caps = self._caps(spec)
        if spec.sysctls:
            from runtime.security.defaults import check_sysctl

            for key in spec.sysctls:
                try:
                    check_sysctl(key, spec.network_mode == "host")
                except InvalidSpec as exc:
                    raise InvalidSpec(f"container {spec.name}: {exc}") from None
        rlimits = self._rlimits(spec)
        # cgroup
        cgroup_parts: builtins.list[str] | None = None
        cgroup_procs: builtins.list[str] = []
        try:
            from runtime.cgroups import Cgroup, engine_scope
        except ImportError:
            Cgroup = None  # type: ignore[assignment,misc]  # noqa: N806
        if Cgroup is not None:
            cgroup_parts = [*engine_scope(self.paths.root), spec.pod or "standalone", cid]
            try:
                cg = Cgroup.create(
                    cgroup_parts,
                    spec.resources,
                    devices=[f"{t} {ma}:{mi} {perm}" for _, _, t, ma, mi, perm in devices],
                )
            except InvalidSpec as exc:  # a controller this host lacks, a value the kernel refuses
                raise InvalidSpec(f"container {spec.name}: {exc}") from None
            undo.append(cg.remove)
            cgroup_procs = sorted({str(p / "cgroup.procs") for p in cg.paths.values()})
        # volumes
        volume_sources = self._volumes(
            cid, spec, config, doc, undo, [str(cdir / "upper"), *reversed(image.layer_dirs)]
        )
        # network (before the init: it joins the netns pin)
        net = self.engine.networks.setup_container(cid, spec)
        undo.append(lambda: self.engine.networks.teardown_container(cid))
        doc["networks"] = dict(net.addresses)
        doc["ports"] = [[_asdict(p), h] for p, h in net.ports]
        hostname_path = run / "hostname"
        hostname_path.write_text((net.hostname or S.default_hostname(spec, cid)) + "\n")
        seccomp_path = self._seccomp(cid, spec, caps)
        healthcheck = spec.healthcheck if spec.healthcheck is not None else _image_healthcheck(config)
        if healthcheck is not None and healthcheck.test[:1] == ("NONE",):
            healthcheck = None
        inputs = oci.BundleInputs(
            container_id=cid,
            rootfs=str(cdir / "rootfs"),
            user=user,
            caps=caps,
            net=net,
            hostname_path=str(hostname_path),
            volume_sources=volume_sources,
            rlimits=[(n, s, h) for n, (s, h) in rlimits.items()],
            init_path=INIT_BINARY if spec.init and os.path.exists(INIT_BINARY) else None,
            cgroups_path="/".join(["composer", *cgroup_parts]) if cgroup_parts else "",
            host_devices=_host_devices() if spec.privileged else (),
            **self._security_defaults(),
        )
        bundle = oci.build_config(spec, config, inputs)
        linux = bundle["linux"]
        for host, path, t, ma, mi, _ in devices:
            linux["devices"].append(
                {
                    "path": path,
                    "hostPath": host,
                    "type": t,
                    "major": ma,
                    "minor": mi,
                    "fileMode": 0o666,
                    "uid": 0,
                    "gid": 0,
                }
            )
        for ns in linux["namespaces"]:
            if ns["type"] in ns_paths:
                ns["path"] = ns_paths[ns["type"]]
        for kind in set(ns_paths) - {n["type"] for n in linux["namespaces"]}:
            linux["namespaces"].append({"type": kind, "path": ns_paths[kind]})

        if user.uid != 0 and user_caps:
            bundle["process"]["capabilities"]["ambient"] = sorted(f"CAP_{c}" for c in user_caps & caps)
        (cdir / "config.json").write_text(json.dumps(bundle))  # no indent: the C encoder
        meta = {
            "id": cid,
            "name": spec.name,
            "lowerdirs": list(image.layer_dirs),
            "upperdir": str(cdir / "upper"),
            "workdir": str(cdir / "work"),
            "cgroup": cgroup_parts,
            "cgroup_procs": cgroup_procs,
            "seccomp_bpf": seccomp_path,
            "log_path": str(cdir / "ctr.log"),
            "log_max_size": spec.log_max_size,
            "log_max_file": spec.log_max_file,
            "restart": _asdict(spec.restart),
            "healthcheck": _asdict(healthcheck) if healthcheck else None,
            "stop_signal": oci.stop_signal(spec, config),
            "stdin_open": spec.stdin_open,
        }
        (cdir / "container.json").write_text(json.dumps(meta))
        (cdir / "monitor.bin.tmp").write_bytes(marshal.dumps({"config": bundle, "meta": meta}))
        os.replace(cdir / "monitor.bin.tmp", cdir / "monitor.bin")  # a kill mid-write leaves none
        doc["command"] = bundle["process"]["args"]
        doc["healthcheck"] = meta["healthcheck"] is not None
        doc["stop_signal"] = meta["stop_signal"]
        doc["cgroup"] = cgroup_parts
        self._save(cid, doc)
        undo.append(lambda: self._kill_everything(cid))
        joins_ipc = bool(spec.ipc_mode and spec.ipc_mode.startswith("container:"))
        try:
            self._spawn_monitor(cid, spec.name, start=start and not joins_ipc, warm=warm)
        except ExecError as exc:
            if start and not joins_ipc and self._start_failed(cid):
                raise StartError(str(exc), cid) from None
            raise
        if joins_ipc:  # the same /dev/shm too, over ours while the init waits at the gate
            from runtime.container_access import share_shm

            share_shm(self, cid, str(spec.ipc_mode).split(":", 1)[1])
            if start:
                try:
                    self._start_created(cid)
                except ExecError as exc:
                    raise StartError(str(exc), cid) from None

    def _start_failed(self, cid: str) -> bool:
        """Whether the monitor of a create with the gate open got past the set-up and failed at the
        exec (its state says running with an error, saved before it reported): then the container
        is whole and stays; any earlier error undoes the create."""
        state = read_json(self.paths.container_run(cid) / "state.json") or {}
        return state.get("status") == "running" and bool(state.get("error"))

    def _with_volumes_from(self, spec: ContainerSpec) -> ContainerSpec:
        """The spec with the mounts of each ``volumes_from`` container added (":ro" makes them read-only)."""
        if not spec.volumes_from:
            return spec
        mounts = list(spec.mounts)
        targets = {m.target for m in mounts}
        for item in spec.volumes_from:
            ref, _, mode = item.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidSpec(f"container {spec.name}: volumes_from {item!r}: expected ro or rw")
            _, other = self._find(ref)
            other_spec = spec_from_json(other["spec"])
            by_target = dict(other.get("volume_targets") or {})
            for m in other_spec.mounts:
                if m.type == "tmpfs" or m.target in targets:
                    continue
                ro = m.read_only if mode == "" else mode == "ro"
                if m.type == "volume":
                    m = S.Mount(
                        type="volume",
                        source=by_target.get(m.target, m.source),
                        target=m.target,
                        read_only=ro,
                        nocopy=True,
                        subpath=m.subpath,
                    )
                else:
                    m = dataclasses.replace(m, read_only=ro)
                mounts.append(m)
                targets.add(m.target)
            for target, name in by_target.items():  # the image's anonymous volumes too
                if target not in targets:
                    mounts.append(
                        S.Mount(
                            type="volume", source=name, target=target, read_only=mode == "ro", nocopy=True
                        )
                    )
                    targets.add(target)
        return dataclasses.replace(spec, mounts=tuple(mounts))

    def _joined_namespaces(self, spec: ContainerSpec) -> dict[str, str]:
        """Namespace paths for ``ipc``/``pid`` ``container:X`` (X must be running, or created: its
        init waits at the gate in the namespaces it keeps when started; compose creates a joiner
        once X is created, possibly before X's start).

        For ipc, X's /dev/shm is mounted over the container's own once its init waits at the gate
        (container_access.share_shm): SysV objects, POSIX queues and shm files are all shared.
        """
        paths: dict[str, str] = {}
        for kind, mode, nsfile in (("ipc", spec.ipc_mode, "ipc"), ("pid", spec.pid_mode, "pid")):
            if not mode or not mode.startswith("container:"):
                continue
            other = self.get(mode.split(":", 1)[1])
            if other.status not in ("running", "created") or not other.pid:
                raise Conflict(
                    f"container {spec.name}: {kind} namespace of container {other.name} "
                    f"is not available: it is {other.status}"
                )
            paths[kind] = f"/proc/{other.pid}/ns/{nsfile}"
        return paths

    def _caps(self, spec: ContainerSpec) -> tuple[frozenset[str], frozenset[str]]:
        from runtime.security.caps import normalize_cap, resolve_caps

        try:
            caps = resolve_caps(spec.cap_add, spec.cap_drop, spec.privileged)
            user_caps = frozenset(normalize_cap(c) for c in spec.cap_add if normalize_cap(c) != "ALL")
        except InvalidSpec as exc:
            raise InvalidSpec(f"container {spec.name}: {exc}") from None
        return caps, user_caps

    def _rlimits(self, spec: ContainerSpec) -> dict[str, tuple[int, int]]:
        from runtime.security.rlimits import clamp_rlimits

        limits, warnings = clamp_rlimits(spec.ulimits)
        self.warnings.extend(f"container {spec.name}: {w}" for w in warnings)
        if "nofile" not in limits:
            # as podman: open files up to the hard limit (1048576 where it can be raised), not the
            # caller's soft limit, which the container would otherwise inherit
            import resource

            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            want = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
            limits["nofile"] = (want, want)
        return limits

    def _security_defaults(self) -> dict[str, Any]:
        from runtime.security import defaults as d

        return {
            "masked_paths": d.DEFAULT_MASKED_PATHS,
            "readonly_paths": d.DEFAULT_READONLY_PATHS,
            "devices": tuple((n.path, n.type, n.major, n.minor, n.mode) for n in d.DEFAULT_DEVICES),
        }

    def _seccomp(self, cid: str, spec: ContainerSpec, caps: frozenset[str]) -> str | None:
        if spec.privileged or spec.seccomp == "unconfined":
            return None
        from runtime.security import seccomp

        cache = self.paths.root / "cache" / "seccomp"
        path = self.paths.container_dir(cid) / "seccomp.bpf"
        if spec.seccomp == "default":
            bpf, cached = seccomp.default_filter(cache, caps)
            try:  # a hard link: no new inode (each is ~0.5 ms on an ext4 that just removed many)
                os.link(cached, path)
                return str(path)
            except OSError:
                pass   # pruned meanwhile, another filesystem: a copy
        else:
            bpf = seccomp.cached_filter(cache, seccomp.load_profile_file(spec.seccomp), caps)
        path.write_bytes(bpf)
        return str(path)

    @staticmethod
    def _image_path(layers: builtins.list[str], target: str) -> str | None:
        """The host directory of *target* in the image: the topmost layer that has it."""
        from runtime.executor.init import secure_join

        for layer in layers:
            path = secure_join(layer, target)
            if os.path.isdir(path) and not os.path.islink(path):
                return path
        return None

    def _volumes(
        self,
        cid: str,
        spec: ContainerSpec,
        config: Mapping[str, Any],
        doc: dict[str, Any],
        undo: builtins.list[Callable[[], object]],
        image_layers: builtins.list[str],
    ) -> dict[str, str]:
        mounts = [m for m in spec.mounts if m.type == "volume"]
        targets = {m.target for m in spec.mounts}
        image_volumes = [t for t in (config.get("Volumes") or {}) if t not in targets]
        if not mounts and not image_volumes:
            return {}
        vols = self.engine.volumes
        out: dict[str, str] = {}
        for m in [*mounts, *(S.Mount(type="volume", target=t) for t in image_volumes)]:
            if m.source:
                try:
                    info = vols.get(m.source)
                except NotFound:
                    info = vols.create(S.VolumeSpec(name=m.source))
                if info.anonymous and m.source not in doc["anonymous_volumes"]:
                    # an anonymous volume handed over on recreate: still this container's to remove
                    doc["anonymous_volumes"].append(info.name)
            else:
                info = vols.create_anonymous({"com.docker.volume.anonymous": ""})
                doc["anonymous_volumes"].append(info.name)
                undo.append(functools.partial(vols.remove, info.name, force=True))
            doc["volume_names"].append(info.name)
            doc.setdefault("volume_targets", {})[m.target] = info.name
            if not m.nocopy and not m.subpath:
                image_dir = self._image_path(image_layers, m.target)
                if image_dir is not None:
                    vols.populate_from_image(info, image_dir)
            src = info.mountpoint
            if m.subpath:
                src = os.path.join(src, m.subpath)
            out[m.target] = src
        return out

    def _warm_pod_monitor(self, pod: str) -> threading.Thread | None:
        """Start the pod's shared monitor in the background while this container is set up: its
        interpreter start then overlaps the set-up instead of following it (`up` of a pod).
        Returns the thread that starts it, if one was needed."""
        from runtime import zygote

        rundir = str(self.paths.rundir)
        if not zygote.pod_monitors() or os.path.exists(zygote.pod_socket(rundir, pod)):
            return None
        import threading

        with _WARMING_LOCK:  # one warm-up per pod: `up` creates a pod's containers all at once
            busy = _WARMING.get((rundir, pod))
            if busy is not None and busy.is_alive():
                return None
            warming = threading.Thread(target=zygote.warm_pod, args=(rundir, pod), daemon=True)
            _WARMING[(rundir, pod)] = warming
            warming.start()
        return warming

    def _retire_warm_pod_monitor(self, pod: str, warming: threading.Thread) -> None:
        """The create a warm-up was started for failed: no idle monitor is left waiting for it."""
        from runtime import zygote

        warming.join(15)
        zygote.retire_warm(str(self.paths.rundir), pod)

    def _spawn_monitor(self, cid: str, name: str, *, start: bool, warm: WarmMonitor | None = None) -> None:
        cdir, run = self.paths.container_dir(cid), self.paths.container_run(cid)
        from runtime import zygote

        try:  # the run dirs of the engine's containers
            others = any(n != cid for n in os.listdir(run.parent))
        except FileNotFoundError:
            others = False
        # a pod's containers share one monitor process (runtime/executor/podmon.py, F4); a lone
        # container keeps one of its own (nothing to share, and its crash is its own)
        pod = (self.store.read().get(KIND, cid) or {}).get("pod") if zygote.pod_monitors() else None
        if pod or zygote.worth_it(str(self.paths.rundir), others):  # a fork, not an interpreter (F4)
            try:
                out = zygote.spawn_monitor(
                    str(self.paths.rundir), str(cdir), str(run), start=start, pod=pod or None
                )
            except zygote.Unavailable:
                pass  # nothing was forked: the direct path below
            except TimeoutError:
                raise ExecError(f"container {name}: the monitor did not report within 60 s") from None
            else:
                return _monitor_status(name, out)
        if warm is not None and warm.alive():  # started ahead: its imports are done
            try:
                return _monitor_status(name, warm.use(str(cdir), str(run), start=start))
            except TimeoutError:
                raise ExecError(f"container {name}: the monitor did not report within 60 s") from None
        import subprocess  # here: ps, logs, rm... never spawn a monitor (5 ms CPU of their import)

        argv = [sys.executable, "-I", "-S", MONITOR, str(cdir), str(run), *(["--start"] if start else [])]
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            start_new_session=True,
            close_fds=True,
            timeout=60,
        )
        line = proc.stdout.decode(errors="replace").strip()
        if line.startswith("ok "):
            return
        if line.startswith("error "):
            raise ExecError(line[6:])
        detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no status"])[-1]
        raise ExecError(f"container {name}: the monitor failed to start: {detail}")

    # ---- verbs ----
    def _write_ctl(self, cid: str, cmd: str) -> None:
        fd = os.open(self.paths.container_run(cid) / "ctl", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (cmd + "\n").encode())
        finally:
            os.close(fd)

    def start(self, ref: str) -> ContainerInfo:
        """Start a created (or stopped) container; returns when its process was exec'd."""
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        check_transition("start", info.status, info.name)
        if info.status == "running":
            return info
        run = self.paths.container_run(cid)
        if info.status == "created":
            self._start_created(cid)
            return self.get(cid)
        # exited or dead: a fresh monitor with the gate open
        self._bundle(cid, info.name)  # a half-created container fails here, before anything changes
        ipc = info.spec.ipc_mode if info.spec is not None else None
        donor = ipc.split(":", 1)[1] if ipc and ipc.startswith("container:") else None
        if info.spec is not None:
            self._rejoin_namespaces(cid, info.spec)  # before anything changes: X may be stopped
        # its published ports, freed when it stopped (NetworkError when one is taken: nothing changed)
        ports = self.engine.networks.claim_ports(cid) if doc.get("ports") else None
        if ports is not None:
            doc["ports"] = [[_asdict(p), h] for p, h in ports]
        self._kill_everything(cid)
        for name in ("stopping", "exit.json", "health.json", "ctl"):
            with contextlib.suppress(FileNotFoundError):
                (run / name).unlink()
        run.mkdir(parents=True, exist_ok=True)
        if isinstance(doc.get("last_state"), dict):
            (run / "state.json").write_text(json.dumps({"restart_count": 0}))
        doc.pop("last_state", None)
        self._repair_run_dir(cid, doc, info)
        self._save(cid, doc)
        # joining X's ipc: its /dev/shm goes over ours while the init waits at the gate, as at create
        self._spawn_monitor(cid, info.name, start=donor is None)
        if donor is not None:
            from runtime.container_access import share_shm

            try:
                share_shm(self, cid, donor)
            except BaseException:
                self._kill_everything(cid)
                raise
            self._start_created(cid)
        info = self.get(cid)
        state = read_json(run / "state.json") or {}
        if state.get("error"):
            raise ExecError(str(state["error"]))
        return info

    def _rejoin_namespaces(self, cid: str, spec: ContainerSpec) -> None:
        """Point ``ipc``/``pid: container:X`` at X's current init: X may have been restarted since
        the bundle was written (a stale /proc/PID path fails, or names a reused pid)."""
        paths = self._joined_namespaces(spec)  # Conflict when X is not running
        if not paths:
            return
        cdir = self.paths.container_dir(cid)
        config = json.loads((cdir / "config.json").read_text())
        namespaces = config["linux"]["namespaces"]
        stale = [n for n in namespaces if n["type"] in paths and n.get("path") != paths[n["type"]]]
        if not stale:
            return
        for n in stale:
            n["path"] = paths[n["type"]]
        meta = json.loads((cdir / "container.json").read_text())
        _write_bundle(cdir, config, meta)

    def _start_created(self, cid: str) -> None:
        """Open the start gate of a created container; returns once its process was exec'd: the
        monitor answers on a FIFO of ours (a monitor started by an older composer does not: then
        state.json says it)."""
        import select
        import threading

        run = self.paths.container_run(cid)
        reply = run / f"reply.{os.getpid()}.{threading.get_ident()}"
        with contextlib.suppress(FileNotFoundError):
            reply.unlink()
        os.mkfifo(reply, 0o600)
        try:
            fd = os.open(reply, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                self._write_ctl(cid, f"reply {reply.name} start")
                poller = select.poll()
                poller.register(fd, select.POLLIN)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if poller.poll(50):
                        break  # answered
                    state = read_json(run / "state.json") or {}
                    if state.get("status") != "created" or not self._monitor_alive(cid):
                        break
            finally:
                os.close(fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                reply.unlink()
        state = read_json(run / "state.json") or {}
        if state.get("error"):
            raise ExecError(str(state["error"]))

    def _repair_run_dir(self, cid: str, doc: dict[str, Any], info: ContainerInfo) -> None:
        """Recreate what the volatile run dir held (netns pin, hosts, resolv.conf, hostname) when
        it is gone, e.g. after a reboot, before the init needs it."""
        cdir, run = self.paths.container_dir(cid), self.paths.container_run(cid)
        config = self._bundle(cid, info.name)
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
            net = self.engine.networks.setup_container(cid, info.spec)
            for n in linux["namespaces"]:
                if n["type"] == "network":
                    n["path"] = net.netns_path
            for dest, src in (("/etc/hosts", net.hosts_path), ("/etc/resolv.conf", net.resolv_path)):
                if dest in files:
                    files[dest]["source"] = src
            doc["networks"] = dict(net.addresses)
            doc["ports"] = [[_asdict(p), h] for p, h in net.ports]
            meta = json.loads((cdir / "container.json").read_text())
            _write_bundle(cdir, config, meta)
        hostname = run / "hostname"
        if not hostname.exists():
            hostname.write_text(str(config.get("hostname") or cid[:12]) + "\n")

    def _signal_init(self, cid: str, sig: int) -> bool:
        state = read_json(self.paths.container_run(cid) / "state.json") or {}
        pid = int(state.get("pid") or 0)
        if not _alive(pid, state.get("pid_start")):
            return False
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False

    def _wait_monitor_exit(self, cid: str, timeout: float) -> bool:
        """True once the monitor of *cid* is gone (woken by its pidfd, not by polling). A pod's
        shared monitor: its thread for *cid* (a thread's pidfd, Linux 6.9; polled before)."""
        mon = read_json(self.paths.container_run(cid) / "monitor.json") or {}
        pid, start = int(mon.get("pid") or 0), mon.get("starttime")
        if not _alive(pid, start):
            return True
        shared = bool(mon.get("process"))
        try:
            fd = os.pidfd_open(pid, _PIDFD_THREAD if shared else 0)
        except OSError as exc:  # gone meanwhile (ESRCH)
            if shared and exc.errno == 22:  # EINVAL  # no thread pidfds: look every 10 ms
                deadline = time.monotonic() + timeout
                while _alive(pid, start) and time.monotonic() < deadline:
                    time.sleep(0.01)
            return not _alive(pid, start)
        try:
            if not _alive(pid, start):  # the pid was reused between our two looks
                return True
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)  # readable once the process has exited
            poller.poll(max(0, int(timeout * 1000)))
        finally:
            os.close(fd)
        return not _alive(pid, start)

    def stop(self, ref: str, timeout: float | None = None) -> ContainerInfo:
        """Stop signal, then SIGKILL after *timeout* (default: the spec's stop_timeout)."""
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        check_transition("stop", info.status, info.name)
        if info.status in ("exited", "dead", "created"):  # as docker: a created container stays created
            return info
        run = self.paths.container_run(cid)
        (run / "stopping").write_text(rfc3339_nano())
        with contextlib.suppress(OSError):
            self._write_ctl(cid, "stop")  # wakes a monitor that waits to restart
        if info.status == "paused":
            self._thaw(cid, doc)
        grace = info.spec.stop_timeout if timeout is None and info.spec else (timeout or 0.0)
        if self._signal_init(cid, int(doc.get("stop_signal") or _signal.SIGTERM)) and grace > 0:
            self._wait_monitor_exit(cid, grace)
        if self._monitor_alive(cid):
            self._signal_init(cid, _signal.SIGKILL)
            if not self._wait_monitor_exit(cid, 10.0):
                raise ExecError(f"container {info.name}: did not stop after SIGKILL")
        return self.get(cid)

    def _kill_monitor(self, cid: str, *, wait: bool = True) -> None:
        """End a created container's monitor (and its init at the gate). A pod's shared monitor
        serves others: its thread for *cid* is told to stop and ends once its init died (a kill
        of a thread's id would kill the whole process)."""
        state = read_json(self.paths.container_run(cid) / "state.json") or {}
        mon = read_json(self.paths.container_run(cid) / "monitor.json") or {}
        targets = [(int(state.get("pid") or 0), state.get("pid_start"))]
        if mon.get("process"):
            with contextlib.suppress(OSError):
                self._write_ctl(cid, "stop")  # wakes a thread that waits to restart
        else:
            targets.append((int(mon.get("pid") or 0), mon.get("starttime")))
        for pid, start in targets:
            if _alive(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, _signal.SIGKILL)
        if wait:
            self._wait_monitor_exit(cid, 5.0)

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> ContainerInfo:
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        check_transition("kill", info.status, info.name)
        from runtime.executor import oci

        sig = oci.parse_signal(signal, info.name)
        if info.status == "paused" and sig == _signal.SIGKILL:
            self._thaw(cid, doc)
        self._signal_init(cid, sig)
        return self.get(cid)

    def restart(self, ref: str, timeout: float | None = None) -> ContainerInfo:
        self.stop(ref, timeout)
        return self.start(ref)

    def _cgroup(self, doc: Mapping[str, Any], cid: str = "") -> Any:
        try:
            from runtime.cgroups import Cgroup, engine_scope
        except ImportError:
            return None
        # a create killed before it recorded the cgroup made it where _prepare does
        fallback = [*engine_scope(self.paths.root), doc.get("pod") or "standalone", cid]
        parts = doc.get("cgroup") or (fallback if cid else None)
        if not parts:
            return None
        try:
            return Cgroup.open(list(parts))
        except (EngineError, OSError):
            return None

    def pause(self, ref: str) -> ContainerInfo:
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        check_transition("pause", info.status, info.name)
        cg = self._cgroup(doc)
        if cg is None:
            raise ExecError(f"container {info.name}: cannot pause without a freezer cgroup")
        with contextlib.suppress(OSError):
            self._write_ctl(cid, "pause")  # the monitor holds its healthchecks
        cg.freeze()
        self._set_paused(cid, True)
        return self.get(cid)

    def unpause(self, ref: str) -> ContainerInfo:
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        check_transition("unpause", info.status, info.name)
        self._thaw(cid, doc)
        return self.get(cid)

    def _thaw(self, cid: str, doc: Mapping[str, Any]) -> None:
        cg = self._cgroup(doc)
        if cg is not None:
            cg.thaw()
        with contextlib.suppress(OSError):
            self._write_ctl(cid, "unpause")
        self._set_paused(cid, False)

    def _kill_everything(self, cid: str, doc: Mapping[str, Any] | None = None) -> Any:
        """Kill whatever still runs for *cid*: its monitor, its init, anything in its cgroup.
        Returns its cgroup (None without one). A stopped container costs only the looks: no
        "stopping" file, no freeze and thaw of an empty cgroup (`down` removes stopped ones)."""
        run = self.paths.container_run(cid)
        state = read_json(run / "state.json") or {}
        mon = read_json(run / "monitor.json") or {}
        shared = bool(mon.get("process"))
        if _alive(int(state.get("pid") or 0), state.get("pid_start")) or _alive(
            int(mon.get("pid") or 0), mon.get("starttime")
        ):
            with contextlib.suppress(OSError):
                (run / "stopping").write_text(rfc3339_nano())
            # a shared monitor's thread ends once its init is gone: waited for after the cgroup kill
            self._kill_monitor(cid, wait=not shared)
        if doc is None:
            doc = self.store.read().get(KIND, cid) or {}
        cg = self._cgroup(doc, cid)
        if cg is not None:
            with contextlib.suppress(Exception):
                if cg.frozen():  # a paused container: its processes die only once thawed
                    cg.thaw()
            with contextlib.suppress(Exception):
                if cg.pids():
                    cg.kill_all(_signal.SIGKILL)
        if shared:
            self._wait_monitor_exit(cid, 5.0)
            _wait_pod_monitor_exit(mon)
        return cg

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        """Remove a container and everything it holds (not while running unless *force*)."""
        cid, doc = self._find(ref)
        info = self._info(cid, doc)
        if not force and info.status in ("running", "paused", "restarting"):
            raise Conflict(
                f"container {info.name}: cannot remove a {info.status} container; stop it first or use force"
            )
        cg = self._kill_everything(cid, doc)  # also when a crashed create did not record it
        errors: builtins.list[str] = []
        try:
            self.engine.networks.teardown_container(cid)
        except Exception as exc:  # noqa: BLE001 - keep cleaning, report at the end
            errors.append(f"network: {exc}")
        if cg is not None:
            try:
                cg.remove()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"cgroup: {exc}")
        shutil.rmtree(self.paths.container_dir(cid), ignore_errors=True)
        shutil.rmtree(self.paths.container_run(cid), ignore_errors=True)
        self._delete_row(cid)
        self._retire_zygote_when_idle()
        if volumes:
            for name in doc.get("anonymous_volumes", []):
                try:
                    self.engine.volumes.remove(name)
                except (NotFound, Conflict):
                    pass  # gone, or still used by another container (volumes_from): as docker's rm -v
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"volume {name}: {exc}")
        if errors:
            raise ExecError(f"container {info.name}: removed, but " + "; ".join(errors))

    def _retire_zygote_when_idle(self) -> None:
        """The engine's last container is gone: stop the monitor fork server too, so that `down`
        leaves no process behind (the next create starts a new one)."""
        # whether or not this process would use it: another one (or an older setting) started it
        if not self.engine.store.read().any("container"):
            from runtime import zygote

            zygote.stop(self.paths)

    def await_exit_file(self, cid: str, timeout: float) -> bool:
        """Wait up to *timeout* s for the monitor of container *cid* (a full id) to write its exit
        file, once its init has exited; True when it is there. A stat per millisecond: a get() per
        poll decodes the row and reads three files (F16). Another reader may fold the file into
        the row first: then this times out and the caller's get() sees the exit."""
        path = self.paths.container_run(cid) / "exit.json"
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
    def log_path(self, ref: str) -> Path:
        cid, _ = self._find(ref)
        return self.paths.container_dir(cid) / "ctr.log"

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
        path = self.paths.container_dir(cid) / "ctr.log"
        if not follow:
            return iter(read_log(path, tail=tail, since=since, until=until))
        return follow_log(path, lambda: self._monitor_alive(cid), tail=tail, since=since, until=until)

    # ---- exec / top / copy: runtime/container_access.py ----
    def exec(self, ref: str, spec: ExecSpec, *, stdin: int = 0, stdout: int = 1, stderr: int = 2) -> int:
        """Run a process in a running container (its namespaces, cgroup, user, caps, seccomp)."""
        from runtime import container_access

        return container_access.exec(self, ref, spec, stdin=stdin, stdout=stdout, stderr=stderr)

    def attach_stdin(self, ref: str, fd: int) -> None:
        """Copy *fd* into the stdin of a running ``stdin_open`` container until EOF."""
        from runtime import container_access

        container_access.attach_stdin(self, ref, fd)

    def top(self, ref: str) -> builtins.list[dict[str, str]]:
        """The processes of a running container (host view): PID, PPID, UID, CMD."""
        from runtime import container_access

        return container_access.top(self, ref)

    def copy_to(self, ref: str, src: str | Path, dst: str) -> None:
        """Copy host file or directory *src* to *dst* inside the container."""
        from runtime import container_access

        container_access.copy_to(self, ref, src, dst)

    def copy_from(self, ref: str, src: str, dst: str | Path) -> None:
        """Copy *src* inside the container to host path *dst*."""
        from runtime import container_access

        container_access.copy_from(self, ref, src, dst)


_PIDFD_THREAD: Final = os.O_EXCL  # pidfd_open: a pidfd of one thread, readable once it exited


def _wait_pod_monitor_exit(mon: Mapping[str, Any], timeout: float = 1.0) -> None:
    """A pod's shared monitor left with no monitor thread exits at once (removing its socket):
    wait for that, so that the removal of a pod's last container leaves no process behind."""
    pid, start = int(mon.get("process") or 0), mon.get("process_start")
    try:
        if not _alive(pid, start) or len(os.listdir(f"/proc/{pid}/task")) > 1:
            return  # gone, or still serving other containers
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _alive(pid, start):
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll(int(timeout * 1000))
    finally:
        os.close(fd)


def _write_bundle(cdir: Path, config: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Rewrite a bundle's config, each file through a rename: a kill leaves the old or the new."""
    (cdir / "config.json.tmp").write_text(json.dumps(config))
    os.replace(cdir / "config.json.tmp", cdir / "config.json")
    (cdir / "monitor.bin.tmp").write_bytes(marshal.dumps({"config": config, "meta": meta}))
    os.replace(cdir / "monitor.bin.tmp", cdir / "monitor.bin")


def _one_line(exc: BaseException) -> str:
    """An unexpected error as one lower-case line: an OSError as errno's text and its file."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror[:1].lower() + exc.strerror[1:]
        return f"{exc.filename}: {text}" if exc.filename else text
    return (str(exc).splitlines() or [type(exc).__name__])[0].rstrip(".")


def _host_devices() -> list[tuple[str, str, int, int, int]]:
    """Every host device node, for a privileged container (read here: oci.build_config is pure)."""
    from runtime.executor.hostdev import host_devices

    return list(host_devices())

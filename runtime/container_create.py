"""Creating a container: refuse bad input, then make its state row, cgroup, volumes, network,
OCI bundle and monitor, undoing every step taken when one fails. Functions of a ContainerManager;
its create() delegates here.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import marshal
import os
from collections.abc import Callable, Iterator, Mapping, Sequence

from runtime import attach_lock, container_lifecycle, container_monitor
from runtime import spec as S
from runtime.background import Background
from runtime.container_records import asdict, event_attrs, spec_from_json, spec_to_json
from runtime.containers import KIND, StartError
from runtime.errors import Conflict, EngineError, ExecError, InvalidSpec, MissingTool, NotFound
from runtime.json_accel import dumps
from runtime.logs import rfc3339_nano
from runtime.spec import ContainerInfo, ContainerSpec
from runtime.state import StateError
from runtime.trees import remove_tree  # as the removal's: shutil would import zlib, bz2 and lzma

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import dataclasses
    from typing import Any, Final

    from runtime.cgroups import Cgroup
    from runtime.containers import ContainerManager
    from runtime.network import netns
    from runtime.volumes import VolumeManager
    from runtime.warm_monitor import WarmMonitor
else:  # dataclasses imports inspect, ast, dis, tokenize: only volumes_from needs it (F16)
    from runtime.lazy import lazy

    dataclasses = lazy("dataclasses")

INIT_BINARY: Final = "/usr/bin/tini-static"  # static: it runs inside any image
# a container row's volumes that local driver options make a mount of their own (VolumeManager.hold):
# what its start mounts and its exit or removal releases
DEVICE_VOLUMES: Final = "device_volumes"


class Slot:
    """One of SetupSlots' places, held by a create until it released it (or left)."""

    def __init__(self, slots: SetupSlots) -> None:
        self.slots, self.held = slots, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


class SetupSlots:
    """How many creates of this process set their container up at once, the others waiting their
    turn in arrival order. The set-up is this process's work, under one GIL: `up` creating ten at
    once finished all ten set-ups together, late, and left the monitor and the inits (other
    processes, the other core) idle until then. In turns, the first containers reach their
    monitor early and its work overlaps the set-ups of the next (bench/FINDINGS.md F19). Several
    places, not one: a set-up also waits on the kernel (netlink, cgroup and mount locks).
    From _thread: threading's import is kept off `container run` and `ps`."""

    def __init__(self, places: int) -> None:
        self.mutex = _thread.allocate_lock()
        self.free = places
        self.waiting: list[_thread.LockType] = []

    @contextlib.contextmanager
    def held(self) -> Iterator[Slot]:
        self.acquire()
        slot = Slot(self)
        try:
            yield slot
        finally:
            slot.release()

    def acquire(self) -> None:
        with self.mutex:
            if self.free:
                self.free -= 1
                return
            turn = _thread.allocate_lock()
            turn.acquire()
            self.waiting.append(turn)
        turn.acquire()  # released by the release() that hands its place over

    def release(self) -> None:
        with self.mutex:
            if self.waiting:
                self.waiting.pop(0).release()
            else:
                self.free += 1


SETUP_SLOTS = SetupSlots(3)  # 2, 3 and 4 measured alike; 10 (all of `up`) was slower (F19)


class NetworkGate:
    """A `run`'s network plugged in while its init sets up, on the other core (its mounts, ~5 ms,
    came after the whole create before): the init is asked for once its plan is written, and
    waits before its workload until the steps here are done (the network set-up, then the files
    and the row that tell the container made whole) and NETWORK_READY is on the FIFO NET_GATE of
    its run dir, whose write end this process holds. EOF without it (a step failed, or this
    process was killed) ends the init: no workload without its network, and the container's
    bundle stays incomplete (ContainerManager.intact), as a create killed before its monitor
    leaves it. For a started container asked of a warm monitor (``--gate``), pinned ahead."""

    def __init__(self, ahead: netns.Pinning) -> None:
        self.ahead = ahead  # the namespace the init joins: pinned before it is asked for
        self.fd = -1
        self.steps: list[Callable[[], object]] = []

    def make(self, run: str) -> None:
        from runtime.executor import NET_GATE

        path = os.path.join(run, NET_GATE)
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)  # a writer, held: no EOF for the init yet

    def open(self) -> None:
        """Its steps, then the go-ahead; a failure closes the gate (the init ends) and is raised."""
        from runtime.executor import NETWORK_READY

        try:
            for step in self.steps:
                step()
            self.steps = []
            if self.fd >= 0:
                os.write(self.fd, NETWORK_READY)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Once the init is past it (its monitor answered), or failed."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def create(
    mgr: ContainerManager, spec: ContainerSpec, start: bool, warm: WarmMonitor | None, replaces: str = ""
) -> ContainerInfo:
    """ContainerManager.create (its docstring says what is raised): the row, then the bundle and
    the monitor; a failure undoes every step taken."""
    with SETUP_SLOTS.held() as slot:
        return _create(mgr, spec, start, warm, slot, replaces)


def _create(
    mgr: ContainerManager, spec: ContainerSpec, start: bool, warm: WarmMonitor | None, slot: Slot,
    replaces: str = "",
) -> ContainerInfo:
    try:
        image = mgr.engine.images.resolve(spec.image)
    except NotFound as exc:
        raise NotFound(f"container {spec.name}: {exc}") from None
    _check(mgr, spec)
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
        mgr.store.put_new(KIND, cid, doc, spec.name, f'container name "{spec.name}" is already in use')
    except StateError as exc:
        raise StateError(f"container {spec.name}: {exc}") from None
    undo: list[Callable[[], object]] = [lambda: mgr._delete_row(cid)]
    warming = container_monitor.warm_pod_monitor(mgr, spec.pod) if spec.pod else None
    if warming is not None:
        undo.append(lambda: container_monitor.retire_warm_pod_monitor(mgr, spec.pod or "", warming))
    gate: NetworkGate | None = None
    try:
        # its network namespace, pinned by a thread while the rest is prepared (the set-up takes it)
        ahead = mgr.engine.networks.pin_ahead(cid, spec)
        if ahead is not None:
            undo.append(ahead.discard)
            if start and warm is not None and not _joins_ipc(spec):
                gate = NetworkGate(ahead)
        warnings: list[str] = []  # what cannot be applied here: said, not refused (as docker's create)
        mount_error = _prepare(mgr, cid, spec, image, doc, undo, warnings, replaces, ahead, gate)
        mgr.warnings.extend(f"container {spec.name}: {w}" for w in warnings)
        slot.release()  # the rest is the monitor's and the init's work, in other processes
        # logged before the monitor starts: with the gate open it logs the start at once
        container_lifecycle.log_event(mgr, cid, doc, "create")
        undo.append(lambda: container_lifecycle.log_event(mgr, cid, doc, "destroy"))
        if mount_error:
            if gate is not None:  # no init to wait for: the network now
                gate.open()
            return _created_unstarted(mgr, cid, spec, doc, mount_error, start, tuple(warnings))
        try:
            _launch(mgr, cid, spec, start=start, warm=warm, gate=gate)
        finally:
            if gate is not None:  # its init is past it (or gone)
                gate.close()
        if doc.get(DEVICE_VOLUMES):  # its monitor holds its volumes now
            drop_hold(mgr, cid)
        # an auto-remove container that has exited already is removed next: its exit file is
        # left for the removal (ContainerManager.get), not folded into a row about to go
        return mgr.get(cid, warnings=tuple(warnings), fold=not spec.volatile)
    except StartError:
        if doc.get(DEVICE_VOLUMES):
            drop_hold(mgr, cid)
            mgr.engine.volumes.release(doc[DEVICE_VOLUMES])
        raise  # made whole: it stays, as a container whose start failed
    except BaseException as exc:
        if gate is not None:
            gate.close()
        undo.append(undo.pop(0))  # the row goes first: volumes refuse removal while it names them
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        if spec.volatile:  # undone: a monitor's remover that waited for it finds nothing
            from runtime import autoremove

            autoremove.mark(mgr.claims.get(cid, -1), b"removed")
            autoremove.release(mgr.claims.pop(cid, -1))
        if isinstance(exc, StateError):
            raise StateError(f"container {spec.name}: {exc}") from exc
        if isinstance(exc, EngineError) or not isinstance(exc, Exception):
            raise
        raise ExecError(f"container {spec.name}: {_one_line(exc)}") from exc


def _check(mgr: ContainerManager, spec: ContainerSpec) -> None:
    """Refuse bad input that needs no state before anything is made (nothing to undo)."""
    from runtime.cgroups import check_resources
    from runtime.network.portcheck import check_expose, check_ports

    check_ports(spec.name, spec.ports)
    check_expose(spec.name, spec.expose)
    if spec.working_dir and not spec.working_dir.startswith("/"):  # docker's engine refuses it
        raise InvalidSpec(
            f"container {spec.name}: the working directory '{spec.working_dir}' is invalid, "
            "it needs to be an absolute path"
        )
    if spec.dns:
        _check_nameservers(spec)
    if spec.cgroupns_mode not in (None, "private", "host"):  # docker's words
        raise InvalidSpec(f"container {spec.name}: invalid cgroup namespace mode: {spec.cgroupns_mode}; "
                          "expected host or private")
    try:
        check_resources(spec.resources)
    except InvalidSpec as exc:
        raise InvalidSpec(f"container {spec.name}: {exc}") from None
    if spec.cap_add or spec.cap_drop:
        _caps(spec)  # an unknown name (resolved again, a few µs, where the bundle is built)
    for m in spec.mounts:
        if m.type == "bind" and not m.create_host_path and m.source and not os.path.lexists(m.source):
            # as docker's mount API (compose's long syntax with create_host_path: false)
            raise InvalidSpec(f"container {spec.name}: bind source path does not exist: {m.source}")


def _check_nameservers(spec: ContainerSpec) -> None:
    """Each `dns` entry is an address, as docker's engine reads it (netip.ParseAddr: no spaces,
    a v6 zone allowed): a name would land in resolv.conf, where no resolver reads it."""
    import ipaddress

    for server in spec.dns:
        try:
            if server.strip() != server:
                raise ValueError
            ipaddress.ip_address(server)
        except ValueError:
            raise InvalidSpec(
                f"container {spec.name}: bad nameserver address {server!r}; expected an IP address"
            ) from None


def _prepare(
    mgr: ContainerManager,
    cid: str,
    spec: ContainerSpec,
    image: S.ImageInfo,
    doc: dict[str, Any],
    undo: list[Callable[[], object]],
    warnings: list[str],
    replaces: str = "",
    ahead: netns.Pinning | None = None,
    gate: NetworkGate | None = None,
) -> str:
    """Everything but the monitor: directories, cgroup, volumes, network, the bundle, the row;
    what cannot be applied on this host goes to *warnings*. Returns the error of a volume mount
    that fails the start, not the create (_volumes), or "". With a *gate*: only what the init's
    plan needs; the network, config.json, container.json and the row are its steps."""
    from runtime.executor import oci
    from runtime.executor.user import UserError, resolve_in_dirs

    cdir, run = mgr.paths.container_dir(cid), mgr.paths.container_run(cid)
    undo.append(lambda: remove_tree(cdir))
    undo.append(lambda: remove_tree(run))
    for d in (f"{cdir}/upper", f"{cdir}/work", f"{cdir}/rootfs", run):
        os.makedirs(d, exist_ok=True)
    if gate is not None:
        gate.make(run)
    config = dict(image.config)
    spec = _with_volumes_from(mgr, spec)
    devices = [_parse_device(d, spec.name) for d in spec.devices]
    ns_paths = joined_namespaces(mgr, spec)
    # user (from the image's files, read on the host before start)
    try:
        user = resolve_in_dirs(
            spec.user or str(config.get("User") or "") or None,
            spec.group_add,
            [f"{cdir}/upper", *reversed(image.layer_dirs)],
        )
    except UserError as exc:
        raise InvalidSpec(f"container {spec.name}: {exc}") from None
    if spec.init and not os.path.exists(INIT_BINARY):
        raise MissingTool(INIT_BINARY, "tini")
    caps, user_caps = _caps(spec)
    if spec.sysctls:
        from runtime.security.defaults import check_sysctl

        for key in spec.sysctls:
            try:
                check_sysctl(key, spec.network_mode == "host")
            except InvalidSpec as exc:
                raise InvalidSpec(f"container {spec.name}: {exc}") from None
    rlimits = _rlimits(spec, warnings)
    # cgroup
    cgroup_parts: list[str] | None = None
    cgroup_procs: list[str] = []
    try:
        from runtime.cgroups import Cgroup, engine_scope
    except ImportError:
        Cgroup = None  # type: ignore[assignment,misc]  # noqa: N806
    making: Background | None = None
    if Cgroup is not None:
        cgroup_parts = [*engine_scope(mgr.paths.root), spec.pod or "standalone", cid]
        # while the attach lock's write opened ahead waits for its grace period, it holds the
        # kernel's cgroup mutex, and our mkdirs would wait with it (2-19 ms measured): then they
        # wait in a thread while the network and the seccomp filter are made
        making = Background(_make_cgroup, cgroup_parts, spec, devices, wait=attach_lock.pending())
        undo.append(functools.partial(_remove_made, making))
    try:
        _create_bind_sources(spec)
        # volumes
        volume_sources, mount_error = _volumes(
            mgr, cid, spec, config, doc, undo, [f"{cdir}/upper", *reversed(image.layer_dirs)]
        )
        spec = _with_image_volumes(spec, volume_sources, doc)
        # network (before the init: it joins the netns pin; with a gate, before its workload)
        if gate is not None:
            net = mgr.engine.networks.planned(cid, spec, gate.ahead)
            gate.steps.append(functools.partial(_plug_network, mgr, cid, spec, doc, replaces, ahead))
        else:
            net = mgr.engine.networks.setup_container(cid, spec, replaces, ahead)
            _take_network(doc, net)
        undo.append(lambda: mgr.engine.networks.teardown_container(cid))
        hostname_path = f"{run}/hostname"
        _write(hostname_path, (net.hostname or S.default_hostname(spec, cid)) + "\n")
        seccomp_path = _seccomp(mgr, cid, spec, caps)
    except BaseException:
        if making is not None:
            making.raise_failure()  # its error first, as when the cgroup was made before the rest
        raise
    if making is not None:
        cg: Cgroup = making.result()
        warnings.extend(cg.warnings)
        cgroup_procs = sorted({f"{p}/cgroup.procs" for p in cg.paths.values()})
    healthcheck = spec.healthcheck if spec.healthcheck is not None else _image_healthcheck(config)
    if healthcheck is not None and healthcheck.test[:1] == ("NONE",):
        healthcheck = None
    inputs = oci.BundleInputs(
        container_id=cid,
        rootfs=f"{cdir}/rootfs",
        user=user,
        caps=caps,
        net=net,
        hostname_path=str(hostname_path),
        volume_sources=volume_sources,
        rlimits=[(n, s, h) for n, (s, h) in rlimits.items()],
        init_path=INIT_BINARY if spec.init and os.path.exists(INIT_BINARY) else None,
        cgroups_path="/".join(["composer", *cgroup_parts]) if cgroup_parts else "",
        host_devices=_host_devices() if spec.privileged else (),
        **_security_defaults(),
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
    meta = {
        "id": cid,
        "name": spec.name,
        "lowerdirs": list(image.layer_dirs),
        "upperdir": f"{cdir}/upper",
        "workdir": f"{cdir}/work",
        "cgroup": cgroup_parts,
        "cgroup_procs": cgroup_procs,
        "seccomp_bpf": seccomp_path,
        "log_path": f"{cdir}/ctr.log",
        "log_max_size": spec.log_max_size,
        "log_max_file": spec.log_max_file,
        "restart": asdict(spec.restart),
        "healthcheck": asdict(healthcheck) if healthcheck else None,
        "stop_signal": oci.stop_signal(spec, config),
        "stdin_open": spec.stdin_open,
        "volatile": spec.volatile,
        "auto_remove": spec.volatile,  # --rm: the monitor sees to its removal (runtime/autoremove.py)
        "event_attrs": event_attrs(doc),  # the monitor's events (start, die, ...) carry them
    }
    _write(f"{cdir}/monitor.bin.tmp", marshal.dumps({"config": bundle, "meta": meta}))
    os.replace(f"{cdir}/monitor.bin.tmp", f"{cdir}/monitor.bin")  # a kill mid-write leaves none
    doc["command"] = bundle["process"]["args"]
    doc["image_config"] = config  # inspect's Config merges it, as docker's container keeps its image's
    doc["healthcheck"] = meta["healthcheck"] is not None
    doc["stop_signal"] = meta["stop_signal"]
    doc["cgroup"] = cgroup_parts
    finish = functools.partial(_finish_bundle, mgr, cid, doc, bundle, meta)
    if gate is not None:
        gate.steps.append(finish)
    else:
        finish()
    undo.append(lambda: container_lifecycle.kill_everything(mgr, cid))
    return mount_error


def _take_network(doc: dict[str, Any], net: S.ContainerNet) -> None:
    doc["networks"] = dict(net.addresses)
    doc["ports"] = [[asdict(p), h] for p, h in net.ports]


def _plug_network(mgr: ContainerManager, cid: str, spec: ContainerSpec, doc: dict[str, Any],
                  replaces: str, ahead: netns.Pinning | None) -> None:
    """A gated init's network (NetworkGate), in the namespace it joined (a second attempt too);
    the resolver this command launched listens before the workload starts."""
    networks = mgr.engine.networks
    _take_network(doc, networks.setup_container(cid, spec, replaces, ahead, joined=True))
    networks.resolver_ready()


def _finish_bundle(mgr: ContainerManager, cid: str, doc: dict[str, Any], bundle: dict[str, Any],
                   meta: dict[str, Any]) -> None:
    """The bundle's files the engine reads (its monitor reads monitor.bin) and the row: once all
    are written the container is whole (ContainerManager.intact)."""
    cdir = mgr.paths.container_dir(cid)
    _write(f"{cdir}/config.json", dumps(bundle))  # no indent: the C encoder
    _write(f"{cdir}/container.json", dumps(meta))
    mgr._save(cid, doc)


def _write(path: str, data: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def _created_unstarted(mgr: ContainerManager, cid: str, spec: ContainerSpec, doc: dict[str, Any],
                       error: str, start: bool, warnings: tuple[str, ...]) -> ContainerInfo:
    """A container whose volume cannot be mounted: made, as docker's create makes it, with no
    init until a start (which mounts again, and fails again while the cause stays); with *start*,
    its start failed (StartError), as docker's would, and nothing it held stays mounted."""
    error = f"container {spec.name}: {error}"
    _failed_start(mgr, cid, doc, error if start else "")
    if not start:
        doc["last_state"].update(exit_code=0)
        mgr._save(cid, doc)
    mgr.engine.volumes.release(doc[DEVICE_VOLUMES])
    if start:
        raise StartError(error, cid)
    return mgr.get(cid, warnings=warnings)


def _joins_ipc(spec: ContainerSpec) -> bool:
    return bool(spec.ipc_mode and spec.ipc_mode.startswith("container:"))


def _launch(
    mgr: ContainerManager, cid: str, spec: ContainerSpec, *, start: bool, warm: WarmMonitor | None,
    gate: NetworkGate | None = None,
) -> None:
    """The monitor, which forks the init (and, with *start*, opens its gate); with a network
    *gate*, its steps are done while the init sets up."""
    joins_ipc = _joins_ipc(spec)
    if spec.volatile:  # before it can exit: its creator may remove it itself (runtime/autoremove.py)
        from runtime import autoremove

        mgr.claims[cid] = autoremove.claim(mgr.paths.container_run(cid))
    if gate is not None:  # as late as can be: the pinning thread may still be at it
        gate.ahead.wait()
    try:
        container_monitor.spawn_monitor(mgr, cid, spec.name, start=start and not joins_ipc, warm=warm,
                                        meanwhile=gate.open if gate is not None else None)
    except ExecError as exc:
        if start and not joins_ipc and _start_failed(mgr, cid):
            raise StartError(str(exc), cid) from None
        raise
    if joins_ipc:  # the same /dev/shm too, over ours while the init waits at the gate
        from runtime.container_access import share_shm

        share_shm(mgr, cid, str(spec.ipc_mode).split(":", 1)[1])
        if start:
            try:
                container_monitor.start_created(mgr, cid)
            except ExecError as exc:
                raise StartError(str(exc), cid) from None


def _start_failed(mgr: ContainerManager, cid: str) -> bool:
    """Whether the monitor of a create with the gate open got past the set-up and failed at the
    exec (its state says so, saved before it reported): then the container is whole and stays;
    any earlier error undoes the create."""
    return container_monitor.started_state(mgr, cid).get("start_failed") == "exec"


def _with_volumes_from(mgr: ContainerManager, spec: ContainerSpec) -> ContainerSpec:
    """The spec with the mounts of each ``volumes_from`` container added (":ro" makes them read-only)."""
    if not spec.volumes_from:
        return spec
    mounts = list(spec.mounts)
    targets = {m.target for m in mounts}
    for item in spec.volumes_from:
        ref, _, mode = item.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidSpec(f"container {spec.name}: volumes_from {item!r}: expected ro or rw")
        _, other = mgr._find(ref)
        other_spec = spec_from_json(other["spec"])
        by_target = dict(other.get("volume_targets") or {})
        for m in other_spec.mounts:
            if m.type == "tmpfs" or m.target in targets:
                continue
            ro = m.read_only or mode == "ro"  # moby: m.RW && ReadWrite(mode): rw keeps a ro mount ro
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


def joined_namespaces(mgr: ContainerManager, spec: ContainerSpec) -> dict[str, str]:
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
        other = mgr.get(mode.split(":", 1)[1])
        if other.status not in ("running", "created") or not other.pid:
            raise Conflict(
                f"container {spec.name}: {kind} namespace of container {other.name} "
                f"is not available: it is {other.status}"
            )
        paths[kind] = f"/proc/{other.pid}/ns/{nsfile}"
    return paths


def _caps(spec: ContainerSpec) -> tuple[frozenset[str], frozenset[str]]:
    from runtime.security.caps import normalize_cap, resolve_caps

    try:
        caps = resolve_caps(spec.cap_add, spec.cap_drop, spec.privileged)
        user_caps = frozenset(normalize_cap(c) for c in spec.cap_add if normalize_cap(c) != "ALL")
    except InvalidSpec as exc:
        raise InvalidSpec(f"container {spec.name}: {exc}") from None
    return caps, user_caps


def _rlimits(spec: ContainerSpec, warnings: list[str]) -> dict[str, tuple[int, int]]:
    from runtime.security.rlimits import RLIM_INFINITY, RLIMIT_NAMES, clamp_rlimits, getrlimit

    try:
        limits, clamped = clamp_rlimits(spec.ulimits)
    except InvalidSpec as exc:
        raise InvalidSpec(f"container {spec.name}: {exc}") from None
    warnings.extend(clamped)
    if "nofile" not in limits:
        # as podman: open files up to the hard limit (1048576 where it can be raised), not the
        # caller's soft limit, which the container would otherwise inherit
        hard = getrlimit(RLIMIT_NAMES["nofile"])[1]
        want = 1048576 if hard == RLIM_INFINITY else min(hard, 1048576)
        limits["nofile"] = (want, want)
    return limits


def _security_defaults() -> dict[str, Any]:
    from runtime.security import defaults as d

    return {
        "masked_paths": d.DEFAULT_MASKED_PATHS,
        "readonly_paths": d.DEFAULT_READONLY_PATHS,
        "devices": tuple((n.path, n.type, n.major, n.minor, n.mode) for n in d.DEFAULT_DEVICES),
    }


def _seccomp(mgr: ContainerManager, cid: str, spec: ContainerSpec, caps: frozenset[str]) -> str | None:
    if spec.privileged or spec.seccomp == "unconfined":
        return None
    from runtime.security import seccomp

    cache = f"{mgr.paths.root}/cache/seccomp"
    path = f"{mgr.paths.container_dir(cid)}/seccomp.bpf"
    if spec.seccomp == "default":
        bpf, cached = seccomp.default_filter(cache, caps)
        try:  # a hard link: no new inode (each is ~0.5 ms on an ext4 that just removed many)
            os.link(cached, path)
            return path
        except OSError:
            pass   # pruned meanwhile, another filesystem: a copy
    else:  # a profile file: checked (and compiled on a cache miss) by the compiler's module
        from runtime.security.seccomp_compile import load_profile_file

        bpf = seccomp.cached_filter(cache, load_profile_file(spec.seccomp), caps)
    _write(path, bpf)
    return path


def _image_path(layers: list[str], target: str) -> list[str] | None:
    """Directory *target* of the image as the container sees it: its chain in *layers* (topmost
    first; runtime.layer_view), or None when it is no directory there."""
    from runtime.layer_view import resolve_dir

    return resolve_dir(layers, target)


def _create_bind_sources(spec: ContainerSpec) -> None:
    """A missing bind source becomes an empty directory where the mount allows it (compose's short
    syntax, long syntax with `create_host_path: true`, `run -v`), as docker's daemon makes one
    (_check refused the others). It outlives the container, as docker's does: it is the user's
    path, not the container's."""
    for m in spec.mounts:
        if m.type != "bind" or not m.create_host_path or os.path.exists(m.source):
            continue
        try:
            os.makedirs(m.source, mode=0o755, exist_ok=True)
        except OSError as exc:  # a dangling symlink, a file where a parent should be, ...
            what = "a dangling symbolic link" if isinstance(exc, FileExistsError) else exc.strerror
            raise InvalidSpec(f"container {spec.name}: bind source {m.source}: cannot create it: "
                              f"{what}") from None


def _volumes(
    mgr: ContainerManager,
    cid: str,
    spec: ContainerSpec,
    config: Mapping[str, Any],
    doc: dict[str, Any],
    undo: list[Callable[[], object]],
    image_layers: list[str],
) -> tuple[dict[str, str], str]:
    """(target -> the host directory each volume mount binds, the error of a device volume's
    mount that fails the start), the volumes made, held and copied up as needed.

    A device volume (local driver options) is mounted on its own directory, held by this
    container (VolumesManager.hold). Its mount failing fails the create where the create copies
    the image's files into it, else the start (moby: populateVolume mounts it at create, setupMounts
    at start): that error is returned, for the create to leave the container created, unstarted."""
    mounts = [m for m in spec.mounts if m.type == "volume"]
    targets = {m.target for m in spec.mounts}
    image_volumes = [t for t in (config.get("Volumes") or {}) if t not in targets]
    if not mounts and not image_volumes:
        return {}, ""
    from runtime.volumes import VolumeMountError, has_device

    vols = mgr.engine.volumes
    out: dict[str, str] = {}
    failed = ""
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
            # the name goes into the container's row first: a process killed after the volume is
            # made leaves it named by the row, and removing the container (rm -v, down -v) removes it
            name = os.urandom(32).hex()
            doc["anonymous_volumes"].append(name)
            mgr._save(cid, doc)
            undo.append(functools.partial(vols.remove, name, force=True))
            info = vols.create_anonymous({"com.docker.volume.anonymous": ""}, name=name)
        doc["volume_names"].append(info.name)
        doc.setdefault("volume_targets", {})[m.target] = info.name
        image_dir = None if m.nocopy else _image_path(image_layers, m.target)
        if has_device(info.options):
            doc.setdefault(DEVICE_VOLUMES, []).append(info.name)
            try:
                _hold(mgr, cid, doc, [info.name], undo)
            except VolumeMountError as exc:
                error = f"error while mounting volume '{info.mountpoint}': {exc}"
                if image_dir is not None:  # moby's create mounts it to copy the image's files in
                    raise InvalidSpec(f"container {spec.name}: failed to populate volume: {error}") from None
                failed = failed or error
                out[m.target] = info.mountpoint
                continue
        if image_dir is not None:
            _copy_up(vols, info, image_dir, info.mountpoint, m.subpath)
        out[m.target] = info.mountpoint  # a subpath is opened under it by the init, at each start
    return out, failed


def _hold(mgr: ContainerManager, cid: str, doc: dict[str, Any], names: Sequence[str],
          undo: list[Callable[[], object]] | None = None) -> None:
    """Mount device volumes *names* for container *cid* (or find them mounted), its hold recorded
    in its row first (volumes.HOLD_KEY: this process, until the monitor runs): a release by a
    container stopping meanwhile keeps them. *undo*: their release, should the create fail."""
    from runtime import procs
    from runtime.volumes import HOLD_KEY

    vols = mgr.engine.volumes
    if HOLD_KEY not in doc:
        doc[HOLD_KEY] = [os.getpid(), procs.starttime(os.getpid())]
        mgr._save(cid, doc)
    if undo is not None:
        undo.append(functools.partial(vols.release, list(names)))
    for name in names:
        vols.hold(name, cid)


def hold_for_start(mgr: ContainerManager, cid: str, doc: dict[str, Any], name: str) -> None:
    """A start's mount of container *name*'s device volumes (moby's setupMounts). Raises ExecError
    in docker's words when one fails, the container left as it was with the error (and docker's
    code 128) in its state, and nothing mounted for it."""
    from runtime.volumes import VolumeMountError

    vols = mgr.engine.volumes
    names = doc[DEVICE_VOLUMES]
    for volume in names:
        try:
            _hold(mgr, cid, doc, [volume])
        except VolumeMountError as exc:
            error = f"container {name}: error while mounting volume '{vols.get(volume).mountpoint}': {exc}"
            _failed_start(mgr, cid, doc, error)
            vols.release(names)
            raise ExecError(error) from None


def _failed_start(mgr: ContainerManager, cid: str, doc: dict[str, Any], error: str) -> None:
    """Record a start that failed before any process ran, as moby's State keeps one: the error,
    exit code 128 (exitUnknown), the last run's times; created when it never ran."""
    from runtime.volumes import HOLD_KEY

    last: Mapping[str, Any] = doc["last_state"] if isinstance(doc.get("last_state"), dict) else {}
    doc.pop(HOLD_KEY, None)
    doc["last_state"] = {
        "status": "exited" if last.get("started_at") else "created", "exit_code": 128, "error": error,
        "start_failed": "setup", "pid": 0, "started_at": last.get("started_at") or "",
        "finished_at": last.get("finished_at") or "", "restart_count": 0,
    }
    mgr._save(cid, doc)


def drop_hold(mgr: ContainerManager, cid: str) -> None:
    """The create's or start's hold of its volumes, once its monitor runs (and holds them) or
    failed: a container that is not running must not keep them mounted."""
    from runtime.volumes import HOLD_KEY

    with mgr.store.transaction() as tx:
        doc = tx.get(KIND, cid)
        if doc is None or HOLD_KEY not in doc:
            return
        doc.pop(HOLD_KEY)
        tx.put(KIND, cid, doc, name=doc["name"])


def _copy_up(
    vols: VolumeManager, info: S.VolumeInfo, image_dir: list[str], src: str, subpath: str
) -> None:
    """The image's files into the volume, or into its *subpath* when that exists (moby copies into
    what the mount binds; a missing subpath is the start's error), opened without following a link
    out of the volume."""
    if not subpath:
        vols.populate_from_image(info, image_dir, into=src)
        return
    from runtime.executor.init import InitError, open_beneath

    try:
        fd = open_beneath(src, subpath)
    except (InitError, OSError):
        return
    try:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            vols.populate_from_image(info, image_dir, into=f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def _with_image_volumes(
    spec: ContainerSpec, volume_sources: Mapping[str, str], doc: dict[str, Any]
) -> ContainerSpec:
    """The spec with a mount for each of the image's VOLUMEs that nothing else mounts (their
    anonymous volumes are in *volume_sources*), as docker's daemon adds one per config.Volumes
    entry: the bundle mounts them, and the row's spec lists them for inspect, ps and volumes_from."""
    targets = {m.target for m in spec.mounts}
    extra = tuple(S.Mount(type="volume", target=t) for t in volume_sources if t not in targets)
    if not extra:
        return spec
    stored = spec_from_json(doc["spec"])  # as asked: volumes_from stays a reference there
    doc["spec"] = spec_to_json(dataclasses.replace(stored, mounts=stored.mounts + extra))
    return dataclasses.replace(spec, mounts=spec.mounts + extra)


def _remove_made(making: Background) -> None:
    """The undo of a cgroup made in the background: once made, removed (a failed make left none)."""
    making.result().remove()


def _make_cgroup(parts: Sequence[str], spec: S.ContainerSpec,
                 devices: Sequence[tuple[str, str, str, int, int, str]]) -> Cgroup:
    cg = create_cgroup(parts, spec, devices)
    attach_lock.again()  # our last cgroup mkdir: the init's move is ~10 ms from now
    return cg


def create_cgroup(parts: Sequence[str], spec: S.ContainerSpec,
                  devices: Sequence[tuple[str, str, str, int, int, str]] | None = None) -> Cgroup:
    """Container *spec*'s cgroup at *parts*, with its limits and its devices' rules (*devices*:
    parsed by _parse_device, parsed here when not given); InvalidSpec names the container."""
    from runtime.cgroups import Cgroup

    if devices is None:
        devices = [_parse_device(d, spec.name) for d in spec.devices]
    try:
        return Cgroup.create(parts, spec.resources,
                             devices=[f"{t} {ma}:{mi} {perm}" for _, _, t, ma, mi, perm in devices])
    except InvalidSpec as exc:  # a controller this host lacks, a value the kernel refuses
        raise InvalidSpec(f"container {spec.name}: {exc}") from None


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

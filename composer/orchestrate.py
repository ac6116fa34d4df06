"""Running a Plan against an Engine: what both plan drivers share. Thin: every decision was made
by the planner.

Each operation waits for its dependencies, then for the depends_on conditions of the services it
starts (service_started / service_healthy / service_completed_successfully), then makes its
blocking engine call in a worker thread, at most *parallel* at a time. A failed operation fails
the operations that depend on it, with a message naming both.

Here: `_Core` (the failure rules, the condition checks, the engine calls), `observe` (what the
engine has for a project) and `apply_plan` (what the CLI does with a plan). The drivers are
composer/drive_threads.py (`execute_threads`, what the CLI uses: a bounded stdlib thread pool, no
trio, bench/FINDINGS.md F9) and composer/drive_trio.py (`execute`, for callers inside trio). Either
way, Ctrl-C: the waits stop, no new operation starts, and a call already running in a thread
finishes first (never half-made).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from composer import labels as L
from composer.errors import ComposerError, ProjectError, ServiceError
from composer.graph import COMPLETED, HEALTHY, Dependency
from composer.progress import Progress
from runtime.errors import EngineError, NotFound
from runtime.record import field, record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    import dataclasses
    from typing import Any, Protocol

    from composer.plan import Observed, Op, Plan
    from composer.project import Project
    from composer.specgen import ProjectFile
    from runtime.spec import ContainerInfo, ContainerSpec, NetworkSpec


    class EngineLike(Protocol):
        """What the driver uses of runtime.engine.Engine (a test passes a recording fake)."""

        @property
        def containers(self) -> Any: ...
        @property
        def networks(self) -> Any: ...
        @property
        def volumes(self) -> Any: ...
        @property
        def pods(self) -> Any: ...
        @property
        def images(self) -> Any: ...
else:
    from runtime.lazy import lazy

    dataclasses = lazy("dataclasses")  # one replace() for volumes_from: ~12 ms CPU of imports
    EngineLike = object  # a Protocol for mypy only


@record
class DriverOptions:
    files_dir: Callable[[str], str]  # container name -> dir for its secret/config files
    stop_timeout: float | None = None  # -t; None: each container's stop_grace_period
    remove_volumes: bool = False  # anonymous volumes of removed containers
    poll_interval: float = 0.5  # health / completion polling
    condition_timeout: float | None = None  # give up waiting on a dependency's condition
    warn: Callable[[str], None] = field(default=lambda _m: None)
    # the engine's create(spec, start=True): a start with nothing else to wait for is done by its
    # container's create (the monitor opens the start gate: no start round trip)
    start_on_create: bool = False
    # attached up: (container name, line) of what the post_start/pre_stop hooks write; None drops it
    hook_output: Callable[[str, str], None] | None = None


class OpFailed(ComposerError):
    pass


class _Core:
    """What both drivers share: the failure rules, the condition checks, the engine calls."""

    def __init__(
        self,
        plan: Plan,
        project: Project | None,
        engine: EngineLike,
        progress: Progress,
        options: DriverOptions,
    ) -> None:
        self.plan, self.project, self.engine = plan, project, engine
        self.progress, self.opt = progress, options
        self.errors: dict[int, str] = {}
        self.by_id = {op.id: op for op in plan.ops}
        self.ids: dict[str, str] = {}  # service -> id of its first container (service:x refs)
        self.failed_services: dict[str, str] = {}

    # -- scheduling rules ---------------------------------------------------------------------------

    def blocked(self, op: Op, dep: int) -> None:
        """Raise OpFailed if *dep* (done) failed and *op* cannot go on without it."""
        if dep not in self.errors:
            return
        other = self.by_id[dep]
        optional = {d.service for d in op.wait_for if not d.required}
        if other.service in optional and other.service != op.service:
            return  # the condition check warns about it
        why = self.errors[dep]
        raise OpFailed(f"{op.target}: {op.kind} not done because {other.target} failed ({other.kind}): {why}")

    def record(self, op: Op, exc: BaseException) -> None:
        """Note *op*'s failure (for its dependents and the CLI's message) and show it."""
        if isinstance(exc, ImportError):  # a runtime manager that has not landed yet
            self.errors[op.id] = f"{op.target}: the runtime cannot do {op.kind} yet ({exc})"
        else:
            self.errors[op.id] = str(exc)
            if op.service:
                self.failed_services.setdefault(op.service, str(exc))
        self.report(op, "Error", error=True)

    def dep_failed(self, op: Op, dep: Dependency, why: str) -> None:
        msg = f"dependency {dep.service} failed: {why}"
        if not dep.required:
            self.opt.warn(f"service {op.service}: optional {msg}; starting anyway")
            return
        raise ServiceError(op.service, msg)

    def condition_met(self, dep: Dependency, containers: Sequence[ContainerInfo], seen: _Seen) -> bool:
        """One poll of *dep*'s condition over its service's *containers*; raises _DependencyFailed
        when it can no longer be met. *seen* carries what was shown between polls."""
        if dep.service in self.failed_services:
            raise _DependencyFailed(self.failed_services[dep.service])
        if not containers:
            raise _DependencyFailed(f"service {dep.service} has no container")
        if dep.condition not in (HEALTHY, COMPLETED):
            return True
        ok = 0
        for c in containers:
            if dep.condition == HEALTHY:
                if c.health == "healthy":
                    ok += 1
                    seen.finish(self.progress, c.name, "Healthy")
                elif c.health == "unhealthy":
                    raise _DependencyFailed(f"container {c.name} is unhealthy")
                elif c.status in ("exited", "dead"):
                    raise _DependencyFailed(f"container {c.name} exited ({c.exit_code})")
                elif not c.health and c.status == "running":
                    # running without a health status: no healthcheck (give the monitor a moment)
                    seen.blank[c.name] = seen.blank.get(c.name, 0) + 1
                    if seen.blank[c.name] > 4:
                        raise _DependencyFailed(f"container {c.name} has no healthcheck configured")
                else:
                    seen.announce(self.progress, c.name)
            else:  # completed successfully
                if c.status in ("exited", "dead"):
                    if c.exit_code != 0:
                        raise _DependencyFailed(
                            f"service {dep.service} didn't complete successfully: exit {c.exit_code}"
                        )
                    ok += 1
                    seen.finish(self.progress, c.name, "Exited")
                elif c.status == "created":
                    pass  # not started yet (its start op may be running)
                else:
                    seen.announce(self.progress, c.name)
        return ok == len(containers)

    def containers_of(self, service: str) -> list[ContainerInfo]:
        labels = {L.PROJECT: self.plan.project, L.SERVICE: service, L.ONEOFF: "False"}
        return list(self.engine.containers.list(all=True, labels=labels))

    # -- the operations (in a worker thread) --------------------------------------------------------

    def report(self, op: Op, state: str, *, error: bool = False) -> None:
        kind, name = _resource(op)
        if kind and name:  # not run's AwaitDependencies: its failure is the message itself
            self.progress.event(kind, name, state, error=error)

    def apply(self, op: Op, start: Op | None = None) -> None:
        """Make *op*'s engine call; *start*: the StartContainer op a Create/RecreateContainer *op*
        does too, by creating the container started."""
        e, opt = self.engine, self.opt
        k = op.kind
        from runtime.spec import PodSpec, VolumeSpec

        if k == "CreatePod":
            try:
                e.pods.create(PodSpec(name=op.name, labels=L.project_labels(self.plan.project)))
            except EngineError as exc:
                if not _exists(e.pods, op.name):
                    raise ProjectError(op.name, f"cannot create pod: {exc}") from exc
        elif k == "CreateNetwork":
            self.report(op, "Creating")
            e.networks.create(self._network_spec(op))
            pending = getattr(e.networks, "warnings", [])  # e.g. no egress where nft is missing
            while pending:
                self.opt.warn(pending.pop(0))
            self.report(op, "Created")
        elif k == "CreateVolume":
            self.report(op, "Creating")
            vol = (self.project.volumes.get(op.key) if self.project else None) or {}
            from composer.loader.hashing import volume_hash

            labels = {**(vol.get("labels") or {}), **L.volume_labels(self.plan.project, op.key),
                      L.CONFIG_HASH: volume_hash(op.name, vol)}  # docker compose's, for drift (up)
            e.volumes.create(VolumeSpec(name=op.name, labels=labels,
                                        driver_opts=dict(vol.get("driver_opts") or {})))
            self.report(op, "Created")
        elif k == "PullImage":
            self.report(op, "Pulling")
            pull = getattr(e.images, "pull", None)
            if pull is None:
                raise ComposerError(f"image {op.name}: not found locally, and pulling is not supported yet")
            try:
                pull(op.name)
            except EngineError as exc:
                raise ServiceError(op.service or op.name, f"pull of image {op.name} failed: {exc}") from exc
            self.report(op, "Pulled")
        elif k in ("CreateContainer", "RecreateContainer"):
            failed_start: EngineError | None = None
            if k == "RecreateContainer":
                info = self._recreate(op)
                if start is not None:
                    try:
                        e.containers.start(info.id)
                    except EngineError as exc:
                        failed_start = exc
            else:
                self.report(op, "Creating")
                try:
                    info = self._create(op, start=start is not None)
                except EngineError as exc:
                    made = getattr(exc, "container_id", None)  # StartError: made, then its process failed
                    if start is None or made is None:
                        raise
                    info, failed_start = e.containers.get(made), exc
            if op.number == 1 or op.service not in self.ids:
                self.ids[op.service] = info.id
            self.report(op, "Recreated" if k == "RecreateContainer" else "Created")
            if start is not None:
                self.report(start, "Starting")
                if failed_start is None:
                    try:
                        self._post_start(start, info.id)
                    except (ComposerError, EngineError) as exc:  # the create is done: its start failed
                        self.record(start, exc)
                        return
                    self.report(start, "Started")
                else:  # the create is done; its start failed, as a StartContainer op would have
                    msg = f"container {start.name} failed to start: {failed_start}"
                    self.record(start, ServiceError(start.service, msg))
        elif k == "StartContainer":
            self.report(op, "Starting")
            ref = op.container_id or op.name
            try:
                e.containers.start(ref)
            except EngineError as exc:
                raise ServiceError(op.service, f"container {op.name} failed to start: {exc}") from exc
            self._post_start(op, ref)
            self.report(op, "Started")
        elif k == "StopContainer":
            self.report(op, "Stopping")
            hooks = self._hooks(op.service, "pre_stop")
            if hooks:  # not before a recreate's stop (docker compose's recreateContainer runs none)
                from composer.hooks import run_pre_stop

                run_pre_stop(self.engine, op.container_id or op.name, self._source(op), op.service, hooks,
                             on_line=self.opt.hook_output)
            self._stop(op.container_id or op.name)
            self.report(op, "Stopped")
        elif k == "RemoveContainer":
            self.report(op, "Removing")
            with contextlib.suppress(NotFound):  # already gone: that is the goal
                e.containers.remove(op.container_id or op.name, force=True,
                                    volumes=opt.remove_volumes or op.volumes)
            self.report(op, "Removed")
        elif k == "RenameContainer":
            e.containers.rename(op.container_id, op.name)
        elif k in ("RemoveNetwork", "RemoveVolume", "RemoveImage", "RemovePod"):
            self.report(op, "Removing")
            manager = getattr(
                e,
                {
                    "RemoveNetwork": "networks",
                    "RemoveVolume": "volumes",
                    "RemoveImage": "images",
                    "RemovePod": "pods",
                }[k],
            )
            try:
                if k == "RemovePod":
                    manager.remove(op.name, force=True)
                else:
                    manager.remove(op.name)
            except NotFound:
                pass
            except EngineError as exc:
                if k == "RemovePod":
                    raise
                opt.warn(f"{_resource(op)[0].lower() or 'object'} {op.name}: not removed: {exc}")
                self.report(op, "Skipped")
                return
            self.report(op, "Removed")
        elif k == "AwaitDependencies":
            pass  # its wait_for conditions, met before the driver applies it, were the work
        else:  # pragma: no cover - the planner makes no other kind
            raise ServiceError(op.service or op.name, f"unknown operation {k}")

    def _hooks(self, service: str, key: str) -> Sequence[Mapping[str, Any]]:
        """The *key* ('post_start', 'pre_stop') hooks of *service*: none without the file (a verb
        run with -p alone knows the project from labels, as docker compose's)."""
        svc = self.project.services.get(service) if self.project is not None else None
        return (svc.get(key) or ()) if svc is not None else ()

    def _post_start(self, op: Op, ref: str) -> None:
        hooks = self._hooks(op.service, "post_start")
        if hooks:  # the composer.hooks import only for a service that has some
            from composer.hooks import run_hooks

            run_hooks(self.engine, ref, self._source(op), op.service, hooks, on_line=self.opt.hook_output)

    def _source(self, op: Op) -> str:
        """Who a hook's output lines are from: docker compose's `<name without project> ->`
        (getContainerNameWithoutProject: a container_name is kept whole)."""
        name = op.name
        if name == f"{self.plan.project}-{op.service}-{op.number}":
            name = name[len(self.plan.project) + 1 :]
        return f"{name} ->"

    def _stop(self, ref: str) -> None:
        try:
            if self.opt.stop_timeout is None:
                self.engine.containers.stop(ref)
            else:
                self.engine.containers.stop(ref, timeout=self.opt.stop_timeout)
        except NotFound:
            pass

    def _recreate(self, op: Op) -> ContainerInfo:
        """docker compose's recreateContainer: the new container is made under a temporary name
        with the old one's anonymous volumes, then the old one is removed (keeping them) and the
        new one renamed. A kill at any point leaves one of them owning the volumes, under labels
        the next up finds (plan._one_per_number). The old one is stopped first, not after the
        create as compose does: its published ports are held from create to stop here (docker
        binds them at start), so the new one could not take them while it runs."""
        from composer.plan import temp_name

        e = self.engine
        self.report(op, "Recreate")
        old = e.containers.get(op.container_id)  # its full id: the temporary name's 12 hex
        self._stop(old.id)
        # compose keeps the anonymous volumes of a recreated container (`up -V` renews them)
        anon = self._anonymous(op.inherit_volumes)
        svc = self.project.services.get(op.service) if self.project is not None else None
        replaced = str((svc or {}).get("container_name") or f"{op.service}-{op.number}")  # compose's words
        try:
            info = self._create(op, anon, name=temp_name(old, op.name), replaces=old.id,
                                labels={L.REPLACE: replaced})
        except (ComposerError, EngineError):
            # nothing was made: the old one runs on, as compose's, whose create comes before the stop
            if old.status in ("running", "restarting"):
                with contextlib.suppress(EngineError):
                    e.containers.start(old.id)
            raise
        with contextlib.suppress(NotFound):
            # like compose, anonymous volumes the new container no longer mounts are left
            e.containers.remove(old.id, force=True, volumes=not anon)
        e.containers.rename(info.id, op.name)
        renamed: ContainerInfo = e.containers.get(info.id)
        return renamed

    def _anonymous(self, mounts: Sequence[tuple[str, str]]) -> dict[str, str]:
        """target -> volume for the anonymous volumes among *mounts* that still exist."""
        out: dict[str, str] = {}
        for target, name in mounts:
            with contextlib.suppress(NotFound):
                if self.engine.volumes.get(name).anonymous:
                    out[target] = name
        return out

    def _create(self, op: Op, anon: Mapping[str, str] | None = None, *, start: bool = False,
                name: str = "", replaces: str = "", labels: Mapping[str, str] | None = None) -> ContainerInfo:
        """Create *op*'s container (named *name*, else op.name; *replaces*, *labels*: a recreate's)."""
        if self.project is None:
            raise ServiceError(op.service, "cannot create a container without the compose file")
        from composer.graph import service_dependencies
        from composer.specgen import service_spec

        # only `service:x` references (network_mode, ipc, pid, volumes_from) need ids: looking
        # them up lists every container of the project, once per create otherwise
        by_id = [
            d.service
            for d in service_dependencies(self.project.services[op.service]).values()
            if d.why not in ("depends_on", "links")
        ]
        if any(s not in self.ids for s in by_id):
            self._fill_ids()
        gen = service_spec(
            self.project,
            op.service,
            op.number,
            files_dir=self.opt.files_dir(op.name),
            container_ids=self.ids,
            config_hash=op.config_hash or None,
            name=name or op.name,
            anon_volumes=anon,
        )
        for w in gen.warnings:
            self.opt.warn(w)
        for f in gen.files:
            write_project_file(f)
        spec = gen.spec
        if anon:
            spec = self._with_image_volumes(spec, anon)
        if labels:
            spec = dataclasses.replace(spec, labels={**spec.labels, **labels})
        info: ContainerInfo
        if replaces:
            info = self.engine.containers.create(spec, replaces=replaces)
        elif start:
            info = self.engine.containers.create(spec, start=True)
        else:
            info = self.engine.containers.create(spec)
        for w in info.warnings:  # as docker compose shows its create's Warnings, by service
            self.opt.warn(f"service {op.service}: {w}")
        return info

    def _with_image_volumes(self, spec: ContainerSpec, anon: Mapping[str, str]) -> ContainerSpec:
        """The image's own VOLUMEs keep their anonymous volumes too (as compose does)."""
        from runtime.spec import Mount

        targets = {m.target for m in spec.mounts}
        try:
            declared = self.engine.images.resolve(spec.image).config.get("Volumes") or {}
        except (EngineError, AttributeError):
            return spec
        extra = tuple(
            Mount(type="volume", source=name, target=t)
            for t, name in sorted(anon.items())
            if t in declared and t not in targets
        )
        return dataclasses.replace(spec, mounts=spec.mounts + extra) if extra else spec

    def _fill_ids(self) -> None:
        for c in self.engine.containers.list(all=True, labels={L.PROJECT: self.plan.project}):
            svc = c.labels.get(L.SERVICE, "")
            if c.labels.get(L.ONEOFF) == "True" or not svc:
                continue
            if svc not in self.ids or c.labels.get(L.CONTAINER_NUMBER) == "1":
                self.ids[svc] = c.id

    def _network_spec(self, op: Op) -> NetworkSpec:
        from runtime.spec import IPAMConfig, NetworkSpec

        net = (self.project.networks.get(op.key) if self.project else None) or {}
        if net.get("driver") not in (None, "", "bridge"):
            self.opt.warn(f"network {op.name}: driver {net['driver']!r} is not supported; using bridge")
        ipam = tuple(
            IPAMConfig(subnet=str(c["subnet"]), gateway=c.get("gateway"), ip_range=c.get("ip_range"))
            for c in ((net.get("ipam") or {}).get("config") or ())
            if c.get("subnet")
        )
        return NetworkSpec(
            name=op.name,
            labels={**(net.get("labels") or {}), **L.network_labels(self.plan.project, op.key)},
            internal=bool(net.get("internal")),
            enable_ipv6=bool(net.get("enable_ipv6")),
            ipam=ipam,
            driver_opts={str(k): str(v) for k, v in (net.get("driver_opts") or {}).items()},
            # shown by network inspect only (every bridge of composer's is attachable); docker
            # compose creates its networks with the file's value, false unless it says true
            attachable=bool(net.get("attachable")),
        )


class _DependencyFailed(Exception):
    pass


class _Seen:
    """Per condition wait: the containers shown as Waiting, and as Healthy/Exited."""

    def __init__(self) -> None:
        self.announced: set[str] = set()
        self.finished: set[str] = set()
        self.blank: dict[str, int] = {}

    def announce(self, progress: Progress, name: str) -> None:
        if name not in self.announced:
            progress.event("Container", name, "Waiting")
            self.announced.add(name)

    def finish(self, progress: Progress, name: str, state: str) -> None:
        if name not in self.finished:
            progress.event("Container", name, state)
            self.finished.add(name)


def _exists(manager: Any, name: str) -> bool:
    try:
        manager.get(name)
        return True
    except EngineError:
        return False


def _resource(op: Op) -> tuple[str, str]:
    kind = op.target.split(":", 1)[0]
    return {
        "service": ("Container", op.name),
        "network": ("Network", op.name),
        "volume": ("Volume", op.name),
        "image": ("Image", op.name),
        "pod": ("", op.name),
    }.get(kind, ("", op.name))


def write_project_file(f: ProjectFile) -> None:
    """Materialise a secret/config file: atomically, with its mode and owner."""
    path = Path(f.path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    if f.copy_from is not None:
        import shutil  # here: only secrets and configs from files need it

        shutil.copyfile(f.copy_from, tmp)
    else:
        tmp.write_bytes(f.content or b"")
    os.chmod(tmp, f.mode)
    if f.uid is not None or f.gid is not None:
        os.chown(tmp, -1 if f.uid is None else f.uid, -1 if f.gid is None else f.gid)
    os.replace(tmp, path)


def apply_plan(
    plan: Plan,
    engine: EngineLike,
    *,
    project: Project | None,
    progress: Progress,
    files_root: Path,
    parallel: int = -1,
    stop_timeout: float | None = None,
    remove_volumes: bool = False,
    hook_output: Callable[[str, str], None] | None = None,
) -> None:
    """What the CLI does with a plan: show its warnings, run it, raise the root failure as one line.

    Secret and config files of container NAME go under *files_root*/containers/NAME.
    """
    for w in plan.warnings:
        progress.message(f"WARN[0000] {w}")
    if not plan.ops:
        return
    opts = DriverOptions(
        files_dir=lambda name: str(files_root / "containers" / name),
        stop_timeout=stop_timeout,
        remove_volumes=remove_volumes,
        warn=lambda m: progress.message(f"WARN[0000] {m}"),
        start_on_create=True,
        hook_output=hook_output,
    )
    from composer.drive_threads import execute_threads

    errors = execute_threads(
        plan, engine, project=project, progress=progress, options=opts, parallel=parallel
    )
    if errors:
        raise ComposerError(first_error(plan, errors))


def first_error(plan: Plan, errors: Mapping[int, str]) -> str:
    """The root failure (not the ones it caused), for the CLI's one-line message."""
    caused = {i for i, msg in errors.items() if " not done because " in msg}
    roots = [i for i in sorted(errors) if i not in caused]
    return errors[(roots or sorted(errors))[0]]


def observe(engine: EngineLike, project: Project) -> Observed:
    """What the engine has for *project*: its containers (by label), networks, volumes, images, pod."""
    from composer.plan import RUNNING, Observed
    from composer.specgen import image_ref
    from composer.specgen import network_name as _network_name
    from composer.specgen import volume_name as _volume_name

    containers = tuple(engine.containers.list(all=True, labels={L.PROJECT: project.name}))
    networks = _present(engine, "networks", [_network_name(project, k) for k in project.networks])
    volumes = _present(engine, "volumes", [_volume_name(project, k) for k in project.volumes])
    volume_projects = {n: p for n in volumes if (p := _volume_project(engine, n)) is not None}
    images: set[str] = set()
    for ref in dict.fromkeys(image_ref(project.name, name, svc) for name, svc in project.services.items()):
        try:
            engine.images.resolve(ref)
            images.add(ref)
        except EngineError:
            pass
    intact = getattr(engine.containers, "intact", None)  # a recording fake may not have it
    # not only "dead" (a killed create): an rm killed after the bundle's removal leaves an exited
    # container without one, which a start fails ('its bundle is missing'): up replaces it
    damaged = frozenset(
        c.id for c in containers if intact is not None and c.status not in RUNNING and not intact(c.id)
    )
    pods = _manager(engine, "pods")
    return Observed(
        containers=containers,
        damaged=damaged,
        networks=networks,
        volumes=volumes,
        volume_projects=volume_projects,
        images=frozenset(images),
        pod=pods is None or pods.exists(project.name),
    )  # no pod support: no pod op


def diverged_volumes(engine: EngineLike, project: Project) -> list[tuple[str, str]]:
    """(key, name) of each of *project*'s volumes that exists with a config hash other than the
    file's (docker compose's ensureVolume): not an external one (used as it is), not one without
    the label (not made by compose: used as it is, with the warning the plan gives)."""
    from composer.loader.hashing import volume_hash
    from composer.specgen import volume_name

    out = []
    for key, conf in project.volumes.items():
        if (conf or {}).get("external"):
            continue
        name = volume_name(project, key)
        try:
            have = engine.volumes.get(name).labels.get(L.CONFIG_HASH)
        except (EngineError, AttributeError):  # not there; a fake without labels
            continue
        if have is not None and have != volume_hash(name, conf or {}):
            out.append((key, name))
    return out


def _volume_project(engine: EngineLike, name: str) -> str | None:
    """The project label of volume *name* ("": none); None when it cannot be read."""
    try:
        return str(engine.volumes.get(name).labels.get(L.PROJECT, ""))
    except (EngineError, AttributeError):  # gone meanwhile; a fake without labels
        return None


def _present(engine: EngineLike, attr: str, names: Sequence[str]) -> frozenset[str]:
    """The *names* that engine.<attr> has; its manager is not even imported when there are none (a
    project without volumes: ~2 ms of runtime.volumes' imports)."""
    manager = _manager(engine, attr) if names else None
    return frozenset(n for n in names if manager is not None and _exists(manager, n))


def _manager(engine: EngineLike, attr: str) -> Any:
    """engine.<attr>, or None while the runtime does not have that manager yet."""
    try:
        return getattr(engine, attr)
    except ImportError:
        return None

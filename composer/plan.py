"""reconcile(project, observed, options) -> Plan: what to do so that what runs matches the file. Pure.

What runs is found by labels (com.docker.compose.project/service/container-number/config-hash),
so the planner needs no state of its own. Each operation names its target, the operations it
must wait for, and a human-readable cause; `composer up --dry-run` prints `Plan.render()`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from composer import labels as L
from composer.errors import ProjectError, ServiceError
from composer.graph import (
    STARTED,
    Dependency,
    build_graph,
    dependency_closure,
    service_dependencies,
    service_order,
)
from composer.project import Project
from composer.specgen import container_name, image_ref, network_name, replicas, volume_name
from runtime.record import field, record
from runtime.spec import ContainerInfo

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final, Literal

    OpKind = Literal[
        "CreatePod",
        "CreateNetwork",
        "CreateVolume",
        "PullImage",
        "CreateContainer",
        "RecreateContainer",
        "RenameContainer",
        "StartContainer",
        "StopContainer",
        "RemoveContainer",
        "RemoveNetwork",
        "RemoveVolume",
        "RemovePod",
        "RemoveImage",
        "AwaitDependencies",
    ]
RUNNING: Final = frozenset({"running", "restarting", "paused"})


@record
class Op:
    id: int
    kind: OpKind
    target: str  # "network:demo_default", "service:web:1", "pod:demo", ...
    cause: str
    deps: tuple[int, ...] = ()
    service: str = ""  # container ops
    number: int = 0
    name: str = ""  # runtime object name (container, network, volume, pod, image)
    container_id: str = ""  # existing container (recreate, start, stop, remove)
    config_hash: str = ""
    wait_for: tuple[Dependency, ...] = ()  # StartContainer: depends_on conditions to meet first
    key: str = ""  # network/volume key in the file
    inherit_volumes: tuple[tuple[str, str], ...] = ()  # RecreateContainer: the old (target, volume)s
    volumes: bool = False  # RemoveContainer: its anonymous volumes too (those no other container uses)

    def render(self) -> str:
        deps = ",".join(str(d) for d in self.deps)
        return f"[{deps}] -> #{self.id} {self.target}, {self.kind}, {self.cause}"


@record(kw_only=False)
class Plan:
    project: str
    ops: tuple[Op, ...]
    warnings: tuple[str, ...] = ()

    def render(self) -> str:
        return "".join(op.render() + "\n" for op in self.ops)

    def __bool__(self) -> bool:
        return bool(self.ops)


@record
class Observed:
    """What the engine has for this project (the CLI gathers it; tests write it by hand)."""

    containers: tuple[ContainerInfo, ...] = ()
    networks: frozenset[str] = frozenset()  # runtime names that exist
    volumes: frozenset[str] = frozenset()
    # the com.docker.compose.project label of each existing volume the project declares ("": none)
    volume_projects: Mapping[str, str] = field(default_factory=dict)
    images: frozenset[str] = frozenset()  # image references present locally
    pod: bool = False  # the project's pod exists
    damaged: frozenset[str] = frozenset()  # ids of containers a killed create left half-made


@record
class ReconcileOptions:
    services: tuple[str, ...] = ()  # empty: every enabled service
    recreate: Literal["diverged", "force", "never"] = "diverged"
    no_deps: bool = False
    start: bool = True  # --no-start: create only
    scale: Mapping[str, int] = field(default_factory=dict)
    remove_orphans: bool = False
    pull: Literal["missing", "always", "never", "policy"] = "policy"
    infra_only: frozenset[str] = frozenset()  # services whose networks/volumes are wanted, not containers
    renew_anon_volumes: bool = False  # -V: a recreated container gets new anonymous volumes


class _Builder:
    def __init__(self, project: str) -> None:
        self.project = project
        self.ops: list[Op] = []
        self.warnings: list[str] = []

    def add(self, kind: OpKind, target: str, cause: str, deps: Iterable[int | None] = (), **kw: Any) -> int:
        op_id = len(self.ops) + 1
        clean = tuple(sorted({d for d in deps if d is not None}))
        self.ops.append(Op(id=op_id, kind=kind, target=target, cause=cause, deps=clean, **kw))
        return op_id

    def plan(self) -> Plan:
        return Plan(self.project, tuple(self.ops), tuple(self.warnings))


def _resource_ops(
    b: _Builder,
    project: Project,
    wanted: Collection[str],
    kind: Literal["network", "volume"],
    declared: Mapping[str, Any],
    existing: Collection[str],
    runtime_name: Callable[[Project, str], str],
    used_by: Callable[[Mapping[str, Any]], Collection[str]],
) -> dict[str, int | None]:
    """Create ops for the project's networks or volumes that a wanted service uses and that do not
    exist yet (None: exists already); a missing external one is an error."""
    ops: dict[str, int | None] = {}
    for key, conf in declared.items():
        rname = runtime_name(project, key)
        if rname in existing:
            ops[key] = None
        elif conf.get("external"):  # docker compose's words for each (ensureNetwork, ensureVolume)
            what = (f"network {rname} declared as external, but could not be found" if kind == "network"
                    else f"external volume \"{rname}\" not found")  # Go %q of a volume name
            raise ProjectError(project.name, what)
        elif any(key in used_by(project.services[s]) for s in wanted):
            driver = (conf or {}).get("driver")
            if kind == "volume" and driver not in (None, "", "local"):  # before anything is made
                raise ProjectError(project.name, f'volumes.{key}.driver: error looking up volume plugin '
                                                 f'{driver}: plugin "{driver}" not found; expected local')
            op_kind: OpKind = "CreateNetwork" if kind == "network" else "CreateVolume"
            ops[key] = b.add(op_kind, f"{kind}:{rname}", "not found", name=rname, key=key)
    return ops


def _unmanaged_volumes(project: Project, observed: Observed) -> list[str]:
    """docker compose's warnings for a declared volume that exists but is not this project's
    (ensureVolume): it is used as it is, and `external: true` says so."""
    out = []
    for key, conf in project.volumes.items():
        rname = volume_name(project, key)
        owner = observed.volume_projects.get(rname)
        if (conf or {}).get("external") or owner is None or owner == project.name:
            continue
        why = (f'was created for project "{owner}" (expected "{project.name}")' if owner
               else "was not created by Docker Compose")
        out.append(f'volume "{rname}" already exists but {why}. '
                   "Use `external: true` to use an existing volume")
    return out


def _stop_and_remove(b: _Builder, c: ContainerInfo, service: str, cause: str, *,
                     volumes: bool = False) -> int:
    """Remove *c*, stopping it first when it runs; returns the remove op."""
    target = f"service:{service}:{_number(c)}"
    ident: dict[str, Any] = {"service": service, "number": _number(c), "name": c.name, "container_id": c.id}
    stop = b.add("StopContainer", target, cause, **ident) if c.status in RUNNING else None
    return b.add("RemoveContainer", target, cause, [stop], volumes=volumes, **ident)


def temp_name(c: ContainerInfo, final: str) -> str:
    """The name a recreate gives *c*'s successor until *c* is gone: docker compose's
    `<12 hex of the old id>_<name>` (recreateContainer's tmpName)."""
    return f"{c.id[:12]}_{final}"


def _is_temp_name(name: str, final: str) -> bool:
    head, sep, rest = name.partition("_")
    return bool(sep) and rest == final and len(head) == 12 and all(ch in "0123456789abcdef" for ch in head)


def _one_per_number(
    have: Sequence[ContainerInfo], keep_first: Callable[[ContainerInfo], tuple[Any, ...]]
) -> tuple[list[ContainerInfo], list[ContainerInfo]]:
    """(one container per replica number, the others). Two share a number where a recreate was
    killed between its new container's create and its old one's removal (docker compose makes
    the new one first): the one *keep_first* ranks lowest stays, the others go."""
    by_number: dict[int, list[ContainerInfo]] = {}
    for c in have:
        by_number.setdefault(_number(c), []).append(c)
    kept, extra = [], []
    for group in by_number.values():
        group = sorted(sorted(group, key=lambda c: c.created_at, reverse=True), key=keep_first)
        kept.append(group[0])
        extra.extend(group[1:])
    return sorted(kept, key=_number), extra


def _number(c: ContainerInfo) -> int:
    try:
        return int(c.labels.get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        return 0


def _joins_none_of(c: ContainerInfo, others: Sequence[ContainerInfo]) -> bool:
    """Whether *c* shares namespaces or volumes by id (network_mode, ipc, pid `container:<id>`,
    volumes_from) with none of *others*, the containers of a service it asks that of. False
    when either side is unknown: a record without its spec, a service with no container yet."""
    spec = c.spec
    if spec is None or not others:
        return False
    modes = (spec.network_mode, spec.ipc_mode or "", spec.pid_mode or "")
    joined = {m.removeprefix("container:") for m in modes if m.startswith("container:")}
    joined.update(v.split(":", 1)[0] for v in spec.volumes_from)
    return bool(joined) and not any(o.id in joined for o in others)


def _is_oneoff(c: ContainerInfo) -> bool:
    return c.labels.get(L.ONEOFF, "False") == "True"


def reconcile(project: Project, observed: Observed, options: ReconcileOptions = ReconcileOptions()) -> Plan:
    """The operations that bring *observed* to what *project* declares (`up`, `create`, `scale`).

    Raises:
        ProjectError: an external network or volume does not exist, or an unknown service is named.
        DependencyCycleError: the services depend on each other in a cycle.
    """
    b = _Builder(project.name)
    build_graph(project)  # cycles fail before anything is planned
    for name in options.services:
        if name not in project.services:
            raise ProjectError(project.name, f"no such service: {name}")
    if options.services:
        wanted = set(options.services) if options.no_deps else dependency_closure(project, options.services)
    else:
        wanted = set(project.services)
    order = [s for s in service_order(project) if s in wanted]

    pod_op = (
        None if observed.pod else b.add("CreatePod", f"pod:{project.name}", "not found", name=project.name)
    )

    net_ops = _resource_ops(b, project, wanted, "network", project.networks, observed.networks,
                            network_name, _svc_networks)
    vol_ops = _resource_ops(b, project, wanted, "volume", project.volumes, observed.volumes,
                            volume_name, _svc_volumes)
    b.warnings.extend(_unmanaged_volumes(project, observed))

    by_service: dict[str, list[ContainerInfo]] = {}
    orphans: list[ContainerInfo] = []
    for c in observed.containers:
        if _is_oneoff(c):
            continue
        svc_name = c.labels.get(L.SERVICE, "")
        if svc_name in project.services:
            by_service.setdefault(svc_name, []).append(c)
        elif svc_name not in project.disabled_services:  # not selected, or profile off: not an orphan
            orphans.append(c)

    pulled: dict[str, int | None] = {}
    created: dict[str, list[int]] = {}  # service -> create/recreate op ids (all replicas)
    # services whose containers are replaced (recreated, or all made anew): what joins them by id
    # follows them, and depends_on.restart restarts on a recreate only (docker compose's
    # stopDependentContainers), never on a scale up
    recreated: set[str] = set()
    replaced: set[str] = set()
    started: dict[str, list[int]] = {}  # service -> start op ids
    for name in order:
        svc = project.services[name]
        _check_macs(name, svc)
        deps = {d.service: d for d in service_dependencies(svc).values()}
        present = [d for d in deps.values() if d.service in project.services]
        if name in options.infra_only:
            # `run`'s service: its one-off container starts once the dependencies it brought up meet
            # their conditions, as docker compose's run waits for them (never with --no-deps)
            waits = tuple(d for d in present if d.service in wanted and d.condition != STARTED)
            if waits and options.start:
                b.add("AwaitDependencies", f"service:{name}", "run waits for its dependencies",
                      [i for d in waits for i in started.get(d.service, ())], service=name, wait_for=waits)
            continue
        for d in deps.values():
            if d.service not in project.services and d.required:
                raise ProjectError(project.name, f"service {name} depends on undefined service {d.service}")
        infra = [
            pod_op,
            *(net_ops.get(n) for n in _svc_networks(svc)),
            *(vol_ops.get(v) for v in _svc_volumes(svc)),
        ]
        pull_op = _pull_op(b, name, svc, observed, options, pulled)
        before_create = [*infra, pull_op, *(i for d in present for i in created.get(d.service, ()))]
        before_start = [i for d in present for i in started.get(d.service, ())]
        want = options.scale.get(name, replicas(svc))
        chash = L.config_hash(svc)
        mine = by_service.get(name, [])
        final = {n: container_name(project.name, name, svc, n) for n in {_number(c) for c in mine}}

        def keep_first(c: ContainerInfo, final: Mapping[int, str] = final, chash: str = chash) -> Any:
            # an intact one of the file's config, then the one under its final name (then the newest)
            damaged = c.id in observed.damaged
            return (damaged, c.labels.get(L.CONFIG_HASH, "") != chash, c.name != final[_number(c)])

        have, superseded = _one_per_number(mine, keep_first)
        freed: dict[int, list[int]] = {}  # number -> the removal ops of its superseded containers
        for c in superseded:
            # a recreate's unfinished successor takes its own anonymous volumes with it (the ones
            # it was handed are the kept one's too, and stay); the replaced one leaves them, as a
            # recreate does
            op = _stop_and_remove(b, c, name, "a recreate was interrupted",
                                  volumes=_is_temp_name(c.name, final[_number(c)]))
            freed.setdefault(_number(c), []).append(op)
        for c in have[want:] if want < len(have) else ():
            _stop_and_remove(b, c, name, f"scale down to {want}")
        have = have[:want]
        used = {_number(c) for c in have}
        # a container that joins another's namespaces or volumes by id must follow it when it is replaced
        by_id_deps = [d.service for d in present if d.why not in ("depends_on", "links")]
        by_id = sorted(s for s in by_id_deps if s in replaced)
        restart_for = sorted(d.service for d in present if d.restart and d.service in recreated)
        if want and not have:
            replaced.add(name)
        for c in have:
            n = _number(c)
            target = f"service:{name}:{n}"
            old = c.labels.get(L.CONFIG_HASH, "")
            # replaced by an earlier up (`up --force-recreate x` alone): c still joins the old one's
            # namespaces, as docker compose's hash of the resolved `container:<id>` notices
            stale = [s for s in by_id_deps if s not in replaced and _joins_none_of(c, by_service.get(s, ()))]
            follows = options.recreate != "never" and bool(by_id or stale)
            damaged = c.id in observed.damaged  # cannot start, whatever --no-recreate says
            if (
                options.recreate == "force"
                or (options.recreate == "diverged" and old != chash)
                or follows
                or damaged
            ):
                if damaged:
                    cause = "its create was interrupted"
                elif options.recreate == "force":
                    cause = "--force-recreate"
                elif old != chash:
                    cause = "config hash changed"
                elif by_id:
                    cause = f"{by_id[0]} is recreated and this container uses it by id"
                else:
                    cause = f"{stale[0]}'s container was replaced and this container uses the old one by id"
                op = b.add(
                    "RecreateContainer",
                    target,
                    cause,
                    [*before_create, *freed.get(n, ())],  # its final name may be a superseded one's
                    service=name,
                    number=n,
                    name=final[n],
                    container_id=c.id,
                    config_hash=chash,
                    inherit_volumes=() if options.renew_anon_volumes else c.mounts,
                )
                created.setdefault(name, []).append(op)
                recreated.add(name)
                replaced.add(name)
                if options.start:
                    started.setdefault(name, []).append(
                        b.add(
                            "StartContainer",
                            target,
                            f"recreated by #{op}",
                            [op, *before_start],
                            service=name,
                            number=n,
                            name=final[n],
                            wait_for=tuple(present),
                        )
                    )
                continue
            # a superseded one (a killed recreate's) may hold its name, addresses and ports
            after, shown = [*before_start, *freed.get(n, ())], c.name
            if _is_temp_name(c.name, final[n]):
                shown = final[n]
                # a recreate killed after its new container's create, before the rename: finish it
                why = f"{c.name} is a recreate's temporary name"
                after = [*before_start, b.add("RenameContainer", target, why, freed.get(n, ()),
                                              service=name, number=n, name=final[n], container_id=c.id)]
            if options.start and c.status in RUNNING and restart_for:
                # depends_on.restart: true: a dependency was replaced, restart this one after it
                why = f"{restart_for[0]} is recreated (depends_on restart: true)"
                stop = b.add(
                    "StopContainer",
                    target,
                    why,
                    after,
                    service=name,
                    number=n,
                    name=shown,
                    container_id=c.id,
                )
                started.setdefault(name, []).append(
                    b.add(
                        "StartContainer",
                        target,
                        f"restarted by #{stop}",
                        [stop, *after],
                        service=name,
                        number=n,
                        name=shown,
                        container_id=c.id,
                        wait_for=tuple(present),
                    )
                )
            elif options.start and c.status not in RUNNING:
                started.setdefault(name, []).append(
                    b.add(
                        "StartContainer",
                        target,
                        f"container is {c.status}",
                        after,
                        service=name,
                        number=n,
                        name=shown,
                        container_id=c.id,
                        wait_for=tuple(present),
                    )
                )
        free = (n for n in range(1, 1 << 20) if n not in used)
        for _ in range(want - len(have)):
            n = next(free)
            cname = container_name(project.name, name, svc, n)
            target = f"service:{name}:{n}"
            cause = "no existing container" if not have and n == 1 else f"scale up to {want}"
            op = b.add(
                "CreateContainer",
                target,
                cause,
                before_create,
                service=name,
                number=n,
                name=cname,
                config_hash=chash,
            )
            created.setdefault(name, []).append(op)
            if options.start:
                started.setdefault(name, []).append(
                    b.add(
                        "StartContainer",
                        target,
                        f"created by #{op}",
                        [op, *before_start],
                        service=name,
                        number=n,
                        name=cname,
                        wait_for=tuple(present),
                    )
                )

    if orphans:
        names = sorted(c.name for c in orphans)
        if options.remove_orphans:
            for c in sorted(orphans, key=lambda c: c.name):
                _stop_and_remove(b, c, c.labels.get(L.SERVICE, ""), "orphan")
        else:
            b.warnings.append(
                f"found orphan containers ({', '.join(names)}) for this project. If you removed or renamed "
                "this service in your compose file, you can run this command with the --remove-orphans "
                "flag to clean it up"
            )
    return b.plan()


def _pull_op(
    b: _Builder,
    name: str,
    svc: Mapping[str, Any],
    observed: Observed,
    options: ReconcileOptions,
    pulled: dict[str, int | None],
) -> int | None:
    image = image_ref(b.project, name, svc)
    if (svc.get("build") or not svc.get("image")) and image not in observed.images:
        raise ServiceError(
            name,
            f"image {image} must be built, and build is not supported yet; build it elsewhere and "
            "`composer image load` it",
        )
    if image in pulled:
        return pulled[image]
    policy = options.pull if options.pull != "policy" else str(svc.get("pull_policy") or "missing")
    present = image in observed.images
    op: int | None = None
    if policy == "always" or (policy in ("missing", "if_not_present") and not present):
        op = b.add(
            "PullImage", f"image:{image}", "--pull always" if present else "not found locally", name=image,
            service=name,  # the first service that asks for it: named when the pull fails
        )
    pulled[image] = op
    return op


def _check_macs(name: str, svc: Mapping[str, Any]) -> None:
    """Each mac_address is a unicast ethernet address, and the service-level one agrees with its
    primary network's, as docker compose's prepareContainerMACAddress requires (it sets only the
    primary network's: each network is a link of its own). Checked here, before anything is made;
    `config` takes any value, as docker compose's does.

    Raises:
        ServiceError: naming the key.
    """
    from composer.units import mac_address

    nets = svc.get("networks") or {}
    for key, cfg in [(None, svc), *nets.items()]:
        mac = (cfg or {}).get("mac_address")
        if mac is not None and mac_address(mac) is None:
            at = "mac_address" if key is None else f"networks.{key}.mac_address"
            raise ServiceError(name, f"{at}: invalid mac address {str(mac)!r}; expected a unicast "
                                     "address like 02:42:ac:11:00:02")
    mac = svc.get("mac_address")
    if not mac or not nets or svc.get("network_mode"):
        return

    def prio(k: str) -> int:  # the primary network as specgen orders them: priority, then file order
        cfg = nets[k] or {}
        return -int(cfg.get("gw_priority", cfg.get("priority", 0)) or 0)

    primary = min(nets, key=prio)
    own = (nets[primary] or {}).get("mac_address")
    if own and mac_address(own) != mac_address(mac):
        raise ServiceError(name, f"mac_address: the service-level mac_address should have the same "
                                 f"value as network {primary}")


def _svc_networks(svc: Mapping[str, Any]) -> list[str]:
    if svc.get("network_mode"):
        return []
    nets = svc.get("networks")
    return ["default"] if nets is None else list(nets)


def _svc_volumes(svc: Mapping[str, Any]) -> list[str]:
    return [
        str(v["source"])
        for v in svc.get("volumes") or ()
        if isinstance(v, Mapping) and v.get("type", "volume") == "volume" and v.get("source")
    ]


# ---- tear down -----------------------------------------------------------------------------------


@record
class DownOptions:
    services: tuple[str, ...] = ()  # stop/rm only these (empty: all)
    remove_containers: bool = True  # False: stop only
    remove_orphans: bool = False
    volumes: bool = False  # -v: named volumes declared by the project, and anonymous ones
    networks: bool = True
    pod: bool = True
    images: Literal["", "local", "all"] = ""


def _label_deps(c: ContainerInfo) -> set[str]:
    raw = c.labels.get(L.DEPENDS_ON, "")
    return {item.split(":", 1)[0] for item in raw.split(",") if item}


def teardown(
    project_name: str,
    containers: Sequence[ContainerInfo],
    *,
    known_services: Iterable[str] | None,
    networks: Iterable[str] = (),
    volumes: Iterable[str] = (),
    images: Iterable[str] = (),
    pod: bool = False,
    options: DownOptions = DownOptions(),
) -> Plan:
    """The plan of `down` (and of `stop`/`rm` with remove_containers/networks off): dependents first.

    Works from labels alone, so `down -p NAME` needs no compose file. *known_services* are the
    services of the file when there is one: containers of other services are orphans, removed only
    with remove_orphans. None means there is no file: every container of the project goes.
    """
    b = _Builder(project_name)
    known = None if known_services is None else set(known_services)
    chosen = [
        c
        for c in containers
        if (not options.services or c.labels.get(L.SERVICE) in options.services)
        and (known is None or c.labels.get(L.SERVICE) in known or options.remove_orphans or _is_oneoff(c))
    ]
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in chosen:
        by_service.setdefault(c.labels.get(L.SERVICE, ""), []).append(c)
    # dependents stop first: a service waits for every service that depends on it
    dependents: dict[str, set[str]] = {s: set() for s in by_service}
    for s, cs in by_service.items():
        for c in cs:
            for d in _label_deps(c):
                if d in dependents and d != s:
                    dependents[d].add(s)
    done: dict[str, list[int]] = {}
    removal_ids: list[int] = []

    def visit(s: str, stack: tuple[str, ...] = ()) -> list[int]:
        if s in done:
            return done[s]
        if s in stack:
            return []  # a cycle in labels: ignore the back edge
        waits = [i for d in sorted(dependents[s]) for i in visit(d, (*stack, s))]
        ids = []
        for c in sorted(by_service[s], key=lambda c: (_number(c), c.name)):
            target = f"service:{s}:{_number(c)}"
            stop = None
            if c.status in RUNNING:
                stop = b.add(
                    "StopContainer",
                    target,
                    "project down" if options.remove_containers else "stop",
                    waits,
                    service=s,
                    number=_number(c),
                    name=c.name,
                    container_id=c.id,
                )
            if options.remove_containers:
                rid = b.add(
                    "RemoveContainer",
                    target,
                    "orphan" if known is not None and s not in known else "project down",
                    [stop] if stop else waits,
                    service=s,
                    number=_number(c),
                    name=c.name,
                    container_id=c.id,
                )
                removal_ids.append(rid)
                ids.append(rid)
            elif stop:
                ids.append(stop)
        done[s] = ids
        return ids

    for s in sorted(by_service):
        visit(s)
    if options.remove_containers and not options.services:
        if options.networks:
            for n in sorted(networks):
                b.add("RemoveNetwork", f"network:{n}", "project down", removal_ids, name=n)
        if options.volumes:
            for v in sorted(volumes):
                b.add("RemoveVolume", f"volume:{v}", "down -v", removal_ids, name=v)
        for ref in sorted(images):
            b.add("RemoveImage", f"image:{ref}", f"down --rmi {options.images}", removal_ids, name=ref)
        if pod and options.pod:
            b.add("RemovePod", f"pod:{project_name}", "project down", removal_ids, name=project_name)
    return b.plan()


def start_plan(project_name: str, containers: Sequence[ContainerInfo], project: Project | None) -> Plan:
    """`start`: start the stopped containers, dependencies first (their conditions honoured when the
    file is there; from the depends_on labels otherwise)."""
    b = _Builder(project_name)
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        by_service.setdefault(c.labels.get(L.SERVICE, ""), []).append(c)
    deps: dict[str, list[Dependency]] = {}
    for s, cs in by_service.items():
        if project is not None and s in project.services:
            deps[s] = [
                d for d in service_dependencies(project.services[s]).values() if d.service in by_service
            ]
        else:
            deps[s] = [Dependency(d) for c in cs for d in sorted(_label_deps(c)) if d in by_service]
    started: dict[str, list[int]] = {}

    def visit(s: str, stack: tuple[str, ...] = ()) -> list[int]:
        if s in started or s in stack:
            return started.get(s, [])
        before = [i for d in deps[s] for i in visit(d.service, (*stack, s))]
        ids = []
        for c in sorted(by_service[s], key=_number):
            if c.status in RUNNING:
                continue
            ids.append(
                b.add(
                    "StartContainer",
                    f"service:{s}:{_number(c)}",
                    f"container is {c.status}",
                    before,
                    service=s,
                    number=_number(c),
                    name=c.name,
                    container_id=c.id,
                    wait_for=tuple(deps[s]),
                )
            )
        started[s] = ids
        return ids

    for s in sorted(by_service):
        visit(s)
    return b.plan()

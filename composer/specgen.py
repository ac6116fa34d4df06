"""A canonical compose service -> runtime ContainerSpec, the way podman's specgen does it. Pure.

Input is the canonical tree (`docker compose config --format json`); output is a ContainerSpec plus
the files that must exist before the container is created (secrets and configs whose source is an
environment variable or inline content, or that need their own uid/gid/mode) and one warning per
key composer cannot honour. Nothing here touches the disk or the engine: the driver writes the
files and resolves `service:x` references into container ids before calling in.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from composer import labels as L
from composer.errors import ServiceError
from composer.project import Project
from runtime.record import record
from runtime.spec import (
    ContainerSpec,
    Healthcheck,
    Mount,
    NetworkAttachment,
    PortMapping,
    Resources,
    RestartPolicy,
)

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

# Keys specgen turns into the spec, or that other stages consume (the graph, the planner, images).
_HANDLED: Final = frozenset(
    [
        "annotations",
        "attach",
        "blkio_config",
        "build",
        "cap_add",
        "cap_drop",
        "cgroup",
        "command",
        "configs",
        "container_name",
        "cpu_shares",
        "cpus",
        "cpuset",
        "depends_on",
        "deploy",
        "develop",  # composer watch (composer/watch/); nothing of the container's
        "devices",
        "dns",
        "dns_opt",
        "dns_search",
        "domainname",
        "entrypoint",
        "env_file",
        "environment",
        "expose",
        "extends",
        "external_links",
        "extra_hosts",
        "group_add",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "ipc",
        "label_file",
        "labels",
        "links",
        "logging",
        "mac_address",
        "mem_limit",
        "mem_reservation",
        "memswap_limit",
        "network_mode",
        "networks",
        "oom_kill_disable",
        "pid",
        "pids_limit",
        "platform",
        "ports",
        "post_start",  # composer/hooks.py, run by the plan driver
        "pre_stop",
        "privileged",
        "profiles",
        "pull_policy",
        "read_only",
        "restart",
        "scale",
        "secrets",
        "security_opt",
        "shm_size",
        "stdin_open",
        "stop_grace_period",
        "stop_signal",
        "sysctls",
        "tmpfs",
        "tty",
        "ulimits",
        "user",
        "volumes",
        "volumes_from",
        "working_dir",
    ]
)
# Service keys composer accepts and does not act on, with why (the warning at `up` says it).
_WHY_IGNORED: Final = {
    "credential_spec": "windows only",
    "gpus": "gpu devices are not supported",
    "isolation": "windows only",
    "models": "models are not supported",
    "provider": "providers are not supported",
    "runtime": "composer runs containers with its own runtime",
    "storage_opt": "storage driver options are not applied",
    "use_api_socket": "there is no docker api socket",
    "volume_driver": "volume drivers are not supported",
}
_LOG_DRIVERS: Final = frozenset({"json-file", "local", "k8s-file", "journald"})


@record
class ProjectFile:
    """A file the driver must write (content) or copy (copy_from) to *path* before create."""

    path: str
    content: bytes | None = None
    copy_from: str | None = None
    mode: int = 0o444
    uid: int | None = None
    gid: int | None = None


@record
class GeneratedSpec:
    spec: ContainerSpec
    files: tuple[ProjectFile, ...] = ()
    warnings: tuple[str, ...] = ()


# ---- names ---------------------------------------------------------------------------------------


def container_name(project: str, service: str, svc: Mapping[str, Any], number: int) -> str:
    """`<project>-<service>-<n>`, or the file's container_name (replica 1 only)."""
    given = svc.get("container_name")
    return str(given) if given else f"{project}-{service}-{number}"


def network_name(project: Project, key: str) -> str:
    """The runtime name of project network *key*: its `name:`, else `<project>_<key>`."""
    net = project.networks.get(key) or {}
    return str(net.get("name") or f"{project.name}_{key}")


def volume_name(project: Project, key: str) -> str:
    vol = project.volumes.get(key) or {}
    return str(vol.get("name") or f"{project.name}_{key}")


def image_ref(project: str, service: str, svc: Mapping[str, Any]) -> str:
    """The service's image; a service with only `build:` gets `<project>-<service>` (as docker compose)."""
    return str(svc.get("image") or f"{project}-{service}")


def replicas(svc: Mapping[str, Any]) -> int:
    """How many containers the service wants (scale, else deploy.replicas, else 1)."""
    if svc.get("scale") is not None:
        return int(svc["scale"])
    deploy = svc.get("deploy") or {}
    if deploy.get("replicas") is not None:
        return int(deploy["replicas"])
    return 1


# ---- the generator -------------------------------------------------------------------------------


def service_spec(
    project: Project,
    service: str,
    number: int,
    *,
    files_dir: str,
    container_ids: Mapping[str, str] | None = None,
    config_hash: str | None = None,
    oneoff: bool = False,
    name: str | None = None,
    anon_volumes: Mapping[str, str] | None = None,
) -> GeneratedSpec:
    """Build the ContainerSpec of replica *number* of *service*.

    Args:
        project: the loaded project (canonical tree).
        service: the service's key.
        number: the replica number (1-based).
        files_dir: a host directory for generated secret/config files of this container.
        container_ids: service name -> id of its first container, for `network_mode: service:x`,
            `ipc`/`pid: service:x` and `volumes_from`.
        config_hash: precomputed com.docker.compose.config-hash (computed here when None).
        oneoff: a `composer run` container.
        name: the container name (default: `<project>-<service>-<n>`).
        anon_volumes: target -> existing anonymous volume to mount there instead of a new one
            (a recreated container keeps its predecessor's anonymous volumes).

    Raises:
        ServiceError: a value the runtime cannot express (bad duration, unknown secret, ...).
    """
    svc = project.services.get(service)
    if svc is None:
        raise ServiceError(service, "no such service")
    g = _Gen(project, service, svc, files_dir, container_ids or {})
    g.anon = anon_volumes or {}
    try:
        spec = g.build(number, config_hash, oneoff, name)
    except (ValueError, TypeError) as exc:
        raise ServiceError(service, str(exc)) from exc
    return GeneratedSpec(spec=spec, files=tuple(g.files), warnings=tuple(g.warnings))


class _Gen:
    def __init__(
        self, project: Project, service: str, svc: Mapping[str, Any], files_dir: str, ids: Mapping[str, str]
    ) -> None:
        self.p, self.service, self.svc, self.files_dir, self.ids = project, service, svc, files_dir, ids
        self.files: list[ProjectFile] = []
        self.warnings: list[str] = []
        self.anon: Mapping[str, str] = {}

    def warn(self, key: str, why: str = "not supported; ignored") -> None:
        self.warnings.append(f"service {self.service}: {key} is {why}")

    def _ref(self, value: str, key: str) -> str:
        """`service:x` -> `container:<id of x>`; other values unchanged."""
        if value.startswith("service:"):
            target = value.split(":", 1)[1]
            cid = self.ids.get(target)
            if not cid:
                raise ValueError(f"{key} refers to service {target!r} which has no container")
            return f"container:{cid}"
        return value

    def build(self, number: int, config_hash: str | None, oneoff: bool, name: str | None) -> ContainerSpec:
        # imported here: plans, `down` and an `up` with nothing to do never need it (1.8 ms CPU)
        from composer.units import byte_size, duration_seconds
        svc, p = self.svc, self.p
        for key in svc:
            if key not in _HANDLED and not str(key).startswith("x-"):
                why = _WHY_IGNORED.get(str(key))
                self.warn(key, f"not supported; ignored ({why})" if why else "not supported; ignored")
        cname = name or container_name(p.name, self.service, svc, number)
        image = image_ref(p.name, self.service, svc)
        labels = {str(k): str(v) for k, v in (svc.get("labels") or {}).items()}
        labels.update(
            L.service_labels(
                project=p.name,
                service=self.service,
                number=number,
                config_hash=config_hash or L.config_hash(svc),
                image=image,
                working_dir=p.working_dir,
                config_files=p.config_files,
                depends_on=svc.get("depends_on") or {},
                oneoff=oneoff,
            )
        )
        network_mode, networks = self.networks(cname)
        sec_nnp, seccomp = self.security()
        log_size, log_files = self.logging()
        return ContainerSpec(
            name=cname,
            image=image,
            command=_argv(svc.get("command")),
            entrypoint=_argv(svc.get("entrypoint")),
            env={str(k): str(v) for k, v in (svc.get("environment") or {}).items() if v is not None},
            working_dir=svc.get("working_dir") or None,
            user=str(svc["user"]) if svc.get("user") not in (None, "") else None,
            group_add=tuple(str(x) for x in svc.get("group_add") or ()),
            hostname=svc.get("hostname") or None,
            domainname=svc.get("domainname") or None,
            labels=labels,
            pod=p.name,
            mounts=self.mounts(),
            volumes_from=self.volumes_from(),
            read_only=bool(svc.get("read_only")),
            privileged=bool(svc.get("privileged")),
            cap_add=tuple(svc.get("cap_add") or ()),
            cap_drop=tuple(svc.get("cap_drop") or ()),
            no_new_privileges=sec_nnp,
            seccomp=seccomp,
            sysctls={str(k): str(v) for k, v in _mapping(svc.get("sysctls")).items()},
            ulimits=self.ulimits(),
            devices=self.devices(),
            init=bool(svc.get("init")),
            tty=bool(svc.get("tty")),
            stdin_open=bool(svc.get("stdin_open")),
            stop_signal=svc.get("stop_signal") or None,
            stop_timeout=(
                duration_seconds(svc["stop_grace_period"])
                if svc.get("stop_grace_period") is not None
                else 10.0
            ),
            restart=self.restart(),
            healthcheck=self.healthcheck(),
            resources=self.resources(),
            shm_size=byte_size(svc["shm_size"]) if svc.get("shm_size") is not None else None,
            ipc_mode=self._ref(str(svc["ipc"]), "ipc") if svc.get("ipc") else None,
            pid_mode=self._ref(str(svc["pid"]), "pid") if svc.get("pid") else None,
            cgroupns_mode=str(svc["cgroup"]) if svc.get("cgroup") else None,
            log_max_size=log_size,
            log_max_file=log_files,
            network_mode=network_mode,
            networks=networks,
            ports=self.ports(),
            expose=tuple(str(x) for x in svc.get("expose") or ()),
            dns=tuple(str(x) for x in _list(svc.get("dns"))),
            dns_search=tuple(str(x) for x in _list(svc.get("dns_search"))),
            dns_opt=tuple(str(x) for x in svc.get("dns_opt") or ()),
            extra_hosts=self.extra_hosts(),
        )

    # -- network ------------------------------------------------------------------------------------

    def networks(self, cname: str) -> tuple[str, tuple[NetworkAttachment, ...]]:
        svc = self.svc
        mode = svc.get("network_mode")
        if mode:
            mode = str(mode)
            if mode.startswith("service:"):
                return self._ref(mode, "network_mode"), ()
            if mode in ("host", "none") or mode.startswith("container:"):
                return mode, ()
            if mode != "bridge":
                # any other value names an existing network, as docker's engine reads it (an
                # unknown one fails the create: "network bogus not found")
                return "bridge", (NetworkAttachment(network=mode, aliases=(self.service,)),)
        nets = svc.get("networks")
        if nets is None:
            nets = {"default": None} if "default" in self.p.networks or not self.p.networks else {}
        from composer.units import mac_address
        link_aliases = self._link_aliases()

        def prio(cfg: Any) -> int:
            return int((cfg or {}).get("gw_priority", (cfg or {}).get("priority", 0)) or 0)

        out: list[NetworkAttachment] = []
        # highest priority first (the first carries the default route); stable: file order
        for i, (key, cfg) in enumerate(sorted(nets.items(), key=lambda kv: -prio(kv[1]))):
            cfg = cfg or {}
            aliases = [self.service, *(cfg.get("aliases") or ()), *link_aliases]
            if svc.get("container_name"):
                aliases.append(cname)
            # the service-level address is the primary network's only, as docker compose's
            # prepareContainerMACAddress (plan._check_macs refused one unlike that network's own)
            mac = cfg.get("mac_address") or (svc.get("mac_address") if i == 0 else None)
            out.append(
                NetworkAttachment(
                    network=network_name(self.p, key),
                    aliases=tuple(dict.fromkeys(str(a) for a in aliases)),
                    ipv4_address=cfg.get("ipv4_address") or None,
                    ipv6_address=cfg.get("ipv6_address") or None,
                    mac_address=mac_address(mac) if mac else None,
                    interface_name=cfg.get("interface_name") or None,
                    priority=prio(cfg),
                )
            )
        return "bridge", tuple(out)

    def _link_aliases(self) -> list[str]:
        """Aliases other services give this one with `links: [this:alias]`, unselected ones too:
        `up web` alone recreates web, and its running clients still reach it by their link alias."""
        found: list[str] = []
        for other in (*self.p.services.values(), *self.p.disabled_services.values()):
            for link in other.get("links") or ():
                target, _, alias = str(link).partition(":")
                if target == self.service and alias:
                    found.append(alias)
        return found

    def ports(self) -> tuple[PortMapping, ...]:
        out: list[PortMapping] = []
        for port in self.svc.get("ports") or ():
            if not isinstance(port, Mapping):
                raise ValueError(f"port {port!r} is not in canonical form")
            published = str(port.get("published") or "")
            targets = _port_range(str(port["target"]))
            hosts = _port_range(published) if published else [0] * len(targets)
            if len(hosts) != len(targets):
                hosts = [hosts[0]] * len(targets)  # a host range for one port: the runtime takes the first
            proto = str(port.get("protocol") or "tcp")
            if proto not in ("tcp", "udp"):
                raise ValueError(f"port protocol {proto!r}; expected tcp or udp")
            for host, target in zip(hosts, targets, strict=True):
                out.append(
                    PortMapping(
                        container_port=target,
                        host_port=host,
                        protocol=proto,  # type: ignore[arg-type]
                        host_ip=str(port.get("host_ip") or ""),
                    )
                )
        return tuple(out)

    def extra_hosts(self) -> tuple[tuple[str, str], ...]:
        raw = self.svc.get("extra_hosts") or ()
        items = [f"{k}={v}" for k, vs in raw.items() for v in _list(vs)] if isinstance(raw, Mapping) else raw
        out = []
        for item in items:
            item = str(item)
            sep = "=" if "=" in item else ":"
            host, _, addr = item.partition(sep)
            out.append((host, addr.strip("[]")))
        return tuple(out)

    # -- storage ------------------------------------------------------------------------------------

    def mounts(self) -> tuple[Mount, ...]:
        from composer.units import byte_size
        out: list[Mount] = []
        for vol in self.svc.get("volumes") or ():
            if not isinstance(vol, Mapping):
                raise ValueError(f"volume {vol!r} is not in canonical form")
            kind, target = vol.get("type", "volume"), str(vol["target"])
            ro = bool(vol.get("read_only"))
            if kind == "volume":
                opts = vol.get("volume") or {}
                src = vol.get("source")
                out.append(
                    Mount(
                        type="volume",
                        target=target,
                        read_only=ro,
                        source=volume_name(self.p, src) if src else self.anon.get(target, ""),
                        nocopy=bool(opts.get("nocopy")),
                        subpath=str(opts.get("subpath") or ""),
                    )
                )
            elif kind == "bind":
                opts = vol.get("bind") or {}
                out.append(
                    Mount(
                        type="bind",
                        target=target,
                        read_only=ro,
                        source=str(vol["source"]),
                        propagation=str(opts.get("propagation") or "rprivate"),
                        create_host_path=bool(opts.get("create_host_path", False)),  # short syntax: True
                        recursive=str(opts.get("recursive") or "enabled"),
                    )
                )
            elif kind == "tmpfs":
                opts = vol.get("tmpfs") or {}
                out.append(
                    Mount(
                        type="tmpfs",
                        target=target,
                        read_only=ro,
                        tmpfs_size=byte_size(opts["size"]) if opts.get("size") else None,
                        tmpfs_mode=int(opts["mode"]) if opts.get("mode") is not None else None,
                    )
                )
            else:
                self.warn(f"volumes type {kind!r} at {target}")
        for item in _list(self.svc.get("tmpfs")):
            path, _, raw_opts = str(item).partition(":")
            size = mode = None
            for opt in filter(None, raw_opts.split(",")):
                k, _, v = opt.partition("=")
                if k == "size":
                    size = byte_size(v)
                elif k == "mode":
                    mode = int(v, 8)
            out.append(Mount(type="tmpfs", target=path, tmpfs_size=size, tmpfs_mode=mode))
        out.extend(self.files_mounts("secrets", self.p.secrets, "/run/secrets"))
        out.extend(self.files_mounts("configs", self.p.configs, "/"))
        return tuple(out)

    def files_mounts(self, kind: str, top: Mapping[str, Any], base: str) -> list[Mount]:
        out: list[Mount] = []
        uses: dict[str, int] = {}
        for ref in self.svc.get(kind) or ():
            ref = {"source": ref} if isinstance(ref, str) else ref
            source = str(ref["source"])
            uses[source] = uses.get(source, 0) + 1
            obj = top.get(source)
            if obj is None:
                raise ValueError(f"{kind[:-1]} {source!r} is not defined at the top level")
            target = str(ref.get("target") or source)
            if not target.startswith("/"):
                target = posixpath.join(base, target)
            mode = int(str(ref["mode"]), 8) if ref.get("mode") is not None else 0o444
            uid = int(ref["uid"]) if ref.get("uid") not in (None, "") else None
            gid = int(ref["gid"]) if ref.get("gid") not in (None, "") else None
            # one file per reference: the same secret at two targets may have two owners and modes
            # ('@' cannot occur in a secret's or config's name)
            name = source if uses[source] == 1 else f"{source}@{uses[source]}"
            here = posixpath.join(self.files_dir, kind, name)
            if obj.get("external"):
                self.warn(f"{kind[:-1]} {source!r} (external)")
                continue
            if obj.get("content") is not None:
                self.files.append(
                    ProjectFile(path=here, content=str(obj["content"]).encode(), mode=mode, uid=uid, gid=gid)
                )
                src = here
            elif obj.get("environment"):
                var = str(obj["environment"])
                if var not in self.p.environment:
                    raise ValueError(f"{kind[:-1]} {source!r}: environment variable {var} is not set")
                self.files.append(
                    ProjectFile(
                        path=here, content=self.p.environment[var].encode(), mode=mode, uid=uid, gid=gid
                    )
                )
                src = here
            elif obj.get("file"):
                if ref.get("mode") is not None or uid is not None or gid is not None:
                    # a bind of the original cannot change its owner or mode: mount a copy
                    self.files.append(
                        ProjectFile(path=here, copy_from=str(obj["file"]), mode=mode, uid=uid, gid=gid)
                    )
                    src = here
                else:
                    src = str(obj["file"])
            else:
                raise ValueError(f"{kind[:-1]} {source!r} has no file, environment or content")
            out.append(Mount(type="bind", source=src, target=target, read_only=True, create_host_path=False))
        return out

    def volumes_from(self) -> tuple[str, ...]:
        out = []
        for item in self.svc.get("volumes_from") or ():
            ref, _, mode = str(item).partition(":")
            if ref == "container":
                name, _, mode = mode.partition(":")
                target = name
            else:
                if ref == "service":
                    ref, _, mode = mode.partition(":")
                target = self.ids.get(ref, "")
                if not target:
                    raise ValueError(f"volumes_from refers to service {ref!r} which has no container")
            out.append(f"{target}:{mode}" if mode else target)
        return tuple(out)

    def devices(self) -> tuple[str, ...]:
        out = []
        for dev in self.svc.get("devices") or ():
            if isinstance(dev, Mapping):
                src = str(dev["source"])
                dst = str(dev.get("target") or src)
                perm = str(dev.get("permissions") or "rwm")
                out.append(f"{src}:{dst}:{perm}")
            else:
                out.append(str(dev))
        return tuple(out)

    # -- process ------------------------------------------------------------------------------------

    def restart(self) -> RestartPolicy:
        raw = self.svc.get("restart")
        if raw:
            name, _, count = str(raw).partition(":")
            if name not in ("no", "always", "on-failure", "unless-stopped"):
                raise ValueError(
                    f"restart policy {raw!r}; expected no, always, on-failure[:N] or unless-stopped"
                )
            return RestartPolicy(name=name, max_retries=int(count or 0))  # type: ignore[arg-type]
        policy = (self.svc.get("deploy") or {}).get("restart_policy")
        if policy:
            cond = {"none": "no", "on-failure": "on-failure", "any": "always"}.get(
                str(policy.get("condition") or "any"), "always"
            )
            return RestartPolicy(name=cond, max_retries=int(policy.get("max_attempts") or 0))  # type: ignore[arg-type]
        return RestartPolicy()

    def healthcheck(self) -> Healthcheck | None:
        from composer.units import duration_seconds
        hc = self.svc.get("healthcheck")
        if not hc:
            return None
        if hc.get("disable"):
            return Healthcheck(test=("NONE",))
        test = hc.get("test")
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        if not test:
            # only timings: the image's test with the file's timings is not expressible; keep defaults
            self.warn("healthcheck without test", "not supported; the image's healthcheck is used")
            return None
        d = duration_seconds
        return Healthcheck(
            test=tuple(str(x) for x in test),
            interval=d(hc["interval"]) if hc.get("interval") is not None else 30.0,
            timeout=d(hc["timeout"]) if hc.get("timeout") is not None else 30.0,
            retries=int(hc["retries"]) if hc.get("retries") is not None else 3,
            start_period=d(hc["start_period"]) if hc.get("start_period") is not None else 0.0,
            start_interval=d(hc["start_interval"]) if hc.get("start_interval") is not None else 5.0,
        )

    def ulimits(self) -> dict[str, tuple[int, int]]:
        out = {}
        for name, value in (self.svc.get("ulimits") or {}).items():
            if isinstance(value, Mapping):
                if value.get("single") is not None:
                    out[str(name)] = (int(value["single"]), int(value["single"]))
                else:
                    out[str(name)] = (int(value["soft"]), int(value["hard"]))
            else:
                out[str(name)] = (int(value), int(value))
        return out

    def resources(self) -> Resources:
        from composer.units import byte_size
        svc = self.svc
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        reserv = ((svc.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
        memory = svc.get("mem_limit") or limits.get("memory")
        cpus = svc.get("cpus") or limits.get("cpus")
        pids = svc.get("pids_limit") or limits.get("pids")
        reservation = svc.get("mem_reservation") or reserv.get("memory")
        # as docker compose's setReservations: only memory (MemoryReservation) is set
        if reserv.get("cpus") is not None:
            self.warn("deploy.resources.reservations.cpus", "not applied: a cpu reservation is a swarm "
                      "scheduling option with no cgroup setting (docker compose does not set it either)")
        if reserv.get("devices"):
            self.warn("deploy.resources.reservations.devices", "not supported; ignored (no device requests)")
        if reserv.get("generic_resources"):
            self.warn("deploy.resources.reservations.generic_resources",
                      "not applied: generic resources are a swarm scheduling option")
        swap = svc.get("memswap_limit")
        return Resources(
            memory=byte_size(memory) if memory else None,
            memory_reservation=byte_size(reservation) if reservation else None,
            memory_swap=byte_size(swap) if swap not in (None, 0, "0") else None,
            cpus=float(cpus) if cpus else None,
            cpu_shares=int(svc["cpu_shares"]) if svc.get("cpu_shares") else None,
            cpuset=str(svc["cpuset"]) if svc.get("cpuset") else None,
            pids_limit=int(pids) if pids else None,
            oom_kill_disable=bool(svc.get("oom_kill_disable")),
            **_blkio(svc.get("blkio_config") or {}),
        )

    def security(self) -> tuple[bool, str]:
        nnp, seccomp = True, "default"
        for opt in self.svc.get("security_opt") or ():
            opt = str(opt)
            key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
            if key == "no-new-privileges":
                nnp = value.lower() in ("", "true", "1") if sep else True
            elif key == "seccomp":
                seccomp = value or "default"
            else:
                self.warn(f"security_opt {opt!r}")
        return nnp, seccomp

    def logging(self) -> tuple[int | None, int]:
        from composer.units import byte_size
        logging = self.svc.get("logging") or {}
        driver = logging.get("driver")
        if driver and driver not in _LOG_DRIVERS:
            self.warn(f"logging driver {driver!r}", "not supported; using json-file")
        opts = logging.get("options") or {}
        size = byte_size(opts["max-size"]) if opts.get("max-size") else None
        files = int(opts.get("max-file") or 1)
        for key in opts:
            if key not in ("max-size", "max-file"):
                self.warn(f"logging option {key!r}")
        return size, files


# ---- helpers -------------------------------------------------------------------------------------


def _blkio(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """blkio_config (canonical: ints) as Resources' blkio fields, as docker compose's setBlkio."""
    def pairs(key: str, value: str) -> tuple[tuple[str, int], ...]:
        return tuple((str(d["path"]), int(d.get(value) or 0)) for d in cfg.get(key) or () if d.get("path"))

    return {
        "blkio_weight": int(cfg["weight"]) if cfg.get("weight") else None,
        "blkio_weight_device": pairs("weight_device", "weight"),
        "blkio_read_bps": pairs("device_read_bps", "rate"),
        "blkio_write_bps": pairs("device_write_bps", "rate"),
        "blkio_read_iops": pairs("device_read_iops", "rate"),
        "blkio_write_iops": pairs("device_write_iops", "rate"),
    }


def _argv(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        import shlex

        return tuple(shlex.split(value))
    return tuple(str(x) for x in value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    out = {}
    for item in value:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


def _port_range(text: str) -> list[int]:
    if "-" in text:
        lo, _, hi = text.partition("-")
        a, b = int(lo), int(hi)
        if b < a:
            raise ValueError(f"invalid port range {text!r}; expected START-END")
        return list(range(a, b + 1))
    return [int(text)]

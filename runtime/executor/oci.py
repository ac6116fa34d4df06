"""PURE: a ContainerSpec, its image's config and its network turned into an OCI runtime spec.

The result is the ``config.json`` of an OCI bundle: composer's executor runs it, and so can crun
(a cross-check). Nothing here touches the system: every host fact (resolved user, capabilities,
clamped rlimits, volume directories) is passed in.
"""

from __future__ import annotations

import _signal  # not the signal module: it turns every constant into an enum at import
from collections.abc import Mapping, Sequence

from runtime.errors import InvalidSpec
from runtime.executor.user import User
from runtime.record import field, record  # record's field: no dataclasses import (F16)
from runtime.spec import ContainerNet, ContainerSpec, Mount, Resources

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

OCI_VERSION: Final = "1.0.2"
DEFAULT_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE: Final = 64 * 1024 * 1024
INIT_TARGET: Final = "/dev/init"  # where the `init: true` binary is bound (docker: /sbin/docker-init)

FALLBACK_MASKED: Final[tuple[str, ...]] = (
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
)
FALLBACK_READONLY: Final[tuple[str, ...]] = (
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
# (path, type, major, minor, mode): the nodes every container gets (bound from the host's)
FALLBACK_DEVICES: Final[tuple[tuple[str, str, int, int, int], ...]] = (
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
)


@record
class BundleInputs:
    """Host facts the spec needs, resolved by the caller."""

    container_id: str
    rootfs: str
    user: User
    caps: frozenset[str]
    net: ContainerNet
    hostname_path: str  # host file bound at /etc/hostname
    # target -> host dir (volumes; one with a device: its own dir, where the device is mounted)
    volume_sources: Mapping[str, str] = field(default_factory=dict)
    rlimits: Sequence[tuple[str, int, int]] = ()  # ("nofile", soft, hard), already clamped
    masked_paths: Sequence[str] = FALLBACK_MASKED
    readonly_paths: Sequence[str] = FALLBACK_READONLY
    devices: Sequence[tuple[str, str, int, int, int]] = FALLBACK_DEVICES
    seccomp: Mapping[str, Any] | None = None  # OCI linux.seccomp object; None: unconfined
    init_path: str | None = None  # host binary bound at INIT_TARGET (init: true)
    cgroups_path: str = ""
    # a privileged container's extra nodes: every host device (hostdev.host_devices(), read when
    # None; pass them to keep this module pure)
    host_devices: Sequence[tuple[str, str, int, int, int]] | None = None


def process_args(spec: ContainerSpec, image_config: Mapping[str, Any]) -> list[str]:
    """Entrypoint + command with the rules of docker's daemon (moby's merge of the user's config
    with the image's): a given entrypoint also resets the image's Cmd; an empty one (an entrypoint
    cleared, or none given) leaves an empty command to the image's Cmd."""
    entrypoint = (
        list(spec.entrypoint) if spec.entrypoint is not None else list(image_config.get("Entrypoint") or [])
    )
    cmd = list(spec.command or ())
    if not spec.entrypoint and not cmd:
        cmd = list(image_config.get("Cmd") or [])
    args = entrypoint + cmd
    if not args:
        raise InvalidSpec(f"container {spec.name}: no command specified")
    return args


def merge_env(spec: ContainerSpec, image_config: Mapping[str, Any], hostname: str) -> list[str]:
    """The image's Env, then HOSTNAME, then the spec's env on top (order kept, keys unique)."""
    env: dict[str, str] = {}
    for item in image_config.get("Env") or []:
        k, _, v = str(item).partition("=")
        env[k] = v
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOSTNAME"] = hostname
    if spec.tty:
        env.setdefault("TERM", "xterm")
    env.update(spec.env)
    return [f"{k}={v}" for k, v in env.items()]


def stop_signal(spec: ContainerSpec, image_config: Mapping[str, Any]) -> int:
    """The spec's stop signal, else the image's StopSignal, else SIGTERM, as a number."""
    return parse_signal(spec.stop_signal or str(image_config.get("StopSignal") or "") or "SIGTERM", spec.name)


def parse_signal(raw: str | int, where: str) -> int:
    if isinstance(raw, int):
        return raw
    s = raw.strip().upper()
    if s.isdigit():
        return int(s)
    if not s.startswith("SIG"):
        s = "SIG" + s
    number = getattr(_signal, s, None) if not s.startswith("SIG_") else None  # not SIG_DFL, SIG_IGN
    if not isinstance(number, int):  # as signal.Signals' names: SIGTERM, SIGRTMIN, the aliases SIGIOT, SIGCLD
        raise InvalidSpec(f"container {where}: unknown signal {raw!r}")
    return number


def _default_mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    shm = spec.shm_size if spec.shm_size is not None else DEFAULT_SHM_SIZE
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],  # as podman
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            # "cgroup": the host's layout (init.py's mount_cgroup_tree), as crun and runc read it
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]
    if spec.ipc_mode == "host":
        # the host's IPC namespace and its /dev/shm with it (docker's ShmPath "/dev/shm"; podman
        # binds it with nosuid, noexec, nodev): POSIX shm objects are shared as SysV ones are
        shm_mount = {
            "destination": "/dev/shm",
            "type": "bind",
            "source": "/dev/shm",
            "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev"],
        }
    else:
        shm_mount = {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"],
        }
    mounts.insert(3, shm_mount)
    if spec.privileged:
        for m in mounts:
            if m["type"] in ("sysfs", "cgroup"):
                m["options"] = [o for o in m["options"] if o != "ro"]
    return mounts


def _user_mount(m: Mount, spec: ContainerSpec, inputs: BundleInputs) -> dict[str, Any]:
    if not m.target.startswith("/"):
        raise InvalidSpec(f"container {spec.name}: mount target {m.target!r} is not absolute")
    ro = ["ro"] if m.read_only else []
    rro = ["rro"] if m.read_only else []  # a bind: read-only with the mounts under it, as docker's
    if m.type == "tmpfs":
        opts = ["nosuid", "nodev", *ro]
        if m.tmpfs_size is not None:
            opts.append(f"size={m.tmpfs_size}")
        opts.append(f"mode={m.tmpfs_mode:o}" if m.tmpfs_mode is not None else "mode=1777")
        return {"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": opts}
    if m.type == "volume":
        source = inputs.volume_sources.get(m.target)
        if source is None:
            raise InvalidSpec(f"container {spec.name}: volume for {m.target} was not prepared")
        entry = {"destination": m.target, "type": "bind", "source": source,
                 "options": ["rbind", "rprivate", *rro]}
        if m.subpath:
            # the init opens the subpath under the volume without following a link out of it
            entry.update(source=f"{source}/{m.subpath}", beneath=source, subpath=m.subpath)
        return entry
    if not m.source.startswith("/"):
        raise InvalidSpec(f"container {spec.name}: bind source {m.source!r} is not absolute")
    # compose's bind.recursive as docker compose maps it: disabled binds no submount (NonRecursive),
    # writable keeps them writable under a read-only top (ReadOnlyNonRecursive)
    if m.recursive == "writable" and m.read_only:
        rro = ["ro"]
    return {
        "destination": m.target,
        "type": "bind",
        "source": m.source,
        "options": ["bind" if m.recursive == "disabled" else "rbind", m.propagation or "rprivate", *rro],
    }


def _resources(spec: ContainerSpec) -> dict[str, Any]:
    r = spec.resources
    out: dict[str, Any] = {}
    mem: dict[str, Any] = {}
    if r.memory is not None:
        mem["limit"] = r.memory
    if r.memory_reservation is not None:
        mem["reservation"] = r.memory_reservation
    if r.memory_swap is not None:
        mem["swap"] = r.memory_swap
    if r.oom_kill_disable:
        mem["disableOOMKiller"] = True
    if mem:
        out["memory"] = mem
    cpu: dict[str, Any] = {}
    if r.cpus is not None:
        cpu["period"] = 100000
        cpu["quota"] = int(r.cpus * 100000)
    if r.cpu_shares is not None:
        cpu["shares"] = r.cpu_shares
    if r.cpuset is not None:
        cpu["cpus"] = r.cpuset
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None:
        out["pids"] = {"limit": r.pids_limit}
    if r.blkio_weight or r.blkio_weight_device or r.blkio_read_bps or r.blkio_write_bps \
            or r.blkio_read_iops or r.blkio_write_iops:  # for crun running the bundle (ours: Cgroup.create)
        out["blockIO"] = _block_io(r)
    return out


def _block_io(r: Resources) -> dict[str, Any]:
    from runtime.cgroups import block_device

    def dev(path: str) -> dict[str, int]:
        major, minor = block_device(path).split(":")
        return {"major": int(major), "minor": int(minor)}

    out: dict[str, Any] = {}
    if r.blkio_weight:
        out["weight"] = r.blkio_weight
    if r.blkio_weight_device:
        out["weightDevice"] = [{**dev(p), "weight": w} for p, w in r.blkio_weight_device]
    for key, pairs in (("throttleReadBpsDevice", r.blkio_read_bps),
                       ("throttleWriteBpsDevice", r.blkio_write_bps),
                       ("throttleReadIOPSDevice", r.blkio_read_iops),
                       ("throttleWriteIOPSDevice", r.blkio_write_iops)):
        if pairs:
            out[key] = [{**dev(p), "rate": n} for p, n in pairs]
    return out


def _namespaces(spec: ContainerSpec, net: ContainerNet) -> list[dict[str, str]]:
    ns: list[dict[str, str]] = [{"type": "mount"}, {"type": "uts"}]
    if spec.cgroupns_mode != "host":
        ns.append({"type": "cgroup"})
    if spec.pid_mode != "host":
        ns.append({"type": "pid"})
    if spec.ipc_mode != "host":
        ns.append({"type": "ipc"})
    if net.netns_path is not None:
        ns.append({"type": "network", "path": net.netns_path})
    return ns


def _capabilities(caps: frozenset[str]) -> dict[str, list[str]]:
    names = sorted(c if c.startswith("CAP_") else f"CAP_{c}" for c in caps)
    return {"bounding": names, "effective": names, "permitted": names}


def build_config(
    spec: ContainerSpec, image_config: Mapping[str, Any], inputs: BundleInputs
) -> dict[str, Any]:
    """The OCI runtime spec (config.json) of one container."""
    hostname = inputs.net.hostname or inputs.container_id[:12]
    args = process_args(spec, image_config)
    if spec.init:
        if inputs.init_path is None:
            raise InvalidSpec(f"container {spec.name}: init requested but no init binary is available")
        args = [INIT_TARGET, "--", *args]
    u = inputs.user
    gids = list(u.additional_gids)
    process: dict[str, Any] = {
        "terminal": spec.tty,
        "user": {"uid": u.uid, "gid": u.gid, **({"additionalGids": gids} if gids else {})},
        "args": args,
        "env": merge_env(spec, image_config, hostname),
        "cwd": spec.working_dir or str(image_config.get("WorkingDir") or "") or "/",
        "capabilities": _capabilities(inputs.caps),
        "rlimits": [{"type": f"RLIMIT_{n.upper()}", "soft": s, "hard": h} for n, s, h in inputs.rlimits],
        "noNewPrivileges": spec.no_new_privileges,
    }
    if spec.tty and spec.console_size:  # the terminal's size from its first moment, as docker's
        process["consoleSize"] = {"height": spec.console_size[0], "width": spec.console_size[1]}
    if not any(e.startswith("HOME=") for e in process["env"]):
        process["env"].append(f"HOME={u.home}")
    mounts = _default_mounts(spec)
    if spec.init and inputs.init_path:
        mounts.append(
            {
                "destination": INIT_TARGET,
                "type": "bind",
                "source": inputs.init_path,
                "options": ["bind", "ro", "nosuid", "nodev"],
            }
        )
    for m in spec.mounts:
        mounts.append(_user_mount(m, spec, inputs))
    targets = {m.target for m in spec.mounts}
    for dest, src in (
        ("/etc/hosts", inputs.net.hosts_path),
        ("/etc/resolv.conf", inputs.net.resolv_path),
        ("/etc/hostname", inputs.hostname_path),
    ):
        if dest not in targets and src:
            mounts.append(
                {"destination": dest, "type": "bind", "source": src, "options": ["bind", "rprivate"]}
            )
    devices = list(inputs.devices)
    if spec.privileged:  # as podman and docker: the host's devices, the defaults kept first
        if inputs.host_devices is None:
            from runtime.executor.hostdev import host_devices

            extra: Sequence[tuple[str, str, int, int, int]] = host_devices()
        else:
            extra = inputs.host_devices
        seen = {d[0] for d in devices}
        devices += [d for d in extra if d[0] not in seen]
    linux: dict[str, Any] = {
        "namespaces": _namespaces(spec, inputs.net),
        "maskedPaths": []
        if spec.privileged
        else list(spec.masked_paths if spec.masked_paths is not None else inputs.masked_paths),
        "readonlyPaths": []
        if spec.privileged
        else list(spec.readonly_paths if spec.readonly_paths is not None else inputs.readonly_paths),
        "resources": _resources(spec),
        "sysctl": dict(spec.sysctls),
        "devices": [
            {"path": p, "type": t, "major": ma, "minor": mi, "fileMode": mode, "uid": 0, "gid": 0}
            for p, t, ma, mi, mode in devices
        ],
        "rootfsPropagation": "rprivate",
    }
    if inputs.cgroups_path:
        linux["cgroupsPath"] = inputs.cgroups_path
    if inputs.seccomp is not None and not spec.privileged:
        linux["seccomp"] = dict(inputs.seccomp)
    config: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": inputs.rootfs, "readonly": spec.read_only},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
        "annotations": {"org.opencontainers.image.stopSignal": str(stop_signal(spec, image_config))},
    }
    if spec.domainname:
        config["domainname"] = spec.domainname
    return config

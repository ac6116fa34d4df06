"""Runtime-level specs: what a caller (composer, the CLI nouns) asks the engine for.

This is the contract between composer/ and runtime/ and between the parts of runtime/. It knows
nothing of compose files: composer's specgen turns a service into a ContainerSpec, the way podman's
specgen does. All values are already validated and normalised (bytes as ints, durations as float
seconds, argv as tuples). Standard library only: the monitor imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping

from runtime.record import field, record  # a frozen keyword-only dataclass, defined without exec (F6)

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Literal

    MountType = Literal["bind", "volume", "tmpfs"]


@record
class Mount:
    type: MountType
    target: str                      # absolute path inside the container
    source: str = ""                 # host path (bind), volume name (volume; "" = anonymous), "" (tmpfs)
    read_only: bool = False
    propagation: str = "rprivate"    # bind: private|rprivate|shared|rshared|slave|rslave
    create_host_path: bool = True    # bind: create a missing source dir (compose's default)
    tmpfs_size: int | None = None    # bytes
    tmpfs_mode: int | None = None    # e.g. 0o1777
    nocopy: bool = False             # volume: do not copy image content into a new volume
    subpath: str = ""                # volume: mount only this sub path
    recursive: str = "enabled"       # bind: enabled|disabled (no submounts)|writable (ro top only)|readonly


@record
class PortMapping:
    container_port: int
    host_port: int = 0               # 0: a free port chosen by the runtime
    protocol: Literal["tcp", "udp"] = "tcp"
    host_ip: str = ""                # "" = every host address (v4 and v6)


@record
class NetworkAttachment:
    network: str                     # runtime network name, e.g. "demo_default"
    aliases: tuple[str, ...] = ()    # names that resolve to this container on that network
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    interface_name: str | None = None
    priority: int = 0                # higher first; the first attachment carries the default route


@record
class Healthcheck:
    test: tuple[str, ...]            # OCI/docker form: ("CMD", ...) | ("CMD-SHELL", cmd) | ("NONE",)
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0


@record
class RestartPolicy:
    name: Literal["no", "always", "on-failure", "unless-stopped"] = "no"
    max_retries: int = 0             # on-failure:N; 0 = unlimited


@record
class Resources:
    memory: int | None = None        # bytes (mem_limit, deploy.resources.limits.memory)
    memory_reservation: int | None = None
    memory_swap: int | None = None   # bytes; -1 unlimited
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    oom_kill_disable: bool = False
    # block I/O (compose's blkio_config, docker's --blkio-weight...): devices by host path
    blkio_weight: int | None = None                         # 10 to 1000
    blkio_weight_device: tuple[tuple[str, int], ...] = ()    # (path, weight)
    blkio_read_bps: tuple[tuple[str, int], ...] = ()         # (path, bytes per second)
    blkio_write_bps: tuple[tuple[str, int], ...] = ()
    blkio_read_iops: tuple[tuple[str, int], ...] = ()        # (path, operations per second)
    blkio_write_iops: tuple[tuple[str, int], ...] = ()


@record
class ContainerSpec:
    """Everything needed to create one container. Names are final (``demo-web-1``)."""

    name: str
    image: str                                  # a reference the image store resolves
    command: tuple[str, ...] | None = None      # None: the image's Cmd
    entrypoint: tuple[str, ...] | None = None   # None: the image's Entrypoint; () clears it
    env: Mapping[str, str] = field(default_factory=dict)  # merged over the image's Env
    working_dir: str | None = None
    user: str | None = None                     # "name", "uid", "uid:gid", "name:group"
    group_add: tuple[str, ...] = ()
    hostname: str | None = None                 # None: first 12 chars of the id
    domainname: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    pod: str | None = None                      # pod name; its cgroup parent groups the containers
    mounts: tuple[Mount, ...] = ()
    volumes_from: tuple[str, ...] = ()          # "container[:ro|:rw]"
    read_only: bool = False
    volatile: bool = False                      # the rootfs skips syncs: not kept past a crash (run --rm)
    # security
    privileged: bool = False
    cap_add: tuple[str, ...] = ()               # "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL"
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = True
    seccomp: str = "default"                    # "default" | "unconfined" | path to a JSON profile
    masked_paths: tuple[str, ...] | None = None      # None: the defaults
    readonly_paths: tuple[str, ...] | None = None    # None: the defaults
    sysctls: Mapping[str, str] = field(default_factory=dict)
    ulimits: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # "nofile": (soft, hard)
    devices: tuple[str, ...] = ()               # "/dev/x[:/dev/y[:rwm]]"
    # process
    init: bool = False
    tty: bool = False
    console_size: tuple[int, int] | None = None  # tty: (rows, columns) at its start (docker's ConsoleSize)
    stdin_open: bool = False
    stop_signal: str | None = None              # None: the image's StopSignal, else SIGTERM
    stop_timeout: float = 10.0
    restart: RestartPolicy = RestartPolicy()
    healthcheck: Healthcheck | None = None      # None: the image's; Healthcheck(test=("NONE",)) disables
    resources: Resources = Resources()
    shm_size: int | None = None                 # bytes; None: 64 MiB
    ipc_mode: str | None = None                 # None (private) | "host" | "shareable" | "container:ID"
    pid_mode: str | None = None                 # None (private) | "host" | "container:ID"
    cgroupns_mode: str | None = None            # None (private) | "private" | "host": the host's cgroup ns
    log_max_size: int | None = None             # bytes; rotate logs past this
    log_max_file: int = 1
    # network
    network_mode: str = "bridge"                # "bridge" | "none" | "host" | "container:ID"
    networks: tuple[NetworkAttachment, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    expose: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()   # (hostname, address)


@record
class ExecSpec:
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    tty: bool = False
    stdin_open: bool = False
    privileged: bool = False
    detach: bool = False


@record
class IPAMConfig:
    subnet: str
    gateway: str | None = None
    ip_range: str | None = None


@record
class NetworkSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    internal: bool = False
    enable_ipv6: bool = False
    ipam: tuple[IPAMConfig, ...] = ()           # () = a free subnet from the pool
    driver_opts: Mapping[str, str] = field(default_factory=dict)  # "mtu", "com.docker.network.bridge.name"
    attachable: bool = True
    # the embedded resolver answers its containers' names (podman's dns_enabled: on for the
    # networks made with `network create` and compose's, off for the engine's default network)
    dns_enabled: bool = True


@record
class VolumeSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    driver_opts: Mapping[str, str] = field(default_factory=dict)  # local driver: type, device, o


@record
class PodSpec:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


# ---- what the engine reports back ------------------------------------------------------------

if TYPE_CHECKING:
    ContainerStatus = Literal["created", "running", "paused", "restarting", "exited", "dead"]
    HealthStatus = Literal["", "starting", "healthy", "unhealthy"]


@record
class ContainerInfo:
    id: str
    name: str
    image: str                  # the reference as asked for
    image_id: str
    labels: Mapping[str, str]
    status: ContainerStatus
    created_at: str             # RFC 3339
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    exit_signal: str | None = None
    oom_killed: bool = False
    pid: int = 0
    health: HealthStatus = ""
    restart_count: int = 0
    command: tuple[str, ...] = ()
    ports: tuple[tuple[PortMapping, int], ...] = ()       # (asked, actual host port)
    networks: Mapping[str, str] = field(default_factory=dict)  # network -> ipv4 address
    pod: str | None = None
    spec: ContainerSpec | None = None
    mounts: tuple[tuple[str, str], ...] = ()  # (target, volume name) of every volume mount, anonymous too
    error: str = ""             # why the last start failed ("" when it did not)
    warnings: tuple[str, ...] = ()  # create's only: what it could not apply (docker's create Warnings)


@record
class EndpointInfo:
    """One network attachment of a container, as `inspect` shows it."""

    network: str
    network_id: str
    ipv4: str = ""
    prefix4: int = 0
    gateway4: str = ""
    ipv6: str = ""
    prefix6: int = 0
    gateway6: str = ""
    mac: str = ""
    aliases: tuple[str, ...] = ()
    endpoint_id: str = ""


@record
class ContainerDetails:
    """What `inspect` shows beyond ContainerInfo; read only for it (list and ps never pay for it)."""

    info: ContainerInfo
    image_config: Mapping[str, object]          # the image's OCI "config" object, as at create
    health: Mapping[str, object] | None = None  # docker's State.Health: Status, FailingStreak, Log
    endpoints: tuple[EndpointInfo, ...] = ()
    volume_dirs: Mapping[str, str] = field(default_factory=dict)  # mount target -> host dir of a volume
    container_dir: str = ""     # its upper, work and rootfs dirs
    log_path: str = ""
    hosts_path: str = ""
    resolv_path: str = ""
    hostname_path: str = ""
    sandbox_key: str = ""       # the pinned network namespace ("" in the host's)


@record
class LogRecord:
    time: str                   # RFC 3339 with nanoseconds, UTC
    stream: Literal["stdout", "stderr"]
    text: bytes                 # without the trailing newline
    partial: bool = False       # True: the line continues in the next record (P in the log file)


@record
class ImageInfo:
    id: str                     # "sha256:<hex>" of the image config
    refs: tuple[str, ...]       # normalised references, e.g. "localhost/busybox:latest"
    config: Mapping[str, object]  # OCI image config "config" object: Env, Cmd, Entrypoint, WorkingDir,
                                  # User, ExposedPorts, StopSignal, Labels, Volumes, Healthcheck
    layers: tuple[str, ...]     # diff ids, lowest first
    layer_dirs: tuple[str, ...]  # unpacked layer directories, lowest first (overlay lowerdirs)
    size: int
    created: str


@record
class VolumeInfo:
    name: str
    mountpoint: str
    labels: Mapping[str, str]
    driver: str = "local"
    options: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""
    anonymous: bool = False


@record
class NetworkMember:
    """One container attached to a network, as `network inspect` shows it."""

    name: str
    endpoint_id: str
    mac: str = ""
    ipv4: str = ""
    prefix4: int = 0
    ipv6: str = ""
    prefix6: int = 0


@record
class NetworkInfo:
    name: str
    id: str
    bridge: str                 # Linux bridge interface name
    subnets: tuple[str, ...]
    gateways: tuple[str, ...]
    internal: bool
    enable_ipv6: bool
    labels: Mapping[str, str]
    created_at: str = ""
    containers: Mapping[str, str] = field(default_factory=dict)   # container id -> ipv4
    attachable: bool = False
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    mtu: int | None = None
    ip_ranges: tuple[str | None, ...] = ()                         # per subnet, None: the whole subnet
    members: Mapping[str, NetworkMember] = field(default_factory=dict)  # container id -> endpoint


@record
class PodInfo:
    name: str
    id: str
    labels: Mapping[str, str]
    containers: tuple[str, ...]   # container ids
    created_at: str = ""
    cgroup_parent: str = ""


@record
class ContainerNet:
    """What NetworkManager.setup_container prepared for one container (before its init starts)."""

    netns_path: str | None      # pinned netns to setns() into; None: the host's (network_mode host)
    hosts_path: str             # bind-mount at /etc/hosts (rewritten in place when peers change)
    resolv_path: str            # bind-mount at /etc/resolv.conf
    hostname: str
    addresses: Mapping[str, str] = field(default_factory=dict)   # network -> ipv4
    ports: tuple[tuple[PortMapping, int], ...] = ()               # (asked, actual host port)


def endpoint_id(container_id: str, network_id: str) -> str:
    """The id of a container's endpoint on a network (docker's EndpointID, 64 hex digits): derived,
    not stored, so that container and network inspect agree without a record of their own."""
    from runtime.digest import sha256

    return sha256(f"{container_id}/{network_id}".encode()).hexdigest()


def default_hostname(spec: ContainerSpec, container_id: str) -> str:
    """The container's hostname: the file's, else the first 12 characters of its id (as docker)."""
    return spec.hostname or container_id[:12]

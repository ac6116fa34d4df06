"""Default hardening tables, as podman and Docker apply them (moby oci/defaults.go, containers/common
pkg/config): masked and read-only paths, the standard device nodes, and which sysctls a container
may set. Standard library only."""

from __future__ import annotations

from runtime.errors import InvalidSpec
from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final, Literal

__all__ = ["DEFAULT_DEVICES", "DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS",
           "DEFAULT_SYSCTL_ALLOWED", "DeviceNode", "check_sysctl"]

# podman's lists (containers/common); Docker's differ only in masking /proc/asound (and
# /proc/interrupts in recent versions) instead of making it read-only.
# Hidden from the container: a bind of /dev/null over files, an empty read-only tmpfs over dirs.
DEFAULT_MASKED_PATHS: Final[tuple[str, ...]] = (
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
)

# Bind-mounted read-only onto themselves.
DEFAULT_READONLY_PATHS: Final[tuple[str, ...]] = (
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


@record  # a frozen keyword-only dataclass, defined without exec (FINDINGS F6)
class DeviceNode:
    path: str
    type: Literal["c", "b"]
    major: int
    minor: int
    mode: int = 0o666
    uid: int = 0
    gid: int = 0


# Created in the container's /dev (a tmpfs); /dev/ptmx is a symlink to pts/ptmx of its own devpts,
# which is why 5:2 is also allowed in the devices cgroup (see runtime/cgroups.py).
DEFAULT_DEVICES: Final[tuple[DeviceNode, ...]] = (
    DeviceNode(path="/dev/null", type="c", major=1, minor=3),
    DeviceNode(path="/dev/zero", type="c", major=1, minor=5),
    DeviceNode(path="/dev/full", type="c", major=1, minor=7),
    DeviceNode(path="/dev/random", type="c", major=1, minor=8),
    DeviceNode(path="/dev/urandom", type="c", major=1, minor=9),
    DeviceNode(path="/dev/tty", type="c", major=5, minor=0),
)
DEFAULT_DEVICE_SYMLINKS: Final[tuple[tuple[str, str], ...]] = (
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/core", "/proc/kcore"),
)

# Namespaced sysctls a container may set (moby's daemon/oci_linux validation, podman likewise):
# exact names and prefixes (ending in "."). net.* only with its own network namespace.
DEFAULT_SYSCTL_ALLOWED: Final[tuple[str, ...]] = (
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.domainname",
    "kernel.hostname", "fs.mqueue.", "net.",
)


def check_sysctl(name: str, network_mode_host: bool) -> None:
    """Raise InvalidSpec unless the container may set sysctl *name* (a namespaced one).

    ``net.*`` is refused with ``network_mode: host``: it would change the host's network stack.
    """
    normalized = name.strip().replace("/", ".")
    for allowed in DEFAULT_SYSCTL_ALLOWED:
        if allowed.endswith(".") and normalized.startswith(allowed) or normalized == allowed:
            if allowed == "net." and network_mode_host:
                raise InvalidSpec(f'sysctl "{name}" is not allowed with the host network namespace')
            return
    raise InvalidSpec(f'sysctl "{name}" is not namespaced and cannot be set in a container')

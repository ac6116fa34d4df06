"""Linux capabilities: name tables, the docker/podman resolution rules, and the in-container switch.

Standard library only (ctypes): the container init imports this module inside the monitor, which
runs with ``python -I -S``.

What a container gets, as podman does it (pkg/specgen/generate/security_linux.go):
- root (uid 0): bounding = effective = permitted = *caps*; inheritable empty (CVE-2022-27649:
  a non-empty inheritable set leaks capabilities into file-capability binaries run by non-root).
- any other uid: bounding = *caps*; effective = permitted = inheritable = ambient = the caps the
  user asked for explicitly with ``cap_add`` (podman passes ``MergeCapabilities(nil, CapAdd, nil)``),
  usually none. That is also what docker gives in practice: a non-root process loses its
  permitted set on execve unless the caps are ambient.
"""

from __future__ import annotations

import ctypes
import os

from runtime.errors import ExecError, InvalidSpec

TYPE_CHECKING = False  # typing stays out of the monitor: annotations only
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Final

# linux/capability.h, bit numbers; names without the CAP_ prefix.
ALL_CAPS: Final[dict[str, int]] = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

# containers.conf default_capabilities (podman >= 4.0): docker's set minus MKNOD, NET_RAW and
# AUDIT_WRITE.
DEFAULT_CAPS: Final[frozenset[str]] = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
    "SETPCAP", "SETUID", "SYS_CHROOT",
})

__all__ = ["ALL_CAPS", "DEFAULT_CAPS", "apply_identity", "caps_mask", "normalize_cap",
           "preload", "resolve_caps", "set_no_new_privs"]


def normalize_cap(name: str) -> str:
    """``"cap_net_admin"`` / ``"NET_ADMIN"`` -> ``"NET_ADMIN"``; ``"all"`` -> ``"ALL"``.

    Raises:
        InvalidSpec: the name is not a capability this table knows.
    """
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    short = upper.removeprefix("CAP_")
    if short not in ALL_CAPS:
        raise InvalidSpec(f'unknown capability "{name}"')
    return short


def resolve_caps(cap_add: Iterable[str], cap_drop: Iterable[str], privileged: bool,
                 default: frozenset[str] = DEFAULT_CAPS) -> frozenset[str]:
    """The capability set of a container, by docker's rules.

    ``privileged`` gives every capability minus those dropped by name (as podman). Otherwise, as
    moby's TweakCapabilities: ``ALL`` in cap_drop leaves exactly cap_add (so ``cap_drop: [ALL],
    cap_add: [NET_BIND_SERVICE]`` gives NET_BIND_SERVICE); ``ALL`` in cap_add gives everything but
    cap_drop; else the defaults minus cap_drop plus cap_add (a cap both dropped and added is kept).

    Raises:
        InvalidSpec: an unknown capability name.
    """
    add = {normalize_cap(c) for c in cap_add}
    drop = {normalize_cap(c) for c in cap_drop}
    if privileged:
        add.add("ALL")
    if "ALL" in drop:
        return frozenset(set(ALL_CAPS) if "ALL" in add else add)
    if "ALL" in add:
        return frozenset(set(ALL_CAPS) - drop)
    return frozenset((set(default) - drop) | add)


def caps_mask(caps: Iterable[str]) -> int:
    """The kernel bit mask of *caps* (as printed in /proc/<pid>/status CapEff etc.)."""
    mask = 0
    for cap in caps:
        mask |= 1 << ALL_CAPS[cap]
    return mask


# ---- syscalls -----------------------------------------------------------------------------

_PR_CAPBSET_READ: Final = 23
_PR_CAPBSET_DROP: Final = 24
_PR_SET_KEEPCAPS: Final = 8
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_CAP_AMBIENT: Final = 47
_PR_CAP_AMBIENT_RAISE: Final = 2
_PR_CAP_AMBIENT_CLEAR_ALL: Final = 4
_LINUX_CAPABILITY_VERSION_3: Final = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_libc: ctypes.CDLL | None = None
_bounding: frozenset[int] | None = None  # this process's bounding set, read once by preload


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)  # by soname: no ldconfig subprocess
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                                ctypes.c_ulong]
        _libc.prctl.restype = ctypes.c_int
    return _libc


def preload() -> None:
    """Load libc's handle now, while the host's /lib is still reachable (before pivot_root), and
    read the bounding set, which the process forking the inits never changes: ~40 prctl calls
    each init would make (~0.1 ms) are made once."""
    global _bounding
    _c()
    if _bounding is None:
        _bounding = _read_bounding()


def _read_bounding() -> frozenset[int]:
    """The capability bits in this thread's bounding set, the kernel's unknown ones included."""
    present, bit = [], 0
    while (rc := _c().prctl(_PR_CAPBSET_READ, bit, 0, 0, 0)) >= 0:  # EINVAL past the last one
        if rc == 1:
            present.append(bit)
        bit += 1
    return frozenset(present)


def _prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> int:
    rc: int = _c().prctl(option, arg2, arg3, 0, 0)
    if rc < 0:
        err = ctypes.get_errno()
        raise ExecError(f"{what}: {os.strerror(err)}")
    return rc


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    if _c().capset(ctypes.byref(header), data) < 0:
        raise ExecError(f"capset: {os.strerror(ctypes.get_errno())}")


def apply_identity(uid: int, gid: int, groups: Sequence[int], caps: frozenset[str], *,
                   user_caps: frozenset[str] = frozenset()) -> None:
    """Switch the calling process to *uid*/*gid*/*groups* with the capability set *caps*.

    Called inside the container as root just before execve (after rlimits, before no_new_privs
    and seccomp). Capabilities this process itself lacks in its bounding set (for example
    SYS_RESOURCE on hosts that withhold it from root) are left out silently: nobody can grant them.

    Args:
        caps: the bounding set; also effective and permitted when *uid* is 0.
        user_caps: for a non-root *uid*, the capabilities it keeps (effective, permitted,
            inheritable and ambient), as podman gives a non-root user its explicit cap_add.
    Raises:
        ExecError: a syscall failed (the message names it).
    """
    for name in caps | user_caps:
        if name not in ALL_CAPS:
            raise InvalidSpec(f'unknown capability "{name}"')
    # Drop the bounding set first: it needs CAP_SETPCAP, which we still hold as root.
    bounding = _bounding if _bounding is not None else _read_bounding()
    keep_bits = {ALL_CAPS[c] for c in caps}
    for bit in sorted(bounding - keep_bits):
        _prctl(_PR_CAPBSET_DROP, bit, what=f"drop capability {bit} from the bounding set")
    _prctl(_PR_SET_KEEPCAPS, 1, what="set keepcaps")
    os.setgroups(list(groups))
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if uid == 0:
        kept = frozenset(c for c in caps if ALL_CAPS[c] in bounding)
        mask = caps_mask(kept)
        _capset(mask, mask, 0)
        ambient: frozenset[str] = frozenset()
    else:
        kept = frozenset(c for c in user_caps & caps if ALL_CAPS[c] in bounding)
        mask = caps_mask(kept)
        _capset(mask, mask, mask)
        ambient = kept
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")
    for name in sorted(ambient):
        _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, ALL_CAPS[name],
               what=f"raise ambient capability {name}")
    _prctl(_PR_SET_KEEPCAPS, 0, what="clear keepcaps")


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): setuid bits and file capabilities stop granting anything."""
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, what="set no_new_privs")

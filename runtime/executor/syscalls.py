"""ctypes wrappers of the Linux calls Python 3.11 lacks, loaded from libc by soname.

Every wrapper raises OSError with the call's errno and the path it was given. ``Syscalls`` is the
seam: the real ``LinuxSyscalls`` and a ``RecordingSyscalls`` fake for tests of the call order.
Standard library only.
"""

from __future__ import annotations

import ctypes
import os

# The monitor imports this module: typing (and the re it imports) stays out, annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Protocol

CLONE_NEWNS: Final = 0x00020000
CLONE_NEWCGROUP: Final = 0x02000000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000

MS_RDONLY: Final = 1
MS_NOSUID: Final = 2
MS_NODEV: Final = 4
MS_NOEXEC: Final = 8
MS_SYNCHRONOUS: Final = 16
MS_REMOUNT: Final = 32
MS_MANDLOCK: Final = 64
MS_DIRSYNC: Final = 128
MS_NOSYMFOLLOW: Final = 256
MS_NOATIME: Final = 1024
MS_NODIRATIME: Final = 2048
MS_BIND: Final = 4096
MS_MOVE: Final = 8192
MS_REC: Final = 16384
MS_SILENT: Final = 32768
MS_UNBINDABLE: Final = 1 << 17
MS_PRIVATE: Final = 1 << 18
MS_SLAVE: Final = 1 << 19
MS_SHARED: Final = 1 << 20
MS_RELATIME: Final = 1 << 21
MS_STRICTATIME: Final = 1 << 24

MNT_FORCE: Final = 1
MNT_DETACH: Final = 2

PR_SET_PDEATHSIG: Final = 1
PR_SET_NAME: Final = 15
PR_SET_CHILD_SUBREAPER: Final = 36
PR_SET_NO_NEW_PRIVS: Final = 38

NAMESPACE_FLAGS: Final[dict[str, int]] = {
    "mount": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "cgroup": CLONE_NEWCGROUP,
    "user": CLONE_NEWUSER,
}
# /proc/<pid>/ns/<file> for each OCI namespace type
NAMESPACE_FILES: Final[dict[str, str]] = {
    "mount": "mnt",
    "uts": "uts",
    "ipc": "ipc",
    "pid": "pid",
    "network": "net",
    "cgroup": "cgroup",
    "user": "user",
}

_SYS_PIVOT_ROOT: Final = 155  # x86_64
_SYS_MOUNT_SETATTR: Final = 442  # the same on every architecture (a syscall newer than 5.1's table)
AT_RECURSIVE: Final = 0x8000
MOUNT_ATTR_RDONLY: Final = 0x1


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _check(ret: int, what: str, path: str | None = None) -> None:
    if ret < 0:
        err = ctypes.get_errno()
        if path is None:
            raise OSError(err, f"{what}: {os.strerror(err)}")
        raise OSError(err, f"{what} {path}: {os.strerror(err)}", path)


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


if TYPE_CHECKING:

    class Syscalls(Protocol):
        def unshare(self, flags: int) -> None: ...
        def setns(self, fd: int, nstype: int) -> None: ...
        def mount(
            self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
        ) -> None: ...
        def umount2(self, target: str, flags: int) -> None: ...
        def mount_setattr(self, target: str, flags: int, attr_set: int) -> None: ...
        def pivot_root(self, new_root: str, put_old: str) -> None: ...
        def sethostname(self, name: str) -> None: ...
        def setdomainname(self, name: str) -> None: ...
        def prctl(self, option: int, arg2: int = 0) -> None: ...

else:

    class Syscalls:
        """The seam's name at run time (a typing.Protocol only for the type checker)."""


class LinuxSyscalls:
    """The real calls."""

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
    ) -> None:
        ret = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
        _check(ret, f"mount {fstype or source or ''}".rstrip(), target)

    def umount2(self, target: str, flags: int) -> None:
        _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount", target)

    def mount_setattr(self, target: str, flags: int, attr_set: int) -> None:
        attr = _MountAttr(attr_set, 0, 0, 0)
        ret = _libc.syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(-100), _b(target),
                            ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
        _check(ret, "mount_setattr", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        ret = _libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), _b(new_root), _b(put_old))
        _check(ret, "pivot_root", new_root)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname")

    def prctl(self, option: int, arg2: int = 0) -> None:
        _check(
            _libc.prctl(
                ctypes.c_int(option),
                ctypes.c_ulong(arg2),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
                ctypes.c_ulong(0),
            ),
            "prctl",
        )


class RecordingSyscalls:
    """A fake that records every call in order (for tests of sequences, not of effects)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def unshare(self, flags: int) -> None:
        self.calls.append(("unshare", (flags,)))

    def setns(self, fd: int, nstype: int) -> None:
        self.calls.append(("setns", (fd, nstype)))

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
    ) -> None:
        self.calls.append(("mount", (source, target, fstype, flags, data)))

    def umount2(self, target: str, flags: int) -> None:
        self.calls.append(("umount2", (target, flags)))

    def mount_setattr(self, target: str, flags: int, attr_set: int) -> None:
        self.calls.append(("mount_setattr", (target, flags, attr_set)))

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self.calls.append(("pivot_root", (new_root, put_old)))

    def sethostname(self, name: str) -> None:
        self.calls.append(("sethostname", (name,)))

    def setdomainname(self, name: str) -> None:
        self.calls.append(("setdomainname", (name,)))

    def prctl(self, option: int, arg2: int = 0) -> None:
        self.calls.append(("prctl", (option, arg2)))


SYSCALLS: Final[LinuxSyscalls] = LinuxSyscalls()

_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_load(bpf: bytes) -> None:
    """Install a compiled filter (runtime.security.seccomp.cached_filter's bytes) on this thread.

    The same call as runtime.security.seccomp.load_filter, kept here so that the monitor does not
    import the profile compiler (and build the default profile) on every container start.
    """
    if not bpf or len(bpf) % 8:
        raise OSError(22, f"seccomp: invalid filter of {len(bpf)} bytes")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ret = _libc.prctl(
        ctypes.c_int(_PR_SET_SECCOMP),
        ctypes.c_ulong(_SECCOMP_MODE_FILTER),
        ctypes.c_void_p(ctypes.addressof(prog)),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(ret, "seccomp: cannot load the filter")

"""Seccomp's compiler: a Docker-format profile to classic BPF with libseccomp (ctypes), and the
reading and checking of a profile file. Only a filter cache miss (runtime.security.seccomp's
cached_filter: the first container of an engine, a new profile or capability set) or a profile
given as a file loads this module; a container's create finds its filter in the cache.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from runtime.errors import ExecError, InvalidSpec
from runtime.security.seccomp import cap_name, library

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["compile_filter", "load_profile_file"]

# libseccomp's action values (seccomp.h).
_ACTIONS: Final[dict[str, int]] = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS: Final[dict[str, int]] = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}
# Go's GOARCH names (used in a profile's includes/excludes "arches") for this machine.
_GOARCH: Final[dict[str, str]] = {
    "x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "s390x": "s390x",
    "riscv64": "riscv64", "ppc64le": "ppc64le",
}
_SCMP_ARCH_NAMES: Final[dict[str, str]] = {   # profile arch token -> libseccomp arch name
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_RISCV64": "riscv64", "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC": "ppc", "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
}
_SCMP_FLTATR_CTL_OPTIMIZE: Final = 8  # libseccomp's filter attribute: 2 = a binary tree of syscalls
_NATIVE_ARCH_TOKEN: Final[dict[str, str]] = {
    "x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64", "ppc64le": "SCMP_ARCH_PPC64LE", "armv7l": "SCMP_ARCH_ARM",
    "i686": "SCMP_ARCH_X86",
}


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_declared = False


def _library() -> ctypes.CDLL:
    """libseccomp with the functions a compile calls declared (once per process)."""
    global _declared
    lib = library()
    if not _declared:
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        _declared = True
    return lib





def load_profile_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a Docker-format seccomp profile (``security_opt: seccomp=<path>``).

    Raises:
        InvalidSpec: unreadable file, invalid JSON, or not a profile.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidSpec(f"seccomp profile {os.fspath(path)}: {exc}") from exc
    if not isinstance(data, dict) or "defaultAction" not in data:
        raise InvalidSpec(f"seccomp profile {os.fspath(path)}: expected an object with defaultAction")
    _validate(data, os.fspath(path))
    return data


def _validate(profile: Mapping[str, Any], where: str) -> None:
    _action(profile["defaultAction"], profile.get("defaultErrnoRet"), where)
    for rule in profile.get("syscalls") or ():
        _action(rule.get("action", ""), rule.get("errnoRet"), where)
        for arg in rule.get("args") or ():
            if arg.get("op") not in _OPS:
                raise InvalidSpec(f"seccomp profile {where}: unknown operator {arg.get('op')!r}")


def _action(name: str, errno_ret: int | None, where: str) -> int:
    if name not in _ACTIONS:
        raise InvalidSpec(f"seccomp profile {where}: unsupported action {name!r}")
    value = _ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (errno.EPERM if errno_ret is None else int(errno_ret)) & 0xFFFF
    return value



def _kernel_at_least(minimum: str, release: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        out = []
        for piece in v.split("-")[0].split(".")[:3]:
            digits = "".join(ch for ch in piece if ch.isdigit())
            out.append(int(digits or 0))
        return tuple(out)
    return parts(release) >= parts(minimum)


def _applies(rule: Mapping[str, Any], caps: frozenset[str], goarch: str, release: str) -> bool:
    inc = rule.get("includes") or {}
    exc = rule.get("excludes") or {}
    if inc.get("caps") and not all(cap_name(c) in caps for c in inc["caps"]):
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], release):
        return False
    if exc.get("caps") and any(cap_name(c) in caps for c in exc["caps"]):
        return False
    return not (exc.get("arches") and goarch in exc["arches"])


def _arches(profile: Mapping[str, Any], machine: str) -> list[str]:
    """libseccomp arch names to add: the profile's ``architectures``, or its ``archMap`` entry for
    this machine with its sub-architectures (x86 and x32 on amd64, as docker)."""
    native = _NATIVE_ARCH_TOKEN.get(machine)
    tokens: list[str] = list(profile.get("architectures") or ())
    for entry in profile.get("archMap") or ():
        if entry.get("architecture") == native:
            tokens = [entry["architecture"], *(entry.get("subArchitectures") or ())]
    return [_SCMP_ARCH_NAMES[t] for t in tokens if t in _SCMP_ARCH_NAMES]


def _conditions(args: Sequence[Mapping[str, Any]]) -> list[list[_ArgCmp]]:
    """One libseccomp rule per returned list. As runc: several conditions on the same argument
    mean "any of" (one rule each); conditions on different arguments are "all of" (one rule)."""
    cmps = [_ArgCmp(int(a["index"]), _OPS[a["op"]], int(a.get("value", 0)) & 0xFFFFFFFFFFFFFFFF,
                    int(a.get("valueTwo", 0)) & 0xFFFFFFFFFFFFFFFF) for a in args]
    if len({c.arg for c in cmps}) == len(cmps):
        return [cmps]
    return [[c] for c in cmps]


def compile_filter(profile: Mapping[str, Any], caps: frozenset[str], *, tree: bool = True) -> bytes:
    """Compile *profile* for a container holding *caps* into a classic BPF program.

    Syscall names the installed libseccomp does not know are skipped (as runc does): a profile
    may name syscalls newer than the host library. *tree*: the syscalls as a binary search tree
    (libseccomp >= 2.5; same decisions): the kernel's load of the default filter, which emulates
    the program for every syscall number to cache the constant answers, took ~1.3 ms of each
    container's set-up with the linear one, ~0.6 with the tree (each syscall of the container
    also takes ~3 comparisons where it took up to ~350). An older libseccomp compiles it linear.

    Returns:
        the raw ``struct sock_filter`` array, ready for ``load_filter``.
    Raises:
        InvalidSpec: a malformed profile; MissingTool: no libseccomp.
    """
    lib = _library()
    caps = frozenset(cap_name(c) for c in caps)
    _validate(profile, "profile")
    machine = os.uname().machine
    goarch = _GOARCH.get(machine, machine)
    release = os.uname().release
    default_action = _action(profile["defaultAction"], profile.get("defaultErrnoRet"), "profile")
    ctx = lib.seccomp_init(default_action)
    if not ctx:
        raise ExecError("seccomp: cannot initialise a filter")
    try:
        if tree:
            lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2)  # refused before 2.5: linear
        for arch in _arches(profile, machine):
            token = lib.seccomp_arch_resolve_name(arch.encode())
            if token == 0:
                continue
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:
                raise ExecError(f"seccomp: cannot add architecture {arch}: {os.strerror(-rc)}")
        done: set[tuple[str, int]] = set()   # (name, action) already added without conditions
        for rule in profile.get("syscalls") or ():
            if not _applies(rule, caps, goarch, release):
                continue
            action = _action(rule["action"], rule.get("errnoRet"), "profile")
            if action == default_action:
                continue   # libseccomp refuses rules that repeat the default
            names = list(rule.get("names") or ()) + ([rule["name"]] if rule.get("name") else [])
            args = rule.get("args") or ()
            for name in names:
                if (name, action) in done:
                    continue
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:   # __NR_SCMP_ERROR: unknown to this libseccomp
                    continue
                for cmps in _conditions(args) if args else [[]]:
                    arr = (_ArgCmp * max(len(cmps), 1))(*cmps)
                    rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
                    if rc < 0 and rc not in (-errno.EEXIST, -errno.EDOM):
                        raise InvalidSpec(f"seccomp: cannot add a rule for {name}: {os.strerror(-rc)}")
                if not args:
                    done.add((name, action))
        fd = os.memfd_create("composer-seccomp", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise ExecError(f"seccomp: cannot export the filter: {os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)

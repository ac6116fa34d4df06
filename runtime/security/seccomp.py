"""Seccomp: compile a Docker-format profile to classic BPF with libseccomp (ctypes), cache the
program by content, and install it with prctl.

Compiling needs libseccomp.so.2 and happens before pivot_root; ``load_filter`` needs only libc, so
it works inside the container where the host's libraries are gone. Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from runtime.digest import sha256
from runtime.errors import ExecError, InvalidSpec, MissingTool

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["cached_filter", "compile_filter", "default_filter", "default_profile", "libseccomp_version",
           "load_filter", "load_profile_file"]

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


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_lib: ctypes.CDLL | None = None


def _seccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise MissingTool("libseccomp.so.2", "libseccomp2") from exc
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
        lib.seccomp_version.restype = ctypes.POINTER(_Version)
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        _lib = lib
    return _lib


def libseccomp_version() -> str:
    """The installed libseccomp's version, e.g. ``"2.5.4"``."""
    v = _seccomp().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


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
    if inc.get("caps") and not all(_cap(c) in caps for c in inc["caps"]):
        return False
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], release):
        return False
    if exc.get("caps") and any(_cap(c) in caps for c in exc["caps"]):
        return False
    return not (exc.get("arches") and goarch in exc["arches"])


def _cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


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
    lib = _seccomp()
    caps = frozenset(_cap(c) for c in caps)
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


# profile_digest() of the default profile: its filters' cache key without importing the profile
# (seccomp_profile, ~0.4 ms) or encoding it (~0.1 ms) at each container's create; compiling one
# imports it. tests/runtime/security/test_seccomp.py checks it against the profile.
DEFAULT_PROFILE_DIGEST: Final = "22c6b502693bbd07b98dc188693f79ad8fba48686ca433160ac539f525007f8a"


def default_profile() -> dict[str, Any]:
    """A fresh copy of the default profile (runtime.security.seccomp_profile), callers may modify it."""
    from runtime.security.seccomp_profile import default_profile as fresh

    return fresh()


def profile_digest(profile: Mapping[str, Any]) -> str:
    """sha256 of *profile*'s JSON (keys sorted, compact): what a filter's cache key takes of it."""
    return sha256(json.dumps(profile, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def filter_key(profile: Mapping[str, Any], caps: frozenset[str]) -> str:
    """The cache key of a compiled filter: what the BPF program depends on."""
    return _key(profile_digest(profile), caps)


def _key(digest: str, caps: frozenset[str]) -> str:
    h = sha256()
    h.update(digest.encode())
    h.update(b"\0" + ",".join(sorted(_cap(c) for c in caps)).encode())
    h.update(b"\0" + libseccomp_version().encode())
    h.update(b"\0" + os.uname().machine.encode() + b"\0" + os.uname().release.encode())
    h.update(b"\0tree")  # the program's layout (compile_filter): linear ones cached before differ
    return h.hexdigest()


def cached_filter(cache_dir: Path, profile: Mapping[str, Any], caps: frozenset[str]) -> bytes:
    """``compile_filter`` through a cache at *cache_dir*/<sha256>.bpf (written atomically)."""
    return _cached_at(Path(cache_dir) / f"{filter_key(profile, caps)}.bpf", lambda: profile, caps)


def _cached_at(path: Path, profile: Callable[[], Mapping[str, Any]], caps: frozenset[str]) -> bytes:
    """The filter cached at *path*, compiled from *profile()* (asked only then) when it is not."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    bpf = compile_filter(profile(), caps)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name: several threads and processes may compile the same filter at once
    import tempfile  # only on a cache miss: a container start reads the cached filter

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bpf)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return bpf


_default_memo: dict[tuple[str, frozenset[str]], tuple[bytes, Path]] = {}


def default_filter(cache_dir: Path, caps: frozenset[str]) -> tuple[bytes, Path]:
    """``cached_filter`` of the default profile and the cache file that holds it, kept per
    process: the profile is a constant, so each further container of a command costs neither a
    copy nor a JSON encode of it (nor the first: its digest is DEFAULT_PROFILE_DIGEST). The file
    may be gone since (a pruned cache): callers that link to it fall back to writing the bytes."""
    key = (str(cache_dir), caps)
    hit = _default_memo.get(key)
    if hit is None:
        path = Path(cache_dir) / f"{_key(DEFAULT_PROFILE_DIGEST, caps)}.bpf"
        hit = _default_memo[key] = (_cached_at(path, _shared_default_profile, caps), path)
    return hit


def _shared_default_profile() -> Mapping[str, Any]:
    from runtime.security.seccomp_profile import shared_default_profile

    return shared_default_profile()


# ---- installing (libc only) -----------------------------------------------------------------

_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc: ctypes.CDLL | None = None


def preload() -> None:
    """Load libc's handle now, while the host's /lib is still reachable (before pivot_root)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                                ctypes.c_ulong]
        _libc.prctl.restype = ctypes.c_int


def load_filter(bpf: bytes) -> None:
    """Install *bpf* (from ``compile_filter``) on the calling thread and its future children.

    Needs no_new_privs set first, or CAP_SYS_ADMIN. Raises ExecError if the kernel refuses.
    """
    if not bpf or len(bpf) % 8:
        raise ExecError(f"seccomp: invalid filter of {len(bpf)} bytes")
    preload()
    assert _libc is not None
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) < 0:
        raise ExecError(f"seccomp: cannot load the filter: {os.strerror(ctypes.get_errno())}")

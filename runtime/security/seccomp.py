"""Seccomp: a container's filter (classic BPF) from the cache, by content, and its install with
prctl. A cache miss compiles the profile (runtime.security.seccomp_compile, libseccomp through
ctypes: the first container of an engine, a new profile or capability set); a create otherwise
only reads the cached program, and names the installed libseccomp in its key.

Compiling needs libseccomp.so.2 and happens before pivot_root; ``load_filter`` needs only libc, so
it works inside the container where the host's libraries are gone. Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Mapping

from runtime.digest import sha256
from runtime.errors import ExecError, MissingTool
from runtime.json_accel import dumps

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["cached_filter", "default_filter", "default_profile", "libseccomp_version", "load_filter"]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_lib: ctypes.CDLL | None = None


def library() -> ctypes.CDLL:
    """libseccomp's handle, loaded once; seccomp_compile declares the rest of its functions."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise MissingTool("libseccomp.so.2", "libseccomp2") from exc
        lib.seccomp_version.restype = ctypes.POINTER(_Version)
        _lib = lib
    return _lib


def libseccomp_version() -> str:
    """The installed libseccomp's version, e.g. ``"2.5.4"`` (a filter's cache key names it)."""
    v = library().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def cap_name(name: str) -> str:
    """A capability as a profile's rules and the cache key compare it: SYS_ADMIN, not cap_sys_admin."""
    return name.upper().removeprefix("CAP_")


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
    return sha256(dumps(profile, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def filter_key(profile: Mapping[str, Any], caps: frozenset[str]) -> str:
    """The cache key of a compiled filter: what the BPF program depends on."""
    return _key(profile_digest(profile), caps)


def _key(digest: str, caps: frozenset[str]) -> str:
    h = sha256()
    h.update(digest.encode())
    h.update(b"\0" + ",".join(sorted(cap_name(c) for c in caps)).encode())
    h.update(b"\0" + libseccomp_version().encode())
    h.update(b"\0" + os.uname().machine.encode() + b"\0" + os.uname().release.encode())
    h.update(b"\0tree")  # the program's layout (compile_filter): linear ones cached before differ
    return h.hexdigest()


def cached_filter(cache_dir: str, profile: Mapping[str, Any], caps: frozenset[str]) -> bytes:
    """seccomp_compile.compile_filter through a cache at *cache_dir*/<sha256>.bpf (written atomically)."""
    return _cached_at(cache_dir, f"{filter_key(profile, caps)}.bpf", lambda: profile, caps)


def _cached_at(cache_dir: str, name: str, profile: Callable[[], Mapping[str, Any]],
               caps: frozenset[str]) -> bytes:
    """The filter cached at *cache_dir*/*name*, compiled from *profile()* (asked only then) when
    it is not."""
    path = f"{cache_dir}/{name}"
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    from runtime.security.seccomp_compile import compile_filter  # a miss only

    bpf = compile_filter(profile(), caps)
    os.makedirs(cache_dir, exist_ok=True)
    # a unique temporary name: several threads and processes may compile the same filter at once
    import tempfile  # only on a cache miss: a container start reads the cached filter

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=cache_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(bpf)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return bpf


_default_memo: dict[tuple[str, frozenset[str]], tuple[bytes, str]] = {}


def default_filter(cache_dir: str, caps: frozenset[str]) -> tuple[bytes, str]:
    """``cached_filter`` of the default profile and the cache file that holds it, kept per
    process: the profile is a constant, so each further container of a command costs neither a
    copy nor a JSON encode of it (nor the first: its digest is DEFAULT_PROFILE_DIGEST). The file
    may be gone since (a pruned cache): callers that link to it fall back to writing the bytes."""
    key = (cache_dir, caps)
    hit = _default_memo.get(key)
    if hit is None:
        name = f"{_key(DEFAULT_PROFILE_DIGEST, caps)}.bpf"
        hit = _default_memo[key] = (_cached_at(cache_dir, name, _shared_default_profile, caps),
                                    f"{cache_dir}/{name}")
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

"""Network namespaces pinned by bind mounts, made and entered without forking.

A helper *thread* unshare()s (or setns()es) its own network namespace: namespaces are per task,
so the rest of the process stays where it is. Forking a helper process (as pyroute2's NetNS does)
costs ~3x more per call.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import os
from collections.abc import Callable
from pathlib import Path

from runtime.errors import NetworkError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    import _socket

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
NETLINK_ROUTE = 0

if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)  # glibc's soname: find_library runs ldconfig
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def in_thread(fn: Callable[[], T]) -> T:
    """Run *fn* in a fresh thread and return its result (or raise its exception). From _thread,
    not threading: Thread.start() waits until the new thread runs, one more wake-up (and, on a
    busy host, one more wait for a CPU) before the work even begins."""
    box: dict[str, Any] = {}
    done = _thread.allocate_lock()
    done.acquire()

    def body() -> None:
        try:
            box["ok"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["err"] = exc
        finally:
            done.release()

    _thread.start_new_thread(body, ())
    done.acquire()
    if "err" in box:
        raise box["err"]
    return box["ok"]  # type: ignore[no-any-return]


def _restore(orig: int) -> None:
    try:
        _check(_lib().setns(orig, CLONE_NEWNET), "setns back")
    finally:
        os.close(orig)


def create_pin(pin: Path, inside: Callable[[_socket.socket], T] | None = None) -> T | None:
    """A new network namespace kept alive by a bind mount on *pin*, with lo up.

    *inside*, if given, runs in the same helper thread while it is in the new namespace (one
    thread start and one namespace switch for the whole setup), with a NETLINK_ROUTE socket that
    was opened in the host's namespace before the switch (for the host end of veths); its result
    is returned. On any failure the pin is removed again.
    """
    from runtime.network import ifconf

    pin.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(pin, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
    os.close(fd)

    def work() -> T | None:
        import _socket  # not the socket module: its import converts four enums (~2.5 ms)

        host = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, NETLINK_ROUTE) if inside else None
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _check(_lib().unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _check(_lib().mount(b"/proc/thread-self/ns/net", os.fsencode(pin), None, MS_BIND, None),
                   f"bind mount {pin}")
            ifconf.link_up("lo")
            # unprivileged ICMP sockets for everyone, as docker: ping works without CAP_NET_RAW
            # (dropped by default, DESIGN.md section 6); the spec's sysctls may override it later
            with contextlib.suppress(OSError), open("/proc/sys/net/ipv4/ping_group_range", "w") as f:
                f.write("0 2147483647")
            return inside(host) if inside is not None and host is not None else None
        finally:
            _restore(orig)
            if host is not None:
                host.close()

    try:
        return in_thread(work)
    except BaseException as exc:
        remove_pin(pin)
        if isinstance(exc, OSError):
            raise NetworkError(f"netns {pin}: cannot create: {exc}") from None
        raise


def remove_pin(pin: Path) -> None:
    """Unmount and delete *pin*; quiet if it is already gone (idempotent)."""
    if is_pinned(pin):
        _lib().umount2(os.fsencode(pin), MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        pin.unlink()


def is_pinned(pin: Path) -> bool:
    """Whether a namespace is bind-mounted on *pin*: the file then lives on nsfs, another device
    than its directory (two stat calls instead of parsing /proc/self/mounts, which grows with
    every container)."""
    try:
        return os.stat(pin).st_dev != os.stat(pin.parent).st_dev
    except OSError:
        return False


def run_in(pin: Path, fn: Callable[..., T], host_socket: bool = False) -> T:
    """Run *fn* in a thread that has entered the namespace pinned at *pin*.

    With *host_socket*, *fn* is called with a NETLINK_ROUTE socket opened in the host's namespace
    before the switch (a socket belongs to the namespace of the thread that opened it).
    """

    def work() -> T:
        import _socket  # not the socket module: its import converts four enums (~2.5 ms)

        host = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, NETLINK_ROUTE) if host_socket else None
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            fd = os.open(pin, os.O_RDONLY)
            try:
                _check(_lib().setns(fd, CLONE_NEWNET), f"setns {pin}")
            finally:
                os.close(fd)
            return fn(host) if host is not None else fn()
        finally:
            _restore(orig)
            if host is not None:
                host.close()

    return in_thread(work)

"""Network namespaces pinned by bind mounts, made and entered without forking.

A helper *thread* unshare()s (or setns()es) its own network namespace: namespaces are per task,
so the rest of the process stays where it is. Forking a helper process (as pyroute2's NetNS does)
costs ~3x more per call. It opens handles on the namespace there (Inside), with which any thread
then plugs interfaces in (links.plug).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable

from runtime.background import Background
from runtime.errors import NetworkError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
NETLINK_ROUTE = 0

if TYPE_CHECKING:
    from typing import TypeVar

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
    """Run *fn* in a fresh thread and return its result (or raise its exception)."""
    return Background(fn, own_thread=True).result()  # type: ignore[no-any-return]


def _restore(orig: int) -> None:
    try:
        _check(_lib().setns(orig, CLONE_NEWNET), "setns back")
    finally:
        os.close(orig)


class Inside:
    """Handles on a network namespace for a thread that is not in it: the namespace's fd (where a
    veth's peer is made), an AF_INET socket (interface ioctls act on the namespace of their
    socket, not of the caller) and a NETLINK_ROUTE socket, all opened in it. Closed by close()."""

    def __init__(self) -> None:
        """Opened in the calling thread's namespace."""
        import _socket  # not the socket module: its import converts four enums (~2.5 ms)

        self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.inet = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
        self.route = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC,
                                    NETLINK_ROUTE)

    def close(self) -> None:
        self.inet.close()
        self.route.close()
        os.close(self.fd)


def _pin_here(pin: str) -> Inside:
    """Move the calling thread into a new network namespace, pin it at *pin* (its file made
    here), lo up: the namespace's handles, opened in it. The thread is moved back at the end."""
    from runtime.network import ifconf

    os.makedirs(os.path.dirname(pin), exist_ok=True)
    os.close(os.open(pin, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
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
        # no duplicate address detection for the interfaces to come: addresses are unique by
        # IPAM, and a tentative link-local address holds back IPv6 neighbour discovery for a
        # second or more
        with contextlib.suppress(OSError), open("/proc/sys/net/ipv6/conf/default/accept_dad", "w") as f:
            f.write("0")
        return Inside()
    finally:
        _restore(orig)


class Pinning:
    """A new network namespace being pinned at *pin* by a helper thread (namespaces are per task:
    the rest of the process stays where it is), with lo up. Started ahead of the set-up that
    plugs its interfaces, the kernel's part (unshare ~0.7 ms) overlaps the caller's other work;
    take() waits for it. Until taken, discard() undoes it (a create that fails before its
    network set-up): the pin is removed."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self._settled = False  # taken or discarded
        # an init may have joined it (NetworkManager.planned): a set-up that fails leaves the pin
        # (its teardown's to remove), for a second attempt in the same namespace (Rejoin)
        self.joined = False
        self._job = Background(_pin_here, pin, own_thread=True)

    def take(self) -> Inside:
        """The namespace's handles, once pinned (the caller closes them); the pin is then the
        caller's. If it could not be made, the pin is removed and NetworkError raised."""
        error = self._job.wait()  # a Ctrl-C here settles nothing: the create's undo discards it
        if self._settled:
            raise NetworkError(f"netns {self.pin}: already taken or discarded")
        self._settled = True
        if error is not None:
            remove_pin(self.pin)
            if isinstance(error, OSError):
                raise NetworkError(f"netns {self.pin}: cannot create: {error}") from None
            raise error
        inside: Inside = self._job.result()
        return inside

    def wait(self) -> None:
        """Until the namespace is pinned (an init may join it then); a failure is raised as
        take() raises it, the pin removed."""
        if self._job.wait() is not None:
            self.take()

    def discard(self) -> None:
        """Undo a pinning not taken (idempotent; nothing once taken: the set-up's teardown
        removes the pin then, as it does one joined)."""
        if self._settled:
            return
        self._settled = True
        if self._job.wait() is None:  # else it failed: only its pin file may be left
            self._job.result().close()
        if not self.joined:
            remove_pin(self.pin)


class Rejoin(Pinning):
    """A namespace pinned at *pin* already, for a set-up done in it again (its init may be in it:
    setup_container's *joined*): take() opens its handles from a thread that entered it."""

    def __init__(self, pin: str) -> None:  # no thread: pinned already
        self.pin = pin
        self._settled = False
        self.joined = True

    def take(self) -> Inside:
        self._settled = True
        return run_in(self.pin, Inside)

    def wait(self) -> None:
        return None

    def discard(self) -> None:
        self._settled = True


def create_pin(pin: str, plug: Callable[[Inside], T] | None = None) -> T | None:
    """A new network namespace kept alive by a bind mount on *pin*, with lo up; *plug*, if given,
    is called with its handles (Inside) and its result returned. On any failure the pin is
    removed again."""
    return pinned(Pinning(pin), plug)


def pinned(pinning: Pinning, plug: Callable[[Inside], T] | None = None) -> T | None:
    """create_pin for a namespace whose pinning was started ahead (Pinning)."""
    inside = pinning.take()
    try:
        return plug(inside) if plug is not None else None
    except BaseException as exc:
        if not pinning.joined:
            remove_pin(pinning.pin)
        if isinstance(exc, OSError):
            raise NetworkError(f"netns {pinning.pin}: cannot create: {exc}") from None
        raise
    finally:
        inside.close()


def remove_pin(pin: str) -> None:
    """Unmount and delete *pin*; quiet if it is already gone (idempotent)."""
    if is_pinned(pin):
        _lib().umount2(os.fsencode(pin), MNT_DETACH)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pin)


def is_pinned(pin: str) -> bool:
    """Whether a namespace is bind-mounted on *pin*: the file then lives on nsfs, another device
    than its directory (two stat calls instead of parsing /proc/self/mounts, which grows with
    every container)."""
    try:
        return os.stat(pin).st_dev != os.stat(os.path.dirname(pin)).st_dev
    except OSError:
        return False


def run_in(pin: str, fn: Callable[[], T]) -> T:
    """Run *fn* in a thread that has entered the namespace pinned at *pin*."""

    def work() -> T:
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            fd = os.open(pin, os.O_RDONLY)
            try:
                _check(_lib().setns(fd, CLONE_NEWNET), f"setns {pin}")
            finally:
                os.close(fd)
            return fn()
        finally:
            _restore(orig)

    return in_thread(work)

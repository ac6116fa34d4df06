"""The monitor fork server ("zygote") itself: ``python -I -S runtime/zygote_server.py RUN_DIR``
(standard library and the runtime package only). runtime/zygote.py says what it is for, its
protocol, and holds the client functions a command uses to start and ask it: a command never
imports this module, only the server process runs it.

It binds RUN_DIR/zygote.sock, detaches (setsid, double fork: never a child of the CLI), imports the
monitor body (runtime.executor.supervise), freezes the GC and serves, one forked child per request.
"""

from __future__ import annotations

import _signal
import _socket
import contextlib
import os
import struct
import sys
import time

if __name__ == "__main__" and __package__ in (None, ""):  # run as a script: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from runtime.procs import starttime  # noqa: E402 - after the package is on sys.path
from runtime.zygote import (  # noqa: E402
    DEFAULT_IDLE,
    ERRFILE,
    IDLE_ENV,
    LOCK,
    MONITOR,
    PIDFILE,
    SOCK,
    Socket,
    listen_private,
    recv_exact,
)


def main(argv: list[str]) -> int:
    """Bind, detach, serve. The first process exits once the socket listens."""
    rundir = os.path.abspath(argv[1])
    path = os.path.join(rundir, SOCK)
    os.makedirs(rundir, exist_ok=True)
    listener = listen_private(path)
    if os.fork():
        return 0  # the launcher: the socket already listens
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    null = os.open("/dev/null", os.O_RDWR)
    err = os.open(os.path.join(rundir, ERRFILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)
    try:
        idle = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE)
    except ValueError:
        idle = DEFAULT_IDLE
    Server(rundir, listener, idle).serve()
    return 0


class Server:
    def __init__(self, rundir: str, listener: Socket, idle: float) -> None:
        self.rundir, self.listener, self.idle = rundir, listener, idle
        self.path = os.path.join(rundir, SOCK)
        self.ino = os.stat(self.path).st_ino
        self.uid = os.getuid()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def serve(self) -> None:
        import gc
        import select

        # what monitor.py imports, and what a monitor and its init import later (healthchecks,
        # capabilities): paid once, here, and shared
        from runtime.executor import enter, health, proctitle, supervise  # noqa: F401
        from runtime.security import caps  # noqa: F401

        self.run_monitor = supervise.main
        self.source_paths = _source_paths()
        self.stamp = _stamp(self.source_paths)
        _signal.set_wakeup_fd(self.wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        _signal.signal(_signal.SIGTERM, _terminate)
        with open(os.path.join(self.rundir, PIDFILE + ".tmp"), "w") as f:
            f.write(f"{os.getpid()} {starttime(os.getpid())}\n")
        os.replace(os.path.join(self.rundir, PIDFILE + ".tmp"), os.path.join(self.rundir, PIDFILE))
        caps.preload()  # the monitor's init needs libc's handle: made once, here
        gc.collect()
        self.filler = _fill_pools()
        gc.freeze()  # collections would touch (and so copy) every shared page in the children
        last = time.monotonic()
        try:
            while True:
                self.reap()
                left = last + self.idle - time.monotonic()
                if left <= 0:
                    if self.retire():
                        return
                    last = time.monotonic()
                    continue
                try:
                    ready, _, _ = select.select([self.listener.fileno(), self.wake_r], [], [], left)
                except InterruptedError:
                    continue
                if self.wake_r in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                if self.listener.fileno() in ready:
                    self.accept_one()
                    last = time.monotonic()
        finally:
            self.cleanup()

    def accept_one(self) -> bool:
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return False
        try:
            # the code changed under us: the client spawns directly
            if _stamp(self.source_paths) != self.stamp:
                self.cleanup()
                raise SystemExit(0)
            self.handle(conn)
        except Exception as exc:  # noqa: BLE001 - one bad request never stops the server
            print(f"zygote: {exc}", file=sys.stderr, flush=True)
        finally:
            conn.close()
        return True

    def handle(self, conn: Socket) -> None:
        cred = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", cred)[1] not in (0, self.uid):
            return
        conn.settimeout(5)
        size = struct.unpack("!I", recv_exact(conn, 4))[0]
        if size > 65536:
            return
        parts = recv_exact(conn, size).split(b"\0")
        if len(parts) < 3:
            return
        mask, cdir, rdir, flags = int(parts[0], 8), os.fsdecode(parts[1]), os.fsdecode(parts[2]), parts[3:]
        argv = [MONITOR, cdir, rdir, *(os.fsdecode(f) for f in flags if f == b"--start")]
        if os.fork() == 0:
            try:
                self.child(conn, mask, argv)
            finally:
                os._exit(1)

    def child(self, conn: Socket, mask: int, argv: list[str]) -> None:
        """Become the monitor monitor.py would have been (never returns)."""
        os.setsid()
        _signal.set_wakeup_fd(-1)
        for sig in (_signal.SIGCHLD, _signal.SIGTERM):
            _signal.signal(sig, _signal.SIG_DFL)
        os.umask(mask)
        fd = conn.detach()
        os.close(self.listener.detach())
        os.close(self.wake_r)
        os.close(self.wake_w)
        # ours alone: only the client that saw "forked" says go (one that gave up closed instead)
        os.write(fd, b"forked %d\n" % os.getpid())
        import select

        ready, _, _ = select.select([fd], [], [], 10)
        if not ready or os.read(fd, 1) != b"g":
            os._exit(0)
        os.set_blocking(fd, True)  # the zygote's timeout made it non-blocking: a pipe is not
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.closerange(3, 1 << 20)  # nothing of the zygote's leaks into the monitor
        from runtime.executor.proctitle import set_cmdline  # pre-imported by the server

        set_cmdline([sys.executable, "-I", "-S", *argv])
        sys.argv = argv
        try:
            code = self.run_monitor(argv, detach=False)  # a child of the zygote: it reaps us
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)

    def reap(self) -> None:
        """Reap the forked children (each exits at once, leaving its monitor to init)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def retire(self) -> bool:
        """Idle: remove the socket (under the launch lock), serve what already connected, exit."""
        import fcntl

        try:
            lock = os.open(os.path.join(self.rundir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return True
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a client is launching: serve on
            self.cleanup()
            self.listener.setblocking(False)
            while self.accept_one():
                pass
            return True
        finally:
            os.close(lock)

    def cleanup(self) -> None:
        """Remove the socket file if it is still ours, and the pid file."""
        try:
            if os.stat(self.path).st_ino == self.ino:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        pidfile = os.path.join(self.rundir, PIDFILE)
        try:
            with open(pidfile) as f:
                mine = f.read().split()[:1] == [str(os.getpid())]
            if mine:
                os.unlink(pidfile)
        except (OSError, ValueError):
            pass


def _fill_pools() -> list[object]:
    """Objects that fill every free block of pymalloc's partly used pools, kept for the zygote's
    life. A child's small allocations take the free blocks of those pools first: after imports
    they are scattered over hundreds of pages shared with the zygote, each of which the child's
    first write copies (~1 MB per monitor); filled, its allocations go to fresh, dense pools."""
    keep: list[object] = []
    for _ in range(3):  # filling allocates a little itself (lists): look again
        for size, avail in _free_blocks().items():
            if size == 16:
                keep.append([object() for _ in range(avail)])
            elif size == 32:
                keep.append([float(i) + 0.5 for i in range(avail)])  # 24 bytes each
            else:
                keep.append([bytes(size - 33) for _ in range(avail)])  # a header of 33 bytes
    return keep


def _free_blocks() -> dict[int, int]:
    """Size class -> free blocks in its partly used pools (sys._debugmallocstats, C stderr)."""
    fd = os.memfd_create("pymalloc", os.MFD_CLOEXEC)
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    try:
        size = os.lseek(fd, 0, os.SEEK_CUR)
        text = os.pread(fd, size, 0).decode(errors="replace")
    finally:
        os.close(fd)
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 5 and f[0].isdigit() and f[1].isdigit() and int(f[4]) > 0:
            out[int(f[1])] = int(f[4])
    return out


def _source_paths() -> bytes:
    """The runtime modules loaded, as one NUL-separated blob: checking them touches one object,
    not every module's (each page the zygote writes after a fork is copied, and the forked
    monitors keep the originals: the zygote's work between forks costs each monitor memory)."""
    paths = [
        os.fsencode(path)
        for name, mod in list(sys.modules.items())
        if (name == "__main__" or name.startswith("runtime."))
        and isinstance(path := getattr(mod, "__file__", None), str)
    ]
    return b"\0".join(paths)


def _stamp(paths: bytes) -> bytes:
    """Modification times of *paths*: a zygote must not serve old code."""
    out = bytearray()
    for path in paths.split(b"\0"):
        try:
            out += b"%d," % os.stat(path).st_mtime_ns
        except OSError:
            out += b"0,"
    return bytes(out)


def _terminate(*_: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

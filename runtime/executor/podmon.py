"""A shared monitor: one process runs the monitors of all the containers of a pod, each in a thread
of its own (F4: every forked monitor copies ~2.6 MB of the fork server's heap, CPython's reference
counts write to it; threads share one copy). The engine's lone containers share one the same way
(runtime.zygote.LONE). Standard library only, like the monitor.

Run as ``python -I -S runtime/monitor.py --pod SOCKET CDIR RDIR [--start]`` for the pod's first
container (by runtime.zygote.spawn_monitor, under the pod's lock): it binds the pod's socket, detaches
and answers on stdout like a lone monitor. The next containers' clients ask on the socket with the
fork server's protocol (request, ``forked PID``, ``g``, then the monitor's ok/error line).
The main thread accepts, owns the signals and reaps orphans (the process is the subreaper of all
its containers: a monitor thread waits only for its own pids, by pid; the reaper waits while any
thread forks (``Pod.lock``), so a fresh child is never reaped before its owner recorded it; forks
of different threads run at once: a container's init set-up never waits for another's). It exits,
removing its socket, once its last monitor thread ended.
Liveness is per container: monitor.json names the thread (``pid``: its tid, ``starttime``) and the
process (``process``, ``process_start``). A SIGKILL of the process ends every thread at once: every
container it served then reads as having lost its monitor, as with a monitor of its own.
"""

from __future__ import annotations

import _signal  # not the signal module, whose import brings enum (~2 ms of each monitor start)
import _socket  # not the socket module (its import converts four enums: ~2.5 ms of the start)
import _thread  # not threading: its after-fork hook runs in every init forked here (~60 faults)
import os
import select
import struct
import sys

from runtime.executor import supervise
from runtime.executor import syscalls as sc
from runtime.zygote import Socket, listen_private, recv_exact  # the fork server's protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RETRY = 0.2  # seconds: a look again at an orphan behind a monitor's own child, or a busy lock
# seconds a monitor started ahead of its pod's containers (zygote.warm_pod) waits for the first
WARM_GRACE = 5.0


class ForkGate:
    """Held by a monitor thread from a fork until it recorded the child's pid (for an init, until
    its set-up reported); any number of threads at once.
    The orphan reaper reaps only while no thread is inside.

    Called with fds, it names the fds the thread's child keeps: a child closes every other one at
    once (an at-fork hook), since it inherits every thread's fds. Without that, a container's init
    waiting at its start gate held the pipes of the others created meanwhile (close-on-exec acts
    only at its exec): another init's sync pipe never reached EOF, its start never returned."""

    def __init__(self) -> None:
        self.mutex = _thread.allocate_lock()
        self.forking = 0
        self.keep: dict[int, frozenset[int]] = {}  # thread ident -> the fds its child keeps
        self.pid = os.getpid()
        self.forker = 0  # the pid of the process that forks, noted by it just before
        os.register_at_fork(before=self._note_forker, after_in_child=self._close_others)

    def __call__(self, fds: tuple[int, ...]) -> ForkGate:
        self.keep[_thread.get_ident()] = frozenset((0, 1, 2, *fds))
        return self

    def __enter__(self) -> None:
        with self.mutex:
            self.forking += 1

    def __exit__(self, *_: object) -> None:
        self.keep.pop(_thread.get_ident(), None)
        with self.mutex:
            self.forking -= 1

    def _note_forker(self) -> None:
        self.forker = os.getpid()

    def _close_others(self) -> None:
        """In a child of ours, not a grandchild (which a child forks with what it needs). Not
        getppid: an init, forked into its PID namespace, sees no parent (0)."""
        if self.forker != self.pid:
            return
        keep = self.keep.get(_thread.get_ident())
        if keep is None:
            return
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in keep:
                try:  # noqa: SIM105 - no contextlib import in the monitor
                    os.close(int(name))
                except OSError:
                    pass


class Pod:
    def __init__(self, listener: int, path: str) -> None:
        self.lock = ForkGate()  # supervise.Monitor.fork_lock
        self.monitors: set[Any] = set()  # the live supervise.Monitor objects
        self.listener = Socket(fileno=listener)
        self.path = path
        self.ino = os.stat(path).st_ino
        self.threads = 0
        self.started = False  # a monitor thread ever ran (a warm start waits for its first)
        self.warm_until = 0.0  # a warm start's wait for its first monitor ends then
        self.done_r, self.done_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.start_time = supervise.proc_starttime(os.getpid())
        self.uid = os.getuid()

    # ---- main thread ----
    def serve(self, first_fd: int | None, first_argv: list[str]) -> int:
        """Serve the pod's monitors until the last ended; started warm (*first_fd* None), retire
        only after WARM_GRACE seconds without a first one."""
        import time

        os.chdir("/")
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wake_w)
        _signal.signal(_signal.SIGCHLD, lambda *_: None)
        sc.SYSCALLS.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        self.listener.setblocking(False)
        if first_fd is None:
            self.warm_until = time.monotonic() + WARM_GRACE
        else:
            self.start(first_fd, first_argv)
        while True:
            blocked = self.reap()
            waiting = self.threads == 0 and not self.started and time.monotonic() < self.warm_until
            if waiting:
                blocked = True
            elif self.threads == 0:
                retired = self.retire()
                if retired is True:
                    return 0
                blocked = blocked or retired is None
            try:
                ready, _, _ = select.select(
                    [self.listener.fileno(), wake_r, self.done_r], [], [], RETRY if blocked else None
                )
            except InterruptedError:
                continue
            for fd in (wake_r, self.done_r):
                if fd in ready:
                    try:
                        n = len(os.read(fd, 4096))
                    except BlockingIOError:
                        n = 0
                    if fd == self.done_r:
                        self.threads -= n
            if self.listener.fileno() in ready:
                self.accept_all()

    def accept_all(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # closed meanwhile (retire)
                return
            self.start(conn.detach(), None)

    def start(self, fd: int, argv: list[str] | None) -> None:
        self.threads += 1
        try:
            _thread.start_new_thread(self.run, (fd, argv))  # run() catches all; none is joined
        except BaseException:
            self.threads -= 1
            os.close(fd)
            raise

    def reap(self) -> bool:
        """Reap orphans; True when a monitor's own child (not reaped yet by its owner) hides the
        rest (waitid shows one child at a time), or a thread forks: look again soon."""
        with self.lock.mutex:
            if self.lock.forking:
                return True
            while True:
                try:
                    info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:
                    return False
                if info is None:
                    return False
                owned = {p for m in list(self.monitors) for p in m.owned()}
                if info.si_pid in owned:
                    return True
                try:  # noqa: SIM105 - no contextlib import in the monitor
                    os.waitpid(info.si_pid, 0)
                except ChildProcessError:
                    pass

    def retire(self) -> bool | None:
        """No monitor left: remove the socket (under the pod's lock, as clients connect or launch)
        and serve whoever connected meanwhile. True: exit now; False: serving again; None: the
        lock is busy (a client is connecting): look again soon."""
        import fcntl

        try:
            lock = os.open(self.path[: -len(".sock")] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            lock = -1
        try:
            if lock >= 0:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return None
            try:
                if os.stat(self.path).st_ino == self.ino:
                    os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.accept_all()  # connected before the unlink: theirs to serve
            if self.threads:
                return False
            self.listener.close()
            return True
        finally:
            if lock >= 0:
                os.close(lock)

    # ---- a monitor thread ----
    def run(self, fd: int, argv: list[str] | None) -> None:
        try:
            if argv is None:
                argv = self.handshake(fd)
            if argv is not None:
                self.monitor(fd, argv)
            else:
                os.close(fd)
        except BaseException as exc:  # noqa: BLE001 - a thread's failure is its container's alone
            print(f"monitor: {exc}", file=sys.stderr, flush=True)
        finally:
            os.write(self.done_w, b"x")

    def handshake(self, fd: int) -> list[str] | None:
        """The client's request (the fork server's format) -> [cdir, rdir, flags...], after
        ``forked PID`` and the client's ``g``; None when the client went away or is not ours."""
        conn = Socket(fileno=os.dup(fd))
        try:
            cred = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
            if struct.unpack("3i", cred)[1] not in (0, self.uid):
                return None
            conn.settimeout(5)
            size = struct.unpack("!I", recv_exact(conn, 4))[0]
            if size > 65536:
                return None
            parts = recv_exact(conn, size).split(b"\0")
            if parts == [b"retire"]:  # zygote.retire_warm: the create it was started for failed
                self.warm_until = 0.0
                return None
            if len(parts) < 3:
                return None
            conn.sendall(b"forked %d\n" % os.getpid())
            if conn.recv(1) != b"g":
                return None
        except (OSError, EOFError, struct.error):
            return None
        finally:
            conn.close()
        os.set_blocking(fd, True)
        return [os.fsdecode(p) for p in parts[1:3]] + [p.decode() for p in parts[3:] if p == b"--start"]

    def monitor(self, fd: int, argv: list[str]) -> None:
        self.started = True  # not on accept: a client that only looked (warm_pod) ends no grace
        cdir, rdir = argv[0], argv[1]
        mon: Any = None
        try:
            tid = _thread.get_native_id()
            record = {
                "pid": tid,
                "starttime": supervise.proc_starttime(tid),
                "process": os.getpid(),
                "process_start": self.start_time,
            }
            mon = supervise.Monitor(cdir, rdir, record, shared=self, out_fd=fd)
            self.monitors.add(mon)
            mon.main("--start" in argv[2:], "--gate" in argv[2:])
        except Exception as exc:  # noqa: BLE001 - one line to the client, the traceback to monitor.err
            import traceback

            try:
                with open(os.path.join(rdir, "monitor.err"), "a") as f:
                    traceback.print_exc(file=f)
            except OSError:
                pass
            if mon is None or mon.out_fd >= 0:
                try:  # noqa: SIM105 - no contextlib import in the monitor
                    os.write(fd, f"error monitor: {exc}\n".encode())
                except OSError:
                    pass
                if fd == 1:  # the first container's: the caller reads our stdout to its EOF
                    null = os.open("/dev/null", os.O_WRONLY)
                    os.dup2(null, 1)
                    os.close(null)
                else:
                    os.close(fd)
        finally:
            self.monitors.discard(mon)
            if mon is not None:
                mon.close()


def main(argv: list[str], *, detach: bool = True) -> int:
    """``monitor.py --pod SOCKET [CDIR RDIR [--start]]``: bind, detach (the caller reaps us at once
    and reads stdout to its EOF: the first monitor's ok/error line), serve until the last monitor
    thread ended. When the socket cannot be bound: a monitor of this container's own. *detach*
    False: a warm monitor, detached before its imports (runtime/monitor.py)."""
    path, rest = argv[2], argv[3:]
    try:
        try:  # noqa: SIM105 - no contextlib import in the monitor
            os.unlink(path)  # stale: the caller holds the pod's lock and found no listener
        except FileNotFoundError:
            pass
        listener = listen_private(path)
    except OSError as exc:
        print(f"monitor: pod socket {path}: {exc}", file=sys.stderr, flush=True)
        return supervise.main([argv[0], *rest], detach=detach)
    if detach and os.fork():
        os._exit(0)
    null = os.open("/dev/null", os.O_RDWR)
    err = os.open(path[: -len(".sock")] + ".err", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    if not rest:  # warm: no first monitor answers on stdout (the caller reads it to its EOF)
        os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)
    return Pod(listener.detach(), path).serve(1 if rest else None, rest)


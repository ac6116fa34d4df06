"""A lone container's monitor, started before its container exists.

A monitor spawned when the container is ready costs its interpreter start and imports (~40 ms CPU)
after the set-up, on the command's critical path. ``start`` launches ``monitor.py --warm`` first
thing in `container run`; it imports while the command parses, creates the overlay, the cgroups
and the network on the other core. Lone containers share one monitor process (runtime.zygote.LONE,
as a pod's containers share the pod's): when none runs, ``launch_pod`` makes the warm one that
process, with this container its first (``monitor.py --pod``, under the lone monitor's lock), and
reads its status line as a fresh one's. Without shared monitors (COMPOSER_POD_MONITOR=0), ``use``
makes it the container's own monitor, the same process as a direct spawn. Either way it is
``python -I -S``, standard library only, in its own session, detached by its own fork: the process
spawned here forks it and exits at once, before its imports (so the command's child that it reaps
is that first process: the monitor's liveness is its status pipe's, its pid is not ours to know).
``spawn`` with ``launch_pod`` is also how zygote._run_pod_monitor starts any shared monitor (a
pod's, with its first container or ahead of them), without importing subprocess.

Only where a new monitor process would start: not for a pod's container, nor while the lone
containers' monitor runs (a thread of it serves), nor, without shared monitors, where the fork
server (runtime/zygote_server.py) forks one. An unused one reads EOF on its stdin and exits: when the
command discards it, or dies (its end of the pipe closes with it).
Spawned with os.posix_spawn, not subprocess (whose import, with locale, selectors and threading,
is ~10 ms of a `container run`); the monitor closes the fds it inherited beyond 0-2 itself.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.paths import Paths

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")
ROOM = 512  # empty arguments: room for its container's command line (proctitle.set_cmdline)


class WarmMonitor:
    def __init__(self, pid: int, request_w: int, status_r: int) -> None:
        """*pid*: the process spawned, which forks the monitor and exits."""
        self.pid, self.request_w, self.status_r = pid, request_w, status_r
        self.returncode: int | None = None  # the spawned process's

    def alive(self) -> bool:
        """Whether it still waits for its container: before its request it writes nothing, so
        anything on its status pipe, or its end closed, says it died (its traceback, if any)."""
        if self.request_w < 0 or self.status_r < 0:
            return False
        import select

        return not select.select([self.status_r], [], [], 0)[0]

    def use(self, cdir: str, rdir: str, *, start: bool, timeout: float = 60,
            meanwhile: Callable[[], object] | None = None) -> bytes:
        """Give it its container; returns what it wrote on stdout and stderr, one stream (a status
        line as monitor.py's: ``ok PID`` or ``error MESSAGE``). Raises TimeoutError. *meanwhile*:
        see _hand."""
        return self._hand([cdir, rdir, *(["--start"] if start else [])], timeout, meanwhile)

    def launch_pod(self, path: str, args: list[str], timeout: float,
                   meanwhile: Callable[[], object] | None = None) -> bytes:
        """Become the shared monitor of socket *path* (``monitor.py --pod PATH ARGS``) and run
        the container of *args* first, if any; returns what it said, as use() does. Raises
        TimeoutError. *meanwhile*: see _hand."""
        return self._hand(["--pod", path, *args], timeout, meanwhile)

    def _hand(self, args: list[str], timeout: float, meanwhile: Callable[[], object] | None = None) -> bytes:
        """Write the rest of its command line on its stdin, then read all it says and reap it.
        *meanwhile*: what its init waits for before its workload (``--gate``: the network gate,
        runtime.executor.NET_GATE), done once the request is written, while the init sets up;
        what it raises is raised once the monitor answered (the init ends without the gate's
        go-ahead, and says so)."""
        if meanwhile is not None:
            args = [*args, "--gate"]
        try:  # noqa: SIM105 - no contextlib here: it would delay the spawn (composer/cli/run_ahead.py)
            # a pipe holds it whole (well under PIPE_BUF)
            os.write(self.request_w, b"\0".join(os.fsencode(a) for a in args))
        except BrokenPipeError:  # it died: what it said, if anything, is read below
            pass
        self._close_request()
        failed: BaseException | None = None
        if meanwhile is not None:
            try:
                meanwhile()
            except BaseException as exc:  # noqa: BLE001 - raised below, once the monitor answered
                failed = exc
        out = self._read_all(time.monotonic() + timeout)
        self._reap()
        if failed is not None:
            raise failed
        return out

    def discard(self) -> None:
        """No container came for it: it exits at its stdin's EOF; waited for here, so that none
        is left once the command ends. After a use() (even one interrupted by Ctrl-C while
        reading) it serves its container: nothing to wait for."""
        if self.returncode is not None:
            return
        self._close_request()
        if self.status_r >= 0:
            try:  # noqa: SIM105 - no contextlib (above)
                self._read_all(time.monotonic() + 5)
            except TimeoutError:
                pass
        self._reap()

    def _close_request(self) -> None:
        if self.request_w >= 0:
            os.close(self.request_w)
            self.request_w = -1

    def _read_all(self, deadline: float) -> bytes:
        import select

        chunks: list[bytes] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.status_r], [], [], left)[0]:
                    # left alone, as any monitor that detached: it may serve others' containers
                    raise TimeoutError("the monitor did not report in time")
                chunk = os.read(self.status_r, 65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        finally:
            os.close(self.status_r)
            self.status_r = -1

    def _reap(self) -> None:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)


def wanted(paths: Paths, pod: str | None) -> bool:
    """Whether the next container's monitor would be a new process (see the module doc)."""
    from runtime import zygote

    if pod and zygote.pod_monitors():
        return False
    if zygote.lone_shared():  # none yet: this one becomes the lone containers' shared monitor
        return not os.path.exists(zygote.pod_socket(paths.rundir, zygote.LONE))
    # as container_monitor.spawn_monitor decides, before this container has a run dir
    return not zygote.worth_it(paths.rundir, zygote.others_in(os.path.dirname(paths.container_run("x"))))


def start(paths: Paths, pod: str | None = None) -> WarmMonitor | None:
    """A warm monitor for the next container of this command, if one is wanted."""
    if os.environ.get("COMPOSER_WARM_MONITOR") in ("0", "false", "no") or not wanted(paths, pod):
        return None
    return spawn()


def spawn() -> WarmMonitor | None:
    """``monitor.py --warm``, waiting for what it is to be; None if it could not be started."""
    request_r, request_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", MONITOR, "--warm", *([""] * ROOM)],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, request_r, 0), (os.POSIX_SPAWN_DUP2, status_w, 1),
                          (os.POSIX_SPAWN_DUP2, status_w, 2)],
            setsid=True,
        )
    except OSError:
        os.close(request_w)
        os.close(status_r)
        return None  # the direct spawn reports the cause, if it has the same trouble
    finally:
        os.close(request_r)
        os.close(status_w)
    return WarmMonitor(pid, request_w, status_r)

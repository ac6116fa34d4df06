"""A container's monitor process, seen from the engine: start it (a fork of the fork server, a
monitor started ahead, or a new interpreter), open its start gate, signal the init it runs, wait
for it and end it. Functions of a ContainerManager, used by create and the lifecycle verbs.
"""

from __future__ import annotations

import _signal  # not the signal module: it turns every constant into an enum at import
import _thread
import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping

from runtime.containers import KIND, pid_alive, read_json
from runtime.errors import ExecError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import threading
    from typing import Any, Final

    from runtime.containers import ContainerManager
    from runtime.warm_monitor import WarmMonitor

MONITOR: Final = os.path.join(os.path.dirname(os.path.realpath(__file__)), "monitor.py")
_PIDFD_THREAD: Final = os.O_EXCL  # pidfd_open: a pidfd of one thread, readable once it exited


def _monitor_status(name: str, out: bytes) -> None:
    """Read a monitor's answer on one stream (stdout and stderr): its first ok/error line."""
    lines = out.decode(errors="replace").strip().splitlines()
    status = next((ln for ln in lines if ln.startswith(("ok ", "error "))), "")
    if status.startswith("ok "):
        return
    if status.startswith("error "):
        raise ExecError(status[6:])
    detail = (lines or ["no status"])[-1]
    raise ExecError(f"container {name}: the monitor failed to start: {detail}")


# (run dir, pod) -> the thread starting that pod's shared monitor ahead (warm_pod_monitor)
_WARMING: dict[tuple[str, str], threading.Thread] = {}
_WARMING_LOCK = _thread.allocate_lock()


def warm_pod_monitor(mgr: ContainerManager, pod: str) -> threading.Thread | None:
    """Start the pod's shared monitor in the background while this container is set up: its
    interpreter start then overlaps the set-up instead of following it (`up` of a pod).
    Returns the thread that starts it, if one was needed."""
    from runtime import zygote

    rundir = str(mgr.paths.rundir)
    if not zygote.pod_monitors() or os.path.exists(zygote.pod_socket(rundir, pod)):
        return None
    import threading

    with _WARMING_LOCK:  # one warm-up per pod: `up` creates a pod's containers all at once
        busy = _WARMING.get((rundir, pod))
        if busy is not None and busy.is_alive():
            return None
        warming = threading.Thread(target=zygote.warm_pod, args=(rundir, pod), daemon=True)
        _WARMING[(rundir, pod)] = warming
        warming.start()
    return warming


def retire_warm_pod_monitor(mgr: ContainerManager, pod: str, warming: threading.Thread) -> None:
    """The create a warm-up was started for failed: no idle monitor is left waiting for it."""
    from runtime import zygote

    warming.join(15)
    zygote.retire_warm(str(mgr.paths.rundir), pod)


class _Once:
    """A call made at most once, by whichever path comes to it first."""

    def __init__(self, fn: Callable[[], object] | None) -> None:
        self.fn = fn

    def __call__(self) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            fn()

    def pending(self) -> _Once | None:
        return self if self.fn is not None else None


def spawn_monitor(
    mgr: ContainerManager, cid: str, name: str, *, start: bool, warm: WarmMonitor | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Start the monitor of container *cid* (its bundle written) and read its first answer.
    *meanwhile*: what the init waits for at its network gate (runtime.executor.NET_GATE): done
    while the init sets up when *warm* is asked for it, else before the request."""
    later = _Once(meanwhile)
    if start:
        _resolver_ready(mgr)
    cdir, run = mgr.paths.container_dir(cid), mgr.paths.container_run(cid)
    from runtime import zygote

    # a pod's containers share one monitor process (runtime/executor/podmon.py, F4), and so do
    # the engine's lone containers (zygote.LONE), unless the zygote is asked for by name
    pod = (mgr.store.read().get(KIND, cid) or {}).get("pod") if zygote.pod_monitors() else None
    if not pod and zygote.lone_shared():
        pod = zygote.LONE
    launch: Callable[[str, list[str], float], bytes] | None = None
    if pod == zygote.LONE and warm is not None and warm.alive():  # started ahead: imports done
        launch = functools.partial(warm.launch_pod, meanwhile=later.pending())
    else:
        later()
    if pod or zygote.worth_it(mgr.paths.rundir, zygote.others_in(os.path.dirname(run), cid)):
        try:
            out = zygote.spawn_monitor(
                mgr.paths.rundir, cdir, run, start=start, pod=pod or None, launch=launch,
                before_request=later,
            )
        except zygote.Unavailable:
            pass  # nothing was forked: the direct path below
        except TimeoutError:
            raise ExecError(f"container {name}: the monitor did not report within 60 s") from None
        else:
            return _monitor_status(name, out)
    if warm is not None and warm.alive():  # started ahead: its imports are done
        try:
            return _monitor_status(name, warm.use(str(cdir), str(run), start=start,
                                                  meanwhile=later.pending()))
        except TimeoutError:
            raise ExecError(f"container {name}: the monitor did not report within 60 s") from None
    later()
    import subprocess  # here: ps, logs, rm... never spawn a monitor (5 ms CPU of their import)

    argv = [sys.executable, "-I", "-S", MONITOR, str(cdir), str(run), *(["--start"] if start else [])]
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        start_new_session=True,
        close_fds=True,
        timeout=60,
    )
    line = proc.stdout.decode(errors="replace").strip()
    if line.startswith("ok "):
        return
    if line.startswith("error "):
        raise ExecError(line[6:])
    detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no status"])[-1]
    raise ExecError(f"container {name}: the monitor failed to start: {detail}")


def _resolver_ready(mgr: ContainerManager) -> None:
    """The DNS resolver this command launched listens before a container starts (one that set no
    network up made no network manager: nothing to wait for)."""
    networks = mgr.engine.__dict__.get("networks")
    if networks is not None:
        networks.resolver_ready()


def start_created(mgr: ContainerManager, cid: str) -> None:
    """Open the start gate of a created container; returns once its process was exec'd: the
    monitor answers on a FIFO of ours (a monitor started by an older composer does not: then
    state.json says it)."""
    import select
    import threading

    _resolver_ready(mgr)
    run = mgr.paths.container_run(cid)
    reply_name = f"reply.{os.getpid()}.{threading.get_ident()}"
    reply = f"{run}/{reply_name}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(reply)
    os.mkfifo(reply, 0o600)
    try:
        fd = os.open(reply, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            mgr._write_ctl(cid, f"reply {reply_name} start")
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if poller.poll(50):
                    break  # answered
                state = read_json(f"{run}/state.json") or {}
                if state.get("status") != "created" or not mgr._monitor_alive(cid):
                    break
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(reply)
    error = started_state(mgr, cid).get("error")
    if error:
        raise ExecError(str(error))


def started_state(mgr: ContainerManager, cid: str) -> dict[str, Any]:
    """The monitor's state after the start just asked for (its error when the start failed):
    state.json while the monitor lives; once it ended, its exit file, or, once a reader folded
    that (the fold writes the row, then removes the exit file, then state.json), the row's."""
    run = mgr.paths.container_run(cid)
    state = read_json(f"{run}/state.json") or read_json(f"{run}/exit.json")
    if state is None:
        last = (mgr.store.read().get(KIND, cid) or {}).get("last_state")
        state = last if isinstance(last, dict) else {}
    return state


def signal_init(mgr: ContainerManager, cid: str, sig: int) -> bool:
    state = read_json(f"{mgr.paths.container_run(cid)}/state.json") or {}
    pid = int(state.get("pid") or 0)
    if not pid_alive(pid, state.get("pid_start")):
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def wait_monitor_exit(mgr: ContainerManager, cid: str, timeout: float) -> bool:
    """True once the monitor of *cid* is gone (woken by its pidfd, not by polling). A pod's
    shared monitor: its thread for *cid* (a thread's pidfd, Linux 6.9; polled before)."""
    mon = read_json(f"{mgr.paths.container_run(cid)}/monitor.json") or {}

    pid, start = int(mon.get("pid") or 0), mon.get("starttime")
    if not pid_alive(pid, start):
        return True
    shared = bool(mon.get("process"))
    try:
        fd = os.pidfd_open(pid, _PIDFD_THREAD if shared else 0)
    except OSError as exc:  # gone meanwhile (ESRCH)
        if shared and exc.errno == 22:  # EINVAL  # no thread pidfds: look every 10 ms
            deadline = time.monotonic() + timeout
            while pid_alive(pid, start) and time.monotonic() < deadline:
                time.sleep(0.01)
        return not pid_alive(pid, start)
    try:
        if not pid_alive(pid, start):  # the pid was reused between our two looks
            return True
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)  # readable once the process has exited
        poller.poll(max(0, int(timeout * 1000)))
    finally:
        os.close(fd)
    return not pid_alive(pid, start)


def kill_monitor(mgr: ContainerManager, cid: str, *, wait: bool = True) -> None:
    """End a created container's monitor (and its init at the gate). A pod's shared monitor
    serves others: its thread for *cid* is told to stop and ends once its init died (a kill
    of a thread's id would kill the whole process)."""
    state = read_json(f"{mgr.paths.container_run(cid)}/state.json") or {}
    mon = read_json(f"{mgr.paths.container_run(cid)}/monitor.json") or {}
    targets = [(int(state.get("pid") or 0), state.get("pid_start"))]
    if mon.get("process"):
        with contextlib.suppress(OSError):
            mgr._write_ctl(cid, "stop")  # wakes a thread that waits to restart
    else:
        targets.append((int(mon.get("pid") or 0), mon.get("starttime")))
    for pid, start in targets:
        if pid_alive(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, _signal.SIGKILL)
    if wait:
        wait_monitor_exit(mgr, cid, 5.0)


def wait_pod_monitor_exit(mon: Mapping[str, Any], timeout: float = 1.0) -> None:
    """A pod's shared monitor left with no monitor thread exits at once (removing its socket):
    wait for that, so that the removal of a pod's last container leaves no process behind."""
    pid, start = int(mon.get("process") or 0), mon.get("process_start")
    try:
        if not pid_alive(pid, start) or len(os.listdir(f"/proc/{pid}/task")) > 1:
            return  # gone, or still serving other containers
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if pid_alive(pid, start):
            import select

            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll(int(timeout * 1000))
    finally:
        os.close(fd)

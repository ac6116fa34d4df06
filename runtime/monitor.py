"""The container monitor (composer's conmon): one small process per running container.

Run as ``python -I -S runtime/monitor.py CONTAINER_DIR RUN_DIR [--start]``, standard library only.
It double-forks away from the caller (which reads one status line on stdout: ``ok <pid>`` when the
init waits at the start gate, or ``error <message>``), becomes a child subreaper, forks the init
(runtime.executor.init), holds its stdio and writes the log file, applies the restart policy, runs
healthchecks, and writes ``state.json`` at each transition and ``exit.json`` when it is done.
Commands come through the ``ctl`` FIFO in RUN_DIR (``start``); a stop by the user writes the
``stopping`` marker before signalling the init, which disables restarting.
Usually this script does not run at all: runtime/zygote_server.py forks a pre-imported monitor that runs
the same ``supervise.main`` with the same arguments (and shows this command line).
``monitor.py --pod SOCKET CDIR RDIR [--start]`` starts a shared monitor instead
(runtime/executor/podmon.py): one process, a thread per container of a pod, or of the engine's
lone containers (runtime.zygote.LONE), which is what this script usually runs as.
``monitor.py --warm`` is a monitor started before its container exists (runtime/warm_monitor.py):
it imports, then reads ``--pod\0SOCKET[\0CDIR\0RDIR[\0--start[\0--gate]]]`` (a shared monitor,
with its first container or, started ahead of a pod's containers, none yet; or, without shared
monitors, ``CDIR\0RDIR[\0--start[\0--gate]]``) on stdin and goes on as above, detached already
(its first fork comes before its imports); at EOF with nothing read (the command failed or needed
none) it exits. ``--gate``: its init waits at the network gate (runtime.executor.NET_GATE) that
the command opens once it has plugged the container's network in.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WARM = __name__ == "__main__" and sys.argv[1:2] == ["--warm"]
if WARM:
    os.closerange(3, 1 << 20)  # posix_spawn cannot: nothing the command inherited stays open
    # detached now, before the imports: the fork other monitors make after them (~10 MB of pages
    # to copy, then copy-on-write faults) cost ~2.5 ms between the command's request and the init
    if os.fork():
        os._exit(0)  # the command reaps this first process at once; the monitor is not its child

from runtime.executor.supervise import main  # noqa: E402


def _read_request() -> list[str]:
    """The rest of the command line of a ``--warm`` monitor, from stdin (empty: none is needed)."""
    data = b""
    while chunk := os.read(0, 65536):
        data += chunk
    return os.fsdecode(data).split("\0") if data else []


if __name__ == "__main__":
    if WARM:
        # while the command sets its container up: all the request does not change, down to
        # what the first init imports and loads (else ~1 ms between the request and its fork)
        import runtime.executor.podmon  # noqa: F401
        from runtime.executor.init import preload
        from runtime.executor.proctitle import prepare, set_cmdline

        preload()
        prepare()
        rest = _read_request()
        if len(rest) >= 2:  # as a fresh one's (--gate concerns its first init only)
            set_cmdline([sys.executable, "-I", "-S", sys.argv[0], *(a for a in rest if a != "--gate")])
        if rest[:1] == ["--pod"] and len(rest) >= 2:  # a shared monitor (first container or none)
            from runtime.executor.podmon import main as pod_main

            code = pod_main([sys.argv[0], *rest], detach=False)
        else:
            code = main([sys.argv[0], *rest], detach=False) if len(rest) >= 2 else 0
    elif sys.argv[1:2] == ["--pod"]:
        from runtime.executor.podmon import main as pod_main

        code = pod_main(sys.argv)
    else:
        code = main(sys.argv)
    sys.stderr.flush()  # monitor.err: a traceback may wait in the buffer
    # no interpreter teardown: the exit was recorded; freeing every module only delays the reaper
    # (a directly spawned monitor exited ~40 ms after writing exit.json, a forked one in 3-9 ms)
    os._exit(code)

"""The container monitor (composer's conmon): one small process per running container.

Run as ``python -I -S runtime/monitor.py CONTAINER_DIR RUN_DIR [--start]``, standard library only.
It double-forks away from the caller (which reads one status line on stdout: ``ok <pid>`` when the
init waits at the start gate, or ``error <message>``), becomes a child subreaper, forks the init
(runtime.executor.init), holds its stdio and writes the log file, applies the restart policy, runs
healthchecks, and writes ``state.json`` at each transition and ``exit.json`` when it is done.
Commands come through the ``ctl`` FIFO in RUN_DIR (``start``); a stop by the user writes the
``stopping`` marker before signalling the init, which disables restarting.
Usually this script does not run at all: runtime/zygote.py forks a pre-imported monitor that runs
the same ``supervise.main`` with the same arguments (and shows this command line).
``monitor.py --pod SOCKET CDIR RDIR [--start]`` starts a pod's shared monitor instead
(runtime/executor/podmon.py): one process, a thread per container of the pod.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from runtime.executor.supervise import main  # noqa: E402

if __name__ == "__main__":
    if sys.argv[1:2] == ["--pod"]:
        from runtime.executor.podmon import main as pod_main

        code = pod_main(sys.argv)
    else:
        code = main(sys.argv)
    sys.stderr.flush()  # monitor.err: a traceback may wait in the buffer
    # no interpreter teardown: the exit was recorded; freeing every module only delays the reaper
    # (a directly spawned monitor exited ~40 ms after writing exit.json, a forked one in 3-9 ms)
    os._exit(code)

"""A lone container's monitor, started before its container exists.

A monitor spawned when the container is ready costs its interpreter start and imports (~40 ms CPU)
after the set-up, on the command's critical path. ``start`` launches ``monitor.py --warm`` first
thing in `container run`; it imports while the command parses, creates the overlay, the cgroups
and the network on the other core, then ``use`` hands it the container and reads its status line,
as the direct spawn does. It is the same process as a directly spawned monitor (``python -I -S``,
standard library only, its own session, detached by its own fork once it has a container).

Only where a direct spawn would happen: a pod's containers share the pod's monitor, and with the
fork server (runtime/zygote.py) up a monitor is a fork. An unused one reads EOF on its stdin and
exits: when the command discards it, or dies (its end of the pipe closes with it).
"""

from __future__ import annotations

import os
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from runtime.paths import Paths

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")
ROOM = 512  # empty arguments: room for its container's command line (proctitle.set_cmdline)


class WarmMonitor:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def use(self, cdir: str, rdir: str, *, start: bool, timeout: float = 60) -> tuple[bytes, bytes]:
        """Give it its container; returns what it wrote on stdout and stderr (a status line as
        monitor.py's: ``ok PID`` or ``error MESSAGE``). Raises TimeoutError."""
        request = os.fsencode(cdir) + b"\0" + os.fsencode(rdir) + (b"\0--start" if start else b"")
        try:
            return self.proc.communicate(request, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.discard()
            raise TimeoutError from None

    def discard(self) -> None:
        """No container came for it: it exits (killed, if it already had one and hangs)."""
        if self.proc.returncode is None:
            try:
                self.proc.communicate(b"", timeout=5)
            except (subprocess.TimeoutExpired, OSError, ValueError):
                self.proc.kill()
                self.proc.wait()


def wanted(paths: Paths, pod: str | None) -> bool:
    """Whether the next container's monitor would be spawned directly (see the module doc)."""
    from runtime import zygote

    if pod and zygote.pod_monitors():
        return False
    try:  # the run dirs of the engine's containers, as ContainerManager._spawn_monitor asks
        others = bool(os.listdir(paths.container_run("x").parent))
    except FileNotFoundError:
        others = False
    return not zygote.worth_it(str(paths.rundir), others)


def start(paths: Paths, pod: str | None = None) -> WarmMonitor | None:
    """A warm monitor for the next container of this command, if one is wanted."""
    if os.environ.get("COMPOSER_WARM_MONITOR") in ("0", "false", "no") or not wanted(paths, pod):
        return None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", MONITOR, "--warm", *([""] * ROOM)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return None  # the direct spawn reports the cause, if it has the same trouble
    return WarmMonitor(proc)

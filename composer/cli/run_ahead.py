"""`container run` and `container create`: their container's monitor spawned as the command starts.

The warm monitor (runtime/warm_monitor.py) is a second interpreter that imports on the other core
while the command sets the container up; the command hands it the container once that is ready.
Spawned after the command's own parsing, it was ready a median 1 ms before that request, and late
in 18 runs of 40, by up to 6 ms: the command's critical path then waited for it. So main() spawns
it before it imports the command's modules, when the command line is plainly one of these two
verbs: without ``--pod`` (a pod's container has its pod's monitor) and without ``-h``/``--help``.
The handler takes it (``take``); if none does (a usage error, a failure before the create), main
discards it (``discard_untaken``): it exits at its stdin's EOF.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from runtime.warm_monitor import WarmMonitor


_ahead: list[WarmMonitor] = []  # the one spawned by spawn_for, until taken or discarded
_VERBS = ("run", "create")


def wanted(argv: Sequence[str], word: str | None) -> bool:
    """Whether *argv* (the command line after the program) is plainly `container run` or `create`."""
    if word != "container":
        return False
    rest = argv[list(argv).index(word) + 1:]
    verb = next((t for t in rest if not t.startswith("-")), None)
    return verb in _VERBS and not any(t.startswith("--pod") or t in ("-h", "--help") for t in rest)


def spawn_for(argv: Sequence[str], word: str | None) -> None:
    """Spawn the warm monitor ahead when *argv* wants one."""
    if not _ahead and wanted(argv, word):
        warm = spawn(None)
        if warm is not None:
            _ahead.append(warm)


def spawn(pod: str | None) -> WarmMonitor | None:
    """Open the cgroup attach lock ahead and start a warm monitor, if the container of *pod* will
    have a monitor process of its own (warm_monitor.wanted)."""
    from runtime import attach_lock, warm_monitor
    from runtime.paths import Paths

    # its write waits ~a grace period holding the kernel's cgroup mutex: long before our cgroup
    # mkdirs and the init's move into its cgroup (runtime/attach_lock.py)
    attach_lock.open_ahead()
    return warm_monitor.start(Paths.from_env(), pod)  # the paths Engine() takes


def take() -> WarmMonitor | None:
    """The monitor spawn_for made, now the caller's to use or discard."""
    return _ahead.pop() if _ahead else None


def discard_untaken() -> None:
    if _ahead:
        _ahead.pop().discard()

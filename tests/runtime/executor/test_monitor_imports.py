"""What a directly spawned monitor imports (``python -I -S runtime/monitor.py``): every module is
paid on each container start, so typing and re (~10 ms), json, dataclasses (inspect), pathlib and
socket (enum's share aside) stay out; the exec helper's user resolution stays lean too.
Checked by the module set a real interpreter ends with, never by timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
NEVER = ("typing", "re", "json", "dataclasses", "inspect", "pathlib", "contextlib", "warnings", "socket")


def _modules(code: str) -> set[str]:
    probe = (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n{code}\nprint('@@', ' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60
    )
    marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
    assert marks, out.stderr
    return set(marks[-1].split()[1:])


def test_the_monitor_and_its_init_import_no_typing_re_or_json() -> None:
    # what monitor.py imports, plus what the init loads before pivot_root (spawn's preload)
    mods = _modules("import runtime.executor.supervise\nfrom runtime.executor import init\ninit.preload()")
    assert "runtime.executor.supervise" in mods and "runtime.security.caps" in mods
    assert sorted(m for m in NEVER if m in mods) == []


def test_a_shared_monitor_imports_no_enum() -> None:
    """All that a warm monitor loads before its request (a pod monitor's set): _signal and _socket,
    not the signal and socket modules, whose enums are ~2-3 ms of each monitor's start; _thread,
    not threading, whose after-fork hook runs in each init it forks (~60 page faults); no
    contextlib (through runtime.zygote's client functions), which brings collections and
    functools (~2 ms)."""
    mods = _modules("import runtime.executor.podmon\nfrom runtime.executor import init, proctitle\n"
                    "init.preload()")
    assert "runtime.executor.podmon" in mods
    left_out = ("enum", "signal", "socket", "threading", "contextlib", "collections", "functools")
    assert sorted(m for m in left_out if m in mods) == []
    assert not [m for m in mods if m.startswith(("composer", "runtime.spec", "runtime.state"))]


def test_the_user_resolution_of_exec_and_probes_is_lean() -> None:
    mods = _modules("import runtime.executor.user")
    assert sorted(m for m in NEVER if m in mods) == []


def test_a_terminal_costs_the_monitor_only_the_socket_extension() -> None:
    mods = _modules(
        "import runtime.executor.supervise as s, _socket\n"
        "a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
        "assert s.receive_fd(a) == -1"
    )
    assert "_socket" in mods and "socket" not in mods and "typing" not in mods

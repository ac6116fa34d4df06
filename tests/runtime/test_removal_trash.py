"""An attached ``run --rm`` renames its container's two dirs to trash names and returns; the monitor's
child that waits for the removal claim deletes them (runtime/container_lifecycle._dirs_to_trash).
Listings never see the trash; what a kill leaves of it (the waiting child's, the CLI's) the next
removal or repair deletes. Real containers; the waiting child is found by its parent and its fd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import zygote
from runtime.engine import Engine
from runtime.spec import ContainerSpec
from tests.killpoint import DIE_AT
from tests.runtime.conftest import IMAGE, wait_for

pytestmark = pytest.mark.privileged
REPO = Path(__file__).resolve().parents[2]

def waiter_of(eng: Engine, cid: str) -> int:
    """The waiting child of *cid*'s monitor: a process with the monitor's command line and the
    claim open, not the monitor (which closes its own right after the fork, then exits: its
    child is then init's); 0 while there is none."""
    run = Path(eng.paths.container_run(cid))
    mon = json.loads((run / "monitor.json").read_text())
    monitor, claim = {os.getpid(), int(mon.get("process") or mon["pid"])}, str(run / "removal")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(pid) in monitor or str(run).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == claim for fd in os.listdir(f"/proc/{pid}/fd")):
                return int(pid)
        except OSError:
            continue
    return 0


def exited_with_its_waiter(eng: Engine, name: str) -> tuple[str, int]:
    """An --rm container created and started by this process (which holds its claim, as an
    attached run), exited: its id and its monitor's waiting child."""
    c = eng.containers.create(ContainerSpec(name=name, image=IMAGE, command=("true",),
                                            network_mode="none", volatile=True), start=True)
    assert eng.containers.await_exit_file(c.id, 15)
    claim = eng.containers.claims[c.id]
    deadline = time.monotonic() + 15
    while not (os.pread(claim, 1, 64) == b"w" and (pid := waiter_of(eng, c.id))):
        assert time.monotonic() < deadline, "no waiting child"
        time.sleep(0.01)
    return c.id, pid


# an attached run --rm killed at a step of its removal (sys.argv[3]); "no waiter": its monitor's
# child killed first, so that nobody deletes the trash
CHILD = DIE_AT + textwrap.dedent("""
    from pathlib import Path
    from runtime.engine import Engine
    from runtime.paths import Paths
    from tests.runtime.test_removal_trash import exited_with_its_waiter

    die_at(sys.argv[3])
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    cid, waiter = exited_with_its_waiter(eng, "t-tr-k")
    if sys.argv[4] == "no waiter":
        os.kill(waiter, signal.SIGKILL)
    eng.containers.remove(cid, force=True, volumes=True, dirs_later=True)
""")


def _dirs(engine: Engine) -> list[str]:
    """The entries of the engine's two container dirs, trash names with the others."""
    found = []
    for d in (Path(engine.paths.root) / "containers", Path(engine.paths.rundir) / "containers"):
        found += [str(d / n) for n in (os.listdir(d) if d.exists() else [])]
    return found


def test_the_monitors_child_deletes_the_dirs_an_attached_run_rm_left_it(engine: Engine) -> None:
    """While the child is stopped the dirs are trash, seen by no listing; it deletes them at once."""
    cid, waiter = exited_with_its_waiter(engine, "t-tr-a")
    os.kill(waiter, signal.SIGSTOP)
    try:
        engine.containers.remove(cid, force=True, volumes=True, dirs_later=True)
        assert sorted(_dirs(engine)) == sorted(map(str, engine.paths.container_trash(cid)))
        assert engine.containers.list(all=True) == []
        assert not zygote.others_in(str(Path(engine.paths.rundir) / "containers"))
    finally:
        os.kill(waiter, signal.SIGCONT)
    wait_for(lambda: _dirs(engine) == [], timeout=10)


def test_the_trash_a_killed_child_left_goes_with_the_next_repair(engine: Engine) -> None:
    cid, waiter = exited_with_its_waiter(engine, "t-tr-b")
    os.kill(waiter, signal.SIGSTOP)
    engine.containers.remove(cid, force=True, volumes=True, dirs_later=True)
    os.kill(waiter, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{waiter}/stat"), timeout=10)
    assert sorted(_dirs(engine)) == sorted(map(str, engine.paths.container_trash(cid)))
    engine.networks.repair()  # as `down`, `network rm`, `network inspect`
    assert _dirs(engine) == []


def _killed_after(engine_paths: tuple[Path, Path], step: str, case: str) -> None:
    root, run = engine_paths
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(run), step, case], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("step", [
    "after runtime.container_lifecycle._dirs_to_trash",  # its dirs trash, its row still there
    "after runtime.containers.ContainerManager._delete_row",  # its row gone, the claim unmarked
])
def test_a_run_rm_killed_after_its_dirs_went_to_trash_is_removed_by_its_monitors_child(
        engine: Engine, engine_paths: tuple[Path, Path], step: str) -> None:
    _killed_after(engine_paths, step, "")
    wait_for(lambda: engine.containers.list(all=True) == [] and _dirs(engine) == [], timeout=15)


def test_the_trash_of_a_run_rm_killed_with_no_waiting_child_goes_with_the_next_rm(
        engine: Engine, engine_paths: tuple[Path, Path]) -> None:
    _killed_after(engine_paths, "after runtime.container_lifecycle._dirs_to_trash", "no waiter")
    (left,) = engine.containers.list(all=True)
    assert sorted(_dirs(engine)) == sorted(map(str, engine.paths.container_trash(left.id)))
    engine.containers.remove("t-tr-k", force=True, volumes=True)
    assert _dirs(engine) == []

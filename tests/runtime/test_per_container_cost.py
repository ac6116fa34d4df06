"""What `up`/`down` of many containers no longer repeat per container (bench/FINDINGS.md F13):
cgroup hierarchies detected once, a leaf-first cgroup mkdir, the default seccomp filter kept per
process and hard-linked, and the removal of a stopped container that writes and freezes nothing."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import cgroups, container_monitor, procs
from runtime.cgroups import ROOT_NAME, Cgroup, detect
from runtime.container_create import _seccomp
from runtime.container_lifecycle import kill_everything
from runtime.engine import Engine
from runtime.security import seccomp
from runtime.security.seccomp_profile import default_profile, shared_default_profile
from runtime.spec import ContainerSpec

IMAGE = "localhost/busybox:latest"


# ---- cgroups ------------------------------------------------------------------------------------


def test_detect_is_read_once_and_callers_cannot_change_it() -> None:
    with open("/proc/self/mountinfo") as f:
        fresh = detect(f.read())  # an explicit table is parsed every time
    first = detect()
    assert first == fresh
    first.clear()  # a caller's copy
    assert detect() == fresh
    assert cgroups._detected == fresh


def _dirs(part: str) -> list[Path]:
    return [Path(h.mountpoint, ROOT_NAME, part) for h in detect().values()]


@pytest.fixture
def scope() -> Iterator[str]:
    """A unique first part, removed afterwards even on failure."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    for top in _dirs(name):
        if top.exists():
            for d in sorted([top, *(p for p in top.rglob("*") if p.is_dir())], key=lambda p: -len(p.parts)):
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except OSError:
                        time.sleep(0.02)
    assert not [d for d in _dirs(name) if d.exists()]


@pytest.mark.privileged
def test_a_leaf_under_existing_parents_gets_its_cpuset_and_nothing_else_is_made(scope: str) -> None:
    first = Cgroup.create([scope, "pod", "a"])
    made: list[str] = []
    for ctrl, path in detect().items():
        # blkio: made only for a container with a block I/O setting (none here)
        if ctrl in cgroups.CONTROLLERS and ctrl != "blkio" and path.version == 1:
            leaf = os.path.join(path.mountpoint, ROOT_NAME, scope, "pod", "b")
            Cgroup._make_dirs(leaf, ctrl, 1, made)
    assert made and all(os.path.basename(p) == "b" for p in made)  # the parents existed: only the leaves
    cpuset = first.paths.get("cpuset")
    if cpuset is not None and first.versions["cpuset"] == 1:
        b = Path(cpuset).parent / "b"
        for fname in ("cpuset.cpus", "cpuset.mems"):
            assert (b / fname).read_text().strip() == (Path(cpuset).parent / fname).read_text().strip() != ""
    for p in reversed(made):
        os.rmdir(p)
    # a process can join the leaf-first cgroup (an empty cpuset would refuse it)
    second = Cgroup.create([scope, "pod", "c"])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        signal.pause()
        os._exit(0)
    try:
        second.join(pid)
        assert second.pids() == [pid]
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    second.remove()
    first.remove()
    assert not any(d.exists() for d in _dirs(scope))


@pytest.mark.privileged
def test_missing_parents_are_made_down_from_composer(scope: str) -> None:
    cg = Cgroup.create([scope, "pod", "x"])
    assert all(os.path.isdir(p) for p in cg.paths.values())
    cg.remove()
    assert not any(d.exists() for d in _dirs(scope))


@pytest.mark.privileged
def test_parents_a_removal_walked_up_from_are_not_walked_again(scope: str) -> None:
    """remove_parents looks only where the cgroup was not: Cgroup.remove has walked up from the
    others already (each walk is an rmdir per level)."""
    leaves = Cgroup._layout([scope, "x"], None)[0]
    for leaf in leaves.values():
        os.makedirs(os.path.dirname(leaf), exist_ok=True)  # a parent left, its leaf never made
    walked = [leaves[c] for c in list(leaves)[:1]]
    cgroups.remove_parents([scope, "x"], walked=walked)
    assert os.path.isdir(os.path.dirname(walked[0]))  # not looked at again
    assert not any(os.path.exists(os.path.dirname(leaf)) for leaf in leaves.values() if leaf not in walked)
    cgroups.remove_parents([scope, "x"])
    assert not any(d.exists() for d in _dirs(scope))


# ---- seccomp ------------------------------------------------------------------------------------


def test_default_filter_is_the_cached_filter_of_the_default_profile(tmp_path: Path) -> None:
    caps = frozenset({"CHOWN", "KILL"})
    bpf, path = seccomp.default_filter(str(tmp_path), caps)
    assert bpf == seccomp.cached_filter(str(tmp_path), default_profile(), caps)
    assert Path(path).read_bytes() == bpf and Path(path).parent == tmp_path
    assert seccomp.default_filter(str(tmp_path), caps)[0] is bpf  # kept: no second encode or read
    assert shared_default_profile() == default_profile()


@pytest.mark.privileged
def test_a_container_links_the_cached_filter_and_copies_it_when_the_cache_is_gone(engine: Engine) -> None:
    spec = ContainerSpec(name="t-bpf", image=IMAGE, command=("true",), network_mode="none")
    mgr = engine.containers
    caps = frozenset({"CHOWN"})
    for cid in ("a" * 64, "b" * 64):
        Path(engine.paths.container_dir(cid)).mkdir(parents=True)
    linked = Path(_seccomp(mgr, "a" * 64, spec, caps) or "")
    _, cached_at = seccomp.default_filter(f"{engine.paths.root}/cache/seccomp", caps)
    cached = Path(cached_at)
    assert linked.stat().st_ino == cached.stat().st_ino
    cached.unlink()  # a pruned cache: the memo still names it
    copied = Path(_seccomp(mgr, "b" * 64, spec, caps) or "")
    assert copied.read_bytes() == linked.read_bytes() and copied.stat().st_nlink == 1
    for cid in ("a" * 64, "b" * 64):
        for p in Path(engine.paths.container_dir(cid)).iterdir():
            p.unlink()
        Path(engine.paths.container_dir(cid)).rmdir()


# ---- removal ------------------------------------------------------------------------------------


@pytest.mark.privileged
def test_removing_a_stopped_container_writes_nothing_into_its_run_dir(engine: Engine) -> None:
    c = engine.containers.create(
        ContainerSpec(name="t-gone", image=IMAGE, command=("true",), network_mode="none"))
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=10) == 0
    run = Path(engine.paths.container_run(c.id))
    # stopped as a later rm or down finds it: its monitor has ended too (right after wait() the
    # lone containers' monitor may still be letting go of the init's mounts, then ending)
    container_monitor.wait_monitor_exit(engine.containers, c.id, 5)
    container_monitor.wait_pod_monitor_exit(json.loads((run / "monitor.json").read_text()))
    before = set(os.listdir(run))
    cg = kill_everything(engine.containers, c.id)
    assert set(os.listdir(run)) == before and "stopping" not in before
    assert cg is not None and cg.pids() == []
    engine.containers.remove(c.id)
    assert not run.exists() and not any(os.path.exists(p) for p in cg.paths.values())


@pytest.mark.privileged
def test_killing_everything_of_a_running_container_still_kills_it(engine: Engine) -> None:
    c = engine.containers.create(
        ContainerSpec(name="t-live", image=IMAGE, command=("sleep", "60"), network_mode="none"))
    info = engine.containers.start(c.id)
    assert info.status == "running" and info.pid > 0
    kill_everything(engine.containers, c.id)
    assert (Path(engine.paths.container_run(c.id)) / "stopping").exists()  # no restart after this
    assert _dead(info.pid)
    engine.containers.remove(c.id, force=True)


@pytest.mark.privileged
def test_a_removal_lets_an_ending_shared_monitor_end_and_keeps_its_run_dir_until_then(
        engine: Engine) -> None:
    """`run --rm` removes its container as soon as the exit file is there, while the shared
    monitor's thread for it still hands over the removal (a fork; the claim file it opens is in
    the run dir): nothing is written for that thread to stop (no "stopping" file), and the run
    dir goes only once it ended. Here a thread of this process stands in for it."""
    c = engine.containers.create(
        ContainerSpec(name="t-ending", image=IMAGE, command=("true",), network_mode="none"))
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=10) == 0  # its monitor is gone: a stand-in next
    run = Path(engine.paths.container_run(c.id))
    release, seen = threading.Event(), []

    def ending_monitor_thread() -> None:
        release.wait(10)
        seen.append(run.is_dir())
        (run / "removal").touch()  # as hand_over_removal's open

    thread = threading.Thread(target=ending_monitor_thread)
    thread.start()
    try:
        tid = thread.native_id or 0
        (run / "monitor.json").write_text(json.dumps(  # its process: one that is no more (pid_max)
            {"pid": tid, "starttime": procs.starttime(tid), "process": 1 << 22, "process_start": 1}))
        (run / "exit.json").write_text(json.dumps({"status": "exited", "exit_code": 0, "pid": 0}))
        kill_everything(engine.containers, c.id, await_pod_monitor=False)
        assert thread.is_alive() and not (run / "stopping").exists()
        threading.Timer(0.2, release.set).start()
        engine.containers.remove(c.id)
        assert seen == [True] and not run.exists()
    finally:
        release.set()
        thread.join()


def _dead(pid: int) -> bool:
    """Gone, or a zombie its (killed) parent left to init."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_any_says_whether_a_kind_has_rows(tmp_path: Path) -> None:
    from runtime.state import Store

    store = Store(tmp_path / "state.db")
    assert not store.read().any("container")
    with store.transaction() as tx:
        tx.put("container", "c1", {"name": "x"}, name="x")
        tx.put("image", "i1", {})
    assert store.read().any("container") and store.read().any("image")
    assert not store.read().any("volume")
    with store.transaction() as tx:
        tx.delete("container", "c1")
    assert not store.read().any("container")
    store.close()

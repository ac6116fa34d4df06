from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cgroups import ROOT_NAME, Cgroup, Hierarchy, detect, device_rules, plan_blkio, plan_limits
from runtime.errors import InvalidSpec, NotFound
from runtime.spec import Resources

MiB = 1024 * 1024
V1 = {"memory": 1, "pids": 1, "cpu": 1, "cpuset": 1, "freezer": 1, "devices": 1}
V2 = {"memory": 2, "pids": 2, "cpu": 2, "cpuset": 2, "freezer": 2}

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpuacct,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / {unified} rw,relatime shared:1 - cgroup2 cgroup2 rw
"""


# ---- pure parts ---------------------------------------------------------------------------

def test_detect_hybrid_takes_v1_controllers_and_v2_for_the_rest(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")
    found = detect(HYBRID.format(unified=tmp_path))
    assert {c: (h.version, str(h.mountpoint)) for c, h in found.items()} == {
        "cpu": (1, "/sys/fs/cgroup/cpu"), "cpuset": (1, "/sys/fs/cgroup/cpu,cpuacct"),
        "memory": (1, "/sys/fs/cgroup/memory"), "pids": (1, "/sys/fs/cgroup/pids"),
        "unified": (2, str(tmp_path)), "freezer": (2, str(tmp_path)),
    }


def test_detect_pure_v2_uses_the_listed_controllers(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    found = detect(f"25 1 0:22 / {tmp_path} rw - cgroup2 cgroup2 rw,nsdelegate\n")
    assert {c: h.version for c, h in found.items()} == {
        "memory": 2, "pids": 2, "cpu": 2, "cpuset": 2, "freezer": 2, "unified": 2, "blkio": 2}


def test_v1_limits() -> None:
    res = Resources(memory=64 * MiB, memory_reservation=32 * MiB, cpus=1.5, cpu_shares=512,
                    cpuset="0-1", pids_limit=100)
    assert plan_limits(res, V1, ncpus=2) == [
        ("memory", "memory.limit_in_bytes", str(64 * MiB)),
        ("memory", "memory.memsw.limit_in_bytes", str(128 * MiB)),
        ("memory", "memory.soft_limit_in_bytes", str(32 * MiB)),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_quota_us", "150000"),
        ("cpu", "cpu.shares", "512"),
        ("cpuset", "cpuset.cpus", "0-1"),
        ("pids", "pids.max", "100"),
    ]
    assert plan_limits(Resources(memory=64 * MiB), V1, memsw=False) == [
        ("memory", "memory.limit_in_bytes", str(64 * MiB))]


def test_v2_limits() -> None:
    res = Resources(memory=64 * MiB, memory_swap=96 * MiB, cpus=0.5, cpu_shares=1024, pids_limit=0)
    assert plan_limits(res, V2, ncpus=2) == [
        ("memory", "memory.max", str(64 * MiB)),
        ("memory", "memory.swap.max", str(32 * MiB)),
        ("cpu", "cpu.max", "50000 100000"),
        ("cpu", "cpu.weight", "39"),
        ("pids", "pids.max", "max"),
    ]
    assert ("memory", "memory.swap.max", "max") in plan_limits(
        Resources(memory=64 * MiB, memory_swap=-1), V2)


def block_device() -> tuple[str, str]:
    """A block device of this host and its major:minor (blkio settings name devices by path)."""
    import stat

    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode):
            rdev = os.stat(path).st_rdev
            return path, f"{os.major(rdev)}:{os.minor(rdev)}"
    pytest.skip("no block device")


def test_blkio_plans_as_runc_writes_them() -> None:
    dev, num = block_device()
    res = Resources(blkio_weight=300, blkio_weight_device=((dev, 400),), blkio_read_bps=((dev, MiB),),
                    blkio_write_iops=((dev, 200),))
    cfq = {"blkio.weight", "blkio.weight_device", "blkio.throttle.read_bps_device",
           "blkio.throttle.write_iops_device"}
    assert plan_blkio(res, 1, cfq) == ([
        ("weight", ("blkio", "blkio.weight", "300")),
        ("weight_device", ("blkio", "blkio.weight_device", f"{num} 400")),
        ("device_read_bps", ("blkio", "blkio.throttle.read_bps_device", f"{num} {MiB}")),
        ("device_write_iops", ("blkio", "blkio.throttle.write_iops_device", f"{num} 200")),
    ], [])
    # BFQ's files where CFQ's are absent; what has no file here is named, not written
    writes, missing = plan_blkio(res, 1, {"blkio.bfq.weight", "blkio.throttle.read_bps_device"})
    assert [w[1][1] for w in writes] == ["blkio.bfq.weight", "blkio.throttle.read_bps_device"]
    assert missing == ["weight_device", "device_write_iops"]
    # v2: io.weight on its 1-10000 scale, io.max keys
    assert plan_blkio(res, 2, {"io.weight", "io.max"})[0] == [
        ("weight", ("blkio", "io.weight", "default 2930")),
        ("weight_device", ("blkio", "io.weight", f"{num} 3940")),
        ("device_read_bps", ("blkio", "io.max", f"{num} rbps={MiB}")),
        ("device_write_iops", ("blkio", "io.max", f"{num} wiops=200")),
    ]
    assert plan_blkio(res, None, None) == ([], ["weight", "weight_device", "device_read_bps",
                                                "device_write_iops"])


@pytest.mark.parametrize(("res", "message"), [
    (Resources(blkio_weight=5), "blkio weight 5: expected 10 to 1000"),
    (Resources(blkio_read_bps=(("/dev/null", 1),)), "blkio device /dev/null: not a block device"),
    (Resources(blkio_write_bps=(("/dev/nonesuch", 1),)),
     "blkio device /dev/nonesuch: no such file or directory"),
])
def test_invalid_blkio_settings_are_named(res: Resources, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        plan_blkio(res, 1, None)


@pytest.mark.parametrize(("res", "message"), [
    (Resources(memory=1024), "memory limit 1024: the minimum is"),
    (Resources(memory=64 * MiB, memory_swap=MiB * 8), "memory_swap 8388608: must be at least"),
    (Resources(cpus=0.001), "cpus 0.001: expected 0.01 to 2"),
    (Resources(cpus=3), "cpus 3: expected 0.01 to 2"),
    (Resources(cpu_shares=1), "cpu_shares 1: expected 2 to 262144"),
    (Resources(cpuset="0-7"), "cpuset '0-7'"),
    (Resources(cpuset="x"), "cpuset 'x'"),
])
def test_invalid_limits_name_the_limit(res: Resources, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        plan_limits(res, V1, ncpus=2)


def test_missing_controller_is_named() -> None:
    with pytest.raises(InvalidSpec, match="pids_limit: the pids cgroup controller is not available"):
        plan_limits(Resources(pids_limit=5), {"memory": 1})


def test_device_rules_deny_all_then_allow_standard_nodes_and_ptys() -> None:
    rules = device_rules(["c 10:229 rwm"])
    assert rules[0] == ("devices", "devices.deny", "a")
    allowed = [r[2] for r in rules[1:]]
    assert {"c 1:3 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:229 rwm"} <= set(allowed)


# ---- real cgroups -------------------------------------------------------------------------

def _all_dirs(part: str) -> list[Path]:
    return [Path(h.mountpoint, ROOT_NAME, part) for h in detect().values()]


@pytest.fixture
def pod() -> Iterator[str]:
    """A unique first part; every cgroup under it is removed afterwards, even on failure."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    for top in _all_dirs(name):
        if not top.exists():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            for pid in (d / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        for d in sorted([top, *(p for p in top.rglob("*") if p.is_dir())], key=lambda p: -len(p.parts)):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
    leftover = [d for d in _all_dirs(name) if d.exists()]
    assert not leftover, f"cgroups left behind: {leftover}"


def _spawn_in(cg: Cgroup, body: str) -> int:
    """Fork a child that waits until it was moved into *cg*, then runs *body* (python source; it
    reports through its exit code). Returns the pid."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        code = 0
        try:
            scope: dict[str, object] = {"os": os}
            exec(body, scope)
            code = int(scope.get("code", 0))  # type: ignore[call-overload]
        finally:
            os._exit(code)
    os.close(r)
    cg.join(pid)
    os.write(w, b"x")
    os.close(w)
    return pid


PIDS_BODY = """
import time
children, code = [], 0
for i in range(20):
    try:
        p = os.fork()
    except BlockingIOError:
        code = 100 + i
        break
    if p == 0:
        time.sleep(30)
        os._exit(0)
    children.append(p)
for p in children:
    os.kill(p, 9)
    os.waitpid(p, 0)
"""


@pytest.mark.privileged
def test_pids_limit_stops_forks(pod: str) -> None:
    cg = Cgroup.create([pod, "c1"], Resources(pids_limit=5))
    pid = _spawn_in(cg, PIDS_BODY)
    assert pid in cg.pids()
    _, status = os.waitpid(pid, 0)
    # the child itself is one of the 5: four forks succeed, the fifth fails
    assert os.waitstatus_to_exitcode(status) == 104
    cg.remove()
    assert not any(d.exists() for d in _all_dirs(pod))


@pytest.mark.privileged
def test_memory_limit_oom_kill_is_reported(pod: str) -> None:
    cg = Cgroup.create([pod, "c1"], Resources(memory=16 * MiB))
    assert not cg.oom_killed()
    pid = _spawn_in(cg, "data = b'x' * (200 * 1024 * 1024)")
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert cg.oom_killed() and Cgroup.open([pod, "c1"]).oom_kills() >= 1
    cg.remove()
    assert not any(d.exists() for d in _all_dirs(pod))


@pytest.mark.privileged
def test_freeze_thaw_and_remove_kills_stragglers(pod: str) -> None:
    cg = Cgroup.create([pod, "c1"], Resources(memory=64 * MiB, cpus=0.5, cpuset="0"))
    pid = _spawn_in(cg, "import time\ndata = b'x' * (4 * 1024 * 1024)\ntime.sleep(60)")
    assert cg.pids() == [pid]
    deadline = time.monotonic() + 5
    while cg.memory_usage() < 4 * MiB and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cg.memory_usage() >= 4 * MiB
    cg.freeze()
    assert cg.frozen()
    cg.thaw()
    assert not cg.frozen()
    cg.remove()   # kills the sleeper first
    _, status = os.waitpid(pid, 0)
    assert os.WTERMSIG(status) == signal.SIGKILL
    assert not any(d.exists() for d in _all_dirs(pod))
    with pytest.raises(NotFound, match=f"cgroup {pod}/c1: not found"):
        Cgroup.open([pod, "c1"])


@pytest.mark.privileged
def test_limits_land_in_the_files(pod: str) -> None:
    cg = Cgroup.create([pod, "c1"], Resources(memory=32 * MiB, cpus=0.25, pids_limit=7, cpuset="0"))
    try:
        if cg.versions["memory"] == 1:
            assert int(Path(cg.path("memory"), "memory.limit_in_bytes").read_text()) == 32 * MiB
            assert Path(cg.path("cpu"), "cpu.cfs_quota_us").read_text().strip() == "25000"
            assert Path(cg.path("devices"), "devices.list").read_text().count("c 1:3 rwm") == 1
        else:
            assert int(Path(cg.path("memory"), "memory.max").read_text()) == 32 * MiB
        assert Path(cg.path("pids"), "pids.max").read_text().strip() == "7"
        assert Path(cg.path("cpuset"), "cpuset.cpus").read_text().strip() == "0"
    finally:
        cg.remove()


@pytest.mark.privileged
def test_a_chain_made_from_nothing_has_its_cpus_and_mems_at_every_level_and_every_device_rule(
    pod: str,
) -> None:
    from runtime.cgroups import DEFAULT_DEVICE_RULES

    cg = Cgroup.create([pod, "deeper", "c1"], devices=["c 10:229 rwm"])  # three levels made here
    try:
        if cg.versions.get("cpuset") == 1:
            leaf = Path(cg.path("cpuset"))
            top = leaf.parent.parent.parent  # composer/, made before
            for d in (leaf.parent.parent, leaf.parent, leaf):
                for fname in ("cpuset.cpus", "cpuset.mems"):
                    assert (d / fname).read_text().strip() == (top / fname).read_text().strip() != ""
        if cg.versions.get("devices") == 1:
            listed = Path(cg.path("devices"), "devices.list").read_text().split("\n")
            assert sorted(filter(None, listed)) == sorted([*DEFAULT_DEVICE_RULES, "c 10:229 rwm"])
    finally:
        cg.remove()


@pytest.mark.privileged
def test_blkio_settings_land_in_the_files_or_are_said_not_applied(pod: str) -> None:
    dev, num = block_device()
    res = Resources(blkio_read_bps=((dev, MiB),), blkio_write_iops=((dev, 200),))
    plain = Cgroup.create([pod, "plain"])
    assert "blkio" not in plain.paths  # no blkio cgroup for a container that sets nothing there
    plain.remove()
    if "blkio" in detect():
        cg = Cgroup.create([pod, "c1"], res)
        try:
            if cg.versions["blkio"] == 1:
                d = Path(cg.path("blkio"))
                assert (d / "blkio.throttle.read_bps_device").read_text().split() == [num, str(MiB)]
                assert (d / "blkio.throttle.write_iops_device").read_text().split() == [num, "200"]
                assert cg.warnings == ()
        finally:
            cg.remove()
    # a host without the controller: one warning, the rest of the cgroup made as ever
    hier = {c: h for c, h in detect().items() if c != "blkio"}
    cg = Cgroup.create([pod, "c2"], res, hierarchies=hier)
    assert cg.warnings == ("blkio settings not applied (device_read_bps, device_write_iops: this host "
                           "has no blkio (v1) or io (v2) cgroup controller)",)
    cg.remove()
    # cgroup2 without the io controller enabled: no io.max file
    unified = detect().get("unified")
    if unified is not None and "io" not in Path(unified.mountpoint, "cgroup.controllers").read_text().split():
        cg = Cgroup.create([pod, "c3"], res, hierarchies={"unified": unified, "freezer": unified,
                                                          "blkio": unified})
        assert cg.warnings == ("blkio settings not applied (device_read_bps, device_write_iops: this "
                               "host's io cgroup has no file for them)",)
        cg.remove()
    assert not any(d.exists() for d in _all_dirs(pod))


@pytest.mark.privileged
def test_two_containers_share_the_pod_dir_until_the_last_goes(pod: str) -> None:
    a = Cgroup.create([pod, "a"])
    b = Cgroup.create([pod, "b"])
    a.remove()
    assert os.path.isdir(os.path.dirname(b.path("pids")))
    b.remove()
    assert not any(d.exists() for d in _all_dirs(pod))


@pytest.mark.privileged
def test_invalid_limit_leaves_nothing(pod: str) -> None:
    with pytest.raises(InvalidSpec, match="cpuset"):
        Cgroup.create([pod, "c1"], Resources(cpuset="0-999"))
    with pytest.raises(InvalidSpec, match="cgroup name part"):
        Cgroup.create([pod, "../x"])
    assert not any(d.exists() for d in _all_dirs(pod))


def _v2_only() -> dict[str, Hierarchy]:
    unified = detect().get("unified")
    if unified is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    return {"unified": unified, "freezer": unified}


@pytest.mark.privileged
def test_cgroup2_tracks_freezes_and_kills(pod: str) -> None:
    """The cgroup2 paths (cgroup.freeze, cgroup.events, cgroup.procs) on the real cgroup2 mount,
    whichever controllers it has."""
    hier = _v2_only()
    # the hierarchies given leave out memory: a memory limit is refused before anything is made
    with pytest.raises(InvalidSpec, match="memory limit: the memory cgroup controller is not available"):
        Cgroup.create([pod, "c1"], Resources(memory=64 * MiB), hierarchies=hier)
    assert not os.path.exists(os.path.join(hier["unified"].mountpoint, ROOT_NAME, pod))
    cg = Cgroup.create([pod, "c1"], hierarchies=hier)
    assert cg.path("freezer") == os.path.join(hier["unified"].mountpoint, ROOT_NAME, pod, "c1")
    pid = _spawn_in(cg, "import time\ntime.sleep(60)")
    assert cg.pids() == [pid]
    cg.freeze()
    assert cg.frozen()
    state = Path(f"/proc/{pid}/status").read_text()
    cg.thaw()
    assert not cg.frozen() and "State:" in state
    cg.kill_all(signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WTERMSIG(status) == signal.SIGKILL
    cg.remove()
    assert not os.path.exists(os.path.join(hier["unified"].mountpoint, ROOT_NAME, pod))
    with pytest.raises(NotFound):
        Cgroup.open([pod, "c1"], hierarchies=hier)


@pytest.mark.privileged
def test_concurrent_create_and_remove_in_one_pod(pod: str) -> None:
    import threading

    errors: list[BaseException] = []

    def churn(name: str) -> None:
        try:
            for _ in range(25):
                Cgroup.create([pod, name], Resources(cpuset="0")).remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not any(d.exists() for d in _all_dirs(pod))

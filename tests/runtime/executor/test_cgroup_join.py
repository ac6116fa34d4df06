"""The monitor moves a container's init into its cgroup while the init builds its rootfs; the init
waits for that only before its cgroup namespace and its view of /sys/fs/cgroup (bench/FINDINGS.md
F21). Real cgroups and real containers, as root."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.executor import init
from runtime.spec import Mount, Resources
from tests.runtime.test_containers import run, spec

pytestmark = pytest.mark.privileged


def test_a_failed_move_reaches_the_init_as_one_line(tmp_path: Path) -> None:
    r, w = os.pipe2(os.O_CLOEXEC)
    init._move_into_cgroup([str(tmp_path / "gone" / "cgroup.procs")], os.getpid(), w)
    os.close(w)
    with pytest.raises(init.InitError) as exc:
        init._await_cgroup(r)
    want = f"cannot join the cgroup: No such file or directory: {tmp_path}/gone/cgroup.procs"
    assert str(exc.value) == want


def test_a_monitor_gone_before_the_move_is_named(tmp_path: Path) -> None:
    r, w = os.pipe2(os.O_CLOEXEC)
    os.close(w)  # as when the monitor dies: EOF, no verdict
    with pytest.raises(init.InitError, match="the monitor went away before the cgroup was joined"):
        init._await_cgroup(r)


def test_the_move_puts_another_process_into_every_hierarchy() -> None:
    if not all(Path(f"/sys/fs/cgroup/{ctl}/cgroup.procs").exists() for ctl in ("pids", "memory")):
        pytest.skip("needs the pids and memory v1 hierarchies (this machine's layout)")
    name = f"composer-test-join-{os.getpid()}"
    procs = []
    for ctl in ("pids", "memory"):
        d = Path(f"/sys/fs/cgroup/{ctl}/{name}")
        d.mkdir(exist_ok=True)
        procs.append(str(d / "cgroup.procs"))
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        init._move_into_cgroup(procs, child, w)
        init._await_cgroup(r)
        lines = Path(f"/proc/{child}/cgroup").read_text().splitlines()
        assert {ln.split(":")[1]: ln.split(":")[2] for ln in lines}.keys() >= {"pids", "memory"}
        for ln in lines:
            if ln.split(":")[1] in ("pids", "memory"):
                assert ln.split(":")[2] == f"/{name}"
    finally:
        os.close(w)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        for p in procs:
            Path(p).parent.rmdir()


def test_the_container_sees_its_own_cgroup_as_the_root(engine: Engine) -> None:
    script = (
        "cat /proc/self/cgroup; echo max=$(cat /sys/fs/cgroup/pids/pids.max); "
        "echo procs=$(cat /sys/fs/cgroup/pids/cgroup.procs | head -1)"
    )
    code, out, err = run(engine, spec("t-cgview", "sh", "-c", script, resources=Resources(pids_limit=42)))
    assert code == 0, err
    controllers = {ln.split(":")[1]: ln.split(":")[2] for ln in out.splitlines() if ln.count(":") == 2}
    for ctl in ("pids", "memory", "cpu,cpuacct" if "cpu,cpuacct" in controllers else "cpu"):
        assert controllers[ctl] == "/", out  # the namespace is rooted at the joined cgroup
    assert "max=42" in out and "procs=1" in out, out


def test_a_mount_inside_the_cgroup_view_is_made_after_it(engine: Engine, tmp_path: Path) -> None:
    """A bind under /sys/fs/cgroup keeps the view in its place in the mount order: deferred, the
    view would cover the bind."""
    (tmp_path / "marker").write_text("bound\n")
    s = spec(
        "t-cgbind", "cat", "/sys/fs/cgroup/pids/marker",
        mounts=(Mount(type="bind", source=str(tmp_path), target="/sys/fs/cgroup/pids", read_only=True),),
    )
    code, out, err = run(engine, s)
    assert (code, out) == (0, "bound\n"), err


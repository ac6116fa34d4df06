"""`ipc: container:X` (compose `service:X`, a `shareable` donor): the joiner shares X's IPC
namespace and X's /dev/shm tmpfs, as docker does: a file in /dev/shm and a SysV segment made on
one side are seen on the other, and not by a container of its own. Real containers."""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.errors import Conflict
from runtime.spec import ContainerInfo, ContainerSpec, ExecSpec

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
CLONE_NEWIPC = 0x08000000
IPC_CREAT = 0o1000
KEY = 0x5EED


def _running(engine: Engine, name: str, **kw: object) -> ContainerInfo:
    c = engine.containers.create(
        ContainerSpec(name=name, image=IMAGE, command=("sleep", "1000"), network_mode="none", **kw)  # type: ignore[arg-type]
    )
    return engine.containers.start(c.id)


def _sh(engine: Engine, ref: str, script: str, tmp: Path) -> tuple[int, str]:
    out = tmp / "exec.out"
    with open(out, "wb") as f:
        code = engine.containers.exec(
            ref, ExecSpec(command=("sh", "-c", script)), stdout=f.fileno(), stderr=f.fileno()
        )
    return code, out.read_text()


def _sysv_segment_in(pid: int) -> None:
    """Make a SysV shm segment (key KEY) in the IPC namespace of process *pid*, from the host."""
    child = os.fork()
    if child == 0:
        code = 1
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/ipc", os.O_RDONLY)
            if libc.setns(fd, CLONE_NEWIPC) == 0 and libc.shmget(KEY, 4096, IPC_CREAT | 0o600) >= 0:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_joiner_shares_dev_shm_and_sysv_segments_with_its_donor(engine: Engine, tmp_path: Path) -> None:
    donor = _running(engine, "t-ipc-donor", ipc_mode="shareable")
    joiner = _running(engine, "t-ipc-joiner", ipc_mode=f"container:{donor.name}")
    alone = _running(engine, "t-ipc-alone")
    assert _sh(engine, donor.id, "echo from-donor > /dev/shm/a", tmp_path) == (0, "")
    assert _sh(engine, joiner.id, "cat /dev/shm/a; echo from-joiner > /dev/shm/b", tmp_path) == (
        0,
        "from-donor\n",
    )
    assert _sh(engine, donor.id, "cat /dev/shm/b", tmp_path) == (0, "from-joiner\n")
    assert _sh(engine, alone.id, "ls /dev/shm", tmp_path) == (0, "")
    # the same tmpfs (one superblock), still a tmpfs, and the container's own devices untouched
    dev = {c.name: os.stat(f"/proc/{c.pid}/root/dev/shm").st_dev for c in (donor, joiner, alone)}
    assert dev["t-ipc-donor"] == dev["t-ipc-joiner"] != dev["t-ipc-alone"]
    code, mounts = _sh(engine, joiner.id, "grep ' /dev/shm ' /proc/self/mounts", tmp_path)
    assert code == 0 and mounts.split()[2] == "tmpfs"
    # SysV: one IPC namespace
    _sysv_segment_in(donor.pid)
    keys = "awk 'NR > 1 {print $1}' /proc/sysvipc/shm"  # busybox has no ipcs here
    assert str(KEY) in _sh(engine, joiner.id, keys, tmp_path)[1].split()
    assert str(KEY) not in _sh(engine, alone.id, keys, tmp_path)[1].split()
    # the donor's removal leaves the joiner its /dev/shm (the tmpfs lives while mounted)
    engine.containers.remove(donor.id, force=True)
    assert _sh(engine, joiner.id, "cat /dev/shm/a", tmp_path) == (0, "from-donor\n")


def test_joining_a_stopped_container_fails_and_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    donor = engine.containers.create(
        ContainerSpec(name="t-ipc-gone", image=IMAGE, command=("true",), network_mode="none")
    )
    engine.containers.start(donor.id)
    assert engine.containers.wait(donor.id, timeout=15) == 0
    with pytest.raises(Conflict, match=r"^container t-ipc-late: ipc namespace of container t-ipc-gone"):
        engine.containers.create(
            ContainerSpec(
                name="t-ipc-late",
                image=IMAGE,
                command=("true",),
                network_mode="none",
                ipc_mode="container:t-ipc-gone",
            )
        )
    assert [c.name for c in engine.containers.list(all=True)] == ["t-ipc-gone"]


def test_shm_share_helper_refuses_a_gone_process() -> None:
    from runtime.container_access import SHM_SHARE

    r = subprocess.run(["python3", "-I", "-S", SHM_SHARE, "999999999", "1"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["No such file or directory"]


def test_compose_ipc_service_shares_dev_shm(engine: Engine, tmp_path: Path) -> None:
    from tests.conftest import composer_cli

    (tmp_path / "compose.yaml").write_text(
        f"services:\n"
        f"  donor:\n    image: {IMAGE}\n    command: sleep 1000\n    ipc: shareable\n    network_mode: none\n"
        f"  joiner:\n    image: {IMAGE}\n    command: sleep 1000\n    ipc: service:donor\n"
        f"    network_mode: none\n"
    )
    base = ("-f", str(tmp_path / "compose.yaml"), "-p", "ipcdemo")
    r = composer_cli(*base, "up", "-d")
    assert r.returncode == 0, r.stderr
    try:
        r = composer_cli(*base, "exec", "-T", "donor", "sh", "-c", "echo shared > /dev/shm/x")
        assert r.returncode == 0, r.stderr
        r = composer_cli(*base, "exec", "-T", "joiner", "cat", "/dev/shm/x")
        assert (r.returncode, r.stdout) == (0, "shared\n"), r.stderr
    finally:
        r = composer_cli(*base, "down")
        assert r.returncode == 0, r.stderr


def test_a_restarted_joiner_gets_its_donors_dev_shm_again(engine: Engine, tmp_path: Path) -> None:
    donor = _running(engine, "t-ipc-rdonor", ipc_mode="shareable")
    joiner = _running(engine, "t-ipc-rjoiner", ipc_mode=f"container:{donor.name}")
    assert _sh(engine, donor.id, "echo one > /dev/shm/a", tmp_path) == (0, "")
    engine.containers.stop(joiner.id, timeout=0.1)
    joiner = engine.containers.start(joiner.id)
    assert _sh(engine, joiner.id, "cat /dev/shm/a", tmp_path) == (0, "one\n")
    dev = os.stat(f"/proc/{donor.pid}/root/dev/shm").st_dev
    assert os.stat(f"/proc/{joiner.pid}/root/dev/shm").st_dev == dev
    # the donor restarted (a new init, a new IPC namespace and /dev/shm): the joiner follows it
    engine.containers.stop(donor.id, timeout=0.1)
    donor = engine.containers.start(donor.id)
    assert _sh(engine, donor.id, "echo two > /dev/shm/b", tmp_path) == (0, "")
    engine.containers.stop(joiner.id, timeout=0.1)
    joiner = engine.containers.start(joiner.id)
    assert _sh(engine, joiner.id, "cat /dev/shm/b", tmp_path) == (0, "two\n")
    assert os.readlink(f"/proc/{joiner.pid}/ns/ipc") == os.readlink(f"/proc/{donor.pid}/ns/ipc")
    # the donor stopped: the joiner refuses to start, naming it, and is left stopped
    engine.containers.stop(joiner.id, timeout=0.1)
    engine.containers.stop(donor.id, timeout=0.1)
    with pytest.raises(Conflict, match=r"^container t-ipc-rjoiner: ipc namespace of container t-ipc-rdonor"):
        engine.containers.start(joiner.id)
    assert engine.containers.get(joiner.id).status == "exited"


def test_ipc_host_binds_the_hosts_dev_shm(engine: Engine, tmp_path: Path) -> None:
    name = f"t-ipc-host-{os.getpid()}"
    host_file = Path("/dev/shm") / name
    host_file.write_text("from-host\n")
    try:
        c = _running(engine, "t-ipc-host", ipc_mode="host")
        assert _sh(engine, c.id, f"cat /dev/shm/{name}; echo back > /dev/shm/{name}.c", tmp_path) == (
            0,
            "from-host\n",
        )
        assert Path(f"/dev/shm/{name}.c").read_text() == "back\n"
        assert os.stat(f"/proc/{c.pid}/root/dev/shm").st_dev == os.stat("/dev/shm").st_dev
        assert os.readlink(f"/proc/{c.pid}/ns/ipc") == os.readlink("/proc/self/ns/ipc")
    finally:
        host_file.unlink(missing_ok=True)
        Path(f"/dev/shm/{name}.c").unlink(missing_ok=True)


def test_a_created_donor_is_joined_and_shares_once_started(engine: Engine, tmp_path: Path) -> None:
    """compose creates the joiner once the donor is created, maybe before it starts: its init
    already waits at the gate in the IPC namespace and /dev/shm it keeps when started."""
    donor = engine.containers.create(
        ContainerSpec(name="t-ipc-cdonor", image=IMAGE, command=("sleep", "1000"), network_mode="none",
                      ipc_mode="shareable")
    )
    joiner = _running(engine, "t-ipc-cjoiner", ipc_mode=f"container:{donor.name}")
    donor = engine.containers.start(donor.id)
    assert _sh(engine, joiner.id, "echo early > /dev/shm/e", tmp_path) == (0, "")
    assert _sh(engine, donor.id, "cat /dev/shm/e", tmp_path) == (0, "early\n")
    assert os.readlink(f"/proc/{joiner.pid}/ns/ipc") == os.readlink(f"/proc/{donor.pid}/ns/ipc")

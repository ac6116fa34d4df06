"""The monitor holds its init's mount namespace from "ready" until the exit is recorded, so that
the init's exit does not wait for the unmount of its tree (runtime/executor/supervise.py,
Monitor._hold_mount_ns); it lets go at the exit, and before a restart's next init mounts the same
upper and work dirs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.spec import ContainerSpec, RestartPolicy
from tests.runtime.conftest import wait_for

pytestmark = pytest.mark.privileged

IMAGE = "localhost/busybox:latest"


def spec(name: str, *cmd: str, **kw: object) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=cmd, network_mode="none", **kw)  # type: ignore[arg-type]


def mount_ns_fds(pid: int) -> list[str]:
    """The mount namespaces process *pid* holds open ([] once it is gone)."""
    held = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("mnt:["):
            held.append(link)
    return held


def monitor_pid(engine: Engine, cid: str) -> int:
    return int(json.loads((Path(engine.paths.container_run(cid)) / "monitor.json").read_text())["pid"])


def test_the_monitor_holds_a_running_init_s_mount_namespace_and_lets_go_at_its_exit(engine: Engine) -> None:
    c = engine.containers.create(spec("t-mntns", "sleep", "100"))
    engine.containers.start(c.id)
    init_ns = os.readlink(f"/proc/{engine.containers.get(c.id).pid}/ns/mnt")
    mon = monitor_pid(engine, c.id)
    assert mount_ns_fds(mon) == [init_ns]
    engine.containers.kill(c.id, "KILL")
    assert engine.containers.wait(c.id, timeout=10) == 137
    wait_for(lambda: init_ns not in mount_ns_fds(mon), timeout=5)
    engine.containers.remove(c.id, force=True)


def test_a_restarting_container_s_monitor_holds_one_mount_namespace_at_most(engine: Engine) -> None:
    c = engine.containers.create(
        spec("t-mntns-re", "sh", "-c", "sleep 0.1; exit 3", restart=RestartPolicy(name="always"))
    )
    engine.containers.start(c.id)
    mon = monitor_pid(engine, c.id)
    # The kernel reuses a freed namespace's inode number, so runs are told apart by the gaps
    # between them (the restart's back-off, 0.1 s and more), not by the names they hold.
    holds, was_held = 0, False
    deadline = time.monotonic() + 10
    while engine.containers.get(c.id).restart_count < 3 and time.monotonic() < deadline:
        held = mount_ns_fds(mon)
        assert len(held) <= 1, held
        holds += bool(held) and not was_held
        was_held = bool(held)
        time.sleep(0.01)
    assert engine.containers.get(c.id).restart_count >= 3  # each restart mounted its rootfs again
    assert holds >= 2  # one namespace per run, each let go before the next
    engine.containers.remove(c.id, force=True)

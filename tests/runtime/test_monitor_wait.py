# ruff: noqa: F811 - the zengine fixture is imported, then requested by name
"""Waiting on a monitor without polling: its exit through a pidfd, a start through its answer on a
FIFO of the caller's."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from runtime.container_monitor import wait_monitor_exit
from runtime.engine import Engine
from runtime.spec import ContainerSpec
from tests.runtime.zygote_fixture import IMAGE, zengine  # noqa: F401 - the fixture

pytestmark = pytest.mark.privileged


def spec(name: str, *cmd: str) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=cmd, network_mode="none")


def starttime(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    return int(raw[raw.rindex(b")") + 2 :].split()[19])


def test_wait_monitor_exit_wakes_on_exit_and_times_out(zengine: Engine) -> None:
    c = zengine.containers.create(spec("wait-exit", "true"))
    run = Path(zengine.paths.container_run(c.id))
    real = (run / "monitor.json").read_text()
    stand_in = subprocess.Popen(["sleep", "30"])
    try:
        # the manager waits for whatever monitor.json names: here a process we control
        (run / "monitor.json").write_text(
            json.dumps({"pid": stand_in.pid, "starttime": starttime(stand_in.pid)})
        )
        t0 = time.monotonic()
        assert wait_monitor_exit(zengine.containers, c.id, 0.2) is False
        assert 0.15 < time.monotonic() - t0 < 2
        stand_in.kill()  # a zombie until reaped: exited all the same
        t0 = time.monotonic()
        assert wait_monitor_exit(zengine.containers, c.id, 10) is True
        assert time.monotonic() - t0 < 1
        # a recorded start time that does not match (a reused pid) is not the monitor
        (run / "monitor.json").write_text(json.dumps({"pid": os.getpid(), "starttime": 1}))
        assert wait_monitor_exit(zengine.containers, c.id, 5) is True
    finally:
        stand_in.kill()
        stand_in.wait()
        (run / "monitor.json").write_text(real)


def test_the_monitor_answers_a_start_on_the_reply_fifo(zengine: Engine) -> None:
    c = zengine.containers.create(spec("wait-reply", "sleep", "30"))
    run = Path(zengine.paths.container_run(c.id))
    os.mkfifo(run / "reply.test", 0o600)
    fd = os.open(run / "reply.test", os.O_RDONLY | os.O_NONBLOCK)
    try:
        with open(run / "ctl", "w") as ctl:
            ctl.write("reply reply.test start\n")
        ready, _, _ = select.select([fd], [], [], 10)
        assert ready and os.read(fd, 100) == b"started\n"
        # the answer comes after the gate opened and state.json said so
        assert json.loads((run / "state.json").read_text())["status"] == "running"
        assert zengine.containers.get(c.id).status == "running"
    finally:
        os.close(fd)
    zengine.containers.stop(c.id, timeout=1)


def test_start_leaves_no_reply_fifo_and_runs(zengine: Engine) -> None:
    c = zengine.containers.create(spec("wait-start", "sh", "-c", "exit 4"))
    zengine.containers.start(c.id)
    assert [p for p in os.listdir(zengine.paths.container_run(c.id)) if p.startswith("reply.")] == []
    assert zengine.containers.wait(c.id, timeout=10) == 4

"""runtime/attach_lock.py: the no-op cgroup move made ahead of a container's cgroup join.

What it saves is measured by `make bench` (bench/FINDINGS.md F24), never here; these say that it
moves nothing, writes at all, stops, and can be turned off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="writes cgroup.procs: needs root")


def _run(code: str, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", textwrap.dedent(code)],
        cwd=REPO, env={"PYTHONPATH": REPO, **env}, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


WATCH = """
    import sys, time
    sys.path.insert(0, ".")
    from runtime import attach_lock
    before = open("/proc/self/cgroup").read()
    attach_lock.open_ahead()
    attach_lock.open_ahead()  # once per process
    deadline = time.monotonic() + 5
    while attach_lock.writes < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    attach_lock.done()
    time.sleep(0.3)
    print(attach_lock.writes, open("/proc/self/cgroup").read() == before)
"""


def test_own_procs_file_lists_this_process() -> None:
    from runtime import attach_lock

    path = attach_lock.own_procs_file()
    assert path is not None and path.endswith("/cgroup.procs")
    with open(path) as f:
        assert str(os.getpid()) in f.read().split()


def test_it_writes_moves_nothing_and_stops_when_done() -> None:
    writes, unchanged = _run(WATCH).split()
    assert unchanged == "True"  # still in every cgroup it was in
    assert 2 <= int(writes) <= 3  # kept open while not handed over, then no more


def test_it_can_be_turned_off() -> None:
    writes, unchanged = _run(WATCH, COMPOSER_ATTACH_LOCK_AHEAD="0").split()
    assert (writes, unchanged) == ("0", "True")

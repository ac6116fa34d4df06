"""runtime/attach_lock.py: the no-op cgroup moves made ahead of a container's cgroup join.

What they save is measured by `make bench` (bench/FINDINGS.md F24), never here; these say that
they move nothing, happen at most twice, and can be turned off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="writes cgroup.procs: needs root")

WATCH = """
    import sys, time
    sys.path.insert(0, ".")
    from runtime import attach_lock

    def settle(n):
        deadline = time.monotonic() + 5
        while attach_lock.writes < n and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(0.05)

    before = open("/proc/self/cgroup").read()
    attach_lock.again()       # not opened ahead: nothing
    idle = attach_lock.pending()
    attach_lock.open_ahead()
    under_way = attach_lock.pending()  # from the call on, until the write returned
    attach_lock.open_ahead()  # once per process
    settle(1)
    first = attach_lock.writes
    done = attach_lock.pending()
    attach_lock.again()
    attach_lock.again()       # once
    settle(2)
    print(first, attach_lock.writes, open("/proc/self/cgroup").read() == before, idle, under_way, done)
"""


def _watch(**env: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", textwrap.dedent(WATCH)],
        cwd=REPO, env={"PYTHONPATH": REPO, **env}, capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_own_procs_file_lists_this_process() -> None:
    from runtime import attach_lock

    path = attach_lock.own_procs_file()
    assert path is not None and path.endswith("/cgroup.procs")
    with open(path) as f:
        assert str(os.getpid()) in f.read().split()


def test_one_write_ahead_one_again_and_nothing_moves() -> None:
    assert _watch()[:3] == ["1", "2", "True"]  # still in every cgroup it was in


def test_it_can_be_turned_off() -> None:
    assert _watch(COMPOSER_ATTACH_LOCK_AHEAD="0")[:3] == ["0", "0", "True"]


def test_pending_while_a_write_is_under_way() -> None:
    assert _watch()[3:] == ["False", "True", "False"]
    assert _watch(COMPOSER_ATTACH_LOCK_AHEAD="0")[3:] == ["False", "False", "False"]

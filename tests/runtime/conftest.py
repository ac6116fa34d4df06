"""The engine most container tests use: a private root and run dir with the busybox image, torn
down whole (containers with their anonymous volumes, networks, the fork server) and checked for
leftovers. A test module may define its own ``engine`` (e.g. test_containers.py tracks ids)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.paths import Paths
from tests.conftest import settled_leftovers

IMAGE = "localhost/busybox:latest"


def wait_for(cond: Callable[[], object], timeout: float = 15) -> None:
    """Return once *cond()* is true; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def cmdline(pid: int) -> list[str]:
    """*pid*'s command line as words (empty ones dropped: a rewritten one is padded with NULs)."""
    return [w.decode() for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]


def processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, command line) of every process that can still be read (one may exit meanwhile)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            yield int(pid), cmdline(int(pid))
        except OSError:
            continue


def zombie_children(parent: int) -> list[str]:
    """Pids of *parent*'s children that exited and were not reaped."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z" and int(fields[1]) == parent:
            out.append(pid)
    return out


def container_cgroups(root: Path) -> list[str]:
    """The container cgroup dirs (pod/container) still under the engine of state root *root*."""
    from runtime.cgroups import engine_scope

    scope = engine_scope(root)[-1]
    return [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/composer/{scope}/*/*") if p.is_dir()]


@pytest.fixture
def engine(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[Engine]:
    root, run = engine_paths
    eng = Engine(Paths(root=str(root), rundir=str(run)))
    eng.images.import_tarball(busybox_tar, IMAGE)
    yield eng
    for c in eng.containers.list(all=True):
        eng.containers.remove(c.id, force=True, volumes=True)
    for n in eng.networks.list():
        eng.networks.remove(n.name)
    eng.close()
    from runtime import zygote

    zygote.stop(eng.paths)
    assert settled_leftovers(root.parent) == []
    assert container_cgroups(root) == []

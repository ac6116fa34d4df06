"""The engine most container tests use: a private root and run dir with the busybox image, torn
down whole (containers with their anonymous volumes, networks, the fork server) and checked for
leftovers. A test module may define its own ``engine`` (e.g. test_containers.py tracks ids)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.paths import Paths
from tests.conftest import leftovers

IMAGE = "localhost/busybox:latest"


def container_cgroups(root: Path) -> list[str]:
    """The container cgroup dirs (pod/container) still under the engine of state root *root*."""
    from runtime.cgroups import engine_scope

    scope = engine_scope(root)[-1]
    return [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/composer/{scope}/*/*") if p.is_dir()]


@pytest.fixture
def engine(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[Engine]:
    root, run = engine_paths
    eng = Engine(Paths(root=root, rundir=run))
    eng.images.import_tarball(busybox_tar, IMAGE)
    yield eng
    for c in eng.containers.list(all=True):
        eng.containers.remove(c.id, force=True, volumes=True)
    for n in eng.networks.list():
        eng.networks.remove(n.name)
    eng.close()
    from runtime import zygote

    zygote.stop(eng.paths)
    assert leftovers(root.parent) == []
    assert container_cgroups(root) == []

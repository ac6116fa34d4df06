"""A real engine for zygote tests: the busybox image imported into a private root; at teardown every
container is removed, the zygote stopped, and nothing of the root may be left (mounts, processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import zygote
from runtime.engine import Engine
from runtime.paths import Paths
from tests.conftest import leftovers, settled_leftovers  # noqa: F401 - leftovers re-exported for test_zygote

IMAGE = "localhost/busybox:latest"


@pytest.fixture
def zengine(
    engine_paths: tuple[Path, Path], busybox_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.delenv(zygote.NO_ZYGOTE_ENV, raising=False)
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "1")
    root, run = engine_paths
    eng = Engine(Paths(root=str(root), rundir=str(run)))
    eng.images.import_tarball(busybox_tar, IMAGE)
    yield eng
    for c in eng.containers.list():
        eng.containers.remove(c.id, force=True)
    eng.close()
    zygote.stop(eng.paths)
    assert settled_leftovers(root.parent) == []

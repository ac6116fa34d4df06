"""Fixtures of the differential tests: one private podman per module, one composer engine per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import composer_cli
from tests.differential.podman import IMAGE, Podman


@pytest.fixture(scope="module")
def podman(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    pm = Podman.create(tmp_path_factory.mktemp("podman"))
    try:
        pm("import", str(busybox_tar), IMAGE, check=True, timeout=120)
        yield pm
    finally:
        pm.close()


@pytest.fixture
def composer(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    """A private composer engine (engine_paths) holding the same image as podman."""
    r = composer_cli("image", "import", str(busybox_tar), IMAGE)
    assert r.returncode == 0, r.stderr


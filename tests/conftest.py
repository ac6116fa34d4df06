"""Shared test fixtures. Tests never touch the user's real state: every engine test gets its own
COMPOSER_ROOT and COMPOSER_RUNDIR under a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_ROOT:
        return  # as root (CI), privileged tests must run
    skip = pytest.mark.skip(reason="needs root: real namespaces, mounts, bridges and nftables")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def engine_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A private runtime root and run dir, exported so that CLI subprocesses use them too."""
    root, run = tmp_path / "root", tmp_path / "run"
    monkeypatch.setenv("COMPOSER_ROOT", str(root))
    monkeypatch.setenv("COMPOSER_RUNDIR", str(run))
    yield root, run


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox rootfs tarball (built by the Makefile; built here when a test runs alone)."""
    given = os.environ.get("COMPOSER_BUSYBOX_TAR")
    if given and Path(given).exists():
        return Path(given)
    out = tmp_path_factory.mktemp("busybox") / "busybox-rootfs.tar"
    subprocess.run([str(REPO / "tools" / "mkbusybox.sh"), str(out)], check=True)
    return out


def composer_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
                 cwd: str | Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would (a subprocess), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "composer", *args], capture_output=True, text=True, input=input,
        env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
    )

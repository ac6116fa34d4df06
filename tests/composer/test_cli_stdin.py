"""Interactive runs forward the caller's stdin: `container run -i` and `run` of a stdin_open service."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import composer_cli

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"


def _piped(*args: str, data: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return composer_cli(*args, input=data, cwd=cwd, timeout=60)


@pytest.fixture
def image(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    res = composer_cli("image", "import", str(busybox_tar), "localhost/busybox:latest")
    assert res.returncode == 0, res.stderr


def test_container_run_i_forwards_stdin(tmp_path: Path, image: None) -> None:
    res = _piped("container", "run", "-i", "--rm", IMAGE, "cat", data="hello\n", cwd=tmp_path)
    assert (res.returncode, res.stdout) == (0, "hello\n"), res.stderr
    res = _piped("container", "run", "--rm", IMAGE, "cat", data="hello\n", cwd=tmp_path)
    assert (res.returncode, res.stdout) == (0, ""), res.stderr  # without -i the workload sees EOF


def test_compose_run_of_a_stdin_open_service_forwards_stdin(tmp_path: Path, image: None) -> None:
    (tmp_path / "compose.yaml").write_text(
        "name: stdinrun\nservices:\n  svc:\n    image: localhost/busybox:latest\n    stdin_open: true\n"
    )
    try:
        res = _piped("--progress", "quiet", "run", "--rm", "-T", "svc", "cat", data="hello\n", cwd=tmp_path)
        assert (res.returncode, res.stdout) == (0, "hello\n"), res.stderr
    finally:
        composer_cli("down", "-v", cwd=tmp_path, timeout=60)

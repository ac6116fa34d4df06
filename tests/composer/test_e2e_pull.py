"""`up` pulls a service's missing image from a real registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import composer_cli
from tests.runtime.images.conftest import registry  # noqa: F401  (the fixture)

pytestmark = pytest.mark.privileged


def test_up_pulls_a_missing_image_and_pull_policy_never_refuses(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_tar: Path, registry: str  # noqa: F811
) -> None:
    assert composer_cli("image", "import", str(busybox_tar), "localhost/busybox:latest").returncode == 0
    remote = f"{registry}/e2e/busybox:1"
    pushed = composer_cli("image", "push", "localhost/busybox:latest", remote)
    assert pushed.returncode == 0, pushed.stderr
    composer_cli("image", "rm", remote)  # push may have tagged it locally: the pull must be real
    assert composer_cli("image", "inspect", remote).returncode != 0

    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(
        "name: pulltest\n"
        "services:\n"
        f"  app:\n    image: {remote}\n    command: [sh, -c, 'echo pulled; exec sleep 100']\n"
        "    stop_grace_period: 1s\n"
        f"  never:\n    image: {registry}/e2e/absent:1\n    pull_policy: never\n    profiles: [never]\n"
        f"  missing:\n    image: {registry}/e2e/absent:2\n    profiles: [missing]\n"
    )
    try:
        up = composer_cli("--progress", "plain", "up", "-d", "app", cwd=proj, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert composer_cli("image", "inspect", remote).returncode == 0
        deadline = time.monotonic() + 10
        while "pulled" not in (logs := composer_cli("logs", "app", cwd=proj).stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.2)
        never = composer_cli("--progress", "plain", "--profile", "never", "up", "-d", "never", cwd=proj,
                             timeout=120)
        assert never.returncode != 0
        assert f"{registry}/e2e/absent:1" in never.stderr
        missing = composer_cli("--progress", "plain", "--profile", "missing", "up", "-d", "missing", cwd=proj,
                               timeout=120)
        assert missing.returncode != 0
        last = missing.stderr.strip().splitlines()[-1]  # one line naming the service and the image
        assert last.startswith("service missing: pull of image ") and f"{registry}/e2e/absent:2" in last, last
    finally:
        down = composer_cli("--profile", "never", "--profile", "missing", "down", cwd=proj, timeout=120)
        assert down.returncode == 0, down.stderr

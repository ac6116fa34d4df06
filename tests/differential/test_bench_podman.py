"""The bench's podman-compose column: its private podman runs a project and leaves the host as it
found it (no storage, mounts, cgroups, nftables tables or /run/containers of its own behind).

Not marked `privileged` although it needs root: podman-compose comes from the test extra, and a
privileged test skipped as root fails the run (tests/conftest.py); it skips without root itself.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench import compose

pytestmark = [
    pytest.mark.skipif(compose.podman_compose_cmd() is None, reason="podman or podman-compose not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: podman runs rootful here"),
]


def test_private_podman_runs_a_project_and_cleans_up(
    busybox_tar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSER_BUSYBOX_TAR", str(busybox_tar))
    (tmp_path / "compose.yaml").write_text(compose.sleepers(2))
    cmd = [*(compose.podman_compose_cmd() or []), "-p", "difftest-pc"]
    tables, cgroups = compose._nft_tables(), compose._cgroup_dirs("libpod_parent")
    had_run = Path("/run/containers").exists()
    with compose.private_podman() as env:
        base = Path(env["CONTAINERS_CONF"]).parent
        try:
            up = subprocess.run([*cmd, "up", "-d"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=300)
            assert up.returncode == 0, up.stderr
            ps = subprocess.run(["podman", "ps", "--format", "{{.Names}}"], env=env, capture_output=True,
                                text=True, timeout=60)
            assert sorted(ps.stdout.split()) == ["difftest-pc_s0_1", "difftest-pc_s1_1"]
        finally:
            subprocess.run([*cmd, "down", "-t", "1"], cwd=tmp_path, env=env, capture_output=True, timeout=300)
    assert not base.exists()
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if str(base) in line]
    assert compose._nft_tables() <= tables
    assert compose._cgroup_dirs("libpod_parent") <= cgroups
    assert Path("/run/containers").exists() == had_run
    assert not Path("/etc/containers/networks/difftest-pc_default.json").exists()

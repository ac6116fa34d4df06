"""Cross-check: crun runs the config.json composer wrote, and the container looks the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.logs import join_partials
from runtime.paths import Paths
from runtime.spec import ContainerSpec

CRUN = shutil.which("crun")
pytestmark = [pytest.mark.privileged, pytest.mark.skipif(not CRUN, reason="crun is not installed")]
SCRIPT = (
    "id; hostname; grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status; cat /etc/hostname; "
    "awk '{print $2}' /proc/mounts | sort | tr '\\n' ' '; echo; ls /dev | tr '\\n' ' '"
)


def _hugetlb_v1() -> None:
    # crun refuses hybrid hosts while hugetlb is bound to cgroup2 (DESIGN.md section 3)
    if any(
        " cgroup " in line and "hugetlb" in line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ):
        return
    if Path("/sys/fs/cgroup/memory").is_dir():
        Path("/sys/fs/cgroup/hugetlb").mkdir(exist_ok=True)
        subprocess.run(
            ["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"], check=True
        )


def test_crun_runs_the_same_bundle_with_the_same_result(
    engine_paths: tuple[Path, Path], busybox_tar: Path, tmp_path: Path
) -> None:
    assert CRUN
    root, run = engine_paths
    engine = Engine(Paths(root=str(root), rundir=str(run)))
    engine.images.import_tarball(busybox_tar, "localhost/busybox:latest")
    spec = ContainerSpec(
        name="t-crun",
        image="localhost/busybox:latest",
        command=("sh", "-c", SCRIPT),
        network_mode="none",
        user="www-data",
        hostname="same",
    )
    c = engine.containers.create(spec)
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=20) == 0
    ours = "".join(r.text.decode() + "\n" for r in join_partials(engine.containers.logs(c.id)))

    _hugetlb_v1()
    cdir = Path(engine.paths.container_dir(c.id))
    config = json.loads((cdir / "config.json").read_text())
    meta = json.loads((cdir / "container.json").read_text())
    bundle, upper, work, rootfs = (tmp_path / n for n in ("bundle", "upper", "work", "rootfs"))
    for d in (bundle, upper, work, rootfs):
        d.mkdir()
    lower = ":".join(reversed(meta["lowerdirs"]))
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={upper},workdir={work}",
            str(rootfs),
        ],
        check=True,
    )
    try:
        config["root"]["path"] = str(rootfs)
        config["linux"].pop("cgroupsPath", None)
        (bundle / "config.json").write_text(json.dumps(config))
        out = subprocess.run(
            [
                CRUN,
                "--root",
                str(tmp_path / "state"),
                "run",
                "-b",
                str(bundle),
                f"composer-test-{uuid.uuid4().hex[:8]}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        subprocess.run(["umount", str(rootfs)], check=True)
        engine.containers.remove(c.id, force=True)
        engine.close()
    assert out.returncode == 0, out.stderr
    theirs = out.stdout
    assert ours.splitlines()[:6] == theirs.splitlines()[:6]  # id, hostname, caps, nnp, /etc/hostname
    ours_mounts, theirs_mounts = ours.splitlines()[6].split(), theirs.splitlines()[6].split()
    assert set(ours_mounts) == set(theirs_mounts), (ours_mounts, theirs_mounts)
    assert ours.splitlines()[7].split() == theirs.splitlines()[7].split()  # the same /dev

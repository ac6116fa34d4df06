"""Differential check: the capability sets apply_identity leaves after execve equal what crun
gives a process for the same OCI capabilities (as podman would write them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from runtime.security.caps import DEFAULT_CAPS, apply_identity
from tests.runtime.security.forked import in_child

CRUN = shutil.which("crun")
BUSYBOX = shutil.which("busybox")
pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(not CRUN or not BUSYBOX, reason="crun and busybox-static needed")]


def _ensure_hugetlb_v1() -> None:
    # crun refuses hybrid hosts while hugetlb is bound to cgroup2; binding it to v1 is harmless
    # and is left in place (other tests and tools expect it).
    with open("/proc/self/mountinfo") as f:
        if any(" cgroup " in line and "hugetlb" in line for line in f):
            return
    if not Path("/sys/fs/cgroup/memory").is_dir():
        return   # pure v2: nothing to do
    Path("/sys/fs/cgroup/hugetlb").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"],
                   check=True)


def _crun_caps(tmp: Path, uid: int, bounding: frozenset[str], user: frozenset[str]) -> list[str]:
    bundle = tmp / "bundle"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    for d in ("proc", "dev", "sys"):
        (bundle / "rootfs" / d).mkdir()
    assert BUSYBOX and CRUN
    shutil.copy(BUSYBOX, bundle / "rootfs" / "bin" / "busybox")
    subprocess.run([CRUN, "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    bnd = sorted(f"CAP_{c}" for c in bounding)
    mine = sorted(f"CAP_{c}" for c in (bounding if uid == 0 else user))
    config["process"].update(
        args=["/bin/busybox", "grep", "^Cap", "/proc/self/status"], terminal=False,
        user={"uid": uid, "gid": uid},
        capabilities={"bounding": bnd, "effective": mine, "permitted": mine,
                      "inheritable": [] if uid == 0 else mine, "ambient": [] if uid == 0 else mine})
    config["root"]["readonly"] = False
    (bundle / "config.json").write_text(json.dumps(config))
    name = f"composer-test-{uuid.uuid4().hex[:8]}"
    out = subprocess.run([CRUN, "--root", str(tmp / "state"), "run", "-b", str(bundle), name],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _our_caps(uid: int, bounding: frozenset[str], user: frozenset[str]) -> list[str]:
    def child() -> list[str]:
        apply_identity(uid, uid, [], bounding, user_caps=user)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv(BUSYBOX or "", ["busybox", "grep", "^Cap", "/proc/self/status"])
        os.close(w)
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        os.waitpid(pid, 0)
        return out.decode().splitlines()
    result: list[str] = in_child(child)
    return result


@pytest.mark.parametrize(("uid", "bounding", "user"), [
    (0, DEFAULT_CAPS, frozenset()),
    (0, DEFAULT_CAPS | {"NET_ADMIN", "SYS_ADMIN"} - {"CHOWN"}, frozenset()),
    (1000, DEFAULT_CAPS, frozenset()),
    (1000, DEFAULT_CAPS | {"NET_BIND_SERVICE"}, frozenset({"NET_BIND_SERVICE"})),
])
def test_capabilities_match_crun(tmp_path: Path, uid: int, bounding: frozenset[str],
                                 user: frozenset[str]) -> None:
    _ensure_hugetlb_v1()
    assert _our_caps(uid, bounding, user) == _crun_caps(tmp_path, uid, bounding, user)

"""Places where composer differed from podman and was fixed: each test asserts podman's
behaviour (groups with -u, /dev options, read-only masks, the cgroup tree inside, --privileged
devices). A new difference found later goes here as an xfail(strict=True) naming it, so that the
fix turns it into an XPASS and the mark must go. See test_podman.py for the method.

They skip without root themselves rather than carry the `privileged` mark (historical: the
session hook in tests/conftest.py once counted xfails as skipped privileged tests).
"""
from __future__ import annotations

import os
import shutil

import pytest

from tests.differential.compare import IDS, dev_entries, mount_table, probe, status
from tests.differential.podman import Podman

pytestmark = [
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman not installed (`make deps` does it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: real namespaces, mounts and cgroups"),
]


def test_privileged_devices(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, ["--privileged"], {"dev": "ls -la /dev"})
    p, c = dev_entries(theirs["dev"]), dev_entries(ours["dev"])
    assert "kmsg" in p
    assert sorted(c) == sorted(p)


@pytest.mark.parametrize("user", ["1000:1000", "nobody"])
def test_user_groups(podman: Podman, composer: None, user: str) -> None:
    theirs, ours = probe(podman, ["-u", user], {"ids": IDS})
    assert status(ours["ids"])["Groups"] == status(theirs["ids"])["Groups"] != ""


def test_masked_files_are_read_only_binds(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"mounts": "cat /proc/self/mountinfo"})
    p, c = mount_table(theirs["mounts"]), mount_table(ours["mounts"])
    for point in ("/proc/keys", "/proc/timer_list"):
        assert "ro" in p[point][1]
        assert "ro" in c[point][1], point


def test_dev_mount_flags(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"mounts": "cat /proc/self/mountinfo"})
    p, c = mount_table(theirs["mounts"]), mount_table(ours["mounts"])
    assert c["/dev"] == p["/dev"]


def test_cgroup_tree_inside(podman: Podman, composer: None) -> None:
    parts = {"ls": "ls /sys/fs/cgroup | sort", "mem": "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"}
    theirs, ours = probe(podman, [], parts)
    assert ours["ls"] == theirs["ls"]
    assert ours["mem"] == theirs["mem"]


def test_pids_limit_visible(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, ["--pids-limit", "5"], {"max": "cat /sys/fs/cgroup/pids/pids.max"})
    assert theirs["max"] == ["5"]
    assert ours["max"] == ["5"]


def test_memory_limit_visible(podman: Podman, composer: None) -> None:
    parts = {"limit": "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"}
    theirs, ours = probe(podman, ["--memory", "32m"], parts)
    assert theirs["limit"] == [str(32 * 1024 * 1024)]
    assert ours["limit"] == theirs["limit"]


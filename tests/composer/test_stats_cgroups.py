"""Which cgroups `stats` reads a container's numbers from (composer.cli.stats.cgroup_dirs): only the
container's own, never a hierarchy it sits in because its monitor did."""

from __future__ import annotations

from composer.cli.stats import cgroup_dirs

OWN = "/composer/proj/0123abcd"


def test_a_blkio_cgroup_not_the_containers_own_is_not_read() -> None:
    # no blkio setting: the container stays in the blkio cgroup its monitor was in (a session's)
    text = (f"7:blkio:/user.slice/user-1000.slice/session-3.scope\n5:pids:{OWN}\n4:memory:{OWN}\n"
            "1:name=systemd:/user.slice\n0::/user.slice\n")
    dirs = cgroup_dirs(text)
    assert "blkio" not in dirs
    assert dirs["pids"].endswith("pids" + OWN) and dirs["memory"].endswith("memory" + OWN)


def test_its_own_blkio_cgroup_and_the_roots() -> None:
    dirs = cgroup_dirs(f"7:blkio:{OWN}\n5:pids:{OWN}\n3:cpu,cpuacct:/\n0::/\n")
    assert dirs["blkio"].endswith(OWN)  # a blkio setting gave it one of its own
    assert "cpu" not in dirs and "unified" not in dirs  # the root: the host's numbers

from __future__ import annotations

import os
import stat

import pytest

from runtime.errors import InvalidSpec
from runtime.security.defaults import (
    DEFAULT_DEVICES,
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    check_sysctl,
)


def test_masked_and_readonly_paths_as_podman() -> None:
    assert {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/acpi",
            "/proc/sched_debug", "/proc/scsi", "/sys/devices/virtual/powercap"} <= set(DEFAULT_MASKED_PATHS)
    assert set(DEFAULT_READONLY_PATHS) == {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
                                           "/proc/sys", "/proc/sysrq-trigger"}
    assert not set(DEFAULT_MASKED_PATHS) & set(DEFAULT_READONLY_PATHS)


def test_default_devices_match_the_host_nodes() -> None:
    names = {d.path for d in DEFAULT_DEVICES}
    assert names == {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    for dev in DEFAULT_DEVICES:
        st = os.stat(dev.path)
        assert stat.S_ISCHR(st.st_mode)
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (dev.major, dev.minor), dev.path


@pytest.mark.parametrize("name", ["net.ipv4.ip_forward", "net.core.somaxconn", "kernel.shmmax",
                                  "kernel.msgmax", "kernel.sem", "fs.mqueue.msg_max",
                                  "net/ipv4/ping_group_range"])
def test_namespaced_sysctls_are_allowed(name: str) -> None:
    check_sysctl(name, network_mode_host=False)


@pytest.mark.parametrize("name", ["vm.swappiness", "kernel.pid_max", "fs.file-max", "kernel.shm"])
def test_host_wide_sysctls_are_refused(name: str) -> None:
    with pytest.raises(InvalidSpec, match=f'sysctl "{name}" is not namespaced'):
        check_sysctl(name, network_mode_host=False)


def test_net_sysctls_are_refused_with_host_network() -> None:
    with pytest.raises(InvalidSpec, match="host network"):
        check_sysctl("net.ipv4.ip_forward", network_mode_host=True)

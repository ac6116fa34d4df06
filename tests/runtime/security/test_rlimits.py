from __future__ import annotations

import resource

import pytest

from runtime.errors import InvalidSpec
from runtime.security.rlimits import RLIM_INFINITY, RLIMIT_NAMES, apply_rlimits, clamp_rlimits, getrlimit
from tests.runtime.security.forked import in_child

INF = resource.RLIM_INFINITY


def test_names_are_dockers() -> None:
    assert set(RLIMIT_NAMES) == {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
                                 "nice", "nofile", "nproc", "rss", "rtprio", "rttime",
                                 "sigpending", "stack", "as"}
    assert RLIMIT_NAMES["nofile"] == resource.RLIMIT_NOFILE


def test_limits_read_from_proc_are_the_resource_modules() -> None:
    assert RLIM_INFINITY == resource.RLIM_INFINITY

    def child() -> list[list[int]]:  # an unlimited one, a number, soft below hard
        resource.setrlimit(resource.RLIMIT_CORE, (0, INF))
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        return [[*getrlimit(n), *resource.getrlimit(n)] for n in RLIMIT_NAMES.values()]
    for row in in_child(child):
        assert row[:2] == row[2:]
    assert [0, INF] in [row[:2] for row in in_child(child)]


def test_unknown_name_and_soft_above_hard_are_invalid() -> None:
    with pytest.raises(InvalidSpec, match='unknown ulimit "nofiles"'):
        clamp_rlimits({"nofiles": (1, 1)})
    with pytest.raises(InvalidSpec, match='ulimit "nofile": soft limit 10 is above hard limit 5'):
        clamp_rlimits({"nofile": (10, 5)})


def test_hard_limit_above_the_host_is_clamped_with_a_warning() -> None:
    limits, warnings = clamp_rlimits({"nofile": (1024, 65536), "core": (0, 0), "nproc": (-1, -1)},
                                     can_raise=False,
                                     current={"nofile": (1024, 20000), "core": (0, INF),
                                              "nproc": (100, 200)})
    assert limits == {"nofile": (1024, 20000), "core": (0, 0), "nproc": (200, 200)}
    assert len(warnings) == 2 and 'ulimit "nofile": hard limit 65536 lowered to 20000' in warnings[0]


def test_nothing_is_clamped_with_cap_sys_resource() -> None:
    limits, warnings = clamp_rlimits({"nofile": (1024, 1 << 20)}, can_raise=True)
    assert limits == {"nofile": (1024, 1 << 20)} and warnings == []


def test_limits_are_applied_in_a_child() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limits, _ = clamp_rlimits({"nofile": (123, hard), "core": (0, 0), "locks": (7, 9)})

    def child() -> list[list[int]]:
        apply_rlimits(limits)
        return [list(resource.getrlimit(n)) for n in (resource.RLIMIT_NOFILE, resource.RLIMIT_CORE, 10)]
    assert in_child(child) == [[123, hard], [0, 0], [7, 9]]

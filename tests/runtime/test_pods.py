"""PodManager.exists: the cheap check `down` and `up` use (no member list, no cgroup lookup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.paths import Paths
from runtime.spec import PodSpec

pytestmark = pytest.mark.privileged  # a pod makes its cgroup parent


def test_exists_by_name_and_id(engine_paths: tuple[Path, Path]) -> None:
    root, run = engine_paths
    engine = Engine(Paths(root=str(root), rundir=str(run)))
    assert not engine.pods.exists("t-exists")
    pod = engine.pods.create(PodSpec(name="t-exists"))
    try:
        assert engine.pods.exists("t-exists") and engine.pods.exists(pod.id)
        assert not engine.pods.exists("t-other")
    finally:
        engine.pods.remove("t-exists")
    assert not engine.pods.exists("t-exists") and not engine.pods.exists(pod.id)


def test_a_pod_name_is_taken_once(engine_paths: tuple[Path, Path]) -> None:
    from runtime.errors import Conflict

    root, run = engine_paths
    engine = Engine(Paths(root=str(root), rundir=str(run)))
    engine.pods.create(PodSpec(name="t-dup"))
    try:
        with pytest.raises(Conflict, match='pod name "t-dup" is already in use'):
            engine.pods.create(PodSpec(name="t-dup"))
        assert len([p for p in engine.pods.list() if p.name == "t-dup"]) == 1
    finally:
        engine.pods.remove("t-dup")


def test_a_pod_cgroup_restricts_no_device(engine_paths: tuple[Path, Path]) -> None:
    """Only containers get the devices allow-list (v1): a pod's own "deny all, then allow" could be
    cut by a kill between the two writes and then deny every device to all its containers."""
    from runtime.cgroups import Cgroup

    root, run = engine_paths
    engine = Engine(Paths(root=str(root), rundir=str(run)))
    engine.pods.create(PodSpec(name="t-devices"))
    try:
        cg = Cgroup.open([*engine.pods._scope(), "t-devices"])
        if cg.versions.get("devices") != 1:
            pytest.skip("no v1 devices controller on this host")
        assert Path(cg.path("devices"), "devices.list").read_text().split() == ["a", "*:*", "rwm"]
    finally:
        engine.pods.remove("t-devices")

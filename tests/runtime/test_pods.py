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
    engine = Engine(Paths(root=root, rundir=run))
    assert not engine.pods.exists("t-exists")
    pod = engine.pods.create(PodSpec(name="t-exists"))
    try:
        assert engine.pods.exists("t-exists") and engine.pods.exists(pod.id)
        assert not engine.pods.exists("t-other")
    finally:
        engine.pods.remove("t-exists")
    assert not engine.pods.exists("t-exists") and not engine.pods.exists(pod.id)

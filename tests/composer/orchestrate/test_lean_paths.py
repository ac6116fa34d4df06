"""What `up -d` with nothing to do and `down` leave unloaded: each import kept off their path is
CPU of every such command (bench/FINDINGS.md F15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from composer.orchestrate import observe
from tests.conftest import REPO

from .helpers import FakeEngine, FakeImages, load

TWO_ON_ONE_IMAGE = """
services:
  a: {image: busybox}
  b: {image: busybox}
  c: {image: missing}
  d: {image: missing}
"""


class _Counting(FakeImages):
    def resolve(self, ref: str) -> str:
        self.calls.append(("resolve", ref))
        return super().resolve(ref)


class _NoVolumes(FakeEngine):
    """Fails the test if anything asks for the volume manager."""

    @property
    def volumes(self) -> Any:
        raise AssertionError("the volume manager was asked for")

    @volumes.setter
    def volumes(self, _value: Any) -> None:
        pass


def test_observe_asks_only_about_what_the_project_declares(tmp_path: Path) -> None:
    engine = _NoVolumes()
    engine.images = _Counting(engine.calls, {"busybox"})
    seen = observe(engine, load(tmp_path, TWO_ON_ONE_IMAGE))
    assert seen.volumes == frozenset() and seen.images == frozenset({"busybox"})
    # one look per image, found or not
    assert sorted(r for v, r in engine.calls if v == "resolve") == ["busybox", "missing"]


def _fresh(code: str) -> list[str]:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_the_drivers_are_imported_only_by_who_runs_them() -> None:
    out = _fresh(
        "import sys\n"
        "import composer.orchestrate, composer.plan\n"
        "print('composer.drive_threads' in sys.modules, 'composer.drive_trio' in sys.modules)\n"
        "import composer.drive_trio\n"
        "print('trio' in sys.modules)\n"
    )
    assert out == ["False", "False", "False"]


def test_planning_compiles_no_yaml_charset_and_imports_no_units() -> None:
    """The config hash goes through the renderer's JSON tree, never its YAML scalar analysis; the
    plan needs names from specgen, not its size and duration parsers."""
    out = _fresh(
        "import sys\n"
        "import composer.plan, composer.orchestrate\n"
        "from composer.labels import config_hash\n"
        "from composer.loader import render\n"
        "config_hash({'image': 'busybox', 'command': ['sh', '-c', 'x\\ty']})\n"
        "print(render._non_printable.cache_info().currsize, 'composer.units' in sys.modules)\n"
        "render.render({'name': 'x', 'services': {'s': {'image': 'a\\tb'}}}, 'yaml')\n"
        "print(render._non_printable.cache_info().currsize)\n"
    )
    assert out == ["0", "False", "1"]

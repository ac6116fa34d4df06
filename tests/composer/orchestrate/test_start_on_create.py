"""DriverOptions.start_on_create: a StartContainer with nothing else to wait for is done by its
container's create(spec, start=True) (no start round trip); the rest of the plan runs as before."""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from pathlib import Path

from composer.drive_threads import execute_threads
from composer.orchestrate import DriverOptions, first_error, observe
from composer.plan import ReconcileOptions, reconcile
from composer.progress import Progress
from runtime.containers import StartError
from runtime.spec import ContainerInfo, ContainerSpec

from .helpers import FakeContainers, FakeEngine, load

APP = """
services:
  db: {image: busybox, healthcheck: {test: ["CMD", "true"]}}
  app: {image: busybox, depends_on: {db: {condition: service_healthy}}}
  web: {image: busybox, depends_on: [app]}
  solo: {image: busybox}
  bad: {image: busybox}
"""


class _StartingContainers(FakeContainers):
    """create(spec, start=True) as the ContainerManager's: started by its own create, or made and
    then StartError when its process cannot start (it stays, created)."""

    def create(self, spec: ContainerSpec, *, start: bool = False) -> ContainerInfo:
        info = super().create(spec)
        if not start:
            return info
        with self.lock:
            self.calls.append(("started by create", spec.name))
            svc = info.labels.get("com.docker.compose.service", "")
            if svc in self.fail_start:
                self.items[info.id] = replace(info, status="created", exit_code=127)
                raise StartError(f"container {spec.name}: exec failed", info.id)
            health = "starting" if svc in self.health else ""
            self.items[info.id] = info = replace(info, status="running", health=health)  # type: ignore[arg-type]
        return info


def _up(tmp_path: Path, *, start_on_create: bool) -> tuple[FakeEngine, dict[int, str], str, str]:
    engine = FakeEngine()
    engine.containers = _StartingContainers(engine.calls, threading.Lock())
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting", "healthy"]
    engine.containers.fail_start.add("bad")
    p = load(tmp_path, APP)
    plan = reconcile(p, observe(engine, p), ReconcileOptions())
    out = io.StringIO()
    options = DriverOptions(
        files_dir=lambda n: str(tmp_path / n), poll_interval=0.01, start_on_create=start_on_create
    )
    errors = execute_threads(plan, engine, project=p, progress=Progress("plain", out), options=options)
    return engine, errors, first_error(plan, errors) if errors else "", out.getvalue()


def test_a_start_that_waits_for_nothing_else_is_done_by_the_create(tmp_path: Path) -> None:
    engine, errors, first, out = _up(tmp_path, start_on_create=True)
    by_create = {n for v, n in engine.calls if v == "started by create"}
    starts = [n for v, n in engine.calls if v == "start"]
    # db and solo wait for nothing: one call each; app polls db's health first, web waits for app
    assert {"demo-db-1", "demo-solo-1", "demo-bad-1"} <= by_create
    assert "demo-app-1" not in by_create and starts.count("demo-app-1") == 1
    assert "demo-db-1" not in starts and "demo-solo-1" not in starts
    for name in ("db", "solo", "app", "web"):  # the same lines as when a start is its own call
        line = f" Container demo-{name}-1  "
        assert f"{line}Starting\n" in out and f"{line}Started\n" in out
    assert out.index(" Container demo-solo-1  Created\n") < out.index(" Container demo-solo-1  Started\n")
    # a process that cannot start: the container stays, its start (not its create) failed, as before
    assert first == "service bad: container demo-bad-1 failed to start: container demo-bad-1: exec failed"
    assert [e for e in errors.values()] == [first]
    assert " Container demo-bad-1  Created\n" in out and " Container demo-bad-1  Error\n" in out
    assert any(c.name == "demo-bad-1" and c.status == "created" for c in engine.containers.items.values())


def test_without_it_every_start_is_its_own_call(tmp_path: Path) -> None:
    engine, errors, first, out = _up(tmp_path, start_on_create=False)
    assert not any(v == "started by create" for v, _ in engine.calls)
    assert sorted(n for v, n in engine.calls if v == "start") == [
        f"demo-{s}-1" for s in ("app", "bad", "db", "solo", "web")
    ]
    assert first.startswith("service bad: container demo-bad-1 failed to start")

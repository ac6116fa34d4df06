from __future__ import annotations

import io
from pathlib import Path

import pytest
import trio
import trio.testing

from composer.drive_trio import execute
from composer.orchestrate import DriverOptions, first_error, observe
from composer.plan import DownOptions, ReconcileOptions, reconcile, teardown
from composer.progress import Progress
from composer.project import Project

from .helpers import APP, FakeEngine, load


def _up(engine: FakeEngine, project: Project, tmp_path: Path, **opts: object) -> tuple[dict[int, str], str]:
    out = io.StringIO()
    warnings: list[str] = []

    async def main() -> dict[int, str]:
        plan = reconcile(project, observe(engine, project), ReconcileOptions(**opts))  # type: ignore[arg-type]
        return await execute(
            plan,
            engine,
            project=project,
            progress=Progress("plain", out),
            options=DriverOptions(
                files_dir=lambda n: str(tmp_path / "files" / n), poll_interval=1.0, warn=warnings.append
            ),
            limiter=trio.CapacityLimiter(2),
        )

    errors = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return errors, out.getvalue() + "".join(w + "\n" for w in warnings)


def test_up_honours_order_and_conditions(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting", "starting", "healthy"]
    engine.containers.exit_codes["migrate"] = 0
    errors, out = _up(engine, p, tmp_path)
    assert errors == {}
    starts = [name for verb, name in engine.calls if verb == "start"]
    assert starts == ["demo-db-1", "demo-migrate-1", "demo-app-1", "demo-web-1"]
    assert engine.calls.index(("create_volume", "demo_data")) < engine.calls.index(("create", "demo-db-1"))
    assert " Container demo-db-1  Healthy\n" in out and " Container demo-web-1  Started\n" in out
    assert (tmp_path / "files" / "demo-migrate-1" / "configs" / "tok").read_bytes() == b"hunter2"
    # a second up only starts the finished one-shot again (as docker compose does)
    before = len(engine.calls)
    errors, out = _up(engine, p, tmp_path)
    assert errors == {} and [c for c in engine.calls[before:] if c[0] != "pull"] == [
        ("start", "demo-migrate-1")
    ]


def test_failed_dependency_fails_dependents_naming_both(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting", "unhealthy"]
    errors, out = _up(engine, p, tmp_path)
    assert "demo-migrate-1" not in [n for v, n in engine.calls if v == "start"]
    msgs = sorted(errors.values())
    assert "service migrate: dependency db failed: container demo-db-1 is unhealthy" in msgs
    assert any(
        m.startswith("service:web:1: StartContainer not done because service:app:1 failed") for m in msgs
    )
    plan = reconcile(p, observe(engine, p))
    assert first_error(plan, errors) in (
        "service app: dependency db failed: container demo-db-1 is unhealthy",
        "service migrate: dependency db failed: container demo-db-1 is unhealthy",
    )


def test_one_shot_failure_stops_the_chain(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["healthy"]
    engine.containers.exit_codes["migrate"] = 3
    errors, _ = _up(engine, p, tmp_path)
    assert (
        "service app: dependency migrate failed: service migrate didn't complete successfully: exit 3"
        in errors.values()
    )
    assert ("start", "demo-app-1") not in engine.calls


def test_optional_dependency_only_warns(tmp_path: Path) -> None:
    p = load(
        tmp_path,
        "services:\n  a:\n    image: busybox\n    depends_on: {b: {condition: service_healthy, "
        "required: false}}\n  b:\n    image: busybox\n",
    )
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.fail_start.add("b")
    errors, out = _up(engine, p, tmp_path)
    assert list(errors.values()) == [
        "service b: container demo-b-1 failed to start: container demo-b-1: exec failed"
    ]
    assert ("start", "demo-a-1") in engine.calls
    assert "service a: optional dependency b failed" in out


def test_missing_image_is_pulled_once(tmp_path: Path) -> None:
    p = load(tmp_path, "services:\n  a: {image: busybox}\n  b: {image: busybox}\n")
    engine = FakeEngine()
    errors, _ = _up(engine, p, tmp_path)
    assert errors == {} and [c for c in engine.calls if c[0] == "pull"] == [("pull", "busybox")]


def test_down_removes_everything(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["healthy"]
    engine.containers.exit_codes["migrate"] = 0
    assert _up(engine, p, tmp_path)[0] == {}
    containers = engine.containers.list(labels={"com.docker.compose.project": "demo"})
    plan = teardown(
        "demo",
        containers,
        known_services=None,
        networks=list(engine.networks.names),
        volumes=list(engine.volumes.names),
        pod=True,
        options=DownOptions(volumes=True),
    )

    async def main() -> dict[int, str]:
        return await execute(
            plan, engine, project=None, progress=Progress("quiet"), options=DriverOptions(files_dir=str)
        )

    assert trio.run(main) == {}
    assert engine.containers.items == {} and engine.networks.names == {} and engine.volumes.names == {}
    assert engine.pods.names == {}
    stops = [n for v, n in engine.calls if v == "stop"]
    assert stops.index("demo-web-1") < stops.index("demo-app-1") < stops.index("demo-db-1")


def test_ctrl_c_cancels_waiting_operations(tmp_path: Path) -> None:
    p = load(tmp_path, APP)
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting"] * 1000

    async def main() -> None:
        plan = reconcile(p, observe(engine, p))
        with trio.move_on_after(1.0):  # what a KeyboardInterrupt does to the nursery: cancel
            await execute(
                plan,
                engine,
                project=p,
                progress=Progress("quiet"),
                options=DriverOptions(files_dir=lambda n: str(tmp_path / n), poll_interval=0.02),
            )

    trio.run(main)  # real clock: an autojump clock would not wait for the worker threads
    assert [n for v, n in engine.calls if v == "start"] == ["demo-db-1"]


@pytest.mark.parametrize("parallel", [1, 3])
def test_limiter_bounds_parallel_engine_calls(tmp_path: Path, parallel: int) -> None:
    import threading
    import time

    p = load(
        tmp_path,
        "services:\n" + "".join(f"  s{i}: {{image: busybox, network_mode: none}}\n" for i in range(6)),
    )
    engine = FakeEngine()
    engine.images.present.add("busybox")
    active, peak, lock = [0], [0], threading.Lock()
    real_create = engine.containers.create

    def slow_create(spec):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)  # long enough that every slot fills even on a loaded machine
        with lock:
            active[0] -= 1
        return real_create(spec)

    engine.containers.create = slow_create  # type: ignore[method-assign]

    async def main() -> dict[int, str]:
        return await execute(
            reconcile(p, observe(engine, p)),
            engine,
            project=p,
            progress=Progress("quiet"),
            options=DriverOptions(files_dir=str),
            limiter=trio.CapacityLimiter(parallel),
        )

    assert trio.run(main) == {}
    assert peak[0] == parallel


def test_recreate_replaces_the_container_and_keeps_the_others(tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    p = load(tmp_path, "services:\n  a: {image: busybox}\n  b: {image: busybox, depends_on: [a]}\n")
    engine = FakeEngine()
    engine.images.present.add("busybox")
    assert _up(engine, p, tmp_path)[0] == {}
    old = {c.name: c.id for c in engine.containers.items.values()}
    changed = dc_replace(
        p, tree={**p.tree, "services": {**p.services, "a": {**p.services["a"], "command": ["x"]}}}
    )
    before = len(engine.calls)
    errors, out = _up(engine, changed, tmp_path)
    assert errors == {}
    tmp = f"{old['demo-a-1'][:12]}_demo-a-1"  # docker compose's recreateContainer: a temporary name
    assert engine.calls[before:] == [
        ("stop", "demo-a-1"),
        ("create", tmp),
        ("remove", "demo-a-1"),
        ("rename", f"{tmp} demo-a-1"),
        ("start", "demo-a-1"),
    ]
    now = {c.name: c.id for c in engine.containers.items.values()}
    assert now["demo-b-1"] == old["demo-b-1"] and now["demo-a-1"] != old["demo-a-1"]
    assert " Container demo-a-1  Recreated\n" in out

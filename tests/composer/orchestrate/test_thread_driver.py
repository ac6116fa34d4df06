"""The thread driver (drive_threads.execute_threads, what apply_plan runs): same rules as trio's."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from composer.drive_threads import execute_threads, needs_trio
from composer.orchestrate import DriverOptions, first_error, observe
from composer.plan import DownOptions, ReconcileOptions, reconcile, teardown
from composer.progress import Progress
from tests.conftest import REPO

from .helpers import APP, FakeEngine, load

CHAIN = """
services:
  web: {image: busybox, depends_on: [app]}
  app: {image: busybox, depends_on: {db: {condition: service_started}}}
  db: {image: busybox, volumes: [data:/data]}
  solo: {image: busybox}
volumes: {data: {}}
"""


def _opts(tmp_path: Path, warnings: list[str] | None = None) -> DriverOptions:
    sink = warnings if warnings is not None else []
    return DriverOptions(files_dir=lambda n: str(tmp_path / "files" / n), warn=sink.append)


def _up(
    engine: FakeEngine, tmp_path: Path, text: str = CHAIN, parallel: int = -1
) -> tuple[dict[int, str], str]:
    p = load(tmp_path, text)
    plan = reconcile(p, observe(engine, p), ReconcileOptions())
    assert not needs_trio(plan)
    out = io.StringIO()
    errors = execute_threads(
        plan, engine, project=p, progress=Progress("plain", out), options=_opts(tmp_path), parallel=parallel
    )
    return errors, out.getvalue()


def test_started_conditions_keep_the_dependency_order(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    errors, out = _up(engine, tmp_path)
    assert errors == {}
    starts = [n for v, n in engine.calls if v == "start"]
    assert starts.index("demo-db-1") < starts.index("demo-app-1") < starts.index("demo-web-1")
    assert engine.calls.index(("create_volume", "demo_data")) < engine.calls.index(("create", "demo-db-1"))
    assert " Container demo-web-1  Started\n" in out


def test_a_failed_start_fails_its_dependents_naming_both(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.fail_start.add("db")
    errors, out = _up(engine, tmp_path)
    started = [n for v, n in engine.calls if v == "start"]
    assert "demo-app-1" not in started and "demo-web-1" not in started
    assert "demo-solo-1" in started  # independent of the failure
    msgs = sorted(errors.values())
    assert "service db: container demo-db-1 failed to start: container demo-db-1: exec failed" in msgs
    blocked = "service:web:1: StartContainer not done because service:app:1 failed"
    assert any(m.startswith(blocked) for m in msgs)
    p = load(tmp_path, CHAIN)
    assert first_error(reconcile(p, observe(engine, p)), errors).startswith("service db: container demo-db-1")
    assert " Container demo-db-1  Error\n" in out


@pytest.mark.parametrize("parallel", [1, 3])
def test_parallel_bounds_the_engine_calls(tmp_path: Path, parallel: int) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    active, peak, lock = [0], [0], threading.Lock()
    real_create = engine.containers.create

    def slow_create(spec):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return real_create(spec)

    engine.containers.create = slow_create  # type: ignore[method-assign]
    text = "services:\n" + "".join(f"  s{i}: {{image: busybox, network_mode: none}}\n" for i in range(6))
    errors, _ = _up(engine, tmp_path, text, parallel=parallel)
    assert errors == {} and peak[0] == parallel


def test_down_stops_dependents_first_and_removes_everything(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    assert _up(engine, tmp_path)[0] == {}
    containers = engine.containers.list(labels={"com.docker.compose.project": "demo"})
    plan = teardown(
        "demo", containers, known_services=None, networks=list(engine.networks.names),
        volumes=list(engine.volumes.names), pod=True, options=DownOptions(volumes=True),
    )
    assert not needs_trio(plan)
    quiet = Progress("quiet")
    assert execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path)) == {}
    assert engine.containers.items == {} and engine.networks.names == {} and engine.volumes.names == {}
    assert engine.pods.names == {}
    stops = [n for v, n in engine.calls if v == "stop"]
    assert stops.index("demo-web-1") < stops.index("demo-app-1") < stops.index("demo-db-1")
    # the network goes after every container
    last_remove = max(i for i, c in enumerate(engine.calls) if c[0] == "remove")
    assert engine.calls.index(("remove_network", "demo_default")) > last_remove


def test_down_drops_a_networks_bridge_once_its_containers_are_stopped(tmp_path: Path) -> None:
    """NetworkManager.drop_bridge after the last stop (the kernel's slow deletion of the bridge
    then overlaps the removals), told which containers are leaving; not when a stop failed."""
    engine = FakeEngine()
    engine.images.present.add("busybox")
    assert _up(engine, tmp_path)[0] == {}
    ids = frozenset(c.id for c in engine.containers.list())
    plan = teardown("demo", engine.containers.list(), known_services=None, networks=["demo_default"])
    quiet = Progress("quiet")
    assert execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path)) == {}
    last_stop = max(i for i, c in enumerate(engine.calls) if c[0] == "stop")
    assert engine.calls.index(("drop_bridge", "demo_default")) > last_stop
    assert engine.networks.dropped == {"demo_default": ids} and engine.networks.names == {}

    engine = FakeEngine()
    engine.images.present.add("busybox")
    assert _up(engine, tmp_path)[0] == {}
    engine.containers.fail_stop.add("db")
    plan = teardown("demo", engine.containers.list(), known_services=None, networks=["demo_default"])
    errors = execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path))
    assert any("cannot stop" in e for e in errors.values())
    assert ("drop_bridge", "demo_default") not in engine.calls and "demo_default" in engine.networks.names

    engine = FakeEngine()  # nothing to stop: at once
    engine.images.present.add("busybox")
    assert _up(engine, tmp_path)[0] == {}
    for c in engine.containers.list():
        engine.containers.stop(c.id)
    plan = teardown("demo", engine.containers.list(), known_services=None, networks=["demo_default"])
    assert execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path)) == {}
    assert engine.networks.dropped == {"demo_default": ids}


def test_independent_stops_overlap(tmp_path: Path) -> None:
    """`down` of independent services: every stop is under way at once, not one after another."""
    engine = FakeEngine()
    engine.images.present.add("busybox")
    text = "services:\n" + "".join(f"  s{i}: {{image: busybox}}\n" for i in range(8))
    assert _up(engine, tmp_path, text)[0] == {}
    real_stop = engine.containers.stop
    active, peak, lock = [0], [0], threading.Lock()

    def slow_stop(ref, timeout=None):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        real_stop(ref, timeout)

    engine.containers.stop = slow_stop  # type: ignore[method-assign]
    plan = teardown("demo", engine.containers.list(), known_services=None, networks=["demo_default"])
    quiet = Progress("quiet")
    assert execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path)) == {}
    assert peak[0] == 8


def _up_app(
    engine: FakeEngine, tmp_path: Path, text: str = APP, **opts: object
) -> tuple[dict[int, str], str]:
    """The trio driver's condition scenarios (test_driver.APP), through execute_threads()."""
    p = load(tmp_path, text)
    out = io.StringIO()
    warnings: list[str] = []
    plan = reconcile(p, observe(engine, p), ReconcileOptions())
    options = DriverOptions(
        files_dir=lambda n: str(tmp_path / "files" / n), poll_interval=0.01, warn=warnings.append, **opts
    )  # type: ignore[arg-type]
    progress = Progress("plain", out)
    errors = execute_threads(plan, engine, project=p, progress=progress, options=options, parallel=2)
    return errors, out.getvalue() + "".join(w + "\n" for w in warnings)


def test_health_and_completion_conditions_are_polled_without_trio(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom tests.composer.orchestrate import test_thread_driver as t\n"
        "from tests.composer.orchestrate.helpers import FakeEngine\n"
        "from pathlib import Path\n"
        "e = FakeEngine(); e.images.present.add('busybox')\n"
        "e.containers.health['db'] = ['starting', 'starting', 'healthy']\n"
        "e.containers.exit_codes['migrate'] = 0\n"
        f"errors, out = t._up_app(e, Path({str(tmp_path)!r}))\n"
        "print(errors, 'trio' in sys.modules)\n"
        "print([n for v, n in e.calls if v == 'start'])\n"
        "print(out)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    lines = res.stdout.splitlines()
    order = "['demo-db-1', 'demo-migrate-1', 'demo-app-1', 'demo-web-1']"
    assert lines[:2] == ["{} False", order], res.stderr
    assert " Container demo-db-1  Healthy" in res.stdout and " Container demo-migrate-1  Exited" in res.stdout
    assert (tmp_path / "files" / "demo-migrate-1" / "configs" / "tok").read_bytes() == b"hunter2"


def test_unhealthy_dependency_fails_dependents_naming_both(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting", "unhealthy"]
    errors, _ = _up_app(engine, tmp_path)
    assert "demo-migrate-1" not in [n for v, n in engine.calls if v == "start"]
    msgs = sorted(errors.values())
    assert "service migrate: dependency db failed: container demo-db-1 is unhealthy" in msgs
    blocked = "service:web:1: StartContainer not done because service:app:1 failed"
    assert any(m.startswith(blocked) for m in msgs)


def test_one_shot_failure_stops_the_chain(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["healthy"]
    engine.containers.exit_codes["migrate"] = 3
    errors, _ = _up_app(engine, tmp_path)
    assert (
        "service app: dependency migrate failed: service migrate didn't complete successfully: exit 3"
        in errors.values()
    )
    assert ("start", "demo-app-1") not in engine.calls


def test_optional_dependency_only_warns(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.fail_start.add("b")
    errors, out = _up_app(
        engine,
        tmp_path,
        "services:\n  a:\n    image: busybox\n    depends_on: {b: {condition: service_healthy, "
        "required: false}}\n  b:\n    image: busybox\n",
    )
    failed = "service b: container demo-b-1 failed to start: container demo-b-1: exec failed"
    assert list(errors.values()) == [failed]
    assert ("start", "demo-a-1") in engine.calls
    assert "service a: optional dependency b failed" in out


def test_condition_timeout_fails_the_waiting_start(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting"] * 10000
    errors, _ = _up_app(engine, tmp_path, condition_timeout=0.2)
    assert "service migrate: dependency db failed: timed out waiting for service_healthy" in errors.values()
    assert [n for v, n in engine.calls if v == "start"] == ["demo-db-1"]


def test_ctrl_c_while_waiting_on_a_condition(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    engine.containers.health["db"] = ["starting"] * 10000
    p = load(tmp_path, APP)
    plan = reconcile(p, observe(engine, p))
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        execute_threads(
            plan, engine, project=p, progress=Progress("quiet"),
            options=DriverOptions(files_dir=lambda n: str(tmp_path / n), poll_interval=0.02),
        )
    assert time.monotonic() - t0 < 5
    assert [n for v, n in engine.calls if v == "start"] == ["demo-db-1"]


def test_ctrl_c_starts_nothing_more_and_lets_running_calls_finish(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.present.add("busybox")
    p = load(tmp_path, CHAIN)
    plan = reconcile(p, observe(engine, p))
    real_create = engine.containers.create
    finished: list[str] = []

    def create(spec):  # type: ignore[no-untyped-def]
        if spec.name == "demo-db-1":
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, while this call runs
            time.sleep(0.2)
        info = real_create(spec)
        finished.append(spec.name)
        return info

    engine.containers.create = create  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        execute_threads(plan, engine, project=p, progress=Progress("quiet"), options=_opts(tmp_path))
    assert "demo-db-1" in finished  # the call under way was not abandoned half-made
    assert ("start", "demo-app-1") not in engine.calls and ("start", "demo-web-1") not in engine.calls


def test_network_batch_wraps_plans_without_conditions(tmp_path: Path) -> None:
    """Many set-ups or teardowns run inside one NetworkManager.batch(); a plan that waits on a
    health condition does not (its services may need their peers' names and ports at once)."""
    engine = FakeEngine()
    engine.images.present.add("busybox")
    assert _up(engine, tmp_path)[0] == {}
    batch = [i for i, c in enumerate(engine.calls) if c[0] == "network_batch"]
    creates = [i for i, c in enumerate(engine.calls) if c[0] == "create"]
    assert len(batch) == 2 and batch[0] < min(creates) and max(creates) < batch[1]
    before = len(engine.calls)
    stop_only = DownOptions(remove_containers=False)
    plan = teardown("demo", engine.containers.list(), known_services=None, options=stop_only)
    quiet = Progress("quiet")
    assert execute_threads(plan, engine, project=None, progress=quiet, options=_opts(tmp_path)) == {}
    # stops take their names out of their peers' hosts files: once, at the end
    assert ("network_batch", "begin") in engine.calls[before:]
    engine2 = FakeEngine()
    engine2.images.present.add("busybox")
    engine2.containers.health["db"] = ["healthy"]
    engine2.containers.exit_codes["migrate"] = 0
    (tmp_path / "two").mkdir()
    assert _up_app(engine2, tmp_path / "two")[0] == {}
    assert ("network_batch", "begin") not in engine2.calls


def test_network_warnings_reach_the_user_once(tmp_path: Path) -> None:
    """NetworkManager.warnings (e.g. no egress on a host without nft) are said once each."""
    engine = FakeEngine()
    engine.images.present.add("busybox")
    pending: list[str] = []
    engine.networks.warnings = pending  # type: ignore[attr-defined]
    create = engine.networks.create

    def create_and_warn(spec):  # type: ignore[no-untyped-def]
        pending.append(f"network {spec.name}: no egress")
        return create(spec)

    engine.networks.create = create_and_warn  # type: ignore[method-assign]
    p = load(tmp_path, "services:\n  a: {image: busybox, networks: [x, y]}\nnetworks: {x: {}, y: {}}\n")
    plan = reconcile(p, observe(engine, p), ReconcileOptions())
    said: list[str] = []
    errors = execute_threads(
        plan, engine, project=p, progress=Progress("plain", io.StringIO()), options=_opts(tmp_path, said)
    )
    assert errors == {}
    assert sorted(said) == ["network demo_x: no egress", "network demo_y: no egress"]
    assert pending == []

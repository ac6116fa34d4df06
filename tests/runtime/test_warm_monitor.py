"""A lone container's monitor started ahead of its container (runtime/warm_monitor.py): used by
`container run`, the same monitor as a direct spawn once it has its container, and gone without a
trace when no container comes for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import warm_monitor
from runtime.engine import Engine
from runtime.paths import Paths
from runtime.spec import ContainerSpec
from tests.conftest import composer_cli
from tests.runtime.conftest import cmdline, processes, wait_for

IMAGE = "localhost/busybox:latest"


def _warm_pids() -> list[int]:
    """Monitors still waiting for a container (their command line is not rewritten yet)."""
    return [pid for pid, argv in processes()
            if "--warm" in argv and any(a.endswith("runtime/monitor.py") for a in argv)]


def test_wanted_only_where_a_monitor_would_be_spawned_directly(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    monkeypatch.delenv("COMPOSER_POD_MONITOR", raising=False)
    paths = Paths(root=tmp_path / "root", rundir=tmp_path / "run")
    assert warm_monitor.wanted(paths, None)               # the engine's first container
    assert not warm_monitor.wanted(paths, "proj")         # a pod's: the pod's shared monitor
    monkeypatch.setenv("COMPOSER_POD_MONITOR", "0")
    assert warm_monitor.wanted(paths, "proj")             # ... unless pods share none
    paths.container_run("c" * 64).mkdir(parents=True)
    assert not warm_monitor.wanted(paths, None)           # others run: the fork server forks it
    monkeypatch.setenv("COMPOSER_WARM_MONITOR", "0")
    assert warm_monitor.start(paths) is None


@pytest.mark.privileged
def test_a_warm_monitor_becomes_the_containers_monitor(engine: Engine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    warm = warm_monitor.start(engine.paths)
    assert warm is not None
    info = engine.containers.create(ContainerSpec(name="warm", image=IMAGE, command=("sleep", "30")),
                                    start=True, warm=warm)
    assert warm.returncode == 0                           # it forked the monitor away and exited
    run = engine.paths.container_run(info.id)
    monitor = json.loads((run / "monitor.json").read_text())["pid"]
    argv = cmdline(monitor)                               # found by its command line as a direct one
    assert argv[1:3] == ["-I", "-S"] and argv[3].endswith("runtime/monitor.py")
    assert argv[4:] == [str(engine.paths.container_dir(info.id)), str(run), "--start"], argv
    assert os.getsid(monitor) != os.getsid(0)             # a session of its own, not ours
    assert engine.containers.get(info.id).status == "running"
    engine.containers.stop(info.id, timeout=1)
    assert engine.containers.get(info.id).exit_code is not None


@pytest.mark.privileged
def test_run_uses_the_warm_monitor_and_a_failed_run_leaves_none(busybox_image: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    res = composer_cli("container", "run", "--rm", busybox_image, "sh", "-c", "echo out; echo err >&2")
    assert (res.returncode, res.stdout, res.stderr) == (0, "out\n", "err\n")
    res = composer_cli("container", "run", "--rm", "localhost/nosuch:latest", "true")
    assert res.returncode != 0 and "nosuch" in res.stderr
    res = composer_cli("container", "run", "--rm", "--user", "nobody-here", busybox_image, "true")
    assert res.returncode != 0 and "nobody-here" in res.stderr
    assert _warm_pids() == []                             # discarded: reaped before the command ended


def test_a_warm_monitor_whose_command_died_exits(tmp_path: Path) -> None:
    """Its stdin closes with the command that started it (a SIGKILL included): it exits at EOF."""
    script = ("import os, signal, sys\nfrom pathlib import Path\nfrom runtime import warm_monitor\n"
              "from runtime.paths import Paths\n"
              "w = warm_monitor.start(Paths(root=Path(sys.argv[1]), rundir=Path(sys.argv[2])))\n"
              "print(w.pid, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    res = subprocess.run([sys.executable, "-c", script, str(tmp_path / "root"), str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=30)
    pid = int(res.stdout.split()[0])
    wait_for(lambda: pid not in _warm_pids())  # gone (or a zombie: its command line is empty)


def test_discarding_after_an_interrupted_use_kills_and_reaps_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    warm = warm_monitor.start(Paths(root=tmp_path / "root", rundir=tmp_path / "run"))
    assert warm is not None and warm.alive()
    os.close(warm.status_r)  # as _read_all leaves it when Ctrl-C lands in a use()
    warm.status_r = -1
    warm.discard()
    assert warm.returncode is not None and warm.pid not in _warm_pids()
    warm.discard()  # twice: nothing more to do

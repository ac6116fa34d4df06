"""A lone container's monitor started ahead of its container (runtime/warm_monitor.py): used by
`container run`, it becomes the lone containers' shared monitor (or, without shared monitors, the
same monitor as a direct spawn), and is gone without a trace when no container comes for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import warm_monitor, zygote
from runtime.engine import Engine
from runtime.paths import Paths
from runtime.spec import ContainerSpec
from tests.conftest import composer_cli
from tests.runtime.conftest import cmdline, processes, wait_for

IMAGE = "localhost/busybox:latest"


def _warm_pids(session: int = 0) -> list[int]:
    """Monitors still waiting for a container (their command line is not rewritten yet); with
    *session*: the one forked by the process spawned as that pid (the leader of its session)."""
    return [pid for pid, argv in processes()
            if "--warm" in argv and any(a.endswith("runtime/monitor.py") for a in argv)
            and (not session or (pid != session and _session(pid) == session))]


def _session(pid: int) -> int:
    try:
        return os.getsid(pid)
    except ProcessLookupError:
        return 0


def test_wanted_only_where_a_monitor_process_would_be_started(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    monkeypatch.delenv("COMPOSER_POD_MONITOR", raising=False)
    paths = Paths(root=str(tmp_path / "root"), rundir=str(tmp_path / "run"))
    assert warm_monitor.wanted(paths, None)               # the engine's first lone container
    assert not warm_monitor.wanted(paths, "proj")         # a pod's: the pod's shared monitor
    lone = Path(zygote.pod_socket(str(paths.rundir), zygote.LONE))
    lone.parent.mkdir(parents=True)
    lone.touch()
    assert not warm_monitor.wanted(paths, None)           # the lone containers' monitor is up: a thread
    monkeypatch.setenv("COMPOSER_POD_MONITOR", "0")       # no shared monitors: a process each
    assert warm_monitor.wanted(paths, "proj")
    assert warm_monitor.wanted(paths, None)
    Path(paths.container_run("c" * 64)).mkdir(parents=True)
    assert not warm_monitor.wanted(paths, None)           # others run: the fork server forks it
    monkeypatch.setenv("COMPOSER_WARM_MONITOR", "0")
    assert warm_monitor.start(paths) is None


def _create_warm(engine: Engine, name: str) -> tuple[str, list[str], Path]:
    """A running lone container created with a warm monitor: (id, its monitor's command line,
    run dir); the warm process forked the monitor away and exited."""
    warm = warm_monitor.start(engine.paths)
    assert warm is not None
    info = engine.containers.create(ContainerSpec(name=name, image=IMAGE, command=("sleep", "30")),
                                    start=True, warm=warm)
    assert warm.returncode == 0
    run = Path(engine.paths.container_run(info.id))
    mon = json.loads((run / "monitor.json").read_text())
    monitor = mon.get("process") or mon["pid"]
    argv = cmdline(monitor)                               # found by its command line as a spawned one
    assert argv[1:3] == ["-I", "-S"] and argv[3].endswith("runtime/monitor.py")
    assert os.getsid(monitor) != os.getsid(0)             # a session of its own, not ours
    assert engine.containers.get(info.id).status == "running"
    return info.id, argv[4:], run


@pytest.mark.privileged
def test_a_warm_monitor_becomes_the_lone_containers_shared_monitor(engine: Engine,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    monkeypatch.delenv("COMPOSER_POD_MONITOR", raising=False)
    first, args, run = _create_warm(engine, "warm")
    lone = zygote.pod_socket(str(engine.paths.rundir), zygote.LONE)
    assert args == ["--pod", lone, str(engine.paths.container_dir(first)), str(run), "--start"], args
    process = json.loads((run / "monitor.json").read_text())["process"]
    assert not warm_monitor.wanted(engine.paths, None)    # the next lone container needs none
    second = engine.containers.create(ContainerSpec(name="next", image=IMAGE, command=("sleep", "30")),
                                      start=True)
    mon = json.loads((Path(engine.paths.container_run(second.id)) / "monitor.json").read_text())
    assert mon["process"] == process and mon["pid"] != process    # a thread of the same process
    engine.containers.stop(first, timeout=1)
    assert engine.containers.get(first).exit_code is not None
    assert engine.containers.get(second.id).status == "running"   # its neighbour's exit is its own
    for cid in (first, second.id):
        engine.containers.remove(cid, force=True)
    wait_for(lambda: not os.path.exists(f"/proc/{process}"))  # the last one gone: so is the process
    assert not os.path.exists(lone)


@pytest.mark.privileged
def test_without_shared_monitors_a_warm_monitor_becomes_the_containers_own(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    monkeypatch.setenv("COMPOSER_POD_MONITOR", "0")
    cid, args, run = _create_warm(engine, "warm")
    assert args == [str(engine.paths.container_dir(cid)), str(run), "--start"], args  # as a direct spawn's
    engine.containers.stop(cid, timeout=1)
    assert engine.containers.get(cid).exit_code is not None


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
    assert _engines_warm_pids() == []                   # discarded: reaped before the command ended


def test_run_and_create_spawn_their_monitor_before_importing_the_command(busybox_image: str) -> None:
    # composer/cli/run_ahead.py: the spawn comes before the command's own modules are imported
    probe = ("import sys\nfrom composer.cli import main\nfrom runtime import warm_monitor\n"
             "spawn = warm_monitor.spawn\nseen = []\n"
             "def spy():\n    seen.append('composer.cli.cmd_container' in sys.modules)\n    return spawn()\n"
             "warm_monitor.spawn = spy\nrc = main.main(sys.argv[1:])\nprint('@@', rc, seen)\n")
    for verb in (["run", "--rm"], ["create", "--name", "ahead"]):
        out = subprocess.run([sys.executable, "-c", probe, "container", *verb, busybox_image, "true"],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.splitlines()[-1:] == ["@@ 0 [False]"], out.stderr
    assert composer_cli("container", "rm", "-f", "ahead").returncode == 0


def test_a_monitor_spawned_ahead_goes_when_the_command_fails_before_its_create(busybox_image: str) -> None:
    # looked for while the command's process still lives: a monitor it left would wait on its stdin
    probe = ("import sys\nfrom composer.cli import main\n"
             "try:\n    rc = main.main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
             "from tests.runtime.test_warm_monitor import _engines_warm_pids\n"
             "print('@@', rc, _engines_warm_pids())\n")
    for argv in (["--no-such-flag", busybox_image, "true"], ["--memory", "lots", busybox_image, "true"]):
        out = subprocess.run([sys.executable, "-c", probe, "container", "run", "--rm", *argv],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.splitlines()[-1:] in (["@@ 2 []"], ["@@ 125 []"]), out.stderr


@pytest.mark.parametrize(("line", "wanted"), [
    (["container", "run", "--rm", "img", "true"], True),
    (["container", "create", "img"], True),
    (["--ansi", "never", "container", "run", "img"], True),
    (["container", "run", "--pod", "p", "img"], False),      # its pod's shared monitor
    (["container", "run", "--pod=p", "img"], False),
    (["container", "run", "--help"], False),
    (["container", "start", "c"], False),
    (["run", "web"], False),                                 # compose's run: the project's pod
    (["-p", "container", "container", "run", "img"], False),  # unsure: left to the handler
])
def test_which_command_lines_spawn_ahead(line: list[str], wanted: bool) -> None:
    from composer.cli import main, run_ahead

    assert run_ahead.wanted(line, main.command_word(line)) is wanted


def _engines_warm_pids() -> list[int]:
    """The waiting monitors of this test's engine (its run dir in their environment): not
    another session's on the same host."""
    ours = f"COMPOSER_RUNDIR={os.environ['COMPOSER_RUNDIR']}".encode()

    def environ(pid: int) -> list[bytes]:
        try:
            return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return []
    return [pid for pid in _warm_pids() if ours in environ(pid)]


def test_a_warm_monitor_whose_command_died_exits(tmp_path: Path) -> None:
    """Its stdin closes with the command that started it (a SIGKILL included): it exits at EOF.
    It was never the command's child: the process the command spawned forked it and exited."""
    script = ("import os, signal, sys, time\nfrom pathlib import Path\nfrom runtime import warm_monitor\n"
              "from runtime.paths import Paths\nfrom tests.runtime.test_warm_monitor import _warm_pids\n"
              "w = warm_monitor.start(Paths(root=sys.argv[1], rundir=sys.argv[2]))\n"
              "while not _warm_pids(w.pid): time.sleep(0.005)\n"
              "assert os.waitpid(w.pid, 0)[0] == w.pid\n"
              "print(*_warm_pids(w.pid), flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    res = subprocess.run([sys.executable, "-c", script, str(tmp_path / "root"), str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=Path(__file__).parents[2], timeout=30)
    [pid] = map(int, res.stdout.split())
    wait_for(lambda: pid not in _warm_pids())  # gone (or a zombie: its command line is empty)


def test_discarding_after_an_interrupted_use_reaps_what_it_spawned(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    warm = warm_monitor.start(Paths(root=str(tmp_path / "root"), rundir=str(tmp_path / "run")))
    assert warm is not None and warm.alive()
    wait_for(lambda: _warm_pids(warm.pid))
    os.close(warm.status_r)  # as _read_all leaves it when Ctrl-C lands in a use()
    warm.status_r = -1
    assert not warm.alive()
    warm.discard()
    assert warm.returncode == 0  # the process spawned, which forked the monitor
    wait_for(lambda: not _warm_pids(warm.pid))  # no request came: the monitor exits at its EOF
    warm.discard()  # twice: nothing more to do


def test_a_warm_monitor_that_died_is_not_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its liveness is its status pipe's (its pid is not the command's child): a dead one is not
    handed a container (the direct spawn reports why)."""
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    warm = warm_monitor.start(Paths(root=str(tmp_path / "root"), rundir=str(tmp_path / "run")))
    assert warm is not None
    wait_for(lambda: _warm_pids(warm.pid))
    [pid] = _warm_pids(warm.pid)
    assert warm.alive()
    os.kill(pid, 9)
    wait_for(lambda: not warm.alive())
    warm.discard()
    assert warm.returncode == 0


def test_a_warm_monitor_loads_what_its_first_init_needs_before_its_request(tmp_path: Path) -> None:
    """Imported while it waits, not between the command's request and the init's fork: the init's
    capability code (and its libc handle) and the command-line rewrite. Its request names a
    container without a bundle: the monitor reports that, after the imports (one stream)."""
    (tmp_path / "run").mkdir()
    res = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", warm_monitor.MONITOR, "--warm"],
                         input=b"\0".join([bytes(tmp_path), bytes(tmp_path / "run")]),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    lines = res.stdout.decode().splitlines()
    [error] = [i for i, line in enumerate(lines) if line.startswith("error monitor:")]
    imported = [line.rsplit("|", 1)[-1].strip() for line in lines[:error] if line.startswith("import time:")]
    assert "runtime.security.caps" in imported and "runtime.executor.proctitle" in imported, lines

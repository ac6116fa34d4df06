"""The life of an attached or --rm container as docker's: an --rm container is removed by its
monitor once it exits, whether or not a CLI is left to do it (docker's daemon, podman's conmon
exit command), exactly once; the signals an attached CLI gets go to the container's process
(docker's --sig-proxy, on by default). Real containers through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import composer_cli
from tests.runtime.test_cli_container import bb, cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.privileged
REPO = Path(__file__).resolve().parents[2]
# a container that says "ready" once its traps are set, and says which signal it got
TRAPS = ('trap "echo got USR1" USR1; trap "echo got HUP" HUP; trap "echo got INT; exit 5" INT; '
         'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done')


def _popen(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "composer", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)


def _await_line(proc: subprocess.Popen[str], want: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == want + "\n", (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")


def _names() -> list[str]:
    return cli("ls", "-a", "--format", "{{.Names}}").stdout.split()


def _await_gone(name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while name in _names():
        assert time.monotonic() < deadline, f"{name} was not removed: {cli('ls', '-a').stdout}"
        time.sleep(0.1)


def _assert_nothing_left(paths: tuple[Path, Path]) -> None:
    """Nothing of any container: dirs, netns pins, mounts, cgroups (the remover's removal is
    rm's: the fixture would hide what it left, as it removes what it finds first)."""
    root, run = paths
    deadline = time.monotonic() + 5  # an attached run's dirs: its monitor's child deletes them
    while (left := [(d, list(d.iterdir())) for d in (root / "containers", run / "containers", run / "netns")
                    if d.exists() and list(d.iterdir())]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, left
    mounts = Path("/proc/mounts").read_text()
    assert str(root) not in mounts and str(run) not in mounts
    deadline = time.monotonic() + 5  # the remover runs on: its process after the row went
    while (busy := [p for p in Path("/proc").glob("[0-9]*") if _remover_of(p, root)]) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert not busy


def _remover_of(proc: Path, root: Path) -> bool:
    try:
        cmd = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"autoremove.py") for a in cmd) and os.fsencode(root) in cmd


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_an_attached_run_rm_whose_cli_dies_is_removed_once_the_container_exits(
        bb: tuple[Path, Path], sig: int) -> None:  # noqa: F811
    """SIGKILL (or, without the proxy, SIGTERM) of `run --rm`: the container runs on, as docker's,
    and its monitor removes it when it exits; it stayed exited before, network and all."""
    proxy = ["--sig-proxy=false"] if sig == signal.SIGTERM else []
    proc = _popen("container", "run", "--rm", *proxy, "--name", "rl-kill", "busybox", "sh", "-c",
                  "echo ready; sleep 1")
    _await_line(proc, "ready")
    proc.send_signal(sig)
    assert proc.wait(10) == -sig
    assert "rl-kill" in _names()  # the CLI's death does not end it
    _await_gone("rl-kill")
    _assert_nothing_left(bb)
    r = cli("run", "--rm", "--name", "rl-kill", "--network", "none", "busybox", "true")
    assert r.returncode == 0, r.stderr


KILLED_CREATE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from runtime import container_create
    from runtime.engine import Engine
    from runtime.paths import Paths
    from runtime.spec import ContainerSpec, Mount

    launch = container_create._launch
    def launch_and_die(*args, **kw):  # `run -d --rm` killed once its container started
        launch(*args, **kw)
        os.kill(os.getpid(), signal.SIGKILL)
    container_create._launch = launch_and_die
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    eng.containers.create(ContainerSpec(name="rl-d", image="localhost/busybox:latest",
                                        command=("sleep", "0.5"), volatile=True,
                                        mounts=(Mount(type="volume", target="/v"),)), start=True)
""")


def test_a_detached_rm_container_whose_cli_died_before_its_reaper_is_removed(
        bb: tuple[Path, Path]) -> None:  # noqa: F811
    """`run -d --rm` killed after the start: the CLI's reaper (spawn_reaper) never started, and
    the exited container stayed with its anonymous volume and its network endpoint."""
    root, run = bb
    proc = subprocess.run([sys.executable, "-c", KILLED_CREATE, str(root), str(run)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    _await_gone("rl-d")
    _assert_nothing_left(bb)
    assert composer_cli("volume", "ls", "-q").stdout == ""  # docker's --rm takes anonymous volumes


def test_an_attached_run_rm_removes_it_once_and_returns_when_it_is_gone(
        bb: tuple[Path, Path]) -> None:  # noqa: F811
    """The CLI removes its container itself (its monitor's remover finds that done): one
    destroy, and a run of the same name right after works."""
    for _ in range(3):
        r = cli("run", "--rm", "--name", "rl-once", "busybox", "sh", "-c", "exit 2")
        assert r.returncode == 2, r.stderr
    time.sleep(0.5)  # a second removal would come now
    events = cli("events", "--since", "0", "--until", str(int(time.time()) + 1),
                 "--filter", "event=destroy", "--format", "json")
    names = [json.loads(line)["Actor"]["Attributes"]["name"] for line in events.stdout.splitlines()]
    assert names == ["rl-once"] * 3, events.stderr
    _assert_nothing_left(bb)


def test_a_stopped_or_restarted_detached_rm_container(bb: tuple[Path, Path]) -> None:  # noqa: F811
    """As docker's: a restart keeps an --rm container (moby skips its autoRemove), a stop removes it."""
    assert cli("run", "-d", "--rm", "--name", "rl-rs", "--network", "none", "busybox",
               "sleep", "100").returncode == 0
    assert cli("restart", "-t", "0", "rl-rs").returncode == 0
    time.sleep(1)
    assert cli("inspect", "-f", "{{.State.Status}}", "rl-rs").stdout == "running\n"
    assert cli("stop", "-t", "0", "rl-rs").returncode == 0
    _await_gone("rl-rs")
    _assert_nothing_left(bb)


@pytest.mark.parametrize("rm", [[], ["--rm"]])
def test_signals_to_an_attached_run_reach_the_container(bb: tuple[Path, Path], rm: list[str]) -> None:  # noqa: F811
    """docker's --sig-proxy: USR1, HUP, INT and TERM go to the container's process (a SIGINT
    does not end the CLI: the container decides); the CLI ends with the container's code."""
    proc = _popen("container", "run", *rm, "--name", "rl-sig", "--network", "none", "busybox",
                  "sh", "-c", TRAPS)
    _await_line(proc, "ready")
    assert proc.stdout is not None
    for sig, said in ((signal.SIGUSR1, "got USR1"), (signal.SIGHUP, "got HUP")):
        proc.send_signal(sig)
        _await_line(proc, said)
    proc.send_signal(signal.SIGTERM)
    _await_line(proc, "got TERM")
    assert proc.wait(10) == 3
    assert ("rl-sig" in _names()) == (not rm)
    if not rm:
        proc = _popen("container", "start", "-a", "rl-sig")
        _await_line(proc, "ready")
        proc.send_signal(signal.SIGINT)
        _await_line(proc, "got INT")
        assert proc.wait(10) == 5


def test_without_the_sig_proxy_the_container_gets_no_signal(bb: tuple[Path, Path]) -> None:  # noqa: F811
    proc = _popen("container", "run", "--sig-proxy=false", "--name", "rl-nosig", "--network", "none",
                  "busybox", "sh", "-c", TRAPS)
    _await_line(proc, "ready")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
    assert cli("inspect", "-f", "{{.State.Status}}", "rl-nosig").stdout == "running\n"
    r = cli("run", "--sig-proxy=maybe", "busybox", "true")
    assert r.returncode != 0 and 'strconv.ParseBool: parsing "maybe": invalid syntax' in r.stderr
    r = cli("run", "--rm", "--sig-proxy", "busybox", "true")  # a bare bool flag takes no value
    assert r.returncode == 0, r.stderr


@pytest.fixture
def proj(tmp_path: Path, bb: tuple[Path, Path]) -> Iterator[Path]:  # noqa: F811
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(f"services:\n  app:\n    image: localhost/busybox\n"
                                    f"    command: ['sh', '-c', '{TRAPS}']\n")
    yield d
    composer_cli("-p", "rl-proj", "down", "-v", "-t", "0", cwd=d)


def test_compose_run_passes_signals_and_its_rm_survives_a_kill(proj: Path) -> None:
    """docker compose's run forwards every signal (RunOneOffContainer: signal.Notify); a kill of
    `run --rm` leaves the one-off to its monitor, which removes it once it exits."""
    proc = _popen("-p", "rl-proj", "run", "--rm", "-T", "app", cwd=proj)
    _await_line(proc, "ready")
    proc.send_signal(signal.SIGUSR1)
    _await_line(proc, "got USR1")
    proc.send_signal(signal.SIGTERM)
    _await_line(proc, "got TERM")
    assert proc.wait(10) == 3
    assert [n for n in _names() if "run" in n] == []

    proc = _popen("-p", "rl-proj", "run", "--rm", "-T", "app", cwd=proj)
    _await_line(proc, "ready")
    proc.kill()
    proc.wait(10)
    (one_off,) = [n for n in _names() if "-app-run-" in n]
    assert cli("stop", "-t", "0", one_off).returncode == 0
    _await_gone(one_off)

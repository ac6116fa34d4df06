"""The monitor's terminal (``tty: true``) is a pty of the container's own devpts, as crun's
--console-socket gives it: the init opens it after its mounts and sends the master to the monitor,
which logs what the workload writes and forwards attached input. And a restart of an
``ipc: container:X`` joiner gets X's /dev/shm again. Real containers."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.spec import ContainerSpec, ExecSpec, RestartPolicy

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"


def _spec(name: str, *cmd: str, **kw: object) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=cmd, network_mode="none", **kw)  # type: ignore[arg-type]


def _lines(engine: Engine, ref: str) -> list[str]:
    return [r.text.decode().rstrip("\r") for r in engine.containers.logs(ref)]


def _monitor_fds(engine: Engine, ref: str) -> list[str]:
    run = Path(engine.paths.rundir) / "containers" / engine.containers.get(ref).id
    pid = int((run / "monitor.json").read_text().split('"pid":')[1].split(",")[0])
    fd_dir = f"/proc/{pid}/fd"
    return [os.readlink(f"{fd_dir}/{fd}") for fd in os.listdir(fd_dir)]


def test_the_terminal_is_a_pty_of_the_containers_devpts(engine: Engine) -> None:
    script = (
        "tty; for i in 0 1 2; do readlink /proc/self/fd/$i; done; echo $(ls /dev/pts); "
        "[ $(stat -c %t:%T /dev/console) = $(stat -c %t:%T $(tty)) ] && echo console-is-tty; "
        "grep -c ' /dev/console ' /proc/self/mounts; stty >/dev/null && echo stty-ok"
    )
    c = engine.containers.create(_spec("t-con-pts", "sh", "-c", script, tty=True))
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=15) == 0
    lines = _lines(engine, c.id)
    assert lines[:4] == ["/dev/pts/0"] * 4, lines
    assert "0" in lines[4].split() and "ptmx" in lines[4].split()
    assert lines[5:] == ["console-is-tty", "1", "stty-ok"], lines


def test_the_monitor_holds_the_master_of_the_containers_pty_and_no_host_pts(engine: Engine) -> None:
    host_pts = set(os.listdir("/dev/pts"))
    c = engine.containers.create(_spec("t-con-hold", "sleep", "1000", tty=True, stdin_open=True))
    engine.containers.start(c.id)
    fds = _monitor_fds(engine, c.id)
    assert fds.count("/dev/ptmx") + fds.count("/dev/pts/ptmx") == 1, fds
    assert not [f for f in fds if f.startswith("/dev/pts/") and f != "/dev/pts/ptmx"], fds
    assert set(os.listdir("/dev/pts")) == host_pts  # nothing allocated in the host's devpts
    engine.containers.remove(c.id, force=True)


def test_each_restart_gets_a_new_terminal_and_input_still_reaches_it(engine: Engine) -> None:
    c = engine.containers.create(
        _spec(
            "t-con-restart",
            "sh",
            "-c",
            "echo run-$(tty); read l; echo got-$l; exit 3",
            tty=True,
            stdin_open=True,
            restart=RestartPolicy(name="on-failure", max_retries=1),
        )
    )
    engine.containers.start(c.id)
    for run in (1, 2):
        r, w = os.pipe()
        os.write(w, b"x\n")
        os.close(w)
        # the run-th process has printed its tty, so it waits in `read` (the previous one, which
        # may still be "running" on its way out, must not take this input)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            _lines(engine, c.id).count("run-/dev/pts/0") >= run
            and engine.containers.get(c.id).status == "running"
        ):
            time.sleep(0.05)
        engine.containers.attach_stdin(c.id, r)
        os.close(r)
        deadline = time.monotonic() + 10
        while _lines(engine, c.id).count("got-x") < run and time.monotonic() < deadline:
            time.sleep(0.05)
    assert engine.containers.wait(c.id, timeout=15) == 3
    lines = _lines(engine, c.id)
    assert lines.count("run-/dev/pts/0") == 2, lines
    assert lines.count("got-x") == 2, lines
    assert engine.containers.get(c.id).restart_count == 1


def test_a_restarted_ipc_joiner_sees_the_donors_dev_shm(engine: Engine, tmp_path: Path) -> None:
    donor = engine.containers.create(_spec("t-con-donor", "sleep", "1000", ipc_mode="shareable"))
    engine.containers.start(donor.id)
    out = tmp_path / "exec.out"
    with open(out, "wb") as f:
        code = engine.containers.exec(
            donor.id, ExecSpec(command=("sh", "-c", "echo from-donor > /dev/shm/a")), stdout=f.fileno()
        )
    assert code == 0
    # the joiner's first run exits at once: the restart must mount the donor's /dev/shm again
    joiner = engine.containers.create(
        _spec(
            "t-con-joiner",
            "sh",
            "-c",
            "if [ -e /tmp/second ]; then cat /dev/shm/a; sleep 1000; fi; touch /tmp/second",
            ipc_mode="container:t-con-donor",
            restart=RestartPolicy(name="always"),
        )
    )
    engine.containers.start(joiner.id)
    deadline = time.monotonic() + 15
    while "from-donor" not in _lines(engine, joiner.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lines(engine, joiner.id) == ["from-donor"]
    info = engine.containers.get(joiner.id)
    assert info.status == "running" and info.restart_count == 1
    assert (
        os.stat(f"/proc/{info.pid}/root/dev/shm").st_dev
        == os.stat(f"/proc/{engine.containers.get(donor.id).pid}/root/dev/shm").st_dev
    )


def test_compose_tty_and_stdin_open_service_has_its_own_terminal(engine: Engine, tmp_path: Path) -> None:
    from tests.conftest import composer_cli

    (tmp_path / "compose.yaml").write_text(
        f"services:\n  shell:\n    image: {IMAGE}\n    network_mode: none\n    tty: true\n"
        "    stdin_open: true\n    command: sh -c 'tty; [ -t 0 ] && echo stdin-tty; exec sleep 1000'\n"
    )
    base = ("-f", str(tmp_path / "compose.yaml"), "-p", "ttydemo")
    r = composer_cli(*base, "up", "-d")
    assert r.returncode == 0, r.stderr
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = composer_cli(*base, "logs", "--no-log-prefix", "shell")
            if "stdin-tty" in r.stdout:
                break
            time.sleep(0.1)
        assert r.stdout.replace("\r", "").split() == ["/dev/pts/0", "stdin-tty"], (r.stdout, r.stderr)
        r = composer_cli(*base, "exec", "-T", "shell", "ls", "/dev/pts")
        assert (r.returncode, r.stdout.split()) == (0, ["0", "ptmx"]), r.stderr
    finally:
        r = composer_cli(*base, "down", "-t", "0")
        assert r.returncode == 0, r.stderr


def test_container_run_it_gives_a_terminal_of_the_container(engine: Engine) -> None:
    """`run -it` from a terminal (ours a real pty: docker's CLI refuses a pipe with -t): the
    container's shell has a terminal of its own, our keys reach it, its exit code comes back."""
    m, s = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "composer", "container", "run", "--rm", "-i", "-t", "--network", "none",
         IMAGE, "sh"], stdin=s, stdout=s, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(s)
    os.write(m, b"tty; exit 7\n")  # held by our pty until the CLI relays it
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if select.select([m], [], [], 0.2)[0]:
            try:
                chunk = os.read(m, 4096)
            except OSError:  # EIO: the CLI, the last holder of the slave end, is gone
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(m)
    assert proc.wait(timeout=10) == 7, (seen, proc.stderr.read() if proc.stderr else b"")
    assert "/dev/pts/0" in seen.decode(errors="replace").replace("\r", "").split("\n"), seen

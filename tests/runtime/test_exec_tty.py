"""`exec -t`: the process gets its own pty of the container's devpts instance, as its controlling
terminal, sized like the caller's; the caller's terminal is raw while attached and restored after.
Real containers, real ptys on the test side (os.openpty, pty.fork)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.spec import ContainerInfo, ContainerSpec, ExecSpec

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]


def _sleeper(engine: Engine, name: str) -> ContainerInfo:
    c = engine.containers.create(
        ContainerSpec(name=name, image=IMAGE, command=("sleep", "1000"), network_mode="none")
    )
    return engine.containers.start(c.id)


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _read_until(fd: int, pattern: str, timeout: float = 15) -> str:
    """Read the terminal's output until *pattern* (a regex) matches it; returns all read."""
    out = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, out.decode(errors="replace")):
        left = deadline - time.monotonic()
        assert left > 0, f"no {pattern!r} in {out!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
    return out.decode(errors="replace")


def test_exec_tty_gets_its_own_pts_of_the_container_sized_like_the_caller(engine: Engine) -> None:
    c = _sleeper(engine, "t-tty")
    m, s = os.openpty()
    try:
        _set_size(s, 33, 101)
        before = termios.tcgetattr(s)
        result: list[int] = []
        t = threading.Thread(
            target=lambda: result.append(
                engine.containers.exec(
                    c.id, ExecSpec(command=("sh",), tty=True, stdin_open=True), stdin=s, stdout=s, stderr=s
                )
            )
        )
        t.start()
        os.write(m, b"echo ready-$((6*7))\n")
        _read_until(m, r"ready-42")
        # while attached the caller's terminal is raw: no echo, no line editing, no signals
        lflag = termios.tcgetattr(s)[3]
        assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)
        os.write(m, b"tty; stty size; stat -c dev=%d /dev/pts; stat -L -c dev=%d /proc/self/fd/0\n")
        out = _read_until(m, r"dev=\d+\s+dev=\d+")
        # the input is echoed by the container's terminal (the caller's is raw)
        assert "stty size" in out
        assert re.search(r"^/dev/pts/\d+\r?$", out, re.M), out
        assert re.search(r"^33 101\r?$", out, re.M), out
        devs = re.findall(r"dev=(\d+)", out.split("/proc/self/fd/0", 1)[1])
        assert len(devs) == 2 and devs[0] == devs[1], out  # the slave lives on the container's devpts
        # a controlling terminal: /dev/tty opens, and ^C reaches the foreground job, not the caller
        os.write(m, b"echo hi > /dev/tty && echo ctty-ok\n")
        _read_until(m, r"ctty-ok")
        os.write(m, b"sleep 30\n")
        time.sleep(0.5)
        os.write(m, b"\x03")
        os.write(m, b"echo after-$?\n")
        _read_until(m, r"after-130", timeout=10)
        os.write(m, b"exit 5\n")
        t.join(15)
        assert result == [5]
        assert termios.tcgetattr(s) == before  # restored after
        # nothing of the exec is left in the container
        assert [p["CMD"] for p in engine.containers.top(c.id)] == ["sleep 1000"]
    finally:
        os.close(m)
        os.close(s)


def test_cli_exec_it_follows_window_size_and_passes_the_exit_code(engine: Engine) -> None:
    c = _sleeper(engine, "t-tty-cli")
    pid, m = pty.fork()
    if pid == 0:  # the caller: a session whose controlling terminal is the pty's slave
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "composer", "container", "exec", "-it", c.name, "sh"])
    try:
        _set_size(m, 24, 80)
        os.write(m, b"stty size\n")
        _read_until(m, r"24 80")
        _set_size(m, 40, 132)  # the kernel sends SIGWINCH to the caller, which passes the size on
        time.sleep(0.3)
        os.write(m, b"stty size\n")
        _read_until(m, r"40 132")
        os.write(m, b"exit 7\n")
        _read_until(m, r"$", timeout=1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7
    finally:
        with_kill(pid)
        os.close(m)


def test_exec_tty_without_stdin_runs_and_reports_the_signal(engine: Engine) -> None:
    """`exec -t` without -i: output comes through the pty, the caller's stdin is not read."""
    c = _sleeper(engine, "t-tty-noin")
    m, s = os.openpty()
    try:
        r = engine.containers.exec(
            c.id,
            ExecSpec(command=("sh", "-c", "tty; kill -TERM $$"), tty=True),
            stdin=os.open(os.devnull, os.O_RDONLY),
            stdout=s,
            stderr=s,
        )
        assert r == 128 + signal.SIGTERM
        assert re.search(r"/dev/pts/\d+", _read_until(m, r"/dev/pts/\d+"))
    finally:
        os.close(m)
        os.close(s)


def test_exec_tty_with_piped_input_ends_when_the_input_does(engine: Engine, tmp_path: Path) -> None:
    """`echo ... | exec -it CTR sh`: the end of the piped input reaches the shell as a typed ^D."""
    c = _sleeper(engine, "t-tty-pipe")
    (tmp_path / "in").write_text("echo piped-$((2+3))\n")
    m, s = os.openpty()
    try:
        with open(tmp_path / "in", "rb") as f:
            shell = ExecSpec(command=("sh",), tty=True, stdin_open=True)
            r = engine.containers.exec(c.id, shell, stdin=f.fileno(), stdout=s, stderr=s)
        assert r == 0
        assert "piped-5" in _read_until(m, r"piped-5")
    finally:
        os.close(m)
        os.close(s)


def test_exec_tty_as_another_user_keeps_the_terminal_and_drops_caps(engine: Engine) -> None:
    c = _sleeper(engine, "t-tty-user")
    m, s = os.openpty()
    try:
        script = "id -u; tty; grep CapEff /proc/self/status; echo ok > /dev/tty"
        r = engine.containers.exec(
            c.id,
            ExecSpec(command=("sh", "-c", script), tty=True, user="www-data"),
            stdout=s,
            stderr=s,
            stdin=os.open(os.devnull, os.O_RDONLY),
        )
        assert r == 0
        out = _read_until(m, r"ok\r*\n").replace("\r", "").split("\n")
        assert out[0] == "33" and re.fullmatch(r"/dev/pts/\d+", out[1]), out
        assert out[2].split() == ["CapEff:", "0000000000000000"]
    finally:
        os.close(m)
        os.close(s)


def with_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def test_compose_exec_allocates_a_tty_by_default_and_not_with_T(engine: Engine, tmp_path: Path) -> None:
    from tests.conftest import composer_cli

    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {IMAGE}\n    command: sleep 1000\n    network_mode: none\n"
    )
    base = ("-f", str(tmp_path / "compose.yaml"), "-p", "ttydemo")
    r = composer_cli(*base, "up", "-d")
    assert r.returncode == 0, r.stderr
    try:
        for flags, want in (((), r"^/dev/pts/\d+\r?$"), (("-T",), r"^not a tty\r?$")):
            pid, m = pty.fork()
            if pid == 0:
                os.chdir(REPO)
                cmd = ("sh", "-c", "tty; exit 3")
                argv = [sys.executable, "-m", "composer", *base, "exec", *flags, "app", *cmd]
                os.execv(sys.executable, argv)
            try:
                out = _read_until(m, r"(/dev/pts/\d+|not a tty)")
                assert re.search(want, out, re.M), out
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 3
            finally:
                with_kill(pid)
                os.close(m)
    finally:
        r = composer_cli(*base, "down")
        assert r.returncode == 0, r.stderr

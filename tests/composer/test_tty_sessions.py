"""An attached container with a terminal, on a real pty, as docker's run -it and docker compose's
run: our terminal raw while attached (each key typed goes to the container's terminal, which alone
echoes it), the container's terminal at our window's size from its first moment, resized with
ours (SIGWINCH), and our terminal's mode given back at the end. Real containers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project
from tests.ptys import open_terminal, read_until, set_size

pytestmark = pytest.mark.privileged

# the size at start, then a line read, then the size at each SIGWINCH (as `stty size`) for ~4 s
SCRIPT = ('stty size; trap "stty size" WINCH; read x; echo "got:$x"; '
          'i=0; while [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done; echo bye')

COMPOSE = f"""
name: ttys
services:
  shell:
    image: localhost/busybox:latest
    command: [sh, -c, '{SCRIPT.replace("$", "$$")}']
networks:
  default:
    ipam:
      config: [{{subnet: 10.77.49.0/26}}]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "ttys")


def _session(cwd: Path, *args: str) -> None:
    """Run the CLI on a 40x100 pty: the container sees that size at once, a typed line is echoed
    once (by the container's terminal, no \\r\\r\\n of a second output processing), a new size
    reaches it, and our terminal is as it was after the CLI ends."""
    leader, follower = open_terminal(40, 100)
    before = termios.tcgetattr(follower)
    p = subprocess.Popen([sys.executable, "-m", "composer", *args], cwd=cwd, stdin=follower,
                         stdout=follower, stderr=follower, start_new_session=True)
    try:
        read_until(leader, b"40 100")  # no 0 0 first: the size was the container's from its start
        os.write(leader, b"abc\r")
        seen = read_until(leader, b"got:abc")
        assert seen.count(b"abc") == 2, seen  # the container's echo and its output, no local echo
        assert b"\r\r\n" not in seen, seen
        set_size(leader, 50, 120)
        os.kill(p.pid, signal.SIGWINCH)  # as the kernel does for the pty's foreground group
        read_until(leader, b"50 120")
        read_until(leader, b"bye")
        assert p.wait(timeout=30) == 0
        assert termios.tcgetattr(follower) == before
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(follower)
        os.close(leader)


def test_container_run_it_is_a_raw_terminal_at_our_size(tmp_path: Path, busybox_image: str) -> None:
    _session(tmp_path, "container", "run", "--rm", "-it", "--name", "ttyrun", busybox_image,
             "sh", "-c", SCRIPT)
    subprocess.run([sys.executable, "-m", "composer", "container", "rm", "-f", "ttyrun"],
                   capture_output=True, timeout=60)


def test_compose_run_is_a_raw_terminal_at_our_size(proj: Path) -> None:
    _session(proj, "run", "--rm", "shell")


def test_container_run_it_detaches_on_the_detach_keys_and_its_monitor_removes_it_later(
        tmp_path: Path, busybox_image: str) -> None:
    """docker's run -it: ctrl-p ctrl-q (or --detach-keys) end the attach with 0, the container runs
    on, and with --rm it goes once it exits; a bad sequence is refused before anything is made."""
    def names() -> str:
        return subprocess.run([sys.executable, "-m", "composer", "container", "ls", "-a", "--format",
                               "{{.Names}}"], capture_output=True, text=True, timeout=60).stdout

    for flags, keys in (((), b"\x10\x11"), (("--detach-keys", "ctrl-x,y"), b"\x18y")):
        leader, follower = open_terminal(24, 80)
        try:
            p = subprocess.Popen([sys.executable, "-m", "composer", "container", "run", "--rm", "-it", *flags,
                                  "--name", "ttydet", busybox_image, "sh", "-c", "echo in; read x; sleep 2"],
                                 cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower,
                                 start_new_session=True)
            read_until(leader, b"in")
            os.write(leader, keys)
            assert p.wait(timeout=30) == 0
        finally:
            os.close(follower)
            os.close(leader)
        assert "ttydet" in names()  # running on: `read` got nothing, the keys were ours
        subprocess.run([sys.executable, "-m", "composer", "container", "kill", "ttydet"], timeout=60)
        deadline = time.monotonic() + 20
        while "ttydet" in names():  # gone by its monitor's hand
            assert time.monotonic() < deadline
            time.sleep(0.2)
    leader, follower = open_terminal(24, 80)
    try:
        res = subprocess.run([sys.executable, "-m", "composer", "container", "run", "--rm", "-it",
                              "--detach-keys", "ctrl-zz", "--name", "ttybad", busybox_image, "true"],
                             cwd=tmp_path, stdin=follower, stdout=follower, stderr=subprocess.PIPE,
                             text=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert res.returncode == 1
    assert res.stderr.strip() == "Error response from daemon: Invalid detach keys (ctrl-zz) provided"
    assert "ttybad" not in names()

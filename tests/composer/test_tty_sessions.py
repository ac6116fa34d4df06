"""An attached container with a terminal, on a real pty, as docker's run -it and docker compose's
run: our terminal raw while attached (each key typed goes to the container's terminal, which alone
echoes it), the container's terminal at our window's size from its first moment, resized with
ours (SIGWINCH), our terminal's mode given back at the end; and docker's detach keys. Real
containers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project
from tests.terminal import Terminal

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
    """Run the CLI on a 40x100 terminal: the container sees that size at once, a typed line is
    echoed once (by the container's terminal; no \\r\\r\\n of a second output processing), a new
    size reaches it, and the terminal is as it was once the CLI ended."""
    with Terminal(*args, cwd=cwd, size=(40, 100)) as term:
        before = term.mode()
        term.expect("40 100")  # no 0 0 first: the size was the container's from its start
        term.type(b"abc\r")
        screen = term.expect("got:abc")
        assert screen.count("abc") == 2, screen  # the container's echo and its output, no local echo
        assert b"\r\r\n" not in term.screen, term.screen
        term.resize(50, 120)
        term.expect("50 120")
        term.expect("bye")
        assert term.wait(30) == 0
        assert term.mode() == before


def test_container_run_it_is_a_raw_terminal_at_our_size(tmp_path: Path, busybox_image: str) -> None:
    _session(tmp_path, "container", "run", "--rm", "-it", busybox_image, "sh", "-c", SCRIPT)


def test_compose_run_is_a_raw_terminal_at_our_size(proj: Path) -> None:
    _session(proj, "run", "--rm", "shell")


def _names() -> str:
    return subprocess.run([sys.executable, "-m", "composer", "container", "ls", "-a", "--format",
                           "{{.Names}}"], capture_output=True, text=True, timeout=60).stdout


def test_container_run_it_detaches_on_the_detach_keys_and_its_monitor_removes_it_later(
        tmp_path: Path, busybox_image: str) -> None:
    """docker's run -it: ctrl-p ctrl-q (or --detach-keys) end the attach with 0, the container runs
    on, and with --rm it goes once it exits; a bad sequence is refused before anything is made."""
    for flags, keys in (((), b"\x10\x11"), (("--detach-keys", "ctrl-x,y"), b"\x18y")):
        with Terminal("container", "run", "--rm", "-it", *flags, "--name", "ttydet", busybox_image,
                      "sh", "-c", "echo in; read x; sleep 2", cwd=tmp_path, size=(24, 80)) as term:
            term.expect("in")
            term.type(keys)
            assert term.wait(30) == 0
        assert "ttydet" in _names()  # running on: `read` got nothing, the keys were ours
        subprocess.run([sys.executable, "-m", "composer", "container", "kill", "ttydet"], timeout=60)
        deadline = time.monotonic() + 20
        while "ttydet" in _names():  # gone by its monitor's hand
            assert time.monotonic() < deadline
            time.sleep(0.2)
    with Terminal("container", "run", "--rm", "-it", "--detach-keys", "ctrl-zz", "--name", "ttybad",
                  busybox_image, "true", cwd=tmp_path, size=(24, 80)) as term:
        assert term.wait(60) == 1
        assert "Error response from daemon: Invalid detach keys (ctrl-zz) provided" in term.text
    assert "ttybad" not in _names()

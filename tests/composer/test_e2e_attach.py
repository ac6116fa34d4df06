"""attach to a service's container (and `container attach`), on real containers, as docker compose
v2.40.3 (cmd/compose/attach.go, pkg/compose/attach_service.go: docker's RunAttach) does it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok
from tests.terminal import Terminal

pytestmark = pytest.mark.privileged

COMPOSE = """
name: att
services:
  reader:
    image: localhost/busybox:latest
    command: [sh, -c, 'echo ready; while read l; do echo "got $$l"; done; echo bye; exit 3']
    stdin_open: true
  term:
    image: localhost/busybox:latest
    command: [sh, -c, 'echo ready; while read l; do echo "got $$l"; done']
    tty: true
    stdin_open: true
    stop_grace_period: 1s
  trapper:
    image: localhost/busybox:latest
    command: [sh, -c, "trap 'echo term; exit 5' TERM; echo ready; while true; do sleep 0.1; done"]
    stop_grace_period: 1s
networks:
  default:
    ipam:
      config: [{subnet: 10.77.47.0/26}]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "att")


def _up(proj: Path, service: str) -> None:
    """Start *service* and wait for its "ready" line : an attach shows the output
    from then on, and a signal must find the handlers in place."""
    composer_ok(proj, "up", "-d", service)
    deadline = time.monotonic() + 10
    while "ready" not in composer_ok(proj, "logs", service).stdout:
        assert time.monotonic() < deadline, f"{service} did not start"
        time.sleep(0.1)


def _attach(proj: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "composer", *args], cwd=proj, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# ---- attach --------------------------------------------------------------------------------------

def test_attach_copies_stdin_in_and_output_out_and_exits_with_the_container(proj: Path) -> None:
    _up(proj, "reader")
    res = composer_cli("attach", "reader", input="one\ntwo\n", cwd=proj, timeout=30)
    assert res.returncode == 3, res.stderr
    assert res.stdout == "got one\ngot two\nbye\n"  # from now on: not the "ready" before the attach
    again = composer_cli("attach", "reader", cwd=proj)
    assert again.returncode == 1
    assert again.stderr.strip() == 'service "reader" is not running'


def test_attach_no_stdin_leaves_the_container_s_stdin_alone(proj: Path) -> None:
    _up(proj, "reader")
    p = _attach(proj, "attach", "--no-stdin", "reader")
    assert p.stdin is not None
    p.stdin.write("one\n")
    p.stdin.close()
    p.stdin = None  # communicate() would flush it
    time.sleep(1.5)
    assert p.poll() is None  # the container still waits for a line
    composer_ok(proj, "kill", "reader")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 137, err  # its exit code: killed
    assert "got" not in out


def test_attach_proxies_signals_unless_told_not_to(proj: Path) -> None:
    _up(proj, "trapper")
    p = _attach(proj, "attach", "trapper")
    time.sleep(1.5)  # the attach's own handlers are in place
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert (p.returncode, out) == (5, "term\n"), err

    _up(proj, "trapper")
    p = _attach(proj, "attach", "--sig-proxy=false", "trapper")
    time.sleep(1.5)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode != 5
    ps = composer_ok(proj, "ps", "--format", "{{.State}}", "trapper").stdout.strip()
    assert ps == "running"  # the signal stayed with the CLI


def test_attach_index_and_container_attach(proj: Path) -> None:
    _up(proj, "reader")
    res = composer_ok(proj, "attach", "--index", "2", "reader", code=1)
    assert res.stderr.strip() == 'service "reader" is not running container #2'
    res = composer_cli("container", "attach", "att-reader-1", input="x\n", cwd=proj, timeout=30)
    assert (res.returncode, res.stdout) == (3, "got x\nbye\n"), res.stderr
    res = composer_cli("container", "attach", "att-reader-1", cwd=proj)
    assert res.returncode == 1
    assert res.stderr.strip() == "You cannot attach to a stopped container, start it first"


def test_attach_to_a_tty_detaches_on_the_detach_keys_and_leaves_it_running(proj: Path) -> None:
    _up(proj, "term")
    for flags, keys in (((), b"\x10\x11"), (("--detach-keys", "ctrl-x,y"), b"\x18y")):
        with Terminal("attach", *flags, "term", cwd=proj) as term:
            time.sleep(1.5)
            term.type(b"one\n")
            term.expect("got one")
            term.type(keys)
            assert term.wait(15) == 0
    assert composer_ok(proj, "ps", "--format", "{{.State}}", "term").stdout.strip() == "running"
    res = composer_ok(proj, "attach", "--detach-keys", "ctrl-zz", "term", code=1)
    assert res.stderr.strip() == "Error response from daemon: Invalid detach keys (ctrl-zz) provided"

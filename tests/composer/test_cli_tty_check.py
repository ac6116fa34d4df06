"""A tty asked for with stdin attached needs a terminal on our stdin, as docker/cli's CheckTty
(v28, what docker compose 2.40.3 builds with): `exec`, `run`, `container exec -it` and
`container run -it` with a pipe on stdin say "the input device is not a TTY" and exit 1, before
anything is made; compose `exec` takes its tty from whether stdout is a terminal (its -T defaults
to "stdout is no terminal"), whatever stdin is. Real containers; the terminals are real ptys."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
NOT_A_TTY = "the input device is not a TTY\n"

COMPOSE = """\
name: ttychk
services:
  web:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
"""


@pytest.fixture
def proj(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "ttychk")


def _on_pty(cwd: Path, *args: str, stdin_pty: bool, stdout_pty: bool, data: bytes = b"piped\n",
            timeout: float = 60) -> tuple[int, str, str]:
    """Run the CLI with stdin and/or stdout on a pty (the other a pipe); (rc, stdout, stderr),
    stdout being what the pty showed when it is one."""
    m, s = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "composer", "--progress", "quiet", *args], cwd=cwd,
        stdin=s if stdin_pty else subprocess.PIPE, stdout=s if stdout_pty else subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(s)
    if proc.stdin is not None:
        proc.stdin.write(data)
        proc.stdin.close()
    seen = b""
    deadline = time.monotonic() + timeout
    while proc.poll() is None or select.select([m], [], [], 0.2)[0]:
        assert time.monotonic() < deadline, f"composer {' '.join(args)} still runs: {seen!r}"
        if select.select([m], [], [], 0.2)[0]:
            try:
                chunk = os.read(m, 4096)
            except OSError:  # EIO: every slave end is closed
                break
            if not chunk:
                break
            seen += chunk
    rc = proc.wait(timeout=10)
    os.close(m)
    out = seen if stdout_pty else (proc.stdout.read() if proc.stdout else b"")
    err = proc.stderr.read() if proc.stderr else b""
    return rc, out.decode(errors="replace").replace("\r\n", "\n"), err.decode(errors="replace")


def test_compose_exec_takes_its_tty_from_stdout_and_refuses_a_pipe_into_one(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    # stdout a terminal: a tty; stdin a pipe into it is docker/cli's error, exit 1
    assert _on_pty(proj, "exec", "web", "cat", stdin_pty=False, stdout_pty=True) == (1, "", NOT_A_TTY)
    # -T: no tty, the pipe reaches the command
    rc, out, err = _on_pty(proj, "exec", "-T", "web", "cat", stdin_pty=False, stdout_pty=True)
    assert (rc, out) == (0, "piped\n"), err
    # both terminals: the command runs on a tty of the container's own
    rc, out, err = _on_pty(proj, "exec", "web", "tty", stdin_pty=True, stdout_pty=True)
    assert (rc, out.startswith("/dev/pts/")) == (0, True), (out, err)
    # stdin a terminal but stdout a pipe: no tty (docker compose looks at stdout only)
    rc, out, err = _on_pty(proj, "exec", "web", "tty", stdin_pty=True, stdout_pty=False)
    assert (rc, out) == (1, "not a tty\n"), err
    # neither: no tty, the pipe reaches the command (stdin is attached by default)
    res = composer_cli("exec", "web", "cat", cwd=proj, input="piped\n")
    assert (res.returncode, res.stdout) == (0, "piped\n"), res.stderr
    # -i=false (pflag's bool syntax): no stdin to attach, no check; the tty is still stdout's
    rc, out, err = _on_pty(proj, "exec", "-i=false", "web", "sh", "-c", "tty; echo ok",
                           stdin_pty=False, stdout_pty=True)
    assert (rc, out.startswith("/dev/pts/"), "ok" in out) == (0, True, True), (out, err)
    # -T=false asks for the tty whatever stdout is: the pipe is refused
    res = composer_cli("exec", "-T=false", "web", "cat", cwd=proj, input="piped\n")
    assert (res.returncode, res.stderr) == (1, NOT_A_TTY), res.stdout
    # -d: no stdin to attach, no check
    assert _on_pty(proj, "exec", "-d", "web", "true", stdin_pty=False, stdout_pty=True)[0] == 0


def test_compose_run_tty_with_a_pipe_on_stdin_is_refused_before_anything_is_made(proj: Path) -> None:
    # --tty asks for one whatever stdout is; -i on a terminal stdout keeps the tty it defaults to
    for args, stdout_pty in ((("--tty",), False), (("-i",), True)):
        rc, out, err = _on_pty(proj, "run", "--rm", *args, "web", "cat", stdin_pty=False,
                               stdout_pty=stdout_pty)
        assert (rc, err) == (1, NOT_A_TTY), (args, out)
    # docker compose's e2e case: --no-TTY=false asks for one too
    res = composer_cli("run", "--rm", "--no-TTY=false", "web", "cat", cwd=proj, input="piped\n")
    assert (res.returncode, res.stderr) == (1, NOT_A_TTY), res.stdout
    assert composer_ok(proj, "ps", "-a", "-q").stdout == ""  # no one-off container was made
    # without flags a pipe on stdin turns the tty off (docker compose's run.go), and reaches cat
    rc, out, err = _on_pty(proj, "run", "--rm", "web", "cat", stdin_pty=False, stdout_pty=True)
    assert (rc, out) == (0, "piped\n"), err


def test_container_exec_and_run_it_with_a_pipe_on_stdin_exit_1(
        tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> None:
    name = "ttychk-c"
    assert composer_cli("container", "run", "-d", "--name", name, IMAGE, "sleep", "300").returncode == 0
    try:
        res = composer_cli("container", "exec", "-it", name, "cat", input="piped\n")
        assert (res.returncode, res.stderr) == (1, NOT_A_TTY), res.stdout
        # the container's lookup comes first, as docker's RunExec inspects it before the check
        res = composer_cli("container", "exec", "-it", "ttychk-nosuch", "cat", input="piped\n")
        assert res.returncode != 0 and "ttychk-nosuch" in res.stderr, res.stderr
        # -t without -i attaches no stdin: no check, the command gets a tty
        res = composer_cli("container", "exec", "-t", name, "tty", input="piped\n")
        assert (res.returncode, res.stdout.startswith("/dev/pts/")) == (0, True), res.stderr
        # -it on terminals: fine
        rc, out, err = _on_pty(tmp_path, "container", "exec", "-it", name, "tty",
                               stdin_pty=True, stdout_pty=True)
        assert (rc, out.startswith("/dev/pts/")) == (0, True), (out, err)
    finally:
        composer_cli("container", "rm", "-f", name)
    res = composer_cli("container", "run", "--rm", "-it", IMAGE, "cat", input="piped\n")
    assert (res.returncode, res.stderr) == (1, NOT_A_TTY), res.stdout
    assert composer_cli("container", "ls", "-a", "-q").stdout == ""  # nothing was created
    res = composer_cli("container", "run", "--rm", "-i", IMAGE, "cat", input="piped\n")
    assert (res.returncode, res.stdout) == (0, "piped\n"), res.stderr
    res = composer_cli("container", "run", "--rm", "-d", "-it", IMAGE, "true", input="piped\n")
    assert res.returncode == 0, res.stderr  # detached: stdin is not attached, no check

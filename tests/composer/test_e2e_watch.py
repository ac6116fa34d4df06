"""`composer watch` against a real container, as docker compose 2.40.3 watches (pkg/compose/watch.go):
it ups the project, then files written, changed and deleted under a `sync` path show in the
container (ignored ones do not), a `sync+restart` path restarts the container (a new start time),
a `sync+exec` path runs its command there, `initial_sync` copies what changed since the image
was made before watching; Ctrl-C ends it with 130 and nothing of it stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: watche2e
services:
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "mkdir -p /srv && exec httpd -f -p 8080 -h /srv"]
    stop_grace_period: 1s
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
          ignore: ["*.tmp", "cache/"]
        - path: ./conf
          action: sync+restart
          target: /etc/app
        - path: ./hook
          action: sync+exec
          target: /hook
          exec:
            command: ["sh", "-c", "cat /hook/* > /tmp/ran"]
        - path: ./init
          action: sync
          target: /init
          initial_sync: true
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    gen = compose_project(tmp_path, COMPOSE, "watche2e")
    d = next(gen)
    for sub in ("src", "conf", "hook", "init"):
        (d / sub).mkdir()
    (d / "src" / "index.html").write_text("first\n")
    (d / "init" / "new.txt").write_text("new\n")  # after the image was made: copied at start
    (d / "init" / "old.txt").write_text("old\n")
    os.utime(d / "init" / "old.txt", (1000, 1000))  # before it: not
    yield d
    next(gen, None)  # down -v


def _until(what: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.2)
    return False


def _sh(proj: Path, script: str) -> str:
    return composer_ok(proj, "exec", "-T", "web", "sh", "-c", script, code=None).stdout


def _started(proj: Path) -> str:
    res = composer_cli("container", "inspect", "watche2e-web-1", "--format", "{{.State.StartedAt}}", cwd=proj)
    return res.stdout.strip()


def _watchers(proj: Path) -> list[int]:
    """composer watch processes running in *proj*."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"composer" in cmd and b"watch" in cmd and cwd == str(proj):
            out.append(int(pid))
    return out


def _start_watch(proj: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`composer watch` in *proj* in the background, its output in a file (killed if it never
    says "Watch enabled")."""
    out = proj.parent / "watch.out"
    with open(out, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "composer", "--progress", "plain", "watch"],
                                cwd=proj, stdout=log, stderr=subprocess.STDOUT)
    if not _until(lambda: "Watch enabled" in out.read_text(), 60):
        proc.kill()
        proc.wait()
        raise AssertionError(out.read_text())
    return proc, out


def test_watch_syncs_restarts_and_execs_then_stops_cleanly(proj: Path) -> None:
    proc, out = _start_watch(proj)
    try:
        assert _sh(proj, "test -e /srv/index.html || echo none") == "none\n"  # no initial_sync
        assert _sh(proj, "ls /init") == "new.txt\n"  # initial_sync: what changed since the image
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    try:
        # written and changed: synced; ignored: not
        (proj / "src" / "index.html").write_text("second\n")
        (proj / "src" / "skip.tmp").write_text("x")
        (proj / "src" / "cache").mkdir()
        (proj / "src" / "cache" / "c.txt").write_text("c")
        (proj / "src" / "sub").mkdir()
        (proj / "src" / "sub" / "n.txt").write_text("nested\n")
        assert _until(lambda: _sh(proj, "cat /srv/sub/n.txt 2>/dev/null") == "nested\n"), out.read_text()
        assert _sh(proj, "cat /srv/index.html") == "second\n"
        assert _sh(proj, "ls /srv/skip.tmp /srv/cache 2>&1; true").count("No such file") == 2
        # the container serves it: httpd reads the synced file
        assert "second" in _sh(proj, "wget -q -O - http://127.0.0.1:8080/index.html")
        # deleted on the host: deleted in the container
        (proj / "src" / "index.html").unlink()
        assert _until(lambda: _sh(proj, "test -e /srv/index.html || echo gone") == "gone\n"), out.read_text()
        # sync+restart: the file is there and the container started again
        before = _started(proj)
        (proj / "conf" / "app.conf").write_text("v=1\n")
        assert _until(lambda: 'service(s) ["web"] restarted' in out.read_text()), out.read_text()
        assert _started(proj) != before
        assert _until(lambda: _sh(proj, "cat /etc/app/app.conf") == "v=1\n")
        # sync+exec: the command ran after the sync
        (proj / "hook" / "h.txt").write_text("hooked\n")
        assert _until(lambda: _sh(proj, "cat /tmp/ran 2>/dev/null") == "hooked\n"), out.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    text = out.read_text()
    assert code == 130, text
    assert 'Syncing service "web" after' in text
    assert "Traceback" not in text and "WARN" not in text, text
    assert _watchers(proj) == []
    # the project keeps running (watch stops watching, not the services)
    assert _sh(proj, "echo up") == "up\n"


UP_COMPOSE = """\
name: upwatche2e
services:
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo booted; exec sleep 300"]
    stop_grace_period: 1s
    develop:
      watch:
        - path: ./conf
          action: sync+restart
          target: /etc/app
"""


@pytest.fixture
def upproj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    gen = compose_project(tmp_path, UP_COMPOSE, "upwatche2e")
    d = next(gen)
    (d / "conf").mkdir()
    yield d
    next(gen, None)  # down -v


def test_watch_ends_on_sigterm_as_on_ctrl_c(proj: Path) -> None:
    """docker compose's watch cancels its context on SIGTERM as on SIGINT: exit 130, nothing left."""
    proc, out = _start_watch(proj)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=20)
    assert code == 130, out.read_text()
    assert "Traceback" not in out.read_text()
    assert _watchers(proj) == []


def test_up_watch_keeps_following_a_container_it_restarts(upproj: Path) -> None:
    out = upproj.parent / "up.out"
    with open(out, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "composer", "--progress", "plain", "--ansi", "never",
                                 "up", "--watch"], cwd=upproj, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _until(lambda: "⦿ Watch enabled" in out.read_text(), 60), out.read_text()
        said = '⦿ service(s) ["web"] restarted'
        for n in (1, 2, 3):  # restarts: up neither ends nor loses the container's output
            (upproj / "conf" / "app.conf").write_text(f"v={n}\n")
            assert _until(lambda n=n, said=said: out.read_text().count(said) == n), out.read_text()
            assert _until(lambda n=n: out.read_text().count("web-1  | booted") == n + 1), out.read_text()
        assert proc.poll() is None, out.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    text = out.read_text()
    assert code == 130, text
    assert "Gracefully Stopping..." in text and "Traceback" not in text, text
    ps = composer_ok(upproj, "ps", "-a", "--format", "{{.State}}").stdout
    assert ps.split() == ["exited"]


def test_up_watch_is_refused_with_detach(upproj: Path) -> None:
    res = composer_cli("up", "-d", "--watch", cwd=upproj)
    assert res.returncode != 0
    assert "--detach cannot be combined with" in res.stderr and "--watch" in res.stderr


def test_watch_refuses_rebuild_before_it_ups_anything(tmp_path: Path, busybox_image: str) -> None:
    d = tmp_path / "rb"
    d.mkdir()
    (d / "compose.yaml").write_text(
        "name: watchrb\nservices:\n  app:\n    image: localhost/busybox:latest\n"
        "    build: .\n    develop:\n      watch:\n        - {path: ., action: rebuild}\n"
    )
    res = composer_cli("watch", cwd=d)
    assert res.returncode == 1
    assert res.stderr == (
        "service app: watch action rebuild needs an image build, which composer does not support yet\n"
    )
    assert composer_ok(d, "ps", "-a", "-q").stdout == ""


def test_up_no_longer_warns_that_develop_is_ignored(tmp_path: Path) -> None:
    from composer.specgen import service_spec
    from tests.composer.orchestrate.helpers import load

    p = load(tmp_path, "services:\n  a:\n    image: busybox\n    develop:\n      watch:\n"
                       "        - {path: ., action: restart}\n")
    assert service_spec(p, "a", 1, files_dir="/f").warnings == ()

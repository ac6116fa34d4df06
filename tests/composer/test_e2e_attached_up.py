"""Attached `up` (no -d) as docker compose 2.40.3's Up (pkg/compose/up.go, cmd/compose/up.go,
cmd/formatter/logs.go): Ctrl-C on a terminal and SIGTERM, the abort flags and which containers they
watch, --exit-code-from's check, and the log lines. Real containers; the terminal is a real pty.

A status line ("<name> exited with code N") starts with goterm's RESET_LINE, "\\r\\x1b[K": a
text-mode pipe reads its "\\r" as a line end, so there it reads "\\x1b[K<name> exited ...".
"""

from __future__ import annotations

import json
import re
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

_LOOP = "trap 'echo bye; exit 0' TERM; echo {0} up; while true; do sleep 0.1; done"
COMPOSE = f"""\
name: attup
services:
  side:
    image: localhost/busybox:latest
    command: ["sh", "-c", "{_LOOP.format('side')}"]
  other:
    image: localhost/busybox:latest
    command: ["sh", "-c", "{_LOOP.format('other')}"]
  stubborn:  # ignores SIGTERM: only a kill ends it before its long grace period
    image: localhost/busybox:latest
    command: ["sh", "-c", "trap '' TERM; echo stubborn up; while true; do sleep 0.1; done"]
    stop_grace_period: 60s
    profiles: [extra]
  job:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo job ran; sleep 1; exit 4"]
    profiles: [extra]
  init:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo init done"]
    profiles: [extra]
  a:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo a-first; echo a-err >&2; sleep 2; echo a-second"]
    profiles: [lines]
  longername:
    image: localhost/busybox:latest
    command: ["sh", "-c", "sleep 1; echo long-line"]
    profiles: [lines]
  flaky:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo flaky run; exit 3"]
    restart: on-failure:2
    profiles: [restarts]
  crashy:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo crash; sleep 1; exit 2"]
    restart: always
    profiles: [restarts]
  db:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo db booting; sleep 1; touch /tmp/ok; echo db ready; {_LOOP.format('db')}"]
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/ok"], interval: 1s, retries: 20}}
    profiles: [deps]
  web:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo web up; sleep 1; echo web bye"]
    depends_on:
      db: {{condition: service_healthy}}
      init: {{condition: service_completed_successfully}}
    post_start:
      - command: sh -c 'echo hook says hi'
    profiles: [deps]
networks:
  default:
    ipam: {{config: [{{subnet: 10.77.43.128/25}}]}}
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "attup", "--profile", "extra", "--profile", "lines",
                               "--profile", "restarts", "--profile", "deps")


def _states(proj: Path) -> dict[str, tuple[str, int]]:
    listed = composer_ok(proj, "--profile", "extra", "--profile", "deps", "ps", "-a", "--format",
                         "json").stdout
    return {json.loads(x)["Service"]: (json.loads(x)["State"], json.loads(x)["ExitCode"])
            for x in listed.splitlines()}


# ---- Ctrl-C and SIGTERM ------------------------------------------------------------------------


def test_ctrl_c_on_a_terminal_stops_the_named_services_and_exits_130(proj: Path) -> None:
    composer_ok(proj, "up", "-d", "other")  # running, not named by the attached up below
    with Terminal("--progress", "plain", "up", "side", cwd=proj) as term:
        term.expect("side up")
        term.type(b"\x03")
        assert term.wait() == 130
        screen = term.text
    assert "Gracefully Stopping... press Ctrl+C again to force\n" in screen
    assert " Container attup-side-1  Stopped" in screen
    # docker compose's log consumer writes nothing once the signal cancelled its context: the
    # TERM trap's "bye" does not show
    assert "bye" not in screen, screen
    # stopped, not removed; a service the command line did not name is left running
    assert _states(proj) == {"side": ("exited", 0), "other": ("running", 0)}


def test_a_second_ctrl_c_kills_what_the_first_is_stopping(proj: Path) -> None:
    with Terminal("--progress", "plain", "--profile", "extra", "up", "stubborn", cwd=proj) as term:
        term.expect("stubborn up")
        term.type(b"\x03")
        term.expect(" Container attup-stubborn-1  Stopping")
        started = time.monotonic()
        term.type(b"\x03")
        assert term.wait() == 130
        assert time.monotonic() - started < 20  # not the 60 s grace period
    assert _states(proj)["stubborn"] == ("exited", 137)


def test_sigterm_to_the_cli_stops_gracefully_as_ctrl_c(proj: Path) -> None:
    p = subprocess.Popen([sys.executable, "-m", "composer", "--progress", "plain", "up", "side"],
                         cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 60
        while "side up" not in p.stdout.readline():
            assert time.monotonic() < deadline
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 130, err
    assert "Gracefully Stopping... press Ctrl+C again to force" in out
    assert " Container attup-side-1  Stopped" in err
    assert _states(proj) == {"side": ("exited", 0)}


def test_the_start_runs_attached_without_progress_and_follows_what_starts_later(proj: Path) -> None:
    # docker compose's Up: the create with its progress, "Attaching to", then the start without
    # progress (no Starting, Waiting, Healthy) while the attached services' output shows
    res = composer_ok(proj, "--profile", "deps", "--profile", "extra", "up", "--attach-dependencies",
                      "web")
    assert " Container attup-web-1  Created" in res.stderr
    assert not any(w in res.stderr for w in ("Starting", "Started", "Waiting", "Healthy")), res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Attaching to db-1, init-1, web-1", lines
    # web starts once db is healthy and init has completed, and is followed from its start; its
    # post_start hook's output is a log line of "web-1 ->"
    # (the prefix column widens as names first print: read the lines without its padding)
    logged = [" ".join(x.split()) for x in lines]
    assert logged.index("db-1 | db ready") < logged.index("web-1 | web up"), lines
    assert "web-1 -> | hook says hi" in logged
    # the watch is of the services named (web): only its end is reported, up ends when web has,
    # and db goes on running
    assert [x for x in lines if "exited with code" in x] == ["\x1b[Kweb-1 exited with code 0"], lines
    assert lines[-1] == "\x1b[Kweb-1 exited with code 0", lines
    assert _states(proj)["db"] == ("running", 0)


# ---- the abort flags -------------------------------------------------------------------------------


def test_a_named_service_that_is_not_attached_is_still_watched(proj: Path) -> None:
    # docker compose's monitor watches the services named on the command line: job's exit, not
    # attached, still says so and aborts
    res = composer_ok(proj, "--profile", "extra", "up", "side", "job", "--no-attach", "job",
                      "--abort-on-container-exit", code=4)
    lines = res.stdout.splitlines()
    assert lines[0] == "Attaching to side-1", lines
    assert "\x1b[Kjob-1 exited with code 4" in lines and "\x1b[Kside-1 exited with code 0" in lines, lines
    assert "job ran" not in res.stdout  # its output is not shown
    # compose's progress.ErrorColor (aec: red, then bold) whatever stderr is; NO_COLOR turns it off
    assert "\x1b[31m\x1b[1mAborting on container exit...\x1b[0m\n" in res.stderr
    assert _states(proj) == {"side": ("exited", 0), "job": ("exited", 4)}


def test_a_one_shot_that_exits_0_aborts_on_exit_but_not_on_failure(proj: Path) -> None:
    # (--menu=false, as scripts pass it to docker compose: taken, composer has no menu)
    res = composer_ok(proj, "--profile", "extra", "up", "init", "side", "--abort-on-container-exit",
                      "--menu=false", code=0, env={"NO_COLOR": "1"})
    assert "\x1b[Kinit-1 exited with code 0" in res.stdout.splitlines()
    assert "Aborting on container exit...\n" in res.stderr and "\x1b[31m" not in res.stderr
    assert _states(proj)["side"] == ("exited", 0)
    # --abort-on-container-failure: the one-shot's 0 goes by; job's 4 aborts and is the exit code
    res = composer_ok(proj, "--profile", "extra", "up", "init", "job", "side",
                      "--abort-on-container-failure", code=4)
    lines = res.stdout.splitlines()
    assert lines.index("\x1b[Kinit-1 exited with code 0") < lines.index("\x1b[Kjob-1 exited with code 4")
    assert res.stderr.count("Aborting on container exit...") == 1


def test_exit_code_from_a_service_not_in_the_up_is_refused_before_anything_is_made(proj: Path) -> None:
    res = composer_ok(proj, "up", "--exit-code-from", "nope", code=1)
    assert res.stderr == "no such service: nope: not found\n"
    # not in the selection (side and its dependencies): compose-go's "disabled"
    res = composer_ok(proj, "up", "--exit-code-from", "other", "side", code=1)
    assert res.stderr == "no such service: other: disabled\n"
    assert composer_ok(proj, "ps", "-a", "-q").stdout == ""


# ---- the log lines -----------------------------------------------------------------------------


def test_log_lines_as_docker_compose_prints_them(proj: Path) -> None:
    res = composer_ok(proj, "--profile", "lines", "up", "a", "longername")
    out = res.stdout.split("\n")
    assert out[0] == "Attaching to a-1, longername-1"
    # a name widens the prefix column when it first prints: a's first line came before
    # longername's, its later one after
    assert out.index("a-1  | a-first") < out.index("longername-1  | long-line") < out.index(
        "a-1           | a-second"), out
    # a container's stderr goes to ours (docker compose's attach), prefixed the same
    assert "a-1  | a-err" in res.stderr.splitlines() and "a-err" not in res.stdout
    assert "\x1b[Klongername-1 exited with code 0" in out and "\x1b[Ka-1 exited with code 0" in out

    # --timestamps: the local time of printing, as Go's RFC3339NanoFixed
    res = composer_ok(proj, "--profile", "lines", "up", "--timestamps", "a", env={"TZ": "Asia/Kolkata"})
    first = next(x for x in res.stdout.splitlines() if x.endswith(" a-first"))
    assert re.fullmatch(r"a-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+05:30 a-first", first), first

    # nothing attached: no "Attaching to" line at all
    res = composer_ok(proj, "--profile", "lines", "up", "a", "--no-attach", "a")
    assert not res.stdout.startswith("Attaching"), res.stdout
    assert "\x1b[Ka-1 exited with code 0" in res.stdout.splitlines()

    # colours (COMPOSE_ANSI when --ansi is not given): the status line's newline is inside the
    # colour, as docker compose writes it
    res = composer_cli("--progress", "plain", "--profile", "lines", "up", "a", cwd=proj, timeout=120,
                       env={"COMPOSE_ANSI": "always"})
    assert "\x1b[36ma-1  | \x1b[0ma-first\n" in res.stdout, res.stdout
    assert "\x1b[36m\n\x1b[Ka-1 exited with code 0\n\x1b[0m" in res.stdout, repr(res.stdout)
    res = composer_cli("--ansi", "never", "--profile", "lines", "up", "a", cwd=proj, timeout=120,
                       env={"COMPOSE_ANSI": "always"})
    assert "a-1  | a-first\n" in res.stdout and "\x1b[36m" not in res.stdout, res.stdout


def test_a_restarting_container_says_so_and_up_ends_when_it_gives_up(proj: Path) -> None:
    res = composer_ok(proj, "--profile", "restarts", "up", "flaky")
    lines = res.stdout.splitlines()
    assert lines.count("flaky-1  | flaky run") == 3, lines
    assert lines.count("\x1b[Kflaky-1 exited with code 3 (restarting)") == 2, lines
    assert lines[-1] == "\x1b[Kflaky-1 exited with code 3", lines


def test_a_failure_that_restarts_aborts_with_its_code(proj: Path) -> None:
    # the container runs again at once: the ended run's code comes from the engine's die events,
    # as docker compose's monitor reads it; --abort-on-container-failure acts on that exit
    res = composer_ok(proj, "--profile", "restarts", "up", "crashy", "--abort-on-container-failure",
                      code=2)
    lines = res.stdout.splitlines()
    assert lines[:2] == ["Attaching to crashy-1", "crashy-1  | crash"], lines
    assert "\x1b[Kcrashy-1 exited with code 2 (restarting)" in lines, lines
    assert "Aborting on container exit..." in res.stderr

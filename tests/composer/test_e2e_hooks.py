"""Service lifecycle hooks (post_start, pre_stop) against real containers, as docker compose 2.40.3
runs them (pkg/compose/hook.go and its callers): an exec in the container with the hook's user,
working_dir, environment and privileged; post_start after each start (up, start, restart), not for
a container already running; pre_stop before each stop of a running container (stop, down,
restart, a scale down), not before a recreate's; a failing hook fails the verb with
`<service> hook exited with status <code>`: after a failed post_start the container runs and its
dependents do not start; after a failed pre_stop the container is not stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: hookse2e
services:
  web:
    image: localhost/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    environment:
      CENV: fromcontainer
      GONE: fromcontainer
      ROUND: ${ROUND:-1}
    volumes:
      - ./data:/data
    post_start:
      - command: sh -c 'echo "$$(id -u) $$(pwd) $$HOOKV $$CENV $${GONE-unset}" > /tmp/post'
        user: "1000"
        working_dir: /etc
        environment:
          HOOKV: hv
          GONE:
      - command: sh -c 'grep CapEff /proc/self/status >> /data/caps; echo post >> /data/post.log'
        privileged: true
      - command: sh -c 'grep CapEff /proc/self/status >> /data/caps'
    pre_stop:
      - command: sh -c 'test -e /data/block && exit 2; echo "pre $$(cat /proc/1/comm)" >> /data/pre.log'
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "hookse2e")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _state(proj: Path) -> dict[str, str]:
    out = composer_ok(proj, "ps", "-a", "--format", "json").stdout
    return {r["Name"]: r["State"] for r in map(json.loads, out.splitlines())}


def test_hooks_run_around_each_start_and_stop(proj: Path) -> None:
    data = proj / "data"
    data.mkdir()
    post, pre = data / "post.log", data / "pre.log"
    composer_ok(proj, "up", "-d")
    # user, working_dir, the hook's environment over the container's, and `GONE:` unsets it
    out = composer_ok(proj, "exec", "-T", "web", "cat", "/tmp/post").stdout
    assert out == "1000 /etc hv fromcontainer unset\n"
    assert _lines(post) == ["post"]
    # privileged: the hook gets every capability, the container's own set otherwise
    privileged, plain = (int(line.split()[1], 16) for line in _lines(data / "caps"))
    sys_admin = 1 << 21
    assert privileged & sys_admin and not plain & sys_admin, _lines(data / "caps")
    composer_ok(proj, "up", "-d")  # already running: not started, no hook
    assert _lines(post) == ["post"] and _lines(pre) == []
    composer_ok(proj, "stop")  # pre_stop runs while the container still runs (its init is sleep)
    assert _lines(pre) == ["pre sleep"] and _state(proj) == {"hookse2e-web-1": "exited"}
    composer_ok(proj, "start")
    assert _lines(post) == ["post"] * 2
    composer_ok(proj, "restart")
    assert _lines(pre) == ["pre sleep"] * 2 and _lines(post) == ["post"] * 3
    # a recreate stops the old container without its pre_stop (docker compose's recreateContainer)
    composer_ok(proj, "up", "-d", env={"ROUND": "2"})
    assert _lines(pre) == ["pre sleep"] * 2 and _lines(post) == ["post"] * 4
    composer_ok(proj, "up", "-d", "--scale", "web=2", env={"ROUND": "2"})
    assert _lines(post) == ["post"] * 5
    composer_ok(proj, "up", "-d", "--scale", "web=1", env={"ROUND": "2"})  # scale down: its pre_stop
    assert _lines(pre) == ["pre sleep"] * 3
    composer_ok(proj, "down")
    assert _lines(pre) == ["pre sleep"] * 4


def test_a_failing_pre_stop_hook_keeps_the_container_running(proj: Path) -> None:
    data = proj / "data"
    data.mkdir()
    composer_ok(proj, "up", "-d")
    (data / "block").touch()
    for verb in ("stop", "down"):
        res = composer_ok(proj, verb, code=1)
        assert res.stderr.splitlines()[-1] == "web hook exited with status 2", res.stderr
        assert _state(proj) == {"hookse2e-web-1": "running"}
    (data / "block").unlink()
    composer_ok(proj, "down")
    assert _lines(data / "pre.log") == ["pre sleep"] and _state(proj) == {}


FAILING = """\
name: hooksfail
services:
  db:
    image: localhost/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    post_start:
      - command: sh -c 'echo hook-out; echo hook-err >&2; exit 3'
  app:
    image: localhost/busybox:latest
    command: [sleep, "300"]
    depends_on: [db]
"""


@pytest.fixture
def failing(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, FAILING, "hooksfail")


def test_a_failing_post_start_hook_fails_up_and_leaves_its_container_running(failing: Path) -> None:
    res = composer_ok(failing, "up", "-d", code=1)
    assert res.stderr.splitlines()[-1] == "db hook exited with status 3", res.stderr
    assert "hook-out" not in res.stdout + res.stderr  # detached: the hook's output is not shown
    assert _state(failing) == {"hooksfail-db-1": "running", "hooksfail-app-1": "created"}
    res = composer_ok(failing, "restart", "db", code=1)
    assert res.stderr.splitlines()[-1] == "db hook exited with status 3", res.stderr


ATTACHED = """\
name: hooksattach
services:
  web:
    image: localhost/busybox:latest
    command: [sh, -c, "sleep 1; echo main"]
    post_start:
      - command: sh -c 'echo hook-out; echo hook-err >&2'
"""


@pytest.fixture
def attached(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, ATTACHED, "hooksattach")


def test_attached_up_shows_what_a_hook_writes(attached: Path) -> None:
    out = composer_ok(attached, "up").stdout.splitlines()
    assert out[:3] == ["Attaching to web-1", "web-1 ->  | hook-out", "web-1 ->  | hook-err"], out
    assert "web-1     | main" in out, out

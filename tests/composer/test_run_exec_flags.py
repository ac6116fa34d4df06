"""`composer run` and `exec` flags as docker compose 2.40.3 reads them (cmd/compose/run.go,
pkg/compose/run.go applyRunOptions, cmd/compose/exec.go), through the real CLI on real containers:
run keeps stdin open (-i is on by default), an --entrypoint resets the service's command, the one-off
answers to the service's aliases only with --use-aliases, --cap-add/--cap-drop, -l KEY=VALUE,
-e KEY from the project's environment (.env too), --env-from-file, -d prints the ID and -d --rm
removes the container, a 64-hex slug label and no container number; exec -e KEY from .env, exec of
a paused container in the daemon's words, exec and port reaching a one-off container."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: rflags
services:
  web:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    cap_add: [NET_ADMIN]
    ports: ["80"]
    networks:
      default:
        aliases: [webalias]
  ep:
    image: localhost/busybox:latest
    entrypoint: ["echo", "EP"]
    command: ["svc-cmd"]
"""

NET_ADMIN = 1 << 12


@pytest.fixture
def proj(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "rflags")


def _run(d: Path, *args: str, code: int | None = 0, data: str | None = None,
         env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = composer_cli("--progress", "quiet", "run", *args, cwd=d, input=data, env=env, timeout=60)
    if code is not None:
        said = f"{res.stdout}\n{res.stderr}"
        assert res.returncode == code, f"run {' '.join(args)}: rc {res.returncode}\n{said}"
    return res.returncode, res.stdout, res.stderr


def test_run_stdin_entrypoint_aliases_caps(proj: Path) -> None:
    # -i is on by default: a script piped into run reaches the command
    assert _run(proj, "--rm", "-T", "web", "cat", data="piped\n")[1] == "piped\n"
    assert _run(proj, "--rm", "web", "cat", data="piped\n")[1] == "piped\n"
    # an --entrypoint without a command drops the service's command (applyRunOptions)
    assert _run(proj, "--rm", "ep")[1] == "EP svc-cmd\n"
    assert _run(proj, "--rm", "--entrypoint", "echo", "ep")[1] == "\n"
    assert _run(proj, "--rm", "--entrypoint", "echo one", "ep", "two")[1] == "one two\n"
    assert _run(proj, "--rm", "--entrypoint", "", "ep", "echo", "bare")[1] == "bare\n"
    # its own hosts line: the service's name and aliases only with --use-aliases
    own = "awk -v h=$(hostname) '$2 == h' /etc/hosts; grep CapEff /proc/self/status"
    line, caps = _run(proj, "--rm", "-T", "web", "sh", "-c", own)[1].splitlines()
    assert "webalias" not in line.split() and "web" not in line.split(), line
    assert int(caps.split()[1], 16) & NET_ADMIN  # the service's cap_add
    line, caps = _run(proj, "--rm", "-T", "--use-aliases", "--cap-drop", "NET_ADMIN", "--cap-add", "SYS_TIME",
                      "web", "sh", "-c", own)[1].splitlines()
    assert {"web", "webalias"} <= set(line.split()), line
    assert not int(caps.split()[1], 16) & NET_ADMIN
    assert int(caps.split()[1], 16) & (1 << 25)  # SYS_TIME
    # refused before anything is made
    _, _, err = _run(proj, "--rm", "-l", "nokey", "web", "true", code=2)
    assert err.strip() == "label must be set as KEY=VALUE"
    _, _, err = _run(proj, "--rm", "-P", "-p", "80", "web", "true", code=2)
    assert err.strip() == "--service-ports and --publish are incompatible"
    # -p as compose-go's ParsePortConfig reads it: a range publishes each port
    cid = _run(proj, "-d", "-p", "127.0.0.1::90-91", "web", "sleep", "30")[1].strip()
    ports = composer_cli("container", "port", cid).stdout
    assert re.fullmatch(r"90/tcp -> 127\.0\.0\.1:\d+\n91/tcp -> 127\.0\.0\.1:\d+\n", ports), ports
    composer_cli("container", "rm", "-f", cid)


def test_run_environment_detach_and_labels(proj: Path) -> None:
    (proj / ".env").write_text("BAR=fromdotenv\n")
    (proj / "envf").write_text("FF=fromfile\nFOO=lost\nREF=${FOO}-x\n")
    script = "env | grep -E '^(FOO|BAR|FF|REF|EMPTY|NOPE)=' | sort"
    out = _run(proj, "--rm", "-T", "-e", "FOO", "-e", "BAR", "-e", "EMPTY=", "-e", "NOPE", "--env-from-file",
               "envf", "web", "sh", "-c", script, env={"FOO": "caller"})[1]
    assert out.splitlines() == ["BAR=fromdotenv", "EMPTY=", "FF=fromfile", "FOO=caller", "REF=caller-x"]
    # -d prints the container's ID, as docker's RunStart
    cid = _run(proj, "-d", "-l", "extra=1", "web", "sleep", "60")[1].strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid), cid
    labels = composer_cli("container", "inspect", cid, "--format",
                          "{{.Name}} {{json .Config.Labels}}").stdout
    name, _, raw = labels.strip().partition(" ")
    lab = json.loads(raw)
    slug = lab["com.docker.compose.slug"]
    assert re.fullmatch(r"[0-9a-f]{64}", slug) and name == f"/rflags-web-run-{slug[:12]}"
    assert lab["com.docker.compose.oneoff"] == "True" and lab["extra"] == "1"
    assert "com.docker.compose.container-number" not in lab  # one-offs are not numbered
    # exec and port reach a one-off container when the service has no other (getSpecifiedContainer)
    assert composer_ok(proj, "exec", "-T", "web", "hostname").stdout.strip() == cid[:12]
    assert composer_ok(proj, "port", "web", "80", code=1).stderr.startswith(
        f"no port 80/tcp for container rflags-web-run-{slug[:12]}")  # run publishes no port
    assert composer_ok(proj, "port", "--protocol", "UDP", "web", "80", code=1).stderr.startswith(
        "no port 80/udp for container")  # lower-cased, as docker compose's port
    # exec -e KEY: from the project's environment, .env too
    bar = composer_ok(proj, "exec", "-T", "-e", "BAR", "web", "sh", "-c", "echo $BAR").stdout
    assert bar == "fromdotenv\n"
    assert composer_cli("container", "pause", cid).returncode == 0
    res = composer_ok(proj, "exec", "-T", "web", "true", code=1)
    assert res.stderr.strip() == (
        f"Error response from daemon: Container {cid} is paused, unpause the container before exec")
    assert composer_cli("container", "unpause", cid).returncode == 0
    # -d --rm: removed once it exits
    gone = _run(proj, "-d", "--rm", "web", "true")[1].strip()
    for _ in range(100):
        if composer_cli("container", "inspect", gone).returncode != 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("run -d --rm left its container")

"""`composer config` as a user runs it (the real CLI in a subprocess), beside docker compose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.composer.fixturelib import DOCKER_COMPOSE
from tests.conftest import composer_cli

COMPOSE = """\
services:
  web:
    image: "nginx:${TAG:-latest}"
    ports: ["8080:80"]
    volumes: [data:/data]
    networks: [front, back]
    depends_on: [db]
    environment:
      UNSET: "${NOPE}"
      DOLLAR: "$$HOME"
  db:
    image: postgres
    networks: [back]
  dbg:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
networks:
  front: {}
  back: {}
"""

BASE_ENV = {"COMPOSE_PROJECT_NAME": "", "COMPOSE_FILE": "", "COMPOSE_PROFILES": ""}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def cli(project: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return composer_cli("-p", "demo", *args, cwd=project, env=BASE_ENV, input=input)


def docker(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DOCKER_COMPOSE), "-p", "demo", *args], capture_output=True, text=True,
                          cwd=project, env={"PATH": "/usr/bin:/bin", "HOME": "/root"})


def test_lists_are_printed_one_per_line(project: Path) -> None:
    assert cli(project, "config", "--services").stdout == "db\nweb\n"
    assert cli(project, "config", "--volumes").stdout == "data\n"
    assert cli(project, "config", "--networks").stdout == "back\nfront\n"
    assert cli(project, "config", "--images").stdout == "postgres\nnginx:latest\n"
    assert cli(project, "config", "--profiles").stdout == "debug\n"
    assert cli(project, "--profile", "debug", "config", "--services").stdout == "db\ndbg\nweb\n"


def test_unset_variables_warn_on_stderr(project: Path) -> None:
    out = cli(project, "config", "-q")
    assert out.returncode == 0 and out.stdout == ""
    assert 'WARN[0000] The "NOPE" variable is not set. Defaulting to a blank string.' in out.stderr


def test_invalid_file_is_one_line_and_exit_15(project: Path) -> None:
    (project / "compose.yaml").write_text("services:\n  web:\n    image: a\n    image: b\n")
    out = cli(project, "config")
    assert out.returncode == 15
    assert out.stderr.strip().splitlines() == [
        f'{project}/compose.yaml: line 4: mapping key "image" already defined at line 3']


def test_output_file_and_stdin(project: Path) -> None:
    target = project / "out.yaml"
    assert cli(project, "config", "-o", str(target)).stdout == ""
    printed = cli(project, "config").stdout
    assert target.read_text() == printed
    from_stdin = cli(project, "-f", "-", "config", input=COMPOSE)
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == printed


def test_config_output_reads_back_to_the_same_output(project: Path) -> None:
    first = cli(project, "config").stdout
    (project / "again.yaml").write_text(first)
    second = cli(project, "-f", "again.yaml", "config")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first


def test_variables_table(project: Path) -> None:
    lines = cli(project, "config", "--variables").stdout.splitlines()
    assert lines[0].split() == ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]
    assert [ln.split() for ln in lines[1:]] == [["NOPE", "false"], ["TAG", "false", "latest"]]


def test_named_services_narrow_the_output(project: Path) -> None:
    out = cli(project, "config", "--services", "db")
    assert out.stdout == "db\nweb\n"  # --services lists the whole project, as docker compose
    out = cli(project, "config", "--format", "json", "db")
    assert '"web"' not in out.stdout and '"db"' in out.stdout


needs_docker_compose = pytest.mark.skipif(not DOCKER_COMPOSE.exists(), reason="no docker compose binary")


@needs_docker_compose
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_variables_document_equals_docker_compose(project: Path, fmt: str) -> None:
    ours = cli(project, "config", "--variables", "--format", fmt)
    theirs = docker(project, "config", "--variables", "--format", fmt)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


@needs_docker_compose
def test_hash_equals_docker_compose_config_hash(project: Path) -> None:
    ours = cli(project, "config", "--hash", "*")
    theirs = docker(project, "config", "--hash", "*")
    assert ours.returncode == 0 and theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert len(ours.stdout.splitlines()) == 2


@needs_docker_compose
@pytest.mark.parametrize("flags", [["--format", "json"], [], ["--no-normalize"], ["--no-path-resolution"],
                                   ["--profile", "debug"], ["--no-interpolate"],
                                   ["--no-interpolate", "--format", "json"], ["--services"],
                                   ["--no-consistency"]])
def test_rendering_equals_docker_compose(project: Path, flags: list[str]) -> None:
    global_flags = flags if flags[:1] == ["--profile"] else []
    config_flags = [] if global_flags else flags
    ours = cli(project, *global_flags, "config", *config_flags)
    theirs = docker(project, *global_flags, "config", *config_flags)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout == theirs.stdout

"""Discovery, .env and naming: the stages that decide what is loaded and under which name."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.errors import ConfigError
from composer.loader.discovery import discover
from composer.loader.environment import parse_env_text, read_env_files
from composer.loader.naming import normalize_project_name, project_name


def touch(path: Path, text: str = "services: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discovery_searches_parents_and_adds_the_override(tmp_path: Path) -> None:
    main = touch(tmp_path / "compose.yaml")
    override = touch(tmp_path / "compose.override.yaml")
    (tmp_path / "a" / "b").mkdir(parents=True)
    found = discover((), None, str(tmp_path / "a" / "b"), {})
    assert found.files == (str(main), str(override))
    assert found.working_dir == str(tmp_path)


def test_discovery_prefers_compose_yaml_and_warns(tmp_path: Path) -> None:
    touch(tmp_path / "docker-compose.yml")
    main = touch(tmp_path / "compose.yaml")
    found = discover((), None, str(tmp_path), {})
    assert found.files == (str(main),)
    assert any("Found multiple config files" in w for w in found.warnings)


def test_compose_file_variable_with_separator(tmp_path: Path) -> None:
    a, b = touch(tmp_path / "a.yaml"), touch(tmp_path / "b.yaml")
    env = {"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"}
    found = discover((), None, str(tmp_path), env)
    assert found.files == (str(a), str(b))


def test_explicit_files_and_project_directory(tmp_path: Path) -> None:
    f = touch(tmp_path / "sub" / "x.yaml")
    found = discover(("sub/x.yaml",), None, str(tmp_path), {})
    assert (found.files, found.working_dir) == ((str(f),), str(tmp_path / "sub"))
    found = discover(("sub/x.yaml",), "elsewhere", str(tmp_path), {})
    assert found.working_dir == str(tmp_path / "elsewhere")


def test_missing_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        discover(("nope.yaml",), None, str(tmp_path), {})
    with pytest.raises(ConfigError, match="no configuration file provided"):
        discover((), None, "/proc/self", {})


def test_dotenv_interpolates_against_shell_then_itself() -> None:
    text = "A=1\nB=${A}2\nC='${A}'\nD=${SHELL_ONLY}\nexport E=e # comment\nF\n"
    values = parse_env_text(text, ".env", {"SHELL_ONLY": "s", "F": "from-shell", "A": "shell-a"})
    assert values == {"A": "1", "B": "shell-a2", "C": "${A}", "D": "s", "E": "e", "F": "from-shell"}


def test_dotenv_bad_line_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\.env: line 2: unexpected line"):
        parse_env_text("A=1\nnot a line\n", ".env", {})


def test_env_files_later_wins_and_explicit_must_exist(tmp_path: Path) -> None:
    a, b = touch(tmp_path / "a.env", "X=a\nY=a\n"), touch(tmp_path / "b.env", "Y=b\n")
    assert read_env_files([str(a), str(b)], True, {}) == {"X": "a", "Y": "b"}
    assert read_env_files([str(tmp_path / "none.env")], False, {}) == {}
    with pytest.raises(ConfigError, match="couldn't find env file"):
        read_env_files([str(tmp_path / "none.env")], True, {})


@pytest.mark.parametrize("raw, expected", [("My.App_1", "myapp_1"), ("--x", "x"), ("ÄBC", "bc")])
def test_names_are_normalised(raw: str, expected: str) -> None:
    assert normalize_project_name(raw) == expected


def test_name_precedence() -> None:
    trees = [{"name": "first"}, {"name": "Second"}]
    assert project_name("flag", {"COMPOSE_PROJECT_NAME": "env"}, trees, "/x/dir") == "flag"
    assert project_name(None, {"COMPOSE_PROJECT_NAME": "env"}, trees, "/x/dir") == "env"
    assert project_name(None, {}, trees, "/x/dir") == "second"
    assert project_name(None, {}, [], "/x/My Dir") == "mydir"
    with pytest.raises(ConfigError, match='invalid project name "Bad"'):
        project_name("Bad", {}, [], "/x")


@pytest.mark.parametrize(("service", "where"), [
    ("ports: ['abc']", "services.web.ports[0]: invalid container port 'abc'"),
    ("mem_limit: 12xb", "services.web.mem_limit: invalid size '12xb'"),
    ("env_file: nope.env", "services.web.env_file[0]: env file "),
    ("extra_hosts: [nocolon]", "services.web.extra_hosts: invalid additional host 'nocolon'"),
])
def test_an_error_of_the_canonical_stage_names_the_one_file(tmp_path: Path, service: str, where: str) -> None:
    from composer.loader import LoadOptions, load

    f = touch(tmp_path / "compose.yaml", f"services:\n  web:\n    image: busybox\n    {service}\n")
    with pytest.raises(ConfigError) as info:
        load(LoadOptions(files=(str(f),), cwd=str(tmp_path)))
    assert str(info.value).startswith(f"{f}: {where}")

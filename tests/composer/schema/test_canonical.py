"""canonicalize(): YAML in, the long syntax docker compose prints out."""
# ruff: noqa: E501  (tables of inline YAML read better on one line)

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.errors import ConfigError
from composer.loader.canonical import canonicalize, go_str, resolve_relative_paths


def canon(
    text: str, *, environ: dict[str, str] | None = None, wd: str = "/proj", **kw: Any
) -> dict[str, Any]:
    tree = {"name": "demo", **yaml.safe_load(text)}
    return canonicalize(tree, working_dir=wd, environ=environ or {}, **kw)


def test_input_tree_is_not_mutated() -> None:
    tree = {
        "name": "demo",
        **yaml.safe_load("services: {web: {image: x, ports: ['80'], environment: [A=1]}}"),
    }
    before = copy.deepcopy(tree)
    canonicalize(tree, working_dir="/proj", environ={})
    assert tree == before


def test_short_ports_become_long_syntax() -> None:
    svc = canon("services: {web: {image: x, ports: ['8080:80', 3000]}}")["services"]["web"]
    assert svc["ports"] == [
        {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"},
        {"mode": "ingress", "target": 3000, "protocol": "tcp"},
    ]


def test_long_port_gets_defaults_and_string_published() -> None:
    svc = canon("services: {web: {image: x, ports: [{target: 80, published: 8080}]}}")["services"]["web"]
    assert svc["ports"] == [{"target": 80, "published": "8080", "mode": "ingress", "protocol": "tcp"}]


def test_short_volumes_become_bind_or_volume() -> None:
    svc = canon("services: {web: {image: x, volumes: ['./d:/d:ro', 'vol:/v', '/anon/']}}")["services"]["web"]
    assert svc["volumes"] == [
        {
            "type": "bind",
            "source": "/proj/d",
            "target": "/d",
            "read_only": True,
            "bind": {"create_host_path": True},
        },
        {"type": "volume", "source": "vol", "target": "/v", "volume": {}},
        {"type": "volume", "target": "/anon", "volume": {}},
    ]


def test_one_letter_volume_name_reads_as_a_windows_drive_like_compose() -> None:
    svc = canon("services: {web: {image: x, volumes: ['v:/v']}}")["services"]["web"]
    assert svc["volumes"] == [{"type": "volume", "target": "v:/v", "volume": {}}]


def test_home_is_expanded_from_environ() -> None:
    svc = canon("services: {web: {image: x, volumes: ['~/c:/c']}}", environ={"HOME": "/home/u"})["services"][
        "web"
    ]
    assert svc["volumes"][0]["source"] == "/home/u/c"


def test_paths_stay_relative_without_resolution() -> None:
    svc = canon("services: {web: {build: ./app, volumes: ['./d:/d']}}", resolve_paths=False)["services"][
        "web"
    ]
    assert svc["build"]["context"] == "./app"
    assert svc["volumes"][0]["source"] == "./d"


def test_environment_list_resolves_from_environ_or_null() -> None:
    svc = canon("services: {web: {image: x, environment: [A=1, B, C]}}", environ={"C": "c"})["services"][
        "web"
    ]
    assert svc["environment"] == {"A": "1", "B": None, "C": "c"}


def test_environment_values_are_go_strings() -> None:
    svc = canon("services: {web: {image: x, environment: {N: 1, F: 1.5, T: true, E: }}}")["services"]["web"]
    assert svc["environment"] == {"N": "1", "F": "1.5", "T": "true", "E": None}


def test_env_file_is_merged_under_environment(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\nB=file\nC=${A}-x\n")
    text = "services: {web: {image: x, env_file: [a.env, {path: no.env, required: false}], environment: {B: env}}}"
    svc = canon(text, wd=str(tmp_path))["services"]["web"]
    assert svc["environment"] == {"A": "1", "B": "env", "C": "1-x"}
    assert "env_file" not in svc


def test_missing_required_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"services\.web\.env_file\[0\]: env file .*/gone\.env not found"):
        canon("services: {web: {image: x, env_file: gone.env}}", wd=str(tmp_path))


def test_depends_on_list_becomes_mapping_and_links_add_restart() -> None:
    services = canon(
        "services: {web: {image: x, depends_on: [db], links: ['cache:c']}, db: {image: x}, cache: {image: x}}"
    )["services"]
    assert services["web"]["depends_on"] == {
        "db": {"condition": "service_started", "required": True},
        "cache": {"condition": "service_started", "restart": True, "required": True},
    }


def test_command_strings_are_split_like_a_shell() -> None:
    svc = canon("""services: {web: {image: x, command: "sh -c 'echo \\"a b\\"'", entrypoint: ""}}""")[
        "services"
    ]["web"]
    assert svc["command"] == ["sh", "-c", 'echo "a b"']
    assert svc["entrypoint"] == []


def test_absent_command_is_null_as_compose_json_prints() -> None:
    svc = canon("services: {web: {image: x}}")["services"]["web"]
    assert svc["command"] is None and svc["entrypoint"] is None


def test_healthcheck_test_string_and_durations() -> None:
    hc = canon("services: {web: {image: x, healthcheck: {test: 'true', interval: 90s, timeout: 1500ms}}}")[
        "services"
    ]["web"]["healthcheck"]
    assert hc == {"test": ["CMD-SHELL", "true"], "interval": "1m30s", "timeout": "1.5s"}


def test_build_string_becomes_context_and_dockerfile() -> None:
    svc = canon("services: {web: {build: app}}")["services"]["web"]
    assert svc["build"] == {"context": "/proj/app", "dockerfile": "Dockerfile"}


def test_default_network_is_implicit_and_declared() -> None:
    tree = canon("services: {web: {image: x}, host: {image: x, network_mode: host}}")
    assert tree["services"]["web"]["networks"] == {"default": None}
    assert "networks" not in tree["services"]["host"]
    assert tree["networks"] == {"default": {"name": "demo_default", "ipam": {}}}


def test_resources_get_names_and_unused_ones_are_dropped() -> None:
    tree = canon(
        "services: {web: {image: x, volumes: ['vv:/v', 'ee:/e']}}\n"
        "volumes: {vv: {}, ee: {external: true}, unused: {}}"
    )
    assert tree["volumes"] == {"vv": {"name": "demo_vv"}, "ee": {"name": "ee", "external": True}}


def test_secret_short_syntax_gets_default_target_and_octal_mode() -> None:
    svc = canon(
        "services: {web: {image: x, secrets: [s, {source: t, mode: 0440}]}}\nsecrets: {s: {file: s.txt}, t: {file: t}}"
    )["services"]["web"]
    assert svc["secrets"] == [
        {"source": "s", "target": "/run/secrets/s"},
        {"source": "t", "target": "/run/secrets/t", "mode": "0440"},
    ]


def test_byte_sizes_and_grace_period() -> None:
    svc = canon("services: {web: {image: x, mem_limit: 1g, shm_size: 64m, stop_grace_period: 90s}}")[
        "services"
    ]["web"]
    assert (svc["mem_limit"], svc["shm_size"], svc["stop_grace_period"]) == (
        "1073741824",
        "67108864",
        "1m30s",
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("services: {web: {image: x, ports: ['99999:80']}}", r"services\.web\.ports\[0\]: invalid host port"),
        ("services: {web: {image: x, mem_limit: 1x}}", r"services\.web\.mem_limit: invalid size '1x'"),
        (
            "services: {web: {image: x, stop_grace_period: 1x}}",
            r"services\.web\.stop_grace_period: invalid duration",
        ),
        ("services: {web: {image: x, volumes: [':/d']}}", r"services\.web\.volumes\[0\]: invalid volume"),
    ],
)
def test_values_that_do_not_parse_are_located(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        canon(text)


@pytest.mark.parametrize(
    ("value", "text"), [(True, "true"), (1.5, "1.5"), (1e6, "1e+06"), (2.0, "2"), (7, "7")]
)
def test_go_str_matches_fmt_sprint(value: object, text: str) -> None:
    assert go_str(value) == text


def test_resolve_relative_paths_uses_the_file_directory_and_leaves_the_rest() -> None:
    tree = yaml.safe_load(
        """
services:
  web:
    build: ./app
    env_file: [a.env, {path: b.env, required: false}]
    volumes: ["./data:/data:ro", "named:/n", {type: bind, source: ../up, target: /up}]
    extends: {file: base.yaml, service: base}
  img:
    build: {context: "https://github.com/x/y.git", additional_contexts: {a: ./a, b: "docker-image://alpine"}}
secrets: {s: {file: ./s.txt}}
volumes: {v: {driver: local, driver_opts: {o: bind, device: ./dev}}}
"""
    )
    before = copy.deepcopy(tree)
    out = resolve_relative_paths(tree, working_dir="/inc", environ={"HOME": "/home/u"})
    assert tree == before
    web = out["services"]["web"]
    assert web["build"] == "/inc/app"
    assert web["env_file"] == ["/inc/a.env", {"path": "/inc/b.env", "required": False}]
    assert web["volumes"] == [
        "/inc/data:/data:ro",
        "named:/n",
        {"type": "bind", "source": "/up", "target": "/up"},
    ]
    assert web["extends"]["file"] == "/inc/base.yaml"
    assert out["services"]["img"]["build"] == {
        "context": "https://github.com/x/y.git",
        "additional_contexts": {"a": "/inc/a", "b": "docker-image://alpine"},
    }
    assert out["secrets"]["s"]["file"] == "/inc/s.txt"
    assert out["volumes"]["v"]["driver_opts"]["device"] == "/inc/dev"

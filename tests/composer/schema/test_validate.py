"""validate_schema() and check_consistency(): errors name where and what."""
# ruff: noqa: E501  (tables of inline YAML read better on one line)

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
import yaml

from composer.errors import ConfigError, DependencyCycleError, SchemaError
from composer.loader.canonical import canonicalize
from composer.loader.validate import check_consistency, tree_path, validate_schema


def schema_error(text: str) -> str:
    with pytest.raises(SchemaError) as info:
        validate_schema(yaml.safe_load(text), "compose.yaml")
    assert "\n" not in str(info.value)
    return str(info.value)


def consistency_error(text: str) -> ConfigError:
    tree = canonicalize({"name": "demo", **yaml.safe_load(text)}, working_dir="/proj", environ={})
    with pytest.raises(ConfigError) as info:
        check_consistency(tree, "compose.yaml")
    return info.value


def test_schema_ships_as_package_data_and_is_draft7() -> None:
    schema = json.loads(files("composer").joinpath("schema/compose-spec.json").read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft-07/")
    for key in (
        "services",
        "networks",
        "volumes",
        "secrets",
        "configs",
        "include",
        "models",
        "name",
        "version",
    ):
        assert key in schema["properties"]


def test_tree_path_uses_dots_and_indices() -> None:
    assert tree_path(["services", "web", "ports", 0, "target"]) == "services.web.ports[0].target"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services: {web: {imagee: x}}",
            "compose.yaml: services.web: additional property 'imagee' not allowed",
        ),
        ("services: {web: {image: 42}}", "compose.yaml: services.web.image: expected a string, got 42"),
        (
            "services: {web: {image: x, ports: [{target: 80, foo: 1}]}}",
            "services.web.ports[0]: additional property 'foo'",
        ),
        (
            "services: {web: {image: x, healthcheck: {interval: 10}}}",
            "healthcheck.interval: expected a string, got 10",
        ),
        (
            "services: {web: {image: x, healthcheck: {interval: 10x}}}",
            "healthcheck.interval: invalid duration '10x'",
        ),
        (
            "services: {web: {image: x, environment: [1]}}",
            "services.web.environment[0]: expected a string, got 1",
        ),
        (
            "services: {web: {image: x, depends_on: {b: {condition: c}}}}",
            "depends_on.b.condition: invalid value 'c'",
        ),
        ("services: {web: {image: x, ulimits: {nofile: {soft: 1}}}}", "services.web.ulimits.nofile"),
        ("services: [web]", "compose.yaml: services: expected a mapping or null, got a list"),
        ("servicess: {}", "compose.yaml: additional property 'servicess' not allowed"),
        ("services: {web: {image: x, container_name: c}}", "services.web.container_name: invalid value 'c'"),
        ("networks: {n: {driver: 1}}", "networks.n.driver: expected a string, got 1"),
    ],
)
def test_schema_error_names_location_and_expectation(text: str, message: str) -> None:
    assert message in schema_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "services: {web: {image: x, x-anything: {a: 1}}}\nx-top: [1]",
        "services: {web: {build: ., ports: ['80', 81, {target: 82}], volumes: ['a:/a', {type: tmpfs, target: /t}]}}",
        "services: {web: {image: x, deploy: {resources: {limits: {cpus: '0.5', memory: 1g}}}}}",
        "services: {web: {image: x, develop: {watch: [{path: ., action: sync, target: /app}]}}}",
        "include: [a.yaml, {path: [b.yaml], project_directory: .}]\nservices: {}",
        "version: '3.8'\nname: demo\nservices: {web: {image: x}}\nmodels: {m: {model: ai/x}}",
        "services: {web: {image: x, healthcheck: {test: true-ish, interval: 1m30s, start_interval: 2d}}}",
    ],
)
def test_valid_files_pass_the_schema(text: str) -> None:
    validate_schema(yaml.safe_load(text), "compose.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services: {web: {image: x, networks: [front]}}",
            "compose.yaml: services.web.networks: undefined network 'front'",
        ),
        (
            "services: {web: {image: x, volumes: ['data:/d']}}",
            "services.web.volumes[0]: undefined volume 'data'",
        ),
        ("services: {web: {image: x, secrets: [s]}}", "services.web.secrets[0]: undefined secret 's'"),
        ("services: {web: {image: x, configs: [c]}}", "services.web.configs[0]: undefined config 'c'"),
        (
            "services: {web: {image: x, depends_on: [db]}}",
            "services.web.depends_on: depends on undefined service 'db'",
        ),
        ("services: {web: {image: x, links: [db]}}", "services.web"),
        ("services: {web: {image: x, volumes_from: [db]}}", "services.web"),
        ("services: {web: {image: x, network_mode: 'service:vpn'}}", "services.web"),
        (
            "services: {web: {image: x, scale: 2, deploy: {replicas: 3}}}",
            "can't set distinct values on 'scale'",
        ),
        ("services: {web: {image: x, cpus: 1, deploy: {resources: {limits: {cpus: 2}}}}}", "'cpus'"),
        ("services: {web: {image: x, scale: 2, container_name: one}}", "services.web.container_name"),
        (
            "services: {web: {image: x, ports: [{published: 80}]}}",
            "services.web.ports[0]: missing a target port",
        ),
        (
            "services: {web: {image: x, secrets: [s]}}\nsecrets: {s: {driver: d}}",
            "services.web.secrets[0]: secret 's' must declare",
        ),
        ("services: {web: {command: 'true'}}", "services.web: neither an image nor a build context"),
        (
            "services: {web: {image: x, network_mode: host, networks: [n]}}\nnetworks: {n: {}}",
            "mutually exclusive",
        ),
    ],
)
def test_consistency_error_names_location(text: str, message: str) -> None:
    err = consistency_error(text)
    assert message in str(err)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services: {web: {image: x}}\nvolumes: {v: {external: true, driver: local}}",
            "volumes.v: conflicting parameters \"external\" and 'driver'",
        ),
        (
            "services: {web: {image: x}}\nconfigs: {c: {file: a, content: b}}",
            "configs.c: file|environment|content attributes are mutually exclusive",
        ),
        ("services: {web: {image: x}}\nsecrets: {s: {}}", "secrets.s: one of file|environment must be set"),
        (
            "services: {web: {image: x, ports: [{target: 80, host_ip: ''}]}}",
            "services.web.ports[0].host_ip: invalid ip address ''",
        ),
        (
            "services: {web: {image: x, volumes: [{type: bind, target: /x}]}}",
            "services.web.volumes[0]: a bind mount needs a source",
        ),
        (
            "services: {web: {image: x, gpus: [{count: 1, device_ids: ['0']}]}}",
            'services.web.gpus[0]: "count" and "device_ids"',
        ),
    ],
)
def test_structural_rules_beyond_the_schema(text: str, message: str) -> None:
    assert message in schema_error(text)


@pytest.mark.parametrize(
    "text",
    [
        "services: {web: {image: x, cap_add: [A, A], environment: [A=1, A=2], dns: [a, a]}}",
        "services: {web: {image: x, ulimits: {NOFILE: 1}}}",
        "name: UPPER\nservices: {web: {image: x}}",
    ],
)
def test_what_compose_accepts_passes(text: str) -> None:
    validate_schema(yaml.safe_load(text), "compose.yaml")


def test_duplicates_in_unkeyed_lists_are_rejected_like_compose() -> None:
    assert "services.web.security_opt: list items must be unique" in schema_error(
        "services: {web: {image: x, security_opt: [a, a]}}"
    )


def test_dependency_cycle_is_named() -> None:
    err = consistency_error(
        "services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: [c]}, c: {image: x, depends_on: [a]}}"
    )
    assert isinstance(err, DependencyCycleError)
    assert str(err) == "compose.yaml: services.a.depends_on: dependency cycle a -> b -> c -> a"


def test_consistent_project_passes() -> None:
    tree: dict[str, Any] = canonicalize(
        {
            "name": "demo",
            **yaml.safe_load(
                "services: {web: {image: x, depends_on: [db], networks: [n], volumes: ['v:/v'], secrets: [s]},"
                " db: {image: x, scale: 2, deploy: {replicas: 2}}}\n"
                "networks: {n: {}}\nvolumes: {v: {}}\nsecrets: {s: {file: s.txt}}"
            ),
        },
        working_dir="/proj",
        environ={},
    )
    check_consistency(tree, "compose.yaml")


def test_shipped_schema_is_the_generated_one() -> None:
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[3] / "composer" / "schema" / "build_schema.py"
    spec = importlib.util.spec_from_file_location("build_schema", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads(files("composer").joinpath("schema/compose-spec.json").read_text())
    assert shipped == json.loads(json.dumps(module.SCHEMA)), "run composer/schema/build_schema.py"


def test_long_dependency_chain_is_checked_in_linear_time() -> None:
    import time

    services = {f"s{i}": {"image": "x", "depends_on": [f"s{i - 1}"] if i else []} for i in range(1500)}
    tree = canonicalize({"name": "demo", "services": services}, working_dir="/proj", environ={})
    start = time.perf_counter()
    check_consistency(tree, "compose.yaml")
    assert time.perf_counter() - start < 2.0  # networkx.find_cycle alone (quadratic) took ~40 s here

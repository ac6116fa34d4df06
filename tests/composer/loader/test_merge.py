from __future__ import annotations

import pytest

from composer.errors import MergeError
from composer.loader.merge import merge, merge_all
from composer.loader.yamlparse import parse_yaml


def yaml(text: str) -> dict:  # type: ignore[type-arg]
    return parse_yaml(text, "t.yaml")


def svc(tree: dict, name: str = "web") -> dict:  # type: ignore[type-arg]
    return tree["services"][name]  # type: ignore[no-any-return]


def test_mappings_merge_and_scalars_replace() -> None:
    out = merge(yaml("services: {web: {image: a, user: x}}"), yaml("services: {web: {image: b}}"))
    assert svc(out) == {"image": "b", "user": "x"}


def test_inputs_are_not_mutated() -> None:
    base = yaml("services: {web: {image: a, dns: [1.1.1.1]}}")
    merge(base, yaml("services: {web: {image: b, dns: [8.8.8.8]}}"))
    assert base == yaml("services: {web: {image: a, dns: [1.1.1.1]}}")


@pytest.mark.parametrize("key", ["command", "entrypoint"])
def test_command_and_entrypoint_are_replaced(key: str) -> None:
    out = merge(yaml(f"services: {{web: {{{key}: [a, b]}}}}"), yaml(f"services: {{web: {{{key}: [c]}}}}"))
    assert svc(out)[key] == ["c"]


def test_healthcheck_test_is_replaced_other_keys_merge() -> None:
    out = merge(yaml("services: {web: {healthcheck: {test: [CMD, a], interval: 5s}}}"),
                yaml("services: {web: {healthcheck: {test: [CMD, b]}}}"))
    assert svc(out)["healthcheck"] == {"test": ["CMD", "b"], "interval": "5s"}


def test_environment_merges_by_name_across_forms() -> None:
    out = merge(yaml("services: {web: {environment: [A=1, B=1, C]}}"),
                yaml("services: {web: {environment: {B: 2, D: null}}}"))
    assert svc(out)["environment"] == ["A=1", "B=2", "C", "D"]


def test_ports_are_unique_by_address() -> None:
    out = merge(yaml("services: {web: {ports: ['8080:80', '9090:90']}}"),
                yaml("services: {web: {ports: ['8080:80', {target: 90, published: '9090'}, '1:1']}}"))
    assert svc(out)["ports"] == ["8080:80", {"target": 90, "published": "9090"}, "1:1"]


def test_volumes_are_unique_by_target() -> None:
    out = merge(yaml("services: {web: {volumes: ['./a:/data', 'v:/v']}}"),
                yaml("services: {web: {volumes: [{type: bind, source: ./b, target: /data}]}}"))
    assert svc(out)["volumes"] == [{"type": "bind", "source": "./b", "target": "/data"}, "v:/v"]


def test_secrets_are_unique_by_target() -> None:
    out = merge(yaml("services: {web: {secrets: [s1, {source: s2, target: /x}]}}"),
                yaml("services: {web: {secrets: [{source: s1, mode: 256}]}}"))
    assert svc(out)["secrets"] == [{"source": "s1", "mode": 256}, {"source": "s2", "target": "/x"}]


def test_plain_sequences_append() -> None:
    out = merge(yaml("services: {web: {dns: [a], cap_add: [X]}}"),
                yaml("services: {web: {dns: [b], cap_add: [X, Y]}}"))
    assert svc(out)["dns"] == ["a", "b"]
    assert svc(out)["cap_add"] == ["X", "Y"]


def test_depends_on_list_and_mapping_merge() -> None:
    out = merge(yaml("services: {web: {depends_on: [db]}}"),
                yaml("services: {web: {depends_on: {db: {condition: service_healthy}}}}"))
    assert svc(out)["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}


def test_reset_removes_and_override_replaces() -> None:
    base = yaml("services: {web: {ports: ['1:1'], environment: {A: 1}, labels: {a: b}}}")
    out = merge(base, yaml("services: {web: {ports: !reset [], environment: !override {B: 2}}}"))
    assert svc(out) == {"environment": {"B": 2}, "labels": {"a": "b"}}


def test_logging_options_merge_only_for_the_same_driver() -> None:
    base = yaml("services: {a: {logging: {driver: x, options: {o: 1}}},"
                " b: {logging: {driver: x, options: {o: 1}}}}")
    out = merge(base, yaml("services: {a: {logging: {driver: y, options: {p: 2}}},"
                           " b: {logging: {options: {p: 2}}}}"))
    assert svc(out, "a")["logging"] == {"driver": "y", "options": {"p": 2}}
    assert svc(out, "b")["logging"] == {"driver": "x", "options": {"o": 1, "p": 2}}


def test_build_string_becomes_context() -> None:
    out = merge(yaml("services: {web: {build: ./app}}"), yaml("services: {web: {build: {target: t}}}"))
    assert svc(out)["build"] == {"context": "./app", "target": "t"}


def test_type_mismatch_is_an_error_naming_the_path() -> None:
    with pytest.raises(MergeError,
                       match="services.web.healthcheck: cannot override a mapping with a sequence"):
        merge(yaml("services: {web: {healthcheck: {interval: 1s}}}"),
              yaml("services: {web: {healthcheck: [x]}}"))


def test_null_override_keeps_base() -> None:
    out = merge(yaml("services: {web: {image: a, networks: {n: {aliases: [x]}}}}"),
                yaml("services: {web: {networks: [n]}}"))
    assert svc(out)["networks"] == {"n": {"aliases": ["x"]}}


def test_merge_all_applies_in_order() -> None:
    out = merge_all([yaml("services: {web: {image: a}}"), yaml("services: {web: {image: b}}"),
                     yaml("services: {web: {image: c}}")])
    assert svc(out) == {"image": "c"}


def test_null_command_unsets_but_null_environment_keeps() -> None:
    out = merge(yaml("services: {web: {command: [a], environment: {A: 1}}}"),
                yaml("services: {web: {command: null, environment: null}}"))
    assert svc(out) == {"command": None, "environment": {"A": 1}}

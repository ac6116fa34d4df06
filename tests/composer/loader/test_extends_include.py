from __future__ import annotations

import pytest

from composer.errors import ExtendsError, IncludeError
from composer.loader.extends import apply_extends
from composer.loader.include import IncludeSpec, apply_include, parse_include
from composer.loader.yamlparse import parse_yaml


def yaml(text: str) -> dict:  # type: ignore[type-arg]
    return parse_yaml(text, "t.yaml")


def no_files(path: str) -> dict:  # type: ignore[type-arg]
    raise FileNotFoundError(path)


def test_extends_same_file_merges_onto_the_base() -> None:
    tree = yaml("services: {base: {image: a, environment: {A: 1}},"
                " web: {extends: base, environment: {B: 2}}}")
    out = apply_extends(tree, "/p/compose.yaml", no_files)
    assert out["services"]["web"] == {"image": "a", "environment": ["A=1", "B=2"]}
    assert out["services"]["base"] == {"image": "a", "environment": {"A": 1}}


def test_extends_chain() -> None:
    tree = yaml("services: {a: {image: x, user: a}, b: {extends: a, user: b}, c: {extends: b}}")
    out = apply_extends(tree, "/p/c.yaml", no_files)
    assert out["services"]["c"] == {"image": "x", "user": "b"}


def test_extends_cycle_names_the_cycle() -> None:
    tree = yaml("services: {a: {extends: b}, b: {extends: c}, c: {extends: a, image: x}}")
    with pytest.raises(ExtendsError, match="extends cycle a -> b -> c -> a"):
        apply_extends(tree, "/p/c.yaml", no_files)


def test_extends_other_file_rebases_relative_paths() -> None:
    other = yaml("services: {base: {image: x, build: ./ctx, volumes: ['./d:/d', 'named:/n'],"
                 " env_file: e.env}}")
    tree = yaml("services: {web: {extends: {file: sub/base.yaml, service: base}}}")
    out = apply_extends(tree, "/p/compose.yaml",
                        lambda path: other if path == "/p/sub/base.yaml" else no_files(path))
    assert out["services"]["web"] == {"image": "x", "build": "/p/sub/ctx",
                                      "volumes": ["/p/sub/d:/d", "named:/n"],
                                      "env_file": "/p/sub/e.env"}


def test_extends_unknown_service_and_file() -> None:
    with pytest.raises(ExtendsError, match='service "nope" not found'):
        apply_extends(yaml("services: {a: {extends: nope}}"), "/p/c.yaml", no_files)
    with pytest.raises(ExtendsError, match="cannot read /p/x.yaml"):
        apply_extends(yaml("services: {a: {extends: {file: x.yaml, service: b}}}"), "/p/c.yaml", no_files)


def test_include_short_and_long_syntax() -> None:
    specs = parse_include(yaml("include: [a/c.yaml, {path: [b/1.yaml, b/2.yaml], project_directory: d, "
                               "env_file: x.env}]")["include"], "/p/c.yaml", "/p")
    assert specs == [
        IncludeSpec(("/p/a/c.yaml",), "/p/a", ("/p/a/.env",), False),
        IncludeSpec(("/p/b/1.yaml", "/p/b/2.yaml"), "/p/d", ("/p/x.env",), True),
    ]


def test_include_adds_resources_and_rejects_conflicts() -> None:
    included = {"services": {"db": {"image": "pg"}}, "volumes": {"data": {}}}
    tree = yaml("include: [sub/compose.yaml]\nservices: {web: {image: w}}")
    out = apply_include(tree, "/p/c.yaml", "/p", lambda spec: included)
    assert out == {"services": {"web": {"image": "w"}, "db": {"image": "pg"}}, "volumes": {"data": {}}}
    clash = yaml("include: [sub/compose.yaml]\nservices: {db: {image: other}}")
    with pytest.raises(IncludeError, match="services.db: conflicts with imported resource"):
        apply_include(clash, "/p/c.yaml", "/p", lambda spec: included)


def test_include_entry_must_be_path_or_mapping() -> None:
    with pytest.raises(IncludeError, match=r"include\[0\]"):
        parse_include([42], "/p/c.yaml", "/p")


def test_include_entry_without_path_loads_nothing() -> None:
    specs = parse_include([{}, {"path": [], "env_file": "x.env"}], "/p/c.yaml", "/p")
    assert [s.paths for s in specs] == [(), ()]
    assert specs[1].env_files == ("/p/x.env",) and specs[1].explicit_env
    assert specs[1].where == "/p/c.yaml: include[1]"

from __future__ import annotations

import pytest

from composer.errors import ConfigError
from composer.loader.yamlparse import Override, Reset, parse_yaml, strip_markers


def test_merge_keys_and_aliases_expand() -> None:
    tree = parse_yaml("x: &a {p: 1, q: 2}\ny:\n  <<: *a\n  q: 3\n", "f.yaml")
    assert tree["y"] == {"p": 1, "q": 3}


def test_merge_key_list_earlier_source_wins() -> None:
    tree = parse_yaml("a: &a {k: a}\nb: &b {k: b, j: b}\nc:\n  <<: [*a, *b]\n", "f.yaml")
    assert tree["c"] == {"k": "a", "j": "b"}


def test_duplicate_keys_are_errors_with_lines() -> None:
    with pytest.raises(ConfigError, match=r'f.yaml: line 3: mapping key "a" already defined at line 1'):
        parse_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")


def test_reset_and_override_become_markers() -> None:
    tree = parse_yaml("a: !reset []\nb: !override {x: 1}\nc: !reset\n", "f.yaml")
    assert tree == {"a": Reset([]), "b": Override({"x": 1}), "c": Reset(None)}
    assert strip_markers(tree) == {"b": {"x": 1}}


def test_yaml_1_2_scalars_as_compose_go() -> None:
    tree = parse_yaml("a: yes\nb: on\nc: true\nd: 2001-01-01\ne: 010\nf: 1.5\n", "f.yaml")
    assert tree == {"a": "yes", "b": "on", "c": True, "d": "2001-01-01", "e": 8, "f": 1.5}


def test_keys_become_strings() -> None:
    assert parse_yaml("80: a\ntrue: b\n", "f.yaml") == {"80": "a", "true": "b"}


def test_empty_document_is_an_empty_mapping() -> None:
    assert parse_yaml("", "f.yaml") == {}
    assert parse_yaml("# only a comment\n", "f.yaml") == {}


@pytest.mark.parametrize("text, message", [
    ("- a\n", "top-level object must be a mapping"),
    ("a: [\n", "f.yaml: line 2"),
    ("a: *nope\n", "f.yaml: line 1"),
    ("a: !custom x\n", "f.yaml: line 1"),
])
def test_malformed_documents_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_yaml(text, "f.yaml")


def test_x_extensions_are_kept() -> None:
    assert parse_yaml("x-a: {b: 1}\nservices: {}\n", "f.yaml") == {"x-a": {"b": 1}, "services": {}}

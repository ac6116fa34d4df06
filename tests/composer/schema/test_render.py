"""render(): key order, omitted zero values and scalar quoting exactly as docker compose prints.

The JSON form is checked against expected.json by tests/composer/test_fixtures.py; the YAML form
is checked here against the docker compose binary, on the canon-* fixtures.
"""

# ruff: noqa: E501  (tables of inline YAML read better on one line)
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.loader.canonical import canonicalize
from composer.loader.render import render, to_json_tree
from tests.composer.fixturelib import DOCKER_COMPOSE  # the real binary: the pip wrapper always exits 0

REPO = Path(__file__).resolve().parents[3]
NEEDS_PIPELINE = {"canon-string-values-cast"}
CANON_CASES = sorted(
    p for p in (REPO / "fixtures" / "compose").glob("canon-*") if (p / "expected.json").exists()
)


def project(text: str) -> dict[str, Any]:
    return canonicalize({"name": "demo", **yaml.safe_load(text)}, working_dir="/proj", environ={})


def test_service_keys_follow_go_struct_order_not_alphabet() -> None:
    out = render(project("services: {web: {image: x, command: [a], cpus: 0.5}}"), "json")
    keys = list(json.loads(out)["services"]["web"])
    assert keys == ["cpus", "command", "entrypoint", "image", "networks"]


def test_json_keeps_null_command_and_empty_ipam_yaml_does_not() -> None:
    tree = project("services: {web: {image: x}}")
    assert json.loads(render(tree, "json"))["networks"]["default"] == {"name": "demo_default", "ipam": {}}
    assert render(tree, "yaml") == (
        "name: demo\nservices:\n  web:\n    image: x\n    networks:\n      default: null\n"
        "networks:\n  default:\n    name: demo_default\n"
    )


def test_zero_values_of_plain_fields_are_omitted_but_pointers_kept() -> None:
    svc = to_json_tree(project("services: {web: {image: x, privileged: false, init: false, cpu_shares: 0}}"))
    assert "privileged" not in svc["services"]["web"] and "cpu_shares" not in svc["services"]["web"]
    assert svc["services"]["web"]["init"] is False


def test_service_extensions_are_yaml_only_top_level_in_both() -> None:
    tree = project("x-top: 1\nservices: {web: {image: x, x-note: note}}")
    assert "x-note" not in json.loads(render(tree, "json"))["services"]["web"]
    assert json.loads(render(tree, "json"))["x-top"] == 1
    assert "    x-note: note\n" in render(tree, "yaml")
    assert render(tree, "yaml").endswith("x-top: 1\n")


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("1", '"1"'),
        ("0440", '"0440"'),
        ("true", '"true"'),
        ("no", '"no"'),
        ("N", '"N"'),
        ("", '""'),
        ("12:30", '"12:30"'),
        ("2024-01-01", '"2024-01-01"'),
        ("1e3", '"1e3"'),
        ("a: b", "'a: b'"),
        ("# x", "'# x'"),
        ("-x", "-x"),
        ("- x", "'- x'"),
        ("250µs", "250µs"),
        ("/bin/sh", "/bin/sh"),
        ("it's", "it's"),
    ],
)
def test_strings_are_quoted_as_yaml_v3_quotes_them(value: str, printed: str) -> None:
    out = render(project(f"services: {{web: {{image: x, labels: {{k: {json.dumps(value)}}}}}}}"), "yaml")
    assert f"      k: {printed}\n" in out


def test_multiline_string_is_a_literal_block() -> None:
    out = render(project('services: {web: {image: x, labels: {k: "a\\nb\\n"}}}'), "yaml")
    assert "      k: |\n        a\n        b\n" in out


def test_json_escapes_html_characters_as_go_does() -> None:
    out = render(project('services: {web: {image: x, labels: {k: "a<b>&c"}}}'), "json")
    assert '"k": "a\\u003cb\\u003e\\u0026c"' in out


@pytest.mark.skipif(not DOCKER_COMPOSE.exists(), reason="no docker compose binary")
@pytest.mark.parametrize("case", CANON_CASES, ids=lambda p: p.name)
def test_yaml_output_matches_docker_compose(case: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    if (case / "env").exists():
        env.update(line.split("=", 1) for line in (case / "env").read_text().splitlines() if "=" in line)  # type: ignore[misc]
    extra = (case / "config-args").read_text().split() if (case / "config-args").exists() else []
    theirs = subprocess.run(
        [str(DOCKER_COMPOSE), "-p", case.name, "config", *extra],
        cwd=case,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert theirs.returncode == 0, theirs.stderr
    text = (case / "compose.yaml").read_text()
    if "$" in text or case.name in NEEDS_PIPELINE:
        pytest.skip("needs interpolation or casts (the pipeline's stages); test_fixtures.py covers it")
    tree = yaml.safe_load(text)
    canonical = canonicalize(
        {**tree, "name": case.name},
        working_dir=str(case),
        environ=env,
        resolve_paths="--no-path-resolution" not in extra,
    )
    assert render(canonical, "yaml", escape_dollar=True) == theirs.stdout

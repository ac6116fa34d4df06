"""Properties of the whole loader on generated input: it returns a Project or raises a ComposerError
(never anything else), and `config` output read back renders to the same output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import ComposerError
from composer.loader import LoadOptions, load_project
from composer.loader.render import render
from composer.project import Project

# No "/" in generated text: relative paths stay inside the test's own directory.
ALPHABET = "abcxyz019_-.:=$ {}?+!@,"
KEYS = ["services", "networks", "volumes", "secrets", "configs", "include", "name", "x-ext", "version",
        "image", "build", "command", "entrypoint", "environment", "ports", "volumes", "depends_on",
        "extends", "profiles", "labels", "healthcheck", "deploy", "networks", "env_file", "restart",
        "service", "file", "path", "condition", "required", "target", "published", "source", "type",
        "web", "db", "a", "test", "aliases", "driver", "external"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.text(ALPHABET, max_size=12), st.sampled_from(["${A}", "${A:-x}", "${B:?e}", "$$", "8080:80", "db",
                                                     "service_started", "./x:/y", "busybox"]),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(
                                   st.one_of(st.sampled_from(KEYS), st.text(ALPHABET, max_size=6)),
                                   children, max_size=5)),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(KEYS[:9]), trees, max_size=4)


def load_text(tmp: Path, text: str) -> Project:
    return load_project(LoadOptions(files=("-",), stdin_text=text, cwd=str(tmp), project_name="fuzz",
                                    environ={"A": "a"}, warnings=[]))


def load_either(tmp: Path, text: str) -> Project | None:
    try:
        return load_text(tmp, text)
    except ComposerError as exc:
        assert "\n" not in str(exc).strip() or "failed to parse" in str(exc)
        return None


fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(text=st.text(max_size=200))
def test_arbitrary_text_loads_or_is_a_composer_error(tmp_path: Path, text: str) -> None:
    load_either(tmp_path, text)


@fuzz
@given(doc=documents)
def test_arbitrary_trees_load_or_are_composer_errors(tmp_path: Path, doc: dict[str, Any]) -> None:
    load_either(tmp_path, yaml.safe_dump(doc))


@fuzz
@given(services=st.dictionaries(st.sampled_from(["web", "db", "a"]), st.dictionaries(
    st.sampled_from(["image", "command", "environment", "ports", "labels", "profiles", "volumes"]),
    trees, max_size=4), min_size=1, max_size=3))
def test_arbitrary_services_load_or_are_composer_errors(tmp_path: Path, services: dict[str, Any]) -> None:
    load_either(tmp_path, yaml.safe_dump({"services": services}))


# -- round trip --------------------------------------------------------------------------------

names = st.text("abcdefghij", min_size=1, max_size=6)
values = st.text("abcXYZ019 _-.:$", max_size=10)
service = st.fixed_dictionaries(
    {"image": st.sampled_from(["busybox", "nginx:1.2", "localhost/x:latest"])},
    optional={
        "command": st.lists(values, max_size=3),
        "environment": st.dictionaries(st.text("ABCXYZ_", min_size=1, max_size=5),
                                       st.one_of(st.none(), values), max_size=3),
        "labels": st.dictionaries(names, values, max_size=3),
        "ports": st.lists(st.sampled_from(["80", "8080:80", "127.0.0.1:9000:90/udp", "5000-5001:5000-5001"]),
                          max_size=2, unique=True),
        "volumes": st.lists(st.sampled_from(["data:/data", "./src:/src:ro", "/tmp:/host-tmp"]), max_size=2,
                            unique=True),
        "working_dir": st.sampled_from(["/srv", "/app"]),
        "restart": st.sampled_from(["no", "always", "unless-stopped"]),
    },
)


@fuzz
@given(services=st.dictionaries(names, service, min_size=1, max_size=3))
def test_config_output_reads_back_to_the_same_output(tmp_path: Path, services: dict[str, Any]) -> None:
    doc: dict[str, Any] = {"services": services}
    if any("data:/data" in s.get("volumes", []) for s in services.values()):
        doc["volumes"] = {"data": {}}
    # JSON is YAML whose strings are always quoted (pyyaml's dumper would leave `09` plain, which
    # YAML 1.2 reads as a number)
    escaped = json.dumps(doc).replace("$", "$$")
    first = render(dict(load_text(tmp_path, escaped).tree), "yaml").replace("$", "$$")
    second = render(dict(load_text(tmp_path, first).tree), "yaml").replace("$", "$$")
    assert second == first

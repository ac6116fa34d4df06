"""The cache of "this merged tree is valid" (LoadOptions.cache_dir): a hit skips jsonschema entirely."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from composer.errors import SchemaError
from composer.loader import LoadOptions, load_project
from composer.loader.validate import _valid_key

_PROBE = (
    "import sys\nfrom composer.loader import LoadOptions, load_project\n"
    "from composer.errors import ConfigError\n"
    "try:\n"
    "    load_project(LoadOptions(cwd=sys.argv[1], cache_dir=sys.argv[2], environ={}))\n"
    "    print('ok', 'jsonschema' in sys.modules)\n"
    "except ConfigError as e:\n"
    "    print('error', 'jsonschema' in sys.modules, e)\n"
)


def _load(project: Path, cache: Path) -> tuple[str, bool, str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(project), str(cache)],
                         capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stderr
    verdict, imported, *rest = out.stdout.strip().split(" ", 2)
    return verdict, imported == "True", " ".join(rest)


def test_second_load_skips_jsonschema_and_an_edit_is_validated_again(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache" / "valid"
    project.mkdir()
    compose = project / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: busybox\n    ports: ['8080:80']\n")
    assert _load(project, cache) == ("ok", True, "")
    assert len(os.listdir(cache)) == 1 and not [n for n in os.listdir(cache) if n.startswith(".tmp")]
    assert _load(project, cache) == ("ok", False, "")

    compose.write_text("services:\n  web:\n    image: busybox\n    ports: ['8080:80']\n    colour: red\n")
    verdict, imported, message = _load(project, cache)
    assert (verdict, imported) == ("error", True)
    assert message == f"{compose}: services.web: additional property 'colour' not allowed"
    assert _load(project, cache)[:2] == ("error", True)  # an invalid tree is never cached
    assert len(os.listdir(cache)) == 1


def test_without_a_cache_dir_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {web: {image: busybox}}\n")
    load_project(LoadOptions(cwd=str(tmp_path), environ={}))
    assert sorted(os.listdir(tmp_path)) == ["compose.yaml"]


def test_a_cached_verdict_does_not_hide_an_invalid_file(tmp_path: Path) -> None:
    cache = tmp_path / "valid"
    (tmp_path / "compose.yaml").write_text("services: {web: {image: busybox}}\n")
    load_project(LoadOptions(cwd=str(tmp_path), environ={}, cache_dir=str(cache)))
    (tmp_path / "compose.yaml").write_text("services: {web: {image: busybox, ports: {a: 1}}}\n")
    with pytest.raises(SchemaError, match=r"compose.yaml: services.web.ports: expected a list"):
        load_project(LoadOptions(cwd=str(tmp_path), environ={}, cache_dir=str(cache)))


def test_key_tells_apart_what_json_would_merge() -> None:
    assert _valid_key({"a": 1}) != _valid_key({"a": "1"})
    assert _valid_key({"a": 1}) != _valid_key({"a": 1.0})
    assert _valid_key({1: "x"}) != _valid_key({"1": "x"})
    assert _valid_key({"a": True}) != _valid_key({"a": 1})
    assert _valid_key({"a": [1, 2]}) != _valid_key({"a": [2, 1]})
    assert _valid_key({"a": 1, "b": 2}) == _valid_key({"b": 2, "a": 1})


def test_unwritable_cache_dir_only_costs_speed(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services: {web: {image: busybox}}\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    load_project(LoadOptions(cwd=str(tmp_path), environ={}, cache_dir=str(blocker / "valid")))

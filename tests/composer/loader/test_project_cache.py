"""The cache of loaded projects (LoadOptions.project_cache, composer/loader/cache.py).

Each input a project depends on gets a test that changes it and expects the new model, never the
cached one; and a hit must not import yaml, dotenv, jsonschema or the loader stages.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from composer.errors import ConfigError
from composer.loader import LoadOptions, cache, load_project
from composer.project import Project

_HEAVY = ("yaml", "dotenv", "jsonschema", "composer.loader.canonical", "composer.loader.interpolate",
          "composer.loader.yamlparse", "composer.loader.merge", "composer.loader.validate")


def _load(cwd: Path, store: Path, environ: Mapping[str, str] | None = None,
          warnings: list[str] | None = None, **kw: object) -> Project:
    opts = LoadOptions(cwd=str(cwd), project_cache=str(store), environ=dict(environ or {}),
                       warnings=warnings, **kw)  # type: ignore[arg-type]
    return load_project(opts)


def _entries(store: Path) -> list[str]:
    return sorted(n for n in os.listdir(store) if not n.startswith("."))


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    d = tmp_path / "p"
    d.mkdir()
    (d / "compose.yaml").write_text("services:\n  web:\n    image: busybox:${TAG:-1}\n")
    return d


def test_a_hit_returns_the_same_project(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    first = _load(proj, store)
    assert len(_entries(store)) == 1
    second = _load(proj, store)
    assert second == first
    assert second.services["web"]["image"] == "busybox:1"


_PROBE = (
    "import sys, json\nfrom composer.loader import LoadOptions, load_project\n"
    "w = []\n"
    "p = load_project(LoadOptions(cwd=sys.argv[1], project_cache=sys.argv[2], environ={'A': '1'},"
    " warnings=w))\n"
    f"heavy = sorted(m for m in {_HEAVY!r} if m in sys.modules)\n"
    "print(json.dumps([p.name, sorted(p.services), w, heavy]))\n"
)


def _probe(cwd: Path, store: Path) -> list[object]:
    import json

    out = subprocess.run([sys.executable, "-c", _PROBE, str(cwd), str(store)], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_a_hit_imports_no_parser_validator_or_stage_and_replays_warnings(proj: Path, tmp_path: Path) -> None:
    (proj / "compose.yaml").write_text("version: '3'\nservices:\n  web:\n    image: busybox\n")
    store = tmp_path / "cache"
    name, services, warnings, heavy = _probe(proj, store)
    assert (name, services) == ("p", ["web"]) and "yaml" in heavy  # type: ignore[operator]
    assert warnings and "`version` is obsolete" in warnings[0]  # type: ignore[index]
    assert _probe(proj, store) == [name, services, warnings, []]


def test_an_edit_with_the_same_size_and_mtime_is_seen(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    compose = proj / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: busybox:aaa\n")
    st = compose.stat()
    assert _load(proj, store).services["web"]["image"] == "busybox:aaa"
    compose.write_text("services:\n  web:\n    image: busybox:bbb\n")
    os.utime(compose, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the bytes differ
    assert compose.stat().st_size == st.st_size and compose.stat().st_mtime_ns == st.st_mtime_ns
    assert _load(proj, store).services["web"]["image"] == "busybox:bbb"


def test_a_file_replaced_by_rename_is_seen(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    _load(proj, store)
    new = proj / "new.yaml"
    new.write_text("services:\n  api:\n    image: busybox\n")
    os.replace(new, proj / "compose.yaml")
    assert list(_load(proj, store).services) == ["api"]


def test_a_changed_environment_variable_is_seen(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    assert _load(proj, store, {"TAG": "2"}).services["web"]["image"] == "busybox:2"
    assert _load(proj, store, {"TAG": "3"}).services["web"]["image"] == "busybox:3"
    # a variable no file names still makes its own entry: interpolation may read any variable
    _load(proj, store, {"TAG": "3", "UNRELATED": "x"})
    assert len(_entries(store)) == 3
    assert _load(proj, store, {"TAG": "2"}).services["web"]["image"] == "busybox:2"


def test_the_shells_volatile_variables_are_no_miss_unless_a_file_names_them(proj: Path,
                                                                            tmp_path: Path) -> None:
    """`_` (each command) and OLDPWD (each cd) change under an interactive user: a project that
    does not name them is one entry, and its environment shows the shell's values of now."""
    store = tmp_path / "cache"
    first = _load(proj, store, {"TAG": "2", "OLDPWD": "/a", "_": "/usr/bin/composer"})
    again = _load(proj, store, {"TAG": "2", "OLDPWD": "/b"})
    assert len(_entries(store)) == 1 and again.services == first.services
    assert again.environment["OLDPWD"] == "/b" and "_" not in again.environment
    assert first.environment["_"] == "/usr/bin/composer"
    # named by a file: its value decides, like any variable's
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n"
                                       "    environment:\n      BACK: ${OLDPWD}\n")
    assert _load(proj, store, {"OLDPWD": "/a"}).services["web"]["environment"]["BACK"] == "/a"
    assert _load(proj, store, {"OLDPWD": "/b"}).services["web"]["environment"]["BACK"] == "/b"
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n    environment: [_]\n")
    assert _load(proj, store, {"_": "x"}).services["web"]["environment"]["_"] == "x"
    assert _load(proj, store, {"_": "y"}).services["web"]["environment"]["_"] == "y"
    # from a .env file: kept as the file says (the shell has none)
    (proj / ".env").write_text("OLDPWD=from-dotenv\n")
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n")
    assert _load(proj, store).environment["OLDPWD"] == "from-dotenv"
    assert _load(proj, store).environment["OLDPWD"] == "from-dotenv"


def test_a_volatile_name_counts_only_as_a_word_of_its_own() -> None:
    assert cache._names(b"x: ${_}", b"_") and cache._names(b"- _\n", b"_") and cache._names(b"_", b"_")
    assert not cache._names(b"my_var: a_b", b"_") and not cache._names(b"XOLDPWD", b"OLDPWD")
    assert cache._names(b"$OLDPWD/x", b"OLDPWD")


def test_the_dotenv_file_appearing_changing_and_going(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    assert _load(proj, store).services["web"]["image"] == "busybox:1"
    (proj / ".env").write_text("TAG=from-dotenv\n")
    assert _load(proj, store).services["web"]["image"] == "busybox:from-dotenv"
    (proj / ".env").write_text("TAG=changed\n")
    assert _load(proj, store).services["web"]["image"] == "busybox:changed"
    (proj / ".env").unlink()
    assert _load(proj, store).services["web"]["image"] == "busybox:1"


def test_an_included_file_and_its_env_file_are_dependencies(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    sub = proj / "sub"
    sub.mkdir()
    (sub / "compose.yaml").write_text("services:\n  db:\n    image: busybox\n    env_file: db.env\n")
    (sub / "db.env").write_text("LEVEL=1\n")
    (proj / "compose.yaml").write_text(
        "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: busybox\n")
    assert _load(proj, store).services["db"]["environment"] == {"LEVEL": "1"}
    (sub / "db.env").write_text("LEVEL=2\n")
    assert _load(proj, store).services["db"]["environment"] == {"LEVEL": "2"}
    (sub / "compose.yaml").write_text("services:\n  cache:\n    image: busybox\n")
    assert sorted(_load(proj, store).services) == ["cache", "web"]


def test_an_extended_file_is_a_dependency(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    (proj / "base.yaml").write_text("services:\n  base:\n    image: busybox\n    user: '1'\n")
    (proj / "compose.yaml").write_text(
        "services:\n  web:\n    extends: {file: base.yaml, service: base}\n")
    assert _load(proj, store).services["web"]["user"] == "1"
    (proj / "base.yaml").write_text("services:\n  base:\n    image: busybox\n    user: '2'\n")
    assert _load(proj, store).services["web"]["user"] == "2"


def test_an_override_file_created_later_is_seen(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    _load(proj, store)
    (proj / "compose.override.yaml").write_text("services:\n  web:\n    user: nobody\n")
    project = _load(proj, store)
    assert project.services["web"]["user"] == "nobody"
    assert project.config_files[-1] == str(proj / "compose.override.yaml")


def test_a_compose_file_created_nearer_than_the_one_found_is_seen(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    inner = proj / "inner"
    inner.mkdir()
    assert _load(inner, store).name == "p"  # found in the parent
    (inner / "compose.yml").write_text("services:\n  near:\n    image: busybox\n")
    project = _load(inner, store)
    assert (project.name, list(project.services)) == ("inner", ["near"])


def test_profiles_services_and_options_are_part_of_the_key(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    (proj / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n  dbg:\n    image: busybox\n    profiles: [debug]\n")
    assert list(_load(proj, store).services) == ["web"]
    assert sorted(_load(proj, store, profiles=("debug",)).services) == ["dbg", "web"]
    assert list(_load(proj, store, services=("dbg",)).services) == ["dbg"]
    assert _load(proj, store, project_name="other").name == "other"
    assert list(_load(proj, store).services) == ["web"]


def test_an_env_file_option_is_part_of_the_key_and_a_dependency(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    env = proj / "alt.env"
    env.write_text("TAG=alt\n")
    assert _load(proj, store, env_files=(str(env),)).services["web"]["image"] == "busybox:alt"
    env.write_text("TAG=alt2\n")
    assert _load(proj, store, env_files=(str(env),)).services["web"]["image"] == "busybox:alt2"
    assert _load(proj, store).services["web"]["image"] == "busybox:1"


def test_an_error_is_never_cached(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    (proj / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n    colour: red\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="colour"):
            _load(proj, store)
    assert not store.exists() or _entries(store) == []


def test_stdin_is_never_cached(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    text = "services:\n  web:\n    image: busybox\n"
    load_project(LoadOptions(cwd=str(proj), files=("-",), stdin_text=text, project_cache=str(store),
                             environ={}))
    assert not store.exists()


def test_entries_are_written_whole_and_pruned(proj: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "cache"
    monkeypatch.setattr(cache, "ENTRY_LIMIT", 3)
    for i in range(6):
        _load(proj, store, {"N": str(i)})
    names = os.listdir(store)
    assert len(names) == 3 and not [n for n in names if n.startswith(".tmp")]
    assert oct(os.stat(store / names[0]).st_mode & 0o777) == "0o600"


def test_a_damaged_entry_is_a_miss(proj: Path, tmp_path: Path) -> None:
    store = tmp_path / "cache"
    _load(proj, store)
    (entry,) = _entries(store)
    for junk in (b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps({"format": 1}),
                 marshal.dumps({"format": 1, "deps": [(1,)], "warnings": [], "value": 0})):
        (store / entry).write_bytes(junk)
        assert _load(proj, store).services["web"]["image"] == "busybox:1"


def test_recording_nests_and_notes_the_first_signature(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("a")
    with cache.recording() as outer:
        cache.watch(str(f))
        with cache.recording() as inner:
            f.write_text("b")
            cache.watch(str(f))
            cache.watch(str(tmp_path / "missing"))
        assert inner[str(tmp_path / "missing")] == ("absent",)
    assert outer[str(f)][0] == "file" and outer[str(f)] != inner[str(f)]
    assert str(tmp_path / "missing") in outer
    cache.watch(str(f))  # outside a recording: nothing is kept anywhere

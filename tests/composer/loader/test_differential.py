"""Generated compose files loaded by composer and by docker compose: the same JSON, or both refuse.
Exercises the merge rules and interpolation (and the stages around them) far beyond the fixtures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composer.errors import ComposerError
from composer.loader import LoadOptions, load_project
from composer.loader.render import render
from tests.composer.fixturelib import DOCKER_COMPOSE

pytestmark = pytest.mark.skipif(not DOCKER_COMPOSE.exists(), reason="no docker compose binary")

NAMES = ["web", "db", "cache"]
words = st.sampled_from(["a", "b", "x y", "1", "--flag", "/bin/sh"])
env_names = st.sampled_from(["A", "B", "C"])
env_values = st.one_of(st.none(), st.sampled_from(["1", "two", ""]))


def as_list_or_map(entries: dict[str, str | None], as_list: bool) -> Any:
    if not as_list:
        return entries
    return [k if v is None else f"{k}={v}" for k, v in entries.items()]


@st.composite
def service(draw: st.DrawFn, others: list[str]) -> dict[str, Any]:
    svc: dict[str, Any] = {}
    if draw(st.booleans()):
        svc["image"] = draw(st.sampled_from(["busybox", "nginx:1", "alpine:3"]))
    for key in ("command", "entrypoint", "dns", "cap_add"):
        if draw(st.booleans()):
            pool = {"dns": st.sampled_from(["1.1.1.1", "8.8.8.8"]),
                    "cap_add": st.sampled_from(["NET_ADMIN", "SYS_TIME"])}.get(key, words)
            svc[key] = draw(st.lists(pool, max_size=3))
    for key in ("environment", "labels"):
        if draw(st.booleans()):
            keys = env_names if key == "environment" else st.sampled_from(["l1", "l2"])
            entries = draw(st.dictionaries(keys, env_values, max_size=3))
            svc[key] = as_list_or_map(entries, draw(st.booleans()))
    if draw(st.booleans()):
        svc["ports"] = draw(st.lists(st.sampled_from(["80", "8080:80", "8080:81", "127.0.0.1:90:90/udp"]),
                                     max_size=3))
    if draw(st.booleans()):
        volumes = st.sampled_from(["./a:/data", "./b:/data:ro", "/srv:/srv", "/tmp:/t"])
        svc["volumes"] = draw(st.lists(volumes, max_size=3))
    with_deps: bool = draw(st.booleans())
    if others and with_deps:
        deps: list[str] = draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
        svc["depends_on"] = deps if draw(st.booleans()) else {
            d: {"condition": draw(st.sampled_from(["service_started", "service_healthy"]))} for d in deps}
    scalars = (("restart", ["no", "always"]), ("user", ["root", "1000"]), ("working_dir", ["/a", "/b"]))
    for key, choices in scalars:
        if draw(st.booleans()):
            svc[key] = draw(st.sampled_from(choices))
    if draw(st.booleans()):
        svc["healthcheck"] = {"test": ["CMD", draw(words)], "interval": draw(st.sampled_from(["5s", "1m"]))}
    return svc


@st.composite
def file_pair(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    base = {"services": {n: {**draw(service(names[:i])), "image": "busybox"} for i, n in enumerate(names)}}
    over_names = draw(st.lists(st.sampled_from(names), max_size=len(names), unique=True))
    override = {"services": {n: draw(service(names[:names.index(n)])) for n in over_names}}
    return base, override


def docker_json(tmp: Path) -> str | None:
    out = subprocess.run([str(DOCKER_COMPOSE), "-p", "diff", "-f", "a.json", "-f", "b.json", "config",
                          "--format", "json"], capture_output=True, text=True, cwd=tmp,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/root"}, timeout=60)
    return out.stdout if out.returncode == 0 else None


def composer_json(tmp: Path) -> str | None:
    try:
        project = load_project(LoadOptions(files=("a.json", "b.json"), cwd=str(tmp), project_name="diff",
                                           environ={"PATH": "/usr/bin:/bin", "HOME": "/root"}, warnings=[]))
    except ComposerError:
        return None
    return render(dict(project.tree), "json", escape_dollar=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=file_pair())
def test_merged_files_render_as_docker_compose(tmp_path: Path,
                                               pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base, override = pair
    (tmp_path / "a.json").write_text(json.dumps(base))
    (tmp_path / "b.json").write_text(json.dumps(override))
    theirs, ours = docker_json(tmp_path), composer_json(tmp_path)
    assert ours == theirs


# -- interpolation -------------------------------------------------------------------------------

VARS = ["A", "B", "C_1"]


@st.composite
def template(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["text", "dollar", "plain", "braced", "op"] if depth < 2 else
                                    ["text", "dollar", "plain", "braced"]))
        name = draw(st.sampled_from(VARS))
        if kind == "text":
            parts.append(draw(st.sampled_from(["x", "-", " ", "a:b", "}"])))
        elif kind == "dollar":
            parts.append("$$")
        elif kind == "plain":
            parts.append(f"${name}")
        elif kind == "braced":
            parts.append(f"${{{name}}}")
        else:
            # required-operators only at the top: docker compose v2.40.3 expands defaults eagerly
            ops = [":-", "-", ":+", "+"] + ([":?", "?"] if depth == 0 else [])
            op = draw(st.sampled_from(ops))
            arg = draw(template(depth + 1)).replace("}", "") if draw(st.booleans()) else ""
            parts.append(f"${{{name}{op}{arg}}}")
    return "".join(parts)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(template(), min_size=1, max_size=4),
       env=st.dictionaries(st.sampled_from(VARS), st.sampled_from(["", "v", "w z"]), max_size=3))
def test_interpolation_agrees_with_docker_compose(tmp_path: Path, values: list[str],
                                                  env: dict[str, str]) -> None:
    environment = {f"E{i}": v for i, v in enumerate(values)}
    doc = {"services": {"web": {"image": "busybox", "environment": environment}}}
    (tmp_path / "compose.json").write_text(json.dumps(doc))
    base_env = {"PATH": "/usr/bin:/bin", "HOME": "/root", **env}
    argv = [str(DOCKER_COMPOSE), "-p", "interp", "-f", "compose.json", "config", "--format", "json"]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=base_env, timeout=60)
    theirs = out.stdout if out.returncode == 0 else None
    try:
        project = load_project(LoadOptions(files=("compose.json",), cwd=str(tmp_path), project_name="interp",
                                           environ=base_env, warnings=[]))
        ours: str | None = render(dict(project.tree), "json", escape_dollar=True)
    except ComposerError:
        ours = None
    assert ours == theirs


# -- extends -------------------------------------------------------------------------------------

@st.composite
def extending_file(draw: st.DrawFn) -> dict[str, Any]:
    names = ["base", "mid", "web"]
    services: dict[str, Any] = {}
    for i, name in enumerate(names):
        svc = draw(service([]))
        if i and draw(st.booleans()):  # extend an earlier one, sometimes a later one (cycles must fail)
            svc["extends"] = draw(st.sampled_from(names)) if draw(st.integers(0, 5)) == 0 else names[i - 1]
        elif not svc.get("image"):
            svc["image"] = "busybox"
        services[name] = svc
    return {"services": services}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=extending_file())
def test_extends_agrees_with_docker_compose(tmp_path: Path, doc: dict[str, Any]) -> None:
    (tmp_path / "a.json").write_text(json.dumps(doc))
    (tmp_path / "b.json").write_text("{}")
    assert composer_json(tmp_path) == docker_json(tmp_path)

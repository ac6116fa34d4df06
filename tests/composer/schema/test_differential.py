"""Random projects through the whole loader: composer and docker compose print the same bytes.

Projects are drawn (fixed seeds, so failures reproduce) from a grammar of short and long syntaxes
and awkward scalars; both tools must accept them and print identical JSON and YAML.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.loader import LoadOptions, load_project
from composer.loader.render import render
from tests.composer.fixturelib import DOCKER_COMPOSE

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not DOCKER_COMPOSE.exists(), reason="no docker compose")]

SCALARS = [
    "a",
    "yes",
    "1",
    "0755",
    "a b",
    "x:y",
    "-x",
    " s",
    "é",
    "a#b",
    "1.5",
    "true",
    "null",
    "~",
    "12:30",
    "3s",
]


def _project(r: random.Random) -> dict[str, Any]:
    def s() -> str:
        return r.choice(SCALARS)

    keys: dict[str, Any] = {
        "command": lambda: r.choice(["echo hi", ["a", s()], "sh -c 'x y'", ""]),
        "entrypoint": lambda: r.choice(["/bin/sh", [s()], []]),
        "environment": lambda: r.choice(
            [{"K": s()}, [f"A={s()}", "B"], {"N": r.choice([1, 1.5, True, None])}]
        ),
        "labels": lambda: r.choice([{"l": s()}, [f"x={s()}", "y"]]),
        "ports": lambda: r.sample(
            [
                "80",
                "8080:80",
                "127.0.0.1:81:81/udp",
                "9000-9001:90-91",
                82,
                {"target": 83, "published": 8083},
            ],
            2,
        ),
        "volumes": lambda: r.sample(
            ["./d:/d", "/abs:/abs:ro", "named:/n", "/anon", "named:/m:nocopy", "~/x:/x:z"], 2
        ),
        "healthcheck": lambda: r.choice(
            [
                {"test": "x", "interval": r.choice(["90s", "1h", "1500ms"])},
                {"disable": True},
                {"test": ["CMD", s()]},
            ]
        ),
        "mem_limit": lambda: r.choice(["1g", "512m", 1024]),
        "cpus": lambda: r.choice([0.5, "1.5", 2]),
        "extra_hosts": lambda: r.choice([["h:1.2.3.4"], {"h": "::1"}]),
        "sysctls": lambda: r.choice([{"net.a": 1}, ["net.b=2"]]),
        "ulimits": lambda: r.choice([{"nofile": 10}, {"nproc": {"soft": 1, "hard": 2}}]),
        "stop_grace_period": lambda: r.choice(["10s", "1m30s", "2h"]),
        "tmpfs": lambda: r.choice(["/run", ["/a", "/b"]]),
        "deploy": lambda: r.choice(
            [{"replicas": 2}, {"resources": {"limits": {"memory": "1g", "cpus": "0.5"}}}]
        ),
        "build": lambda: r.choice(
            [".", {"context": ".", "args": {"A": s()}}, {"context": "./sub", "target": "t"}]
        ),
        "init": lambda: r.choice([True, False]),
        "logging": lambda: {"driver": "json-file", "options": {"max-size": "1m"}},
    }
    services = {}
    for i in range(r.randint(1, 3)):
        svc: dict[str, Any] = {"image": "busybox"}
        for key in r.sample(sorted(keys), r.randint(2, 6)):
            svc[key] = keys[key]()
        services[f"s{i}"] = svc
    return {"services": services, "volumes": {"named": {}}}


@pytest.mark.parametrize("seed", range(12))
def test_random_project_prints_like_docker_compose(seed: int, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(_project(random.Random(seed))))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    tree = dict(load_project(LoadOptions(project_name="r", environ=env, cwd=str(tmp_path))).tree)
    for fmt in ("json", "yaml"):
        theirs = subprocess.run(
            [str(DOCKER_COMPOSE), "-p", "r", "config", "--format", fmt],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert theirs.returncode == 0, theirs.stderr
        assert render(tree, fmt, escape_dollar=True) == theirs.stdout

"""The benchmarks. Each returns Results or raises Skip naming what is missing."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench.harness import Result, have, summarize, time_command

COMPOSER = [sys.executable, "-m", "composer"]
VENV_BIN = Path(sys.executable).parent


class Skip(Exception):
    pass


def cli_startup() -> list[Result]:
    return [summarize("cli start-up (--version)", "composer", time_command([*COMPOSER, "--version"], runs=20))]


def generated_project(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            "    image: localhost/busybox:latest",
            f"    command: [\"sleep\", \"{1000 + i}\"]",
            "    environment:",
            f"      INDEX: \"{i}\"",
            f"    ports: [\"{20000 + i}:80\"]",
            "    volumes: [\"data:/data\"]",
        ]
        if i:
            lines.append(f"    depends_on: [svc{i - 1}]")
    lines += ["volumes:", "  data: {}"]
    return "\n".join(lines) + "\n"


def config_200() -> list[Result]:
    out = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, "compose.yaml").write_text(generated_project(200))
        env = {**os.environ, "COMPOSE_PROJECT_NAME": "bench"}
        out.append(summarize("config, 200 services", "composer",
                             time_command([*COMPOSER, "config"], runs=5, cwd=d, env=env)))
        dc = VENV_BIN / "docker-compose"
        if dc.exists():
            out.append(summarize("config, 200 services", "docker compose",
                                 time_command([str(dc), "config"], runs=5, cwd=d, env=env)))
        if have("podman-compose"):
            out.append(summarize("config, 200 services", "podman-compose",
                                 time_command(["podman-compose", "config"], runs=5, cwd=d, env=env)))
    return out


ALL = [cli_startup, config_200]

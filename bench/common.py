"""What every benchmark shares: how to call composer, the image, and cleanup that never raises."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent
# The console script, as a user types it; `python -m composer` where it is missing.
COMPOSER: list[str] = (
    [str(VENV_BIN / "composer")] if (VENV_BIN / "composer").exists() else [sys.executable, "-m", "composer"]
)
IMAGE = "localhost/busybox:latest"
PREFIX = "bench-"  # every object a benchmark makes is named so; cleanup removes by this prefix


def composer(
    *args: str, check: bool = True, timeout: float = 120, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run composer untimed (set-up and clean-up), capturing its output."""
    return subprocess.run(
        [*COMPOSER, *args], capture_output=True, text=True, check=check, timeout=timeout, **kw
    )


def composer_json(*args: str) -> Any:
    return json.loads(composer(*args).stdout)


def require_image() -> None:
    from bench.harness import Skip

    if composer("image", "inspect", IMAGE, check=False).returncode != 0:
        raise Skip(f"image {IMAGE} missing (run `make image`)")


def remove_containers(names: Sequence[str]) -> None:
    """Force-remove containers by name; missing ones are fine. Never raises."""
    if names:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            composer("container", "rm", "-f", *names, check=False)


def bench_containers() -> list[str]:
    """Names of leftover containers of the benchmarks (all states)."""
    try:
        out = composer("container", "ls", "-a", "--format", "json", check=False).stdout
        rows = [json.loads(line) for line in out.splitlines()]  # one object a line, as docker ps
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    names = []
    for row in rows:
        n = row.get("Names") or row.get("Name") or ""
        n = n[0] if isinstance(n, list) and n else n
        if isinstance(n, str) and n.startswith(PREFIX):
            names.append(n)
    return names


def smaps_rollup(pid: int) -> dict[str, int]:
    """Rss, Pss, ... of *pid* in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def bench_networks() -> list[str]:
    """Networks a benchmark made (`bench-...`, and compose projects' `bench-..._default`)."""
    try:
        out = composer("network", "ls", "--format", "{{.Name}}", check=False).stdout  # -q: ids
    except (OSError, subprocess.SubprocessError):
        return []
    return [n for n in out.split() if n.startswith(PREFIX)]


def remove_networks(names: Sequence[str]) -> None:
    for n in names:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            composer("network", "rm", n, check=False)

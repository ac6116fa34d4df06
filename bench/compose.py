"""Case 6: `up -d` and `down` of generated projects of 1, 5, 10 and 20 services, and `ps`/`logs`
on the 10-service one, beside podman-compose where podman and podman-compose are installed.
Each project is `down`ed in a finally, whatever happened."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.common import COMPOSER, IMAGE, require_image
from bench.harness import Item, Note, Result, Run, have, ratio, run_once, summarize, time_command

SIZES = (1, 5, 10, 20)
REPEAT = 3
TARGETS = {10: (300.0, 300.0)}  # services -> (up -d, down) ms


def sleepers(n: int) -> str:
    """*n* independent services that sleep and exit at once on SIGTERM."""
    lines = ["services:"]
    for i in range(n):
        lines += [
            f"  s{i}:",
            f"    image: {IMAGE}",
            """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]""",
        ]
    return "\n".join(lines) + "\n"


def _down(cmd: list[str], d: str) -> None:
    subprocess.run([*cmd, "down", "-t", "1"], cwd=d, capture_output=True, timeout=300)


def up_down(tool: str, cmd: list[str], sizes: tuple[int, ...] = SIZES) -> list[Result]:
    """Median of REPEAT `up -d` and `down` wall times per project size, with the CLI *cmd*."""
    out: list[Result] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-") as d:
            Path(d, "compose.yaml").write_text(sleepers(n))
            project = [*cmd, "-p", f"bench-up{n}"]
            _down(project, d)
            ups: list[Run] = []
            downs: list[Run] = []
            try:
                for _ in range(REPEAT):
                    ups.append(run_once([*project, "up", "-d"], cwd=d))
                    downs.append(run_once([*project, "down", "-t", "1"], cwd=d))
            finally:
                _down(project, d)
            up_t, down_t = TARGETS.get(n, (None, None))
            out.append(summarize(f"compose: up -d, {n} services", tool, ups, target=up_t))
            out.append(summarize(f"compose: down, {n} services", tool, downs, target=down_t))
    return out


def ps_logs(tool: str, cmd: list[str], n: int = 10) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        Path(d, "compose.yaml").write_text(sleepers(n))
        project = [*cmd, "-p", f"bench-ps{n}"]
        _down(project, d)
        try:
            subprocess.run([*project, "up", "-d"], cwd=d, check=True, capture_output=True, timeout=300)
            ps = summarize(
                f"compose: ps, {n} services", tool, time_command([*project, "ps"], runs=20, cwd=d), target=60
            )
            logs = summarize(
                f"compose: logs, {n} services", tool, time_command([*project, "logs"], runs=10, cwd=d)
            )
        finally:
            _down(project, d)
    return [ps, logs]


def compose_lifecycle() -> list[Item]:
    require_image()
    ours: list[Result] = [*up_down("composer", COMPOSER), *ps_logs("composer", COMPOSER)]
    out: list[Item] = [*ours]
    if have("podman") and have("podman-compose"):
        theirs = [
            *up_down("podman-compose", ["podman-compose"]),
            *ps_logs("podman-compose", ["podman-compose"]),
        ]
        out.extend(theirs)
        for a, b in zip(ours, theirs, strict=False):
            out.append(Note(ratio(a.name, a, b)))
    else:
        out.append(Note("compose: podman-compose skipped: podman and podman-compose not installed"))
    return out


ALL = [compose_lifecycle]

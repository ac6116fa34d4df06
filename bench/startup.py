"""Case 1: CLI start-up, and `composer config` on a small and on a 200-service file (case 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import COMPOSER, IMAGE, VENV_BIN
from bench.harness import Item, Note, Result, have, ratio, summarize, time_command

SMALL = f"""services:
  web:
    image: {IMAGE}
    command: ["httpd", "-f", "-p", "80"]
    ports: ["8080:80"]
    environment:
      GREETING: ${{GREETING:-hello}}
    depends_on: [db]
  db:
    image: {IMAGE}
    command: ["sleep", "600"]
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""


def cli_startup() -> list[Item]:
    out: list[Item] = [
        summarize("cli: --version", "composer", time_command([*COMPOSER, "--version"], runs=20)),
        # `-p` is a global option of composer: it must come before the command word.
        summarize(
            "cli: ps -p nosuch (no file)",
            "composer",
            time_command([*COMPOSER, "-p", "nosuch", "ps"], runs=20, cwd="/"),
            target=60,
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        Path(d, "compose.yaml").write_text(SMALL)
        out.append(
            summarize(
                "cli: config (2 services)", "composer", time_command([*COMPOSER, "config"], runs=10, cwd=d)
            )
        )
        dc = VENV_BIN / "docker-compose"
        if dc.exists():
            out.append(
                summarize(
                    "cli: config (2 services)",
                    "docker compose",
                    time_command([str(dc), "config"], runs=10, cwd=d),
                )
            )
    out.append(
        summarize(
            "cli: python -c pass (floor)", "python", time_command([sys.executable, "-c", "pass"], runs=20)
        )
    )
    out.append(summarize("cli: version", "composer", time_command([*COMPOSER, "version"], runs=20, cwd="/")))
    out.append(summarize("cli: ls", "composer", time_command([*COMPOSER, "ls"], runs=20, cwd="/")))
    out.extend(import_offenders([sys.executable, "-X", "importtime", "-m", "composer", "-p", "nosuch", "ps"]))
    out.extend(run_cpu_split())
    out.append(ps_cpu_split())
    return out


# `container run` in one interpreter, its CPU split by rusage: the interpreter, importing what the
# command imports, and the rest (argparse, the create/start/remove work). The monitor is another
# process and not counted: this is the CLI's own share (FINDINGS F5).
_SPLIT_PROBE = """
import importlib, os, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return 1000 * (r.ru_utime + r.ru_stime)
mode, argv = sys.argv[1], sys.argv[2:]
if mode == "imports":
    for m in argv:
        importlib.import_module(m)
    print("@@", cpu(), "")
else:
    from composer.cli.main import main
    main(argv)
    print("@@", cpu(), " ".join(m for m in sys.modules if m.split(".")[0] in ("composer", "runtime")))
"""


def run_cpu_split(runs: int = 7) -> list[Item]:
    from bench.common import composer

    if composer("image", "inspect", IMAGE, check=False).returncode != 0:
        return [Note(f"run split: skipped: image {IMAGE} missing (run `make image`)")]
    argv = ["container", "run", "--rm", "--name", "bench-split", IMAGE, "true"]
    w, i, f, n = _cpu_split(argv, runs)
    return [Note(f"run split: `container run --rm true`, CPU ms of the CLI process (median of {runs}): "
                 f"{w:.0f} = interpreter {f:.0f} + imports {i - f:.0f} ({n} project modules "
                 f"and what they import) + the rest {w - i:.0f} (parsing, create, start, wait, remove)")]


def ps_cpu_split(runs: int = 11) -> Item:
    """`-p NAME ps` of a project with no containers, split as `container run` is (FINDINGS F14)."""
    w, i, f, n = _cpu_split(["-p", "bench-nosuch", "ps"], runs)
    rest = f"{w - i:.0f}" if w - i >= 0 else "~0 (under the noise of separate processes)"
    return Note(f"ps split: `-p NAME ps`, CPU ms (median of {runs}): {w:.0f} = interpreter {f:.0f} + "
                f"imports {i - f:.0f} ({n} project modules and what they import) + the rest {rest} "
                "(parsing, the engine's state, listing, printing)")


def _cpu_split(argv: list[str], runs: int) -> tuple[float, float, float, int]:
    """(whole, interpreter + imports, interpreter) CPU ms medians of `composer *argv*` in one process,
    and how many project modules it imported."""
    def probe(*args: str) -> tuple[float, list[str]]:
        p = subprocess.run([sys.executable, "-c", _SPLIT_PROBE, *args], capture_output=True, text=True,
                           timeout=60, cwd="/")
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith("@@")), None)
        if line is None:
            raise RuntimeError(f"cpu split: probe failed: {p.stderr.strip()[-300:]}")
        _, ms, *mods = line.split()
        return float(ms), mods

    whole, mods = zip(*(probe("run", *argv) for _ in range(runs)), strict=True)
    imports = [probe("imports", *mods[0])[0] for _ in range(runs)]
    floor = [probe("imports")[0] for _ in range(runs)]

    def med(xs: tuple[float, ...] | list[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    return med(whole), med(imports), med(floor), len(mods[0])


@dataclass(frozen=True, slots=True)
class Imported:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> list[Imported]:
    """Rows of `python -X importtime` output (`import time: self | cumulative | <indent>name`)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].rstrip()
        stripped = name.lstrip(" ")
        depth = (len(name) - len(stripped) - 1) // 2
        rows.append(Imported(stripped, int(parts[0]), int(parts[1]), depth))
    return rows


def import_offenders(argv: list[str], top: int = 8) -> list[Item]:
    """The top-level imports of a command ranked by cumulative time (median of 5 runs), as notes."""
    runs: dict[str, list[int]] = {}
    totals = []
    for _ in range(5):
        proc = subprocess.run(argv, capture_output=True, text=True, cwd="/", env=os.environ)
        rows = parse_importtime(proc.stderr)
        totals.append(sum(r.self_us for r in rows))
        for r in rows:
            runs.setdefault(r.module, []).append(r.cumulative_us)
    med = {m: sorted(v)[len(v) // 2] for m, v in runs.items() if len(v) >= 3}
    wanted = [
        m
        for m in med
        if m.startswith(
            (
                "composer",
                "runtime",
                "yaml",
                "dotenv",
                "jsonschema",
                "networkx",
                "trio",
                "pyroute2",
                "json",
                "dataclasses",
                "pathlib",
                "typing",
                "argparse",
                "sqlite3",
                "inspect",
            )
        )
    ]
    ranked = sorted(wanted, key=lambda m: -med[m])[:top]
    lines = [
        f"import time of `composer -p nosuch ps` (python -X importtime, median of 5): "
        f"all imports {sorted(totals)[len(totals) // 2] / 1000:.1f} ms; top cumulative:"
    ]
    lines += [f"    {med[m] / 1000:7.1f} ms  {m}" for m in ranked]
    return [Note("\n".join(lines))]


HEAVY = ("yaml", "dotenv", "jsonschema", "networkx", "trio", "pyroute2", "sqlite3")


def import_costs() -> list[Item]:
    """What one `import X` costs a fresh interpreter, over `python -c pass`: the libraries whose
    import decides composer's start-up."""
    floor = summarize(
        "import: (python -c pass)", "python", time_command([sys.executable, "-c", "pass"], runs=10)
    )
    no_site = summarize(
        "import: (python -S -c pass)", "python", time_command([sys.executable, "-S", "-c", "pass"], runs=10)
    )
    out: list[Item] = [floor, no_site]
    for mod in HEAVY:
        r = summarize(
            f"import: {mod}", "python", time_command([sys.executable, "-c", f"import {mod}"], runs=10)
        )
        out.append(r)
    cpu0 = floor.cpu_ms or 0.0
    extra = ", ".join(
        f"{r.name.split()[-1]} +{(r.cpu_ms or 0) - cpu0:.0f}" for r in out[2:] if isinstance(r, Result)
    )
    out.append(Note(f"import: CPU ms over the bare interpreter: {extra}"))
    out.append(
        Note(
            f"import: site (the venv's .pth files: the editable install's finder) costs "
            f"{(floor.cpu_ms or 0) - (no_site.cpu_ms or 0):.0f} ms CPU per interpreter start"
        )
    )
    return out


def generated_project(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [
            f"  svc{i}:",
            f"    image: {IMAGE}",
            f'    command: ["sleep", "{1000 + i}"]',
            "    environment:",
            f'      INDEX: "{i}"',
            f'    ports: ["{20000 + i}:80"]',
            '    volumes: ["data:/data"]',
        ]
        if i:
            lines.append(f"    depends_on: [svc{i - 1}]")
    lines += ["volumes:", "  data: {}"]
    return "\n".join(lines) + "\n"


def config_200() -> list[Item]:
    out: list[Item] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        Path(d, "compose.yaml").write_text(generated_project(200))
        env = {**os.environ, "COMPOSE_PROJECT_NAME": "bench"}
        out.append(
            summarize(
                "config: 200 services",
                "composer",
                time_command([*COMPOSER, "config"], runs=5, cwd=d, env=env),
            )
        )
        dc = VENV_BIN / "docker-compose"
        if dc.exists():
            out.append(
                summarize(
                    "config: 200 services",
                    "docker compose",
                    time_command([str(dc), "config"], runs=5, cwd=d, env=env),
                )
            )
        else:
            out.append(Note(f"config: docker compose skipped: {dc} missing"))
        if have("podman-compose") and have("podman"):
            out.append(
                summarize(
                    "config: 200 services",
                    "podman-compose",
                    time_command(["podman-compose", "config"], runs=5, cwd=d, env=env),
                )
            )
        else:
            out.append(
                Note(
                    "config: podman-compose skipped: podman and podman-compose not installed "
                    "(podman-compose needs podman even for `config`)"
                )
            )
        results = [i for i in out if isinstance(i, Result)]
        if len(results) > 1:
            out.append(Note(ratio("config: 200 services", results[0], results[1])))
    return out

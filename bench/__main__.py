"""`make bench` (`python -m bench [CASE ...]`): run every benchmark whose commands exist, say why
one is skipped, and check that nothing a benchmark made is left behind."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
import traceback

from bench import cases
from bench.common import bench_containers, bench_networks, remove_containers, remove_networks
from bench.harness import Item, Note, render


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        ).stdout.strip()
    except OSError:
        commit = "?"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"{now}  {platform.node()}  Linux {platform.release()}  {os.cpu_count()} cpus  "
        f"python {platform.python_version()}  commit {commit}  load {load}"
    )


def as_installed() -> str:
    """Measure composer as `make` installs it: bytecode compiled, cached and bundled. This session's
    environment may say PYTHONDONTWRITEBYTECODE, which would make every command compile its
    modules from source (~180 ms of `container run` here) and measure that instead."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "composer", "runtime"], cwd=repo, capture_output=True
    )
    subprocess.run([sys.executable, "-m", "composer.bundle_build"], cwd=repo, capture_output=True, check=True)
    return ("bytecode compiled (compileall composer runtime) and bundled (composer/bundle.py), "
            "PYTHONDONTWRITEBYTECODE unset")


def run_case(case: cases.Case) -> tuple[list[Item], str | None]:
    """A case's items, or why it has none (skipped, or failed with the command's last error line)."""
    try:
        return case(), None
    except cases.Skip as why:
        return [], f"{case.__name__}: skipped: {why}"
    except subprocess.CalledProcessError as exc:
        err = exc.stderr or b""
        text = (err.decode(errors="replace") if isinstance(err, bytes) else err).strip().splitlines()
        last = text[-1] if text else f"exit {exc.returncode}"
        return [], f"{case.__name__}: failed: {' '.join(map(str, exc.cmd))}: {last}"
    except Exception as exc:  # a broken case must not hide the others' results
        traceback.print_exc()
        return [], f"{case.__name__}: failed: {type(exc).__name__}: {exc}"


def main(argv: list[str]) -> int:
    chosen = [c for c in cases.ALL if not argv or c.__name__ in argv]
    if argv and not chosen:
        print(
            f"bench: no case named {' '.join(argv)}; cases: {' '.join(c.__name__ for c in cases.ALL)}",
            file=sys.stderr,
        )
        return 2
    print(f"# start {machine()}", flush=True)
    print(f"# {as_installed()}", flush=True)
    items: list[Item] = []
    problems = []
    for case in chosen:
        t0 = time.perf_counter()
        print(f"# {case.__name__} ...", file=sys.stderr, flush=True)
        got, problem = run_case(case)
        if problem and ": failed:" in problem:  # the tree is shared and moves: one retry
            print(f"# {problem}; retrying once", file=sys.stderr, flush=True)
            time.sleep(5)
            first = problem
            got, second = run_case(case)
            problem = f"{second} (failed twice)" if second else None
            if not second:
                items.append(Note(f"{case.__name__}: passed on a retry; first try: {first}"))
        items.extend(got)
        if problem:
            problems.append(problem)
        print(f"# {case.__name__} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    left = bench_containers()
    if left:
        problems.append(f"clean-up: containers left behind (now removed): {' '.join(left)}")
        remove_containers(left)
    nets = bench_networks()
    if nets:
        problems.append(f"clean-up: networks left behind (now removed): {' '.join(nets)}")
        remove_networks(nets)
    print(render(items))
    if problems:
        print()
        for line in problems:
            print(line)
    print(f"# end {machine()}")
    return 1 if any(": failed:" in p or p.startswith("clean-up") for p in problems) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

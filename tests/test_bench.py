"""The bench harness itself works: timing of a real command, failures, rendering, parsing.
Speed is never asserted here."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cases, compose, startup
from bench.harness import Note, Result, Run, free_port, render, run_once, summarize, time_command, value


def test_run_once_measures_wall_and_cpu_of_a_real_command() -> None:
    burn = [
        sys.executable,
        "-c",
        "import time\nt=time.process_time()\nwhile time.process_time()-t<0.05: pass",
    ]
    r = run_once(burn)
    assert r.wall_ms >= 40  # it ran for at least its own CPU time
    assert r.cpu_ms >= 40  # child CPU time comes from wait4, not from the parent


def test_failing_command_raises_with_its_stderr_and_teardown_still_runs() -> None:
    torn = []
    with pytest.raises(subprocess.CalledProcessError) as exc:
        time_command(
            [sys.executable, "-c", "import sys; sys.exit('boom')"], runs=3, teardown=lambda: torn.append(1)
        )
    assert b"boom" in exc.value.stderr
    assert torn == [1]  # the first run failed; its teardown ran, no further runs


def test_setup_and_teardown_wrap_each_run() -> None:
    calls: list[str] = []
    runs = time_command(["true"], runs=3, setup=lambda: calls.append("s"), teardown=lambda: calls.append("t"))
    assert len(runs) == 3
    assert calls == ["s", "t"] * 3


def test_summarize_median_min_and_verdict() -> None:
    r = summarize("x", "tool", [Run(30, 5), Run(10, 1), Run(20, 3)], target=25)
    assert (r.median, r.min, r.cpu_ms, r.runs) == (20, 10, 3, 3)
    assert r.verdict == "ok"
    assert summarize("x", "tool", [Run(30, 5)], target=25).verdict == "OVER"
    assert summarize("x", "tool", [Run(30, 5)]).verdict == ""


def test_render_table_and_notes() -> None:
    text = render(
        [
            summarize("cli: x", "composer", [Run(12.5, 4.0)], target=60),
            value("monitor: PSS", "composer", [2.0, 4.0], "MB", target=1.0),
            Note("a note"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["benchmark", "tool", "runs"]
    row = next(line for line in lines if line.startswith("cli: x"))
    assert row.split()[2:9] == ["composer", "1", "12.5", "12.5", "ms", "4.0", "60.0"] and "ok" in row
    mem = next(line for line in lines if line.startswith("monitor: PSS"))
    assert "3.0" in mem and "MB" in mem and "OVER" in mem
    assert lines[-1] == "a note"


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_parse_importtime_of_a_real_interpreter() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import json"], capture_output=True, text=True
    )
    rows = startup.parse_importtime(proc.stderr)
    json_row = next(r for r in rows if r.module == "json")
    assert json_row.depth == 0 and json_row.cumulative_us >= json_row.self_us > 0
    assert any(r.module == "json.decoder" and r.depth == 1 for r in rows)


def test_generated_projects_are_valid_compose(tmp_path: pytest.TempPathFactory) -> None:
    import yaml

    big = yaml.safe_load(startup.generated_project(200))
    assert len(big["services"]) == 200 and big["services"]["svc1"]["depends_on"] == ["svc0"]
    sleepers = yaml.safe_load(compose.sleepers(5))
    assert sorted(sleepers["services"]) == [f"s{i}" for i in range(5)]
    assert sleepers["services"]["s0"]["command"][0] == "sh"


def test_every_case_is_listed_once() -> None:
    names = [c.__name__ for c in cases.ALL]
    assert len(names) == len(set(names)) >= 7


def test_result_is_frozen() -> None:
    r = Result("a", "b", 1, 1.0, 1.0)
    with pytest.raises(AttributeError):
        r.median = 2.0  # type: ignore[misc]


def test_zygote_experiment_forks_and_measures() -> None:
    import json

    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(repo / "bench" / "zygote.py"), str(repo), "2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    got = json.loads(proc.stdout)
    assert set(got) == {"fork_ms", "rss_kb", "pss_kb", "private_kb", "zygote_pss_kb"}
    assert 0 < got["pss_kb"] <= got["rss_kb"] and got["zygote_pss_kb"] > 0


def _floor_leftovers() -> list[str]:
    import glob

    return glob.glob("/tmp/composer-floor-*") + glob.glob("/sys/fs/cgroup/*/composer-floor-*") + [
        line for line in open("/proc/mounts") if "composer-floor-" in line
    ]


@pytest.mark.privileged
def test_python_floor_runs_a_container_and_leaves_nothing(tmp_path: Path, busybox_tar: Path) -> None:
    """bench/floor.py (the floor printed beside composer's start time) really runs /bin/true in
    its own namespaces on an overlay of the image, and cleans up after a success and a failure."""
    layer = tmp_path / "layer"
    layer.mkdir()
    subprocess.run(["tar", "-xf", str(busybox_tar), "-C", str(layer)], check=True)
    floor = [sys.executable, "-I", "-S", str(Path(__file__).resolve().parent.parent / "bench" / "floor.py")]
    ok = subprocess.run([*floor, str(layer)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    (layer / "bin" / "true").unlink()  # the exec fails inside: the init exits 127 or the child reports
    bad = subprocess.run([*floor, str(layer)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
    missing = subprocess.run([*floor, str(tmp_path / "nosuch")], capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "overlay" in missing.stderr
    assert _floor_leftovers() == []


@pytest.mark.privileged
def test_killsweep_kills_a_verb_and_finds_the_engine_clean(tmp_path: Path, busybox_tar: Path) -> None:
    """bench/killsweep.py (the SIGKILL sweep) runs a scenario end to end on its own engine: it
    reads `container ls --format json` as composer prints it (a change of that output broke it
    once), kills `container start` at two points and finds the listing true and nothing left."""
    import os

    env = {**os.environ, "KILLSWEEP_DIR": str(tmp_path), "COMPOSER_BUSYBOX_TAR": str(busybox_tar)}
    repo = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "bench.killsweep", "start", "30", "400"], env=env, cwd=repo,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "== start: 0 problems" in r.stdout
    assert "start@30ms: ok" in r.stdout and "start@400ms: ok" in r.stdout

"""Cases 3-5: container start latency (beside crun and podman), monitor memory, network set-up and
time to first byte through a published port. Every container is named `bench-...` and removed in a
finally, whatever happened."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import (
    COMPOSER,
    IMAGE,
    composer,
    composer_json,
    remove_containers,
    require_image,
    smaps_rollup,
)
from bench.harness import (
    Item,
    Note,
    Result,
    Run,
    Skip,
    free_port,
    have,
    ratio,
    summarize,
    time_command,
    value,
)

RUNS = 20


def start_latency() -> list[Item]:
    require_image()
    out: list[Item] = []
    ours = summarize(
        "start: run --rm true",
        "composer",
        # named, so that a run that fails half-way is found and removed by the leftover check
        time_command(
            [*COMPOSER, "container", "run", "--rm", "--name", "bench-start", IMAGE, "true"], runs=RUNS
        ),
        target=60,
    )
    out.append(ours)
    if have("crun"):
        theirs = crun_run(RUNS)
        out.append(theirs)
        out.append(Note(ratio("start: run --rm true", ours, theirs)))
    else:
        out.append(Note("start: crun skipped: crun not installed"))
    out.extend(python_floor(ours))
    if have("podman"):
        from bench.compose import private_podman  # its own storage, the same busybox tarball

        with private_podman() as env:
            theirs = summarize(
                "start: run --rm true",
                "podman",
                time_command(["podman", "run", "--rm", "--network", "none", IMAGE, "true"],
                             runs=RUNS, env=env),
            )
        out.append(theirs)
        out.append(Note(ratio("start: run --rm true", ours, theirs)))
    else:
        out.append(Note("start: podman skipped: podman not installed"))
    return out


def python_floor(ours: Result) -> list[Item]:
    """What any Python `run --rm` pays here: the interpreter alone, and bench/floor.py (the
    interpreter, a cgroup join, namespaces, an overlay, pivot_root and the exec; none of
    composer's features). Beside composer's time, they say how far a Python CLI can go."""
    info = composer_json("image", "inspect", IMAGE)[0]
    layers = info.get("LayerDirs") or []
    if len(layers) != 1:
        return [Note(f"start: python floor skipped: expected one layer dir in {IMAGE}, got {len(layers)}")]
    py = [sys.executable, "-I", "-S"]
    bare = summarize("start: run --rm true", "python -I -S", time_command([*py, "-c", "pass"], runs=RUNS),
                     note="the interpreter alone: python -I -S -c pass")
    floor = summarize("start: run --rm true", "python floor",
                      time_command([*py, str(Path(__file__).with_name("floor.py")), layers[0]], runs=RUNS),
                      note="bench/floor.py: cgroup join, namespaces, overlay, pivot_root, exec; no features")
    return [bare, floor, Note(ratio("start: run --rm true", ours, floor))]


def monitor_startup() -> list[Item]:
    """The parts of a monitor's start that do not depend on the container: the interpreter it runs
    (`python -I -S`), its imports (runtime.executor.supervise, as monitor.py), and compiling
    monitor.py (a script's bytecode is never cached)."""
    import runtime

    repo = str(Path(runtime.__file__).resolve().parent.parent)
    py = [sys.executable, "-I", "-S", "-c"]
    imports = f"import sys; sys.path.insert(0, {repo!r}); import runtime.executor.supervise"
    script = str(Path(repo, "runtime", "monitor.py"))
    compile_it = f"compile(open({script!r}).read(), {script!r}, 'exec')"
    floor = summarize("monitor parts: python -I -S", "python", time_command([*py, "pass"], runs=10))
    imp = summarize("monitor parts: + its imports", "python", time_command([*py, imports], runs=10))
    comp = summarize(
        "monitor parts: + compile monitor.py", "python", time_command([*py, compile_it], runs=10)
    )
    return [floor, imp, comp]


def ensure_hugetlb() -> None:
    """crun refuses to start on these hybrid-cgroup hosts until the hugetlb v1 hierarchy exists."""
    target = Path("/sys/fs/cgroup/hugetlb")
    if os.path.ismount(target) or not Path("/sys/fs/cgroup/memory").is_dir():
        return
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(target)], check=True)


def crun_bundle(d: Path) -> None:
    """An OCI bundle equivalent to `composer container run --rm busybox true`: a private copy of the
    image's rootfs (crun creates mount points in it) and `crun spec`'s default config."""
    info = composer_json("image", "inspect", IMAGE)[0]
    layers = info.get("LayerDirs") or []
    if len(layers) != 1:
        raise Skip(f"crun: expected one layer dir in {IMAGE}, got {len(layers)}")
    shutil.copytree(layers[0], d / "rootfs", symlinks=True)
    subprocess.run(["crun", "spec"], cwd=d, check=True, capture_output=True)
    config = json.loads((d / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["true"]
    (d / "config.json").write_text(json.dumps(config))


def crun_run(runs: int) -> Result:
    ensure_hugetlb()
    with tempfile.TemporaryDirectory(prefix="bench-crun-") as tmp:
        d = Path(tmp)
        crun_bundle(d)
        times = []
        for i in range(runs):
            name = f"bench-crun-{os.getpid()}-{i}"
            try:
                times.extend(time_command(["crun", "run", "--bundle", str(d), name], runs=1))
            finally:
                subprocess.run(["crun", "delete", "-f", name], capture_output=True)
        return summarize(
            "start: run --rm true", "crun", times, note="bare OCI runtime: no image, state or network"
        )


def monitor_memory(count: int = 10) -> list[Item]:
    """PSS of the monitors with *count* containers running: all in one pod, then *count* lone
    containers. Both share one monitor process (runtime/executor/podmon.py: the pod's, and the
    engine's lone containers' one); the PSS of every distinct monitor process (and of the fork
    server, whose pages forked monitors share) is divided by *count*."""
    require_image()
    pod = "bench-mem-pod"
    names = [f"bench-mem-pod-{i}" for i in range(count)]
    remove_containers(names)
    composer("pod", "rm", "-f", pod, check=False)
    try:
        composer("pod", "create", pod)
        out = _monitor_memory(f"{count} in one pod", ["--pod", pod], names)
    finally:
        remove_containers(names)
        composer("pod", "rm", "-f", pod, check=False)
    names = [f"bench-mem-{i}" for i in range(count)]
    remove_containers(names)
    try:
        return out + _monitor_memory(f"{count} lone running", [], names)
    finally:
        remove_containers(names)


def _monitor_memory(what: str, flags: list[str], names: list[str]) -> list[Item]:
    """Run *names* (`container run -d *flags*`), then measure their monitor processes."""
    from runtime.paths import Paths

    ids = [
        composer("container", "run", "-d", *flags, "--name", n, IMAGE, "sleep", "600").stdout.strip()
        for n in names
    ]
    time.sleep(0.5)  # let each monitor settle (imports done, log file open)
    paths = Paths.from_env()
    procs = set()
    for cid in ids:
        mon = json.loads((Path(paths.container_run(cid)) / "monitor.json").read_text())
        procs.add(int(mon.get("process") or mon["pid"]))  # a shared one names its process
    roll = [smaps_rollup(p) for p in procs]
    pss = sum(r["Pss"] for r in roll) / 1024
    rss = sum(r["Rss"] for r in roll) / 1024
    private = sum(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0) for r in roll) / 1024
    zygote = _zygote_pss_mb()
    count = len(names)
    return [
        value(
            f"monitor: PSS + zygote share per container, {what}",
            "composer",
            [(pss + zygote) / count],
            "MB",
            target=1.0,
            note=f"{len(procs)} monitor process(es): PSS {pss:.2f} MB, RSS {rss:.2f} MB, "
            f"private {private:.2f} MB; zygote {zygote:.2f} MB",
        ),
    ]


def _zygote_pss_mb() -> float:
    """PSS of the engine's monitor fork server (runtime/zygote_server.py), 0 when none runs."""
    from runtime import zygote
    from runtime.paths import Paths

    pid = zygote.zygote_pid(Paths.from_env().rundir)
    try:
        return smaps_rollup(pid)["Pss"] / 1024 if pid else 0.0
    except (OSError, KeyError):
        return 0.0


def monitor_fork_server(count: int = 10) -> list[Item]:
    """Beside the monitor numbers: monitors forked from one pre-imported parent (bench/zygote.py)."""
    import runtime

    repo = str(Path(runtime.__file__).resolve().parent.parent)
    script = str(Path(__file__).with_name("zygote.py"))
    proc = subprocess.run(
        [sys.executable, "-I", "-S", script, repo, str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    got = json.loads(proc.stdout)
    share = got["zygote_pss_kb"] / count
    return [
        value(
            f"fork server: PSS, {count} children",
            "experiment",
            [got["pss_kb"] / 1024],
            "MB",
            target=1.0,
            note=f"+ zygote {got['zygote_pss_kb'] / 1024:.2f} MB / {count} = {share / 1024:.2f} MB each",
        ),
        value(f"fork server: private, {count}", "experiment", [got["private_kb"] / 1024], "MB"),
        value(
            "fork server: fork per monitor",
            "experiment",
            [got["fork_ms"]],
            "ms",
            note="vs a fresh `python -I -S` + imports (monitor parts above)",
        ),
    ]


def network_setup(runs: int = 15) -> list[Item]:
    """`container create` on a bridge network minus `--network none`: the per-container network
    set-up. The two are interleaved (none, bridge, none, ...) so that both see the same load, and
    the difference is taken on medians of wall time and of CPU time."""
    require_image()
    net = f"bench-net-{os.getpid()}"
    name = "bench-netsetup"
    remove_containers([name])
    composer("network", "create", net)
    runs_by: dict[str, list[Run]] = {"none": [], net: []}
    try:
        for _ in range(runs):
            for network in ("none", net):
                runs_by[network].extend(
                    time_command(
                        [
                            *COMPOSER,
                            "container",
                            "create",
                            "--name",
                            name,
                            "--network",
                            network,
                            IMAGE,
                            "true",
                        ],
                        runs=1,
                        teardown=lambda: remove_containers([name]),
                    )
                )
    finally:
        remove_containers([name])
        composer("network", "rm", net, check=False)
    none = summarize("network: create --network none", "composer", runs_by["none"])
    bridge = summarize("network: create --network bridge", "composer", runs_by[net])
    cpu = (bridge.cpu_ms or 0.0) - (none.cpu_ms or 0.0)
    return [
        none,
        bridge,
        value(
            "network: set-up (difference)",
            "composer",
            [bridge.median - none.median],
            "ms",
            target=10,
            note=f"median(bridge) - median(none), interleaved; CPU difference {cpu:.1f} ms",
        ),
    ]


def _first_200(
    url: str, start: list[str], gets: int, env: dict[str, str] | None = None
) -> tuple[float, float, list[float]]:
    """Run *start* (a created container's start command), then poll *url*: ms to the first 200,
    ms the start command took, and the ms of *gets* GETs once it answers."""
    t0 = time.perf_counter()
    subprocess.run(start, check=True, capture_output=True, env=env, timeout=60)
    started = time.perf_counter()
    first = None
    while time.perf_counter() - t0 < 10:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    first = time.perf_counter()
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.005)
    if first is None:
        raise Skip(f"http: no 200 from {url} within 10 s")
    lat = []
    for _ in range(gets):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=2) as resp:
            resp.read()
        lat.append((time.perf_counter() - t) * 1000)
    return (first - t0) * 1000, (started - t0) * 1000, lat


HTTPD = ["httpd", "-f", "-p", "80", "-h", "/var/www"]


def http_first_byte(gets: int = RUNS) -> list[Item]:
    """From `container start` of a busybox httpd with a published 127.0.0.1 port to the first HTTP
    200, then the latency of GETs once it is up; the same with podman beside it when installed."""
    require_image()
    name = "bench-httpd"
    remove_containers([name])
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    try:
        composer("container", "create", "--name", name, "-p", f"127.0.0.1:{port}:80", IMAGE, *HTTPD)
        first, started, lat = _first_200(url, [*COMPOSER, "container", "start", name], gets)
    finally:
        remove_containers([name])
    return [
        value("http: start to first 200", "composer", [first], "ms",
              note=f"of which `container start` {started:.0f} ms"),
        value("http: GET latency (up)", "composer", lat, "ms", note="127.0.0.1 published port (nft DNAT)"),
        *_podman_first_byte(gets),
    ]


def _podman_first_byte(gets: int) -> list[Item]:
    """podman's row for the same: a private podman (bench/compose.py), its default bridge network."""
    if not have("podman"):
        return [Note("http: podman skipped: podman is not installed")]
    from bench.compose import private_podman

    port = free_port()
    try:
        with private_podman() as env:
            subprocess.run(["podman", "create", "--name", "bench-httpd", "-p", f"127.0.0.1:{port}:80", IMAGE,
                            *HTTPD], env=env, check=True, capture_output=True, timeout=60)
            try:
                start = ["podman", "start", "bench-httpd"]
                first, started, lat = _first_200(f"http://127.0.0.1:{port}/", start, gets, env)
            finally:
                subprocess.run(["podman", "rm", "-f", "-t", "0", "bench-httpd"], env=env, capture_output=True,
                               timeout=60)
    except (Skip, subprocess.SubprocessError) as why:
        return [Note(f"http: podman skipped: {str(why)[-160:]}")]
    return [
        value("http: start to first 200", "podman", [first], "ms",
              note=f"of which `podman start` {started:.0f} ms"),
        value("http: GET latency (up)", "podman", lat, "ms", note="127.0.0.1 published port (netavark)"),
    ]


ALL = [start_latency, monitor_startup, monitor_memory, monitor_fork_server, network_setup, http_first_byte]
__all__ = ["ALL", "Note"]

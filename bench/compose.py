"""Case 6: `up -d` and `down` of generated projects of 1, 5, 10 and 20 services, and `ps`/`logs`
on the 10-service one, beside podman-compose where podman and podman-compose are installed.
Each project is `down`ed in a finally, whatever happened.

podman-compose drives a private podman (see `private_podman`): its own storage and config under a
temporary directory, with the busybox image imported from the same tarball composer uses, so the
machine's podman state is neither used nor changed."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from bench.common import COMPOSER, IMAGE, VENV_BIN, require_image
from bench.harness import (
    Item,
    Note,
    Result,
    Run,
    Skip,
    have,
    ratio,
    run_once,
    summarize,
    time_command,
    value,
)

SIZES = (1, 5, 10, 20)
REPEAT = 3
# the size with targets: a median of 3 moved by ±30% between runs on these VMs (bench/FINDINGS.md)
REPEAT_TARGET = 7
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


Env = Mapping[str, str] | None


def _down(cmd: list[str], d: str, env: Env = None) -> None:
    subprocess.run([*cmd, "down", "-t", "1"], cwd=d, capture_output=True, timeout=300, env=env)


def up_down(tool: str, cmd: list[str], sizes: tuple[int, ...] = SIZES, env: Env = None) -> list[Result]:
    """Median of REPEAT (REPEAT_TARGET where there are targets) `up -d` and `down` wall times per
    project size, with the CLI *cmd*."""
    out: list[Result] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-") as d:
            Path(d, "compose.yaml").write_text(sleepers(n))
            project = [*cmd, "-p", f"bench-up{n}"]
            _down(project, d, env)
            ups: list[Run] = []
            again: list[Run] = []  # `up -d` with everything running: observe and plan, nothing to do
            downs: list[Run] = []
            try:
                for _ in range(REPEAT_TARGET if n in TARGETS else REPEAT):
                    ups.append(run_once([*project, "up", "-d"], cwd=d, env=env))
                    if n in TARGETS:
                        again.append(run_once([*project, "up", "-d"], cwd=d, env=env))
                    downs.append(run_once([*project, "down", "-t", "1"], cwd=d, env=env))
            finally:
                _down(project, d, env)
            up_t, down_t = TARGETS.get(n, (None, None))
            out.append(summarize(f"compose: up -d, {n} services", tool, ups, target=up_t))
            if again:
                out.append(summarize(f"compose: up -d, {n} services, all running", tool, again))
            out.append(summarize(f"compose: down, {n} services", tool, downs, target=down_t))
    return out


def ps_logs(tool: str, cmd: list[str], n: int = 10, env: Env = None) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        Path(d, "compose.yaml").write_text(sleepers(n))
        project = [*cmd, "-p", f"bench-ps{n}"]
        _down(project, d, env)
        try:
            subprocess.run(
                [*project, "up", "-d"], cwd=d, check=True, capture_output=True, timeout=300, env=env
            )
            ps = summarize(
                f"compose: ps, {n} services", tool,
                time_command([*project, "ps"], runs=20, cwd=d, env=env), target=60,
            )
            logs = summarize(
                f"compose: logs, {n} services", tool,
                time_command([*project, "logs"], runs=10, cwd=d, env=env),
            )
            extra = _composer_reading(project, d, n) if tool == "composer" else []
        finally:
            _down(project, d, env)
    return [ps, logs, *extra]


def _composer_reading(project: list[str], d: str, n: int) -> list[Result]:
    """composer only: `ps` without its project cache (every load parses, validates...), `ps` by name
    without a file, and the CPU an idle `events` (it polls: no daemon) spends in 10 s."""
    from runtime.paths import Paths

    cache = f"{Paths.from_env().rundir}/cache/project"
    cold = summarize(
        f"compose: ps, {n} services, project cache cold", "composer",
        time_command([*project, "ps"], runs=10, cwd=d,
                     setup=lambda: shutil.rmtree(cache, ignore_errors=True)),
        note="the first command after an edit of the compose file or the environment",
    )
    by_name = summarize(f"compose: -p NAME ps, {n} services, no file", "composer",
                        time_command([*project, "ps"], runs=20, cwd="/"), target=60)
    proc = subprocess.Popen([*project, "events"], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(10)
    finally:
        proc.terminate()
    _, _, usage = os.wait4(proc.pid, 0)
    idle = value(f"compose: events idle 10 s, {n} services", "composer",
                 [(usage.ru_utime + usage.ru_stime) * 1000], "ms CPU",
                 note="start-up included; it looks at the engine every 0.5 s")
    return [cold, by_name, idle]


# ---- podman-compose's podman -------------------------------------------------------------------
# Measured on the development VMs (podman 4.3, root, hybrid cgroups, no systemd): podman needs
# cgroupfs and file events, and rootful podman asks crun for 1048576 open files and processes,
# which root without CAP_SYS_RESOURCE cannot set, so the default ulimits are clamped to what
# podman's own processes may set. Networks go to the temporary directory, not /etc.

PODMAN_NPROC_CEILING = 32768  # conmon's nproc here (measured); crun can set no more


def podman_compose_cmd() -> list[str] | None:
    """podman-compose as installed (on PATH or in this venv), or None."""
    found = shutil.which("podman-compose") or (
        str(VENV_BIN / "podman-compose") if (VENV_BIN / "podman-compose").exists() else None
    )
    return [found] if found and have("podman") else None


def _busybox_tar() -> Path:
    given = os.environ.get("COMPOSER_BUSYBOX_TAR")
    tar = Path(given) if given else Path(__file__).resolve().parent.parent / "build" / "busybox-rootfs.tar"
    if not tar.exists():
        raise Skip(f"podman-compose: busybox tarball {tar} missing (run `make image`)")
    return tar


def _nft_tables() -> set[str]:
    r = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    return set(r.stdout.splitlines()) if r.returncode == 0 else set()


def _aardvark_pids() -> set[int]:
    """netavark's DNS server: podman starts it for a network with DNS and leaves it running."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if b"aardvark-dns" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(int(pid))
    return found


def _cgroup_dirs(name: str) -> set[Path]:
    return {p for p in Path("/sys/fs/cgroup").glob(f"*/{name}") if p.is_dir()}


@contextlib.contextmanager
def private_podman() -> Iterator[dict[str, str]]:
    """The environment for a podman (and podman-compose) with its own storage and config; on exit
    everything it made is removed: storage, mounts, and the host state netavark leaves behind
    (its iptables-nft tables and cgroup parent) when they were not there before."""
    tables, cgroups, dns = _nft_tables(), _cgroup_dirs("libpod_parent"), _aardvark_pids()
    run_networks = Path("/run/containers")
    had_run_networks = run_networks.exists()
    base = Path(tempfile.mkdtemp(prefix="bench-podman-"))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], PODMAN_NPROC_CEILING)
    (base / "networks").mkdir()
    (base / "containers.conf").write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        f'[network]\nnetwork_config_dir = "{base / "networks"}"\n'
        '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{base / "root"}"\nrunroot = "{base / "run"}"\n'
    )
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(base / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(base / "storage.conf"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    try:
        r = subprocess.run(["podman", "import", str(_busybox_tar()), IMAGE], env=env, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise Skip(f"podman-compose: podman import failed: {r.stderr.strip()[-200:]}")
        yield env
    finally:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["podman", "system", "reset", "-f"], env=env, capture_output=True, timeout=300)
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(str(base))]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        for table in _nft_tables() - tables:
            if table in ("table ip nat", "table ip filter", "table ip6 nat", "table ip6 filter"):
                subprocess.run(["nft", "delete", *table.split()], capture_output=True)
        for top in _cgroup_dirs("libpod_parent") - cgroups:
            below = [p for p in top.rglob("*") if p.is_dir()]
            for d in sorted(below, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
        for pid in _aardvark_pids() - dns:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        if not had_run_networks:
            shutil.rmtree(run_networks, ignore_errors=True)


def compose_lifecycle() -> list[Item]:
    require_image()
    ours: list[Result] = [*up_down("composer", COMPOSER), *ps_logs("composer", COMPOSER)]
    out: list[Item] = [*ours]
    pc = podman_compose_cmd()
    theirs: list[Result] = []
    if pc is not None:
        try:
            with private_podman() as env:
                theirs = [*up_down("podman-compose", pc, env=env), *ps_logs("podman-compose", pc, env=env)]
        except Skip as why:  # composer's numbers stand without the reference column
            out.append(Note(f"compose: podman-compose skipped: {why}"))
            return out
        out.extend(theirs)
        for a, b in zip(ours, theirs, strict=False):
            out.append(Note(ratio(a.name, a, b)))
    else:
        out.append(Note("compose: podman-compose skipped: podman and podman-compose not installed"))
    return out


ALL = [compose_lifecycle]

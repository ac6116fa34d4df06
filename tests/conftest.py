"""Shared test fixtures. Tests never touch the user's real state: every engine test gets its own
COMPOSER_ROOT and COMPOSER_RUNDIR under a temporary directory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IS_ROOT = os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IS_ROOT:
        return  # as root (CI), privileged tests must run
    skip = pytest.mark.skip(reason="needs root: real namespaces, mounts, bridges and nftables")
    for item in items:
        if "privileged" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def engine_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A private runtime root and run dir, exported so that CLI subprocesses use them too."""
    root, run = tmp_path / "root", tmp_path / "run"
    monkeypatch.setenv("COMPOSER_ROOT", str(root))
    monkeypatch.setenv("COMPOSER_RUNDIR", str(run))
    yield root, run
    _remove_engine_objects(root, run)


def _remove_engine_objects(root: Path, run: Path) -> None:
    """What a test's engine still holds goes with it: containers (their own tests check they are
    gone), then networks, bridges and the engine's nftables table, e.g. the default `composer`
    network that `container run` makes on demand and keeps, as podman keeps its own."""
    if not (root / "state.db").exists():
        return
    from runtime.engine import Engine
    from runtime.paths import Paths

    engine = Engine(Paths(root=str(root), rundir=str(run)))
    try:
        try:
            containers = engine.containers.list()
        except KeyError:  # rows a test wrote by hand (volume in-use tests): not real containers
            containers = []
        for c in containers:
            engine.containers.remove(c.id, force=True, volumes=True)
        for n in engine.networks.list():
            engine.networks.remove(n.name)
    finally:
        engine.close()


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busybox rootfs tarball (built by the Makefile; built here when a test runs alone)."""
    given = os.environ.get("COMPOSER_BUSYBOX_TAR")
    if given and Path(given).exists():
        return Path(given)
    out = tmp_path_factory.mktemp("busybox") / "busybox-rootfs.tar"
    subprocess.run([str(REPO / "tools" / "mkbusybox.sh"), str(out)], check=True)
    return out


def composer_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
                 cwd: str | Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would (a subprocess), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "composer", *args], capture_output=True, text=True, input=input,
        env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
    )


BUSYBOX_IMAGE = "localhost/busybox:latest"


@pytest.fixture
def busybox_image(engine_paths: tuple[Path, Path], busybox_tar: Path) -> str:
    """The fixture image imported into this test's private engine; returns its name."""
    res = composer_cli("image", "import", str(busybox_tar), BUSYBOX_IMAGE)
    assert res.returncode == 0, res.stderr
    return BUSYBOX_IMAGE


def compose_project(tmp_path: Path, compose: str, name: str, *flags: str) -> Iterator[Path]:
    """For a fixture: a project directory holding *compose* as its compose.yaml, then, when the test
    ends however it ends, `down -v` of project *name* (with global *flags*, e.g. a profile)."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(compose)
    yield d
    composer_cli("-p", name, *flags, "down", "-v", "-t", "1", cwd=tmp_path)


def composer_ok(cwd: str | Path, *args: str, code: int | None = 0, progress: str = "plain",
                env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a compose command in *cwd* with plain progress; check its exit code unless *code* is None."""
    res = composer_cli("--progress", progress, *args, cwd=cwd, env=env, timeout=timeout)
    if code is not None:
        said = f"{res.stdout}\n{res.stderr}"
        assert res.returncode == code, f"composer {' '.join(args)}: rc {res.returncode}\n{said}"
    return res

# ---- leak check over the whole run -----------------------------------------------------------------
# Every engine a test makes lives under pytest's base temp dir, so anything still mounted there, or
# any process still running from there, when the run ends is a leak (a test or `down` that did not
# clean up). Scoped to this run's base dir so that other runs on the machine do not count.


def first_words(port: int, timeout: float = 10) -> str:
    """What a server on 127.0.0.1:*port* says first once it answers; empty when none did within
    *timeout*."""
    import socket
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(1)
                if got := s.recv(100).decode().strip():
                    return got
        except OSError:
            pass
        time.sleep(0.05)
    return ""


def _ancestors() -> set[int]:
    """This process and its parents: a wrapper such as `timeout pytest --basetemp=X` names X too."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def leftovers(base: str | Path) -> list[str]:
    """Mounts and processes that still name *base* (an engine root, a run dir, a temp dir)."""
    base = str(base)
    found = [f"mount {line}" for line in Path("/proc/mounts").read_text().splitlines() if base in line]
    mine = _ancestors()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if base in cmd and int(pid) not in mine:
            found.append(f"process {pid}: {cmd}")
    return found


def settled_leftovers(base: str | Path, timeout: float = 5.0) -> list[str]:
    """leftovers(*base*) once what was ending has ended: an attached `run --rm` returns while its
    monitor's removal waiter still deletes the container's renamed directories (a few ms: see
    runtime/autoremove.py), and a shared monitor ends just after its last container. A leak stays."""
    import time

    deadline = time.monotonic() + timeout
    found = leftovers(base)
    while found and time.monotonic() < deadline:
        time.sleep(0.02)
        found = leftovers(base)
    return found


def _run_dirs(base: str) -> list[Path]:
    """The run dirs of the engines tests made under *base* (tmp_path / "run", "run2", "fresh-run"...)."""
    return [p for pattern in ("*/*run*", "*/*/*run*") for p in Path(base).glob(pattern) if p.is_dir()]


def _nft_tables_under(base: str) -> list[str]:
    """nftables tables of engines whose run dir is under *base* (named after the run dir)."""
    import shutil

    if shutil.which("nft") is None:
        return []
    from runtime.network.nft import table_name

    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout.split()
    mine = {table_name(p) for p in _run_dirs(base)}
    return [f"nft table {t}" for t in sorted(mine & set(listed))]


def _links_under(base: str) -> list[str]:
    """Host links (bridges, host ends of veths) of engines whose run dir is under *base*: composer
    names its engine's nft table in each link's alias (links.owner_alias), so another engine's
    links (other runs on this machine) never count. The run dir in the line names the test (its
    tmp_path). A netns pin is a mount under the run dir: leftovers() reports it."""
    from runtime.network.links import owner_of
    from runtime.network.nft import table_name

    mine = {table_name(p): p for p in _run_dirs(base)}
    found = []
    for link in sorted(os.listdir("/sys/class/net")):
        run = mine.get(owner_of(link))
        if run is not None:
            with contextlib.suppress(OSError), open(f"/sys/class/net/{link}/ifalias") as f:
                alias = f.read().strip()
                kind = "bridge" if os.path.isdir(f"/sys/class/net/{link}/bridge") else "link"
                found.append(f"{kind} {link} ({alias.partition(' ')[2]}) of the engine at {run}")
    return found


def _cgroups_under(base: str) -> list[str]:
    """cgroup dirs of engines whose state root is under *base* (composer/engine-<hash of root>)."""
    from runtime.cgroups import engine_scope

    roots = [*Path(base).glob("*/root"), *Path(base).glob("*/*/root"), *Path(base).glob("*/root2")]
    scopes = {engine_scope(r) for r in roots} - {()}
    return [f"cgroup {d}" for scope in scopes for d in Path("/sys/fs/cgroup").glob(f"*/composer/{scope[0]}")]


def _stop_idle_helpers(base: str) -> None:
    """The monitor fork server lingers while idle by design; stop this run's before counting."""
    import contextlib
    import signal

    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if base in cmd and "runtime/zygote_server.py" in cmd:  # the fork server, not a pytest of its tests
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGTERM)


_skipped_privileged: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if IS_ROOT and report.skipped and not hasattr(report, "wasxfail") and "privileged" in report.keywords:
        _skipped_privileged.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_privileged:  # as root (CI) privileged tests must run: a skip hides a missing set-up
        print("\nprivileged tests skipped as root:\n  " + "\n  ".join(_skipped_privileged), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if not IS_ROOT or getattr(session.config, "workerinput", None) is not None:
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    try:
        base = str(factory.getbasetemp())
    except Exception:
        return
    import time

    _stop_idle_helpers(base)
    deadline = time.monotonic() + 5  # exits and lazy unmounts settle asynchronously
    def look() -> list[str]:
        return leftovers(base) + _nft_tables_under(base) + _cgroups_under(base) + _links_under(base)

    leaks = look()
    while leaks and time.monotonic() < deadline:
        time.sleep(0.2)
        leaks = look()
    if leaks:
        shown = "\n  ".join(leak[:200] for leak in leaks[:30])
        print("\nleak check: left behind after the run:\n  " + shown, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

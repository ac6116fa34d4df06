"""What `container run` and a container's lifecycle no longer pay for (bench/FINDINGS.md F16): the
start gate opened by the monitor itself at create (no start round trip), a post-gate start failure
that keeps the container as `start` did, the spec records built once per row content, and the wait
for the exit file by stat instead of a full get() per poll."""

from __future__ import annotations

import copy
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from composer.cli import container_attach
from runtime.containers import ContainerManager, StartError, spec_to_json
from runtime.engine import Engine
from runtime.errors import ExecError
from runtime.paths import Paths
from runtime.spec import ContainerInfo, ContainerSpec, Mount
from tests.conftest import composer_cli

IMAGE = "localhost/busybox:latest"


# ---- pure: the spec memo and the exit-file wait ----------------------------------------------


def _bare_manager(tmp_path: Path) -> ContainerManager:
    """A manager over a private root with no state behind it: enough for its pure helpers."""
    paths = Paths(root=str(tmp_path / "root"), rundir=str(tmp_path / "run"))
    return ContainerManager(SimpleNamespace(paths=paths, store=None))  # type: ignore[arg-type]


def test_a_rows_spec_is_built_once_per_content(tmp_path: Path) -> None:
    mgr = _bare_manager(tmp_path)
    raw = spec_to_json(ContainerSpec(name="a", image=IMAGE, command=("true",), labels={"k": "v"}))
    first = mgr._spec_of("c1", raw)
    assert first.labels == {"k": "v"} and first.command == ("true",)
    assert mgr._spec_of("c1", copy.deepcopy(raw)) is first   # a fresh decode of the same row
    changed = copy.deepcopy(raw)
    changed["labels"] = {"k": "w"}
    again = mgr._spec_of("c1", changed)
    assert again is not first and again.labels == {"k": "w"}
    assert mgr._spec_of("c2", raw) is not again               # per container id


def test_await_exit_file_wakes_when_the_monitor_writes_it(tmp_path: Path) -> None:
    mgr = _bare_manager(tmp_path)
    cid = "e" * 64
    run = Path(mgr.paths.container_run(cid))
    run.mkdir(parents=True)
    assert mgr.await_exit_file(cid, 0.05) is False
    timer = threading.Timer(0.1, lambda: (run / "exit.json").write_text("{}"))
    timer.start()
    try:
        t0 = time.monotonic()
        assert mgr.await_exit_file(cid, 5.0) is True
        assert time.monotonic() - t0 < 2.0
    finally:
        timer.cancel()


class _Monitorless:
    """A recording stand-in for ContainerManager in `stream_log`: the container's init has exited
    (its pid is a reaped process) and its "monitor" writes the exit file after *delay* s."""

    def __init__(self, tmp: Path, delay: float) -> None:
        self.log = tmp / "ctr.log"
        self.log.write_bytes(b"")
        self.exit_file = tmp / "exit.json"
        gone = subprocess.Popen(["true"])
        gone.wait()
        self.pid = gone.pid
        self.gets = 0
        threading.Timer(delay, lambda: self.exit_file.write_text("{}")).start()

    def log_path(self, cid: str) -> Path:
        return self.log

    def get(self, cid: str, *, fold: bool = True) -> ContainerInfo:
        self.gets += 1
        done = self.exit_file.exists()
        return ContainerInfo(id=cid, name="x", image=IMAGE, image_id="", labels={},
                             status="exited" if done else "running", created_at="", started_at="",
                             finished_at="", exit_code=3 if done else None, pid=0 if done else self.pid)

    def await_exit_file(self, cid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True


def test_stream_log_waits_for_the_exit_file_without_polling_get(tmp_path: Path) -> None:
    mgr = _Monitorless(tmp_path, delay=0.2)
    last = container_attach.stream_log(mgr, "c" * 64)  # type: ignore[arg-type]
    assert last.status == "exited" and last.exit_code == 3
    assert mgr.gets <= 15   # a get() every 2 ms made ~100 over the 0.2 s


# ---- real containers ------------------------------------------------------------------------


@pytest.fixture
def bad_interpreter(tmp_path: Path) -> Path:
    """An executable script whose interpreter does not exist: found before the gate, refused by
    execve after it (ENOENT), i.e. a failure of the start, not of the create."""
    script = tmp_path / "bad.sh"
    script.write_text("#!/nosuch/interpreter\n")
    script.chmod(0o755)
    return script


def _spec(name: str, *command: str, **kw: Any) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=command, network_mode="none", **kw)


@pytest.mark.privileged
def test_create_with_start_runs_it_without_a_start_call(engine: Engine) -> None:
    mgr = engine.containers
    info = mgr.create(_spec("t-fast", "sh", "-c", "exit 5"), start=True)
    assert info.status in ("running", "exited") and info.started_at
    assert mgr.wait(info.id, timeout=10) == 5
    run = Path(engine.paths.container_run(info.id))
    assert not [n for n in os.listdir(run) if n.startswith("reply.")]
    mgr.remove(info.id)


@pytest.mark.privileged
def test_a_start_failure_at_create_keeps_the_container_as_start_did(
    engine: Engine, bad_interpreter: Path
) -> None:
    mgr = engine.containers
    mount = Mount(type="bind", source=str(bad_interpreter), target="/bad.sh")
    with pytest.raises(StartError, match=r'exec: "/bad.sh"') as caught:
        mgr.create(_spec("t-badexec", "/bad.sh", mounts=(mount,)), start=True)
    kept = mgr.get("t-badexec")
    assert caught.value.container_id == kept.id
    assert mgr.wait(kept.id, timeout=10) == 127 and mgr.get(kept.id).status == "created"
    mgr.remove(kept.id)


@pytest.mark.privileged
def test_a_set_up_failure_at_create_with_start_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    mgr = engine.containers
    a_file = tmp_path / "f"
    a_file.write_text("")
    onto_a_dir = Mount(type="bind", source=str(a_file), target="/etc")  # the init's mount fails
    with pytest.raises(ExecError, match="^container t-nomount: mount /etc: ") as caught:
        mgr.create(_spec("t-nomount", "true", mounts=(onto_a_dir,)), start=True)
    assert not isinstance(caught.value, StartError)
    assert mgr.list(all=True) == []


@pytest.mark.privileged
def test_a_missing_command_at_create_with_start_keeps_the_container(engine: Engine) -> None:
    """docker compose's up: made, its start failed (exit code 127), it stays for the next start."""
    mgr = engine.containers
    with pytest.raises(StartError, match=r'exec: "nosuchcommand": executable file not found') as caught:
        mgr.create(_spec("t-nocmd", "nosuchcommand"), start=True)
    assert caught.value.exit_code == 127
    kept = mgr.get("t-nocmd")
    assert caught.value.container_id == kept.id
    assert mgr.wait(kept.id, timeout=10) == 127 and mgr.get(kept.id).status == "created"
    mgr.remove(kept.id)


@pytest.mark.privileged
def test_an_ipc_joiner_created_with_start_shares_its_donors_shm(engine: Engine) -> None:
    mgr = engine.containers
    donor = mgr.create(_spec("t-donor", "sh", "-c", "echo hi > /dev/shm/x; sleep 1000",
                             ipc_mode="shareable"), start=True)
    deadline = time.monotonic() + 10
    while "hi" not in _read_shm(engine, donor.id) and time.monotonic() < deadline:
        time.sleep(0.02)
    joiner = mgr.create(_spec("t-joiner", "cat", "/dev/shm/x", ipc_mode="container:t-donor"),
                        start=True)
    assert mgr.wait(joiner.id, timeout=10) == 0
    assert b"hi" in b"".join(r.text for r in mgr.logs(joiner.id))
    for c in (joiner, donor):
        mgr.remove(c.id, force=True)


def _read_shm(engine: Engine, cid: str) -> str:
    pid = engine.containers.get(cid).pid
    try:
        return Path(f"/proc/{pid}/root/dev/shm/x").read_text()
    except OSError:
        return ""


@pytest.fixture
def bb(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[tuple[Path, Path]]:
    r = composer_cli("image", "import", str(busybox_tar), IMAGE)
    assert r.returncode == 0, r.stderr
    yield engine_paths
    composer_cli("container", "rm", "-f", "t-keep", "t-gone")


@pytest.mark.privileged
def test_run_of_a_command_that_fails_to_exec(bb: tuple[Path, Path], bad_interpreter: Path) -> None:
    vol = f"{bad_interpreter}:/bad.sh"
    gone = composer_cli("container", "run", "--rm", "--network", "none", "--name", "t-gone",
                        "-v", vol, IMAGE, "/bad.sh")
    # its interpreter is missing: ENOENT, which docker run exits 127 for, as for a missing command
    assert gone.returncode == 127 and 'exec: "/bad.sh"' in gone.stderr
    kept = composer_cli("container", "run", "--network", "none", "--name", "t-keep",
                        "-v", vol, IMAGE, "/bad.sh")
    assert kept.returncode == 127 and 'exec: "/bad.sh"' in kept.stderr
    names = composer_cli("container", "ls", "-a", "--format", "{{.Names}}").stdout.split()
    assert names == ["t-keep"]   # --rm removed its own; without it the container stays, exited

# ruff: noqa: F811 - the zengine fixture is imported, then requested by name
"""Races of parallel starts under load, each made deterministic here:

- the init's report on the sync pipe: it once came from two processes (an intermediate A wrote
  ``pid N`` after forking B, B wrote ``ready``), and B's line could come first (A descheduled
  right after its fork): the monitor had no pid (``pidfd_open(0)`` in `up -d` of 20). The monitor
  now forks the init itself and knows its pid from the fork; the pipe carries one line;
- a reader that saw no exit.json, then a dead monitor, read a clean exit as "dead" (exit code 0
  from `wait`) when the monitor wrote exit.json and exited between its two looks.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime.containers import ContainerManager
from runtime.engine import Engine
from runtime.executor.supervise import _LineReader, read_sync
from runtime.spec import ContainerSpec
from tests.runtime.zygote_fixture import IMAGE, zengine  # noqa: F401 - the fixture


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_ready_is_no_error(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, b"ready\n")  # the write end stays open, as the init holds it at the gate
    assert read_sync(_LineReader(r), "c") == ""
    assert os.get_blocking(r)  # release() reads it blocking afterwards


def test_an_error_line_is_the_error(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, b"error container c: mount /x: No such file or directory\n")
    assert read_sync(_LineReader(r), "c") == "error container c: mount /x: No such file or directory"


def test_eof_before_ready_is_an_error(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.close(w)
    assert read_sync(_LineReader(r), "c") == "error container c: init exited during setup"


def test_ready_and_an_exec_error_written_at_once_are_both_read(pipe: tuple[int, int]) -> None:
    """An init started at once (a create with start) does not wait at the gate after "ready": its
    exec's error line may follow in the same read; the monitor reads on with the same reader."""
    r, w = pipe
    os.write(w, b'ready\nerror exec: "nosuch": executable file not found in $PATH\n')
    os.close(w)
    reader = _LineReader(r)
    assert read_sync(reader, "c") == ""
    assert reader.readline() == 'error exec: "nosuch": executable file not found in $PATH'
    assert reader.readline() is None


def test_sync_lines_are_read_in_chunks(pipe: tuple[int, int]) -> None:
    """Not a byte per read (each read takes the pod monitor's GIL again): a line in one read, a
    line split over writes in as many, and a last line without its newline at EOF."""
    from runtime.executor.supervise import _LineReader

    r, w = pipe
    reader = _LineReader(r)
    os.write(w, b"ready\nerror x\n")
    assert (reader.readline(), reader.readline()) == ("ready", "error x")
    os.write(w, b"err")
    os.write(w, b"or y\ntail")
    os.close(w)
    assert (reader.readline(), reader.readline(), reader.readline()) == ("error y", "tail", None)


def spec(name: str, *cmd: str) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=cmd, network_mode="none")


class ExitsBetweenLooks(ContainerManager):
    """The monitor writes exit.json and exits right after a reader found no exit.json: the first
    liveness check puts the held-back file in place and reports the monitor dead."""

    held: dict[str, bytes] = {}

    def _monitor_alive(self, cid: str) -> bool:
        data = self.held.pop(cid, None)
        if data is not None:
            (Path(self.paths.container_run(cid)) / "exit.json").write_bytes(data)
        return False


@pytest.mark.privileged
def test_an_exit_between_two_looks_is_an_exit(zengine: Engine) -> None:
    c = zengine.containers.create(spec("race-exit", "sh", "-c", "sleep 0.1; exit 7"))  # after start()
    zengine.containers.start(c.id)
    run = Path(zengine.paths.container_run(c.id))
    # wait for the monitor's last write without reading state (a read would fold it)
    for _ in range(500):
        if (run / "exit.json").exists() and not zengine.containers._monitor_alive(c.id):
            break
        time.sleep(0.01)
    exit_json = (run / "exit.json").read_bytes()
    (run / "exit.json").unlink()
    (run / "state.json").write_text('{"status": "running", "pid": 1, "exit_code": null}')
    racy = ExitsBetweenLooks(zengine)
    racy.held[c.id] = exit_json
    info = racy.get(c.id)
    assert (info.status, info.exit_code) == ("exited", 7)


@pytest.mark.privileged
@pytest.mark.parametrize("use_zygote", ["0", "1"])
def test_parallel_creates_all_start_and_record_their_exit_codes(
    zengine: Engine, monkeypatch: pytest.MonkeyPatch, use_zygote: str
) -> None:
    monkeypatch.setenv("COMPOSER_ZYGOTE", use_zygote)
    n = 10
    with ThreadPoolExecutor(n) as pool:
        infos = list(
            pool.map(lambda i: zengine.containers.create(spec(f"par-{i}", "sh", "-c", f"exit {i}")), range(n))
        )
        list(pool.map(lambda c: zengine.containers.start(c.id), infos))
        codes = list(pool.map(lambda c: zengine.containers.wait(c.id, timeout=20), infos))
    assert codes == list(range(n))

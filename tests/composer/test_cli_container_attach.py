"""`container run` (attached) follows the log until the container stops, waiting on a pidfd of its
init between reads: an exit is seen when it happens, not at the next poll tick."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from composer.cli.container_attach import EscapeFilter, detach_sequence, stream_log, wait_exit
from runtime.logs import encode_chunk
from runtime.spec import ContainerInfo


def test_wait_exit_returns_when_the_process_exits_not_at_the_timeout() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    try:
        assert wait_exit(proc.pid, 0.05) is False  # still running: the timeout
        t = time.monotonic()
        assert wait_exit(proc.pid, 10) is True
        assert time.monotonic() - t < 5
    finally:
        proc.wait()
    assert wait_exit(proc.pid, 10) is True  # reaped and gone


def _info(status: str, pid: int = 0, code: int | None = None) -> ContainerInfo:
    return ContainerInfo(id="c1", name="t", image="i", image_id="", labels={}, status=status,  # type: ignore[arg-type]
                         created_at="", pid=pid, exit_code=code)


@dataclass
class StatusScript:
    """A container manager that reports scripted statuses (one per get()) and a real log file."""

    log: Path
    infos: list[ContainerInfo]
    gets: int = 0
    calls: list[str] = field(default_factory=list)

    def log_path(self, ref: str) -> Path:
        return self.log

    def get(self, ref: str, *, fold: bool = True) -> ContainerInfo:
        self.gets += 1
        return self.infos[min(self.gets, len(self.infos)) - 1]


def test_stream_log_prints_the_lines_and_returns_the_last_status(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "ctr.log"
    log.write_bytes(encode_chunk("stdout", b"hello\n") + encode_chunk("stderr", b"oops\n"))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that has exited: the monitor writes its exit file next
    mgr = StatusScript(log, [_info("running", proc.pid), _info("running", proc.pid), _info("exited", code=7)])
    t = time.monotonic()
    last = stream_log(mgr, "c1", poll=5.0)  # type: ignore[arg-type]
    assert time.monotonic() - t < 2.5  # never slept a poll tick
    assert last.exit_code == 7 and last.status == "exited"
    out, err = capfd.readouterr()
    assert (out, err) == ("hello\n", "oops\n")


def test_detach_keys_are_read_as_moby_term_reads_them() -> None:
    assert detach_sequence("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detach_sequence("a,CTRL-@,ctrl-\\,ctrl-_") == b"a\x00\x1c\x1f"
    for bad in ("ctrl-zz", "shift-a", "", "ab"):
        with pytest.raises(ValueError):
            detach_sequence(bad)


def test_escape_filter_holds_a_begun_sequence_back_and_passes_it_on_when_it_breaks() -> None:
    f = EscapeFilter(b"\x10\x11")
    assert f.feed(b"ab\x10") == (b"ab", False)
    assert f.feed(b"c\x10\x10") == (b"\x10c\x10", False)  # broken off twice; the last one begins again
    assert f.feed(b"\x11rest") == (b"", True)

# ruff: noqa: F811 - the zengine fixture is imported, then requested by name
"""The monitor fork server: real containers whose monitors the zygote forked behave exactly like
directly spawned ones; the zygote is shared, replaceable, optional, and goes away when idle."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import zygote
from runtime.engine import Engine
from runtime.logs import join_partials
from runtime.spec import ContainerSpec, Healthcheck, RestartPolicy
from tests.runtime.conftest import cmdline, wait_for
from tests.runtime.zygote_fixture import IMAGE, leftovers, zengine  # noqa: F401 - the fixture

pytestmark = pytest.mark.privileged


def spec(name: str, *cmd: str, **kw: object) -> ContainerSpec:
    kw.setdefault("network_mode", "none")
    return ContainerSpec(name=name, image=IMAGE, command=cmd or None, **kw)  # type: ignore[arg-type]


def rundir(eng: Engine) -> str:
    return str(eng.paths.rundir)


def monitor_pid(eng: Engine, cid: str) -> int:
    return int(json.loads((Path(eng.paths.container_run(cid)) / "monitor.json").read_text())["pid"])


def forked(pid: int) -> bool:
    """A zygote's child: its command line was written over the zygote's padded one (NULs remain)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"\0\0")


def ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_a_forked_monitor_records_exit_code_and_logs(zengine: Engine) -> None:
    c = zengine.containers.create(spec("z-exit", "sh", "-c", "echo out; echo err >&2; exit 3"))
    zpid = zygote.zygote_pid(rundir(zengine))
    assert zpid is not None
    mon = monitor_pid(zengine, c.id)
    # found by its command line exactly like a directly spawned monitor, not the zygote's child
    assert cmdline(mon)[3:] == [
        zygote.MONITOR,
        str(zengine.paths.container_dir(c.id)),
        rundir(zengine) + f"/containers/{c.id}",
    ]
    assert forked(mon)
    # detached: its own session; the zygote's child (one fork, not two: see supervise.main)
    assert ppid(mon) == zpid and os.getsid(mon) == mon != os.getsid(zpid)
    assert sorted(os.listdir(f"/proc/{mon}/fd"), key=int)[:3] == ["0", "1", "2"]
    assert os.readlink(f"/proc/{mon}/fd/1") == "/dev/null"
    assert os.readlink(f"/proc/{mon}/fd/2").endswith("/monitor.err")
    zengine.containers.start(c.id)
    assert zengine.containers.wait(c.id, timeout=10) == 3
    info = zengine.containers.get(c.id)
    assert info.status == "exited" and info.exit_code == 3
    recs = list(join_partials(zengine.containers.logs(c.id)))
    assert [(r.stream, r.text) for r in recs] in (
        [("stdout", b"out"), ("stderr", b"err")],
        [("stderr", b"err"), ("stdout", b"out")],
    )


def test_the_zygote_is_reused_and_restart_policy_stop_and_healthcheck_work(zengine: Engine) -> None:
    c1 = zengine.containers.create(
        spec(
            "z-restart",
            "sh",
            "-c",
            "echo run; exit 2",
            restart=RestartPolicy(name="on-failure", max_retries=2),
        )
    )
    zpid = zygote.zygote_pid(rundir(zengine))
    zengine.containers.start(c1.id)
    wait_for(
        lambda: (
            zengine.containers.get(c1.id).status == "exited"
            and zengine.containers.get(c1.id).restart_count == 2
        )
    )
    assert zengine.containers.get(c1.id).exit_code == 2
    assert [r.text for r in zengine.containers.logs(c1.id)] == [b"run"] * 3

    hc = Healthcheck(test=("CMD", "true"), interval=0.1, timeout=1, retries=1)
    c2 = zengine.containers.create(spec("z-health", "sleep", "100", healthcheck=hc))
    zengine.containers.start(c2.id)
    wait_for(lambda: zengine.containers.get(c2.id).health == "healthy")
    info = zengine.containers.stop(c2.id, timeout=1)
    assert info.status == "exited" and info.exit_code == 137  # sleep as PID 1 ignores SIGTERM
    # a stopped container starts again through a fresh forked monitor
    zengine.containers.start(c2.id)
    assert zengine.containers.get(c2.id).status == "running"
    zengine.containers.stop(c2.id, timeout=1)
    assert zygote.zygote_pid(rundir(zengine)) == zpid  # one zygote served every monitor


def test_sigkill_of_the_zygote_leaves_containers_alone_and_a_new_one_replaces_it(zengine: Engine) -> None:
    c = zengine.containers.create(spec("z-orphan", "sh", "-c", "read x < /dev/null; sleep 100"))
    zengine.containers.start(c.id)
    old = zygote.zygote_pid(rundir(zengine))
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: zygote.zygote_pid(rundir(zengine)) is None)
    assert Path(rundir(zengine), zygote.SOCK).exists()  # stale: nobody listens
    time.sleep(0.2)
    assert zengine.containers.get(c.id).status == "running"  # its monitor did not care
    c2 = zengine.containers.create(spec("z-after", "sh", "-c", "exit 7"))
    new = zygote.zygote_pid(rundir(zengine))
    assert new is not None and new != old
    zengine.containers.start(c2.id)
    assert zengine.containers.wait(c2.id, timeout=10) == 7
    # the first container's exit is still recorded by its monitor
    zengine.containers.kill(c.id, "SIGKILL")
    assert zengine.containers.wait(c.id, timeout=10) == 137
    assert zengine.containers.get(c.id).status == "exited"


def test_no_zygote_env_spawns_directly(zengine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(zygote.NO_ZYGOTE_ENV, "1")
    c = zengine.containers.create(spec("z-direct", "sh", "-c", "exit 5"))
    assert not Path(rundir(zengine), zygote.SOCK).exists()
    assert zygote.zygote_pid(rundir(zengine)) is None
    mon = monitor_pid(zengine, c.id)
    assert cmdline(mon)[3] == zygote.MONITOR and not forked(mon)
    zengine.containers.start(c.id)
    assert zengine.containers.wait(c.id, timeout=10) == 5


@pytest.fixture
def broken_zygote(zengine: Engine) -> Iterator[list[int]]:
    """A listener at the zygote's socket that hangs up on every client (a broken zygote)."""
    os.makedirs(rundir(zengine), exist_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(os.path.join(rundir(zengine), zygote.SOCK))
    srv.listen(8)
    served: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.close()
            served.append(1)

    t = threading.Thread(target=loop)
    t.start()
    yield served
    stop.set()
    t.join()
    srv.close()
    os.unlink(os.path.join(rundir(zengine), zygote.SOCK))


def test_an_unusable_zygote_falls_back_to_the_direct_path(zengine: Engine, broken_zygote: list[int]) -> None:
    c = zengine.containers.create(spec("z-fallback", "sh", "-c", "exit 4"))
    assert broken_zygote == [1]  # it was asked, hung up, and the monitor was spawned directly
    mon = monitor_pid(zengine, c.id)
    assert cmdline(mon)[3] == zygote.MONITOR and not forked(mon)
    zengine.containers.start(c.id)
    assert zengine.containers.wait(c.id, timeout=10) == 4


def test_idle_exit_removes_the_socket_and_monitors_live_on(
    zengine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(zygote.IDLE_ENV, "0.5")
    c = zengine.containers.create(spec("z-idle", "sleep", "100"))
    zengine.containers.start(c.id)
    zpid = zygote.zygote_pid(rundir(zengine))
    assert zpid is not None
    wait_for(lambda: not Path(rundir(zengine), zygote.SOCK).exists(), timeout=10)
    wait_for(lambda: zygote.zygote_pid(rundir(zengine)) is None)
    assert not Path(rundir(zengine), zygote.PIDFILE).exists()
    assert zengine.containers.get(c.id).status == "running"
    assert zengine.containers.stop(c.id, timeout=1).exit_code == 137


def test_stop_ends_the_zygote(zengine: Engine) -> None:
    zengine.containers.create(spec("z-stop", "true"))
    zpid = zygote.zygote_pid(rundir(zengine))
    assert zpid is not None
    zygote.stop(zengine.paths)
    assert zygote.zygote_pid(rundir(zengine)) is None
    assert not Path(rundir(zengine), zygote.SOCK).exists()
    assert not [p for p in leftovers(zengine.paths.rundir) if "zygote_server.py" in p]


def _rollup(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        out[key.strip()] = int(rest.split()[0])
    return out


def test_memory_of_ten_forked_monitors_is_reported(zengine: Engine) -> None:
    ids = []
    for i in range(10):
        c = zengine.containers.create(spec(f"z-mem-{i}", "sleep", "100"))
        zengine.containers.start(c.id)
        ids.append(c.id)
    time.sleep(0.5)
    rolls = [_rollup(monitor_pid(zengine, cid)) for cid in ids]
    pss = sum(r["Pss"] for r in rolls) / len(rolls)
    private = sum(r["Private_Clean"] + r["Private_Dirty"] for r in rolls) / len(rolls)
    rss = sum(r["Rss"] for r in rolls) / len(rolls)
    zpid = zygote.zygote_pid(rundir(zengine))
    assert zpid is not None
    print(
        f"\nzygote monitors (10 running): pss {pss:.0f} kB, private {private:.0f} kB, rss {rss:.0f} kB; "
        f"zygote pss {_rollup(zpid)['Pss']} kB"
    )
    for cid in ids:
        zengine.containers.stop(cid, timeout=1)


def test_a_zygote_whose_code_changed_retires_and_is_replaced(zengine: Engine) -> None:
    c1 = zengine.containers.create(spec("z-old", "sh", "-c", "exit 1"))
    old = zygote.zygote_pid(rundir(zengine))
    assert old is not None
    os.utime(zygote.ZYGOTE)  # "the code changed": its mtime moved
    c2 = zengine.containers.create(spec("z-mid", "sh", "-c", "exit 2"))  # served directly
    wait_for(lambda: zygote.zygote_pid(rundir(zengine)) is None)
    c3 = zengine.containers.create(spec("z-new", "sh", "-c", "exit 3"))
    new = zygote.zygote_pid(rundir(zengine))
    assert new is not None and new != old
    for c, code in ((c1, 1), (c2, 2), (c3, 3)):
        zengine.containers.start(c.id)
        assert zengine.containers.wait(c.id, timeout=10) == code


def test_enabled_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(zygote.ZYGOTE_ENV, raising=False)
    monkeypatch.delenv(zygote.NO_ZYGOTE_ENV, raising=False)
    assert zygote.enabled() is zygote.ON_BY_DEFAULT
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "1")
    assert zygote.enabled()
    monkeypatch.setenv(zygote.NO_ZYGOTE_ENV, "1")  # the direct path wins
    assert not zygote.enabled()
    monkeypatch.delenv(zygote.NO_ZYGOTE_ENV)
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "0")
    assert not zygote.enabled()


def test_parallel_first_creates_start_one_zygote(zengine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        infos = list(
            pool.map(
                lambda i: zengine.containers.create(spec(f"z-par-{i}", "sh", "-c", f"exit {i}")), range(6)
            )
        )
    zygotes = [p for p in leftovers(zengine.paths.rundir) if "runtime/zygote_server.py" in p]
    assert len(zygotes) == 1, zygotes
    for i, c in enumerate(infos):
        mon = monitor_pid(zengine, c.id)
        assert cmdline(mon)[3] == zygote.MONITOR and forked(mon)
        zengine.containers.start(c.id)
        assert zengine.containers.wait(c.id, timeout=10) == i


def test_the_zygote_is_worth_it_from_the_second_container(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(zygote.NO_ZYGOTE_ENV, raising=False)
    monkeypatch.delenv(zygote.ZYGOTE_ENV, raising=False)
    assert not zygote.worth_it(str(tmp_path), others=False)  # a lone container: spawned directly
    assert zygote.worth_it(str(tmp_path), others=True)
    (tmp_path / zygote.SOCK).touch()  # one runs already: always use it
    assert zygote.worth_it(str(tmp_path), others=False)
    monkeypatch.setenv(zygote.NO_ZYGOTE_ENV, "1")
    assert not zygote.worth_it(str(tmp_path), others=True)
    monkeypatch.delenv(zygote.NO_ZYGOTE_ENV)
    (tmp_path / zygote.SOCK).unlink()
    monkeypatch.setenv(zygote.ZYGOTE_ENV, "1")
    assert zygote.worth_it(str(tmp_path), others=False)


def test_without_shared_monitors_the_second_container_starts_it_and_the_last_removal_stops_it(
    zengine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(zygote.ZYGOTE_ENV)  # not forced ...
    monkeypatch.setenv(zygote.POD_ENV, "0")  # ... and lone containers get a process each
    first = zengine.containers.create(spec("z-auto-1", "sleep", "30"))
    assert zygote.zygote_pid(rundir(zengine)) is None and not forked(monitor_pid(zengine, first.id))
    second = zengine.containers.create(spec("z-auto-2", "sleep", "30"))
    assert zygote.zygote_pid(rundir(zengine)) is not None and forked(monitor_pid(zengine, second.id))
    zengine.containers.remove(first.id, force=True)
    assert zygote.zygote_pid(rundir(zengine)) is not None  # a container remains
    zengine.containers.remove(second.id, force=True)
    assert zygote.zygote_pid(rundir(zengine)) is None
    assert [p for p in leftovers(zengine.paths.rundir) if "zygote" in p] == []


def test_by_default_lone_containers_share_one_monitor_and_start_no_zygote(
    zengine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(zygote.ZYGOTE_ENV)  # the default, not forced
    monkeypatch.delenv(zygote.POD_ENV, raising=False)
    first = zengine.containers.create(spec("z-lone-1", "sleep", "30"))
    second = zengine.containers.create(spec("z-lone-2", "sleep", "30"))
    mons = [json.loads((Path(zengine.paths.container_run(c.id)) / "monitor.json").read_text())
            for c in (first, second)]
    assert mons[0]["process"] == mons[1]["process"] and mons[0]["pid"] != mons[1]["pid"]
    assert zygote.zygote_pid(rundir(zengine)) is None
    zengine.containers.remove(first.id, force=True)
    assert os.path.exists(f"/proc/{mons[0]['process']}")  # a container remains
    zengine.containers.remove(second.id, force=True)
    wait_for(lambda: leftovers(zengine.paths.rundir) == [])  # the last one gone: so is the process


def test_the_first_line_is_read_in_chunks_and_what_follows_it_kept() -> None:
    """`forked PID` is read in one recv, not a byte per recv: each recv takes the GIL again, which
    `up`'s busy threads can hold for a switch interval each time (FINDINGS F20)."""
    a, b = socket.socketpair()
    with a, b:
        calls: list[int] = []

        class Counted:
            def recv(self, n: int) -> bytes:
                calls.append(n)
                return b.recv(n)

        a.sendall(b"forked 12\nok 34\n")
        line, rest = zygote._read_line(Counted())  # type: ignore[arg-type]
        assert (line, rest, len(calls)) == (b"forked 12\n", bytearray(b"ok 34\n"), 1)
        a.sendall(b"forked")
        a.sendall(b" 5\n")
        line, rest = zygote._read_line(b)
        assert (line, rest) == (b"forked 5\n", bytearray())
        a.close()
        assert zygote._read_line(b) == (b"", bytearray())  # EOF: no line

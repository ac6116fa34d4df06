# ruff: noqa: F811 - the zengine fixture is imported, then requested by name
"""The shared monitor of a pod (runtime/executor/podmon.py): one process runs the monitors of all the
containers of a pod, each in its own thread (issue 3, F4). Real containers, real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from runtime import zygote
from runtime.container_monitor import wait_monitor_exit
from runtime.engine import Engine
from runtime.errors import ExecError
from runtime.executor import podmon
from runtime.logs import join_partials
from runtime.spec import ContainerSpec, Healthcheck, RestartPolicy
from tests.runtime.conftest import processes, wait_for, zombie_children
from tests.runtime.zygote_fixture import IMAGE, settled_leftovers, zengine  # noqa: F401 - the fixture

pytestmark = pytest.mark.privileged

POD = "podmon-test"


def spec(name: str, *cmd: str, pod: str | None = POD, **kw: object) -> ContainerSpec:
    kw.setdefault("network_mode", "none")
    return ContainerSpec(name=name, image=IMAGE, command=cmd or None, pod=pod, **kw)  # type: ignore[arg-type]


def monitor(eng: Engine, cid: str) -> dict[str, int]:
    return json.loads((Path(eng.paths.container_run(cid)) / "monitor.json").read_text())  # type: ignore[no-any-return]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def pod_socket(eng: Engine, pod: str = POD) -> str:
    return zygote.pod_socket(str(eng.paths.rundir), pod)


def test_a_pods_containers_share_one_monitor_process(zengine: Engine) -> None:
    a = zengine.containers.create(
        spec("pm-a", "sh", "-c", "echo a-out; echo a-err >&2; trap 'exit 7' TERM; sleep 60 & wait")
    )
    b = zengine.containers.create(spec("pm-b", "sh", "-c", "exit 3"))
    lone = zengine.containers.create(spec("pm-lone", "sleep", "60", pod=None))
    ma, mb, ml = monitor(zengine, a.id), monitor(zengine, b.id), monitor(zengine, lone.id)
    # one process, one thread each; the lone container keeps a process of its own
    assert ma["process"] == mb["process"] and ma["pid"] != mb["pid"]
    assert ma["pid"] != ma["process"] and os.path.isdir(f"/proc/{ma['process']}/task/{ma['pid']}")
    assert "process" not in ml and ml["pid"] != ma["process"]
    assert os.path.exists(pod_socket(zengine))
    proc = ma["process"]
    for c in (a, b):
        zengine.containers.start(c.id)
    assert zengine.containers.wait(b.id, timeout=10) == 3
    info = zengine.containers.get(b.id)
    assert info.status == "exited" and info.exit_code == 3
    assert zengine.containers.get(a.id).status == "running"
    # b's thread ended, the process serves on for a
    wait_for(lambda: not os.path.isdir(f"/proc/{proc}/task/{mb['pid']}"))
    assert alive(proc)
    wait_for(lambda: len(list(join_partials(zengine.containers.logs(a.id)))) == 2)
    texts = sorted(r.text for r in join_partials(zengine.containers.logs(a.id)))
    assert texts == [b"a-err", b"a-out"]
    # a restart of b: a new thread in the same process
    zengine.containers.start(b.id)
    assert monitor(zengine, b.id)["process"] == proc
    assert zengine.containers.wait(b.id, timeout=10) == 3
    # the wait for a container's monitor is the wait for its thread (a thread's pidfd)
    assert wait_monitor_exit(zengine.containers, a.id, 0.2) is False
    # stop with grace: the thread ends, not the process
    zengine.containers.stop(a.id, timeout=30)
    info = zengine.containers.get(a.id)
    assert info.status == "exited" and info.exit_code == 7
    assert wait_monitor_exit(zengine.containers, a.id, 5) is True
    # no container of the pod runs any more: the process and its socket are gone
    wait_for(lambda: not alive(proc) and not os.path.exists(pod_socket(zengine)))
    for c in (a, b, lone):
        zengine.containers.remove(c.id, force=True)


def test_sigkill_of_a_pods_monitor_is_reported_for_every_container_and_rm_cleans(
    zengine: Engine,
) -> None:
    ids = []
    for i in range(3):
        c = zengine.containers.create(spec(f"pm-kill-{i}", "sleep", "100"))
        zengine.containers.start(c.id)
        ids.append(c.id)
    other = zengine.containers.create(spec("pm-other", "sleep", "100", pod="podmon-other"))
    zengine.containers.start(other.id)
    proc = monitor(zengine, ids[0])["process"]
    assert {monitor(zengine, c)["process"] for c in ids} == {proc}
    inits = [zengine.containers.get(c).pid for c in ids]
    os.kill(proc, signal.SIGKILL)
    wait_for(lambda: not alive(proc))
    # every container it served reads truthfully: its monitor is gone (its threads end with the
    # process: a moment after its leader), its workload outlived it
    for cid, init in zip(ids, inits, strict=True):
        wait_for(lambda cid=cid: zengine.containers.get(cid).status == "dead")  # type: ignore[misc]
        assert alive(init)
    # the blast radius is one pod
    assert zengine.containers.get(other.id).status == "running"
    for cid in ids:
        zengine.containers.remove(cid, force=True)
    for init in inits:
        wait_for(lambda init=init: not alive(init))  # type: ignore[misc]
    # a new container of the pod gets a new shared monitor (the stale socket is replaced)
    c = zengine.containers.create(spec("pm-again", "sh", "-c", "exit 5"))
    assert monitor(zengine, c.id)["process"] != proc
    zengine.containers.start(c.id)
    assert zengine.containers.wait(c.id, timeout=10) == 5
    zengine.containers.remove(c.id, force=True)
    zengine.containers.remove(other.id, force=True)
    assert settled_leftovers(Path(zengine.paths.root).parent) == []


def test_restarts_healthchecks_and_orphans_in_a_shared_monitor(zengine: Engine) -> None:
    hc = Healthcheck(test=("CMD", "true"), interval=0.2, timeout=2, retries=3, start_period=0)
    healthy = zengine.containers.create(spec("pm-health", "sleep", "60", healthcheck=hc))
    retry = RestartPolicy(name="on-failure", max_retries=2)
    # each run is PID 1 of a PID namespace of its own: the thread that forks it again could
    # unshare one again (its children's namespace was set back after each fork)
    flaky = zengine.containers.create(spec("pm-restart", "sh", "-c", "echo run $$; exit 1", restart=retry))
    # orphans re-parented to the shared process (host PID namespace) are reaped by its main thread
    orphans = zengine.containers.create(
        spec("pm-orphans", "sh", "-c", "sh -c 'sleep 0.2 &'; sleep 30", pid_mode="host")
    )
    for c in (healthy, flaky, orphans):
        zengine.containers.start(c.id)
    assert zengine.containers.wait(flaky.id, timeout=20) == 1
    info = zengine.containers.get(flaky.id)
    assert info.restart_count == 2
    assert [r.text for r in join_partials(zengine.containers.logs(flaky.id))] == [b"run 1"] * 3
    wait_for(lambda: zengine.containers.get(healthy.id).health == "healthy")
    proc = monitor(zengine, healthy.id)["process"]
    assert monitor(zengine, orphans.id)["process"] == proc

    time.sleep(0.6)
    wait_for(lambda: zombie_children(proc) == [], timeout=5)
    assert zengine.containers.get(healthy.id).health == "healthy"
    for c in (healthy, flaky, orphans):
        zengine.containers.remove(c.id, force=True)
    assert not alive(proc)


def _fds(proc: int) -> list[str]:
    """What *proc*'s fds name."""
    links = []
    for fd in os.listdir(f"/proc/{proc}/fd"):
        try:
            links.append(os.readlink(f"/proc/{proc}/fd/{fd}"))
        except OSError:
            continue  # closed meanwhile
    return links


def _pidfds(proc: int) -> int:
    return sum(1 for link in _fds(proc) if "pidfd" in link)


def test_a_restart_that_cannot_exec_leaves_no_init_and_no_pidfd_in_the_shared_monitor(
    zengine: Engine,
) -> None:
    """restart: always of a run that removed its own command: the restart's exec fails, the
    container stays exited (127, the start's error) and its thread reaps that init and closes
    its pidfd before it ends: the pod's process lives on for the other containers."""
    keeper = zengine.containers.create(spec("pm-keeper", "sleep", "60"))
    gone = zengine.containers.create(spec("pm-rmsh", "sh", "-c", "rm /bin/sh",
                                          restart=RestartPolicy(name="always")))
    for c in (keeper, gone):
        zengine.containers.start(c.id)
    proc = monitor(zengine, keeper.id)["process"]
    assert monitor(zengine, gone.id)["process"] == proc
    wait_for(lambda: zengine.containers.get(gone.id).error)
    info = zengine.containers.get(gone.id)
    assert (info.status, info.exit_code, info.restart_count) == ("exited", 127, 1)
    assert wait_monitor_exit(zengine.containers, gone.id, 5.0)
    assert _pidfds(proc) == 1  # the keeper's init only
    assert zombie_children(proc) == []
    for c in (keeper, gone):
        zengine.containers.remove(c.id, force=True)


def test_an_init_whose_set_up_fails_leaves_no_pidfd_in_the_shared_monitor(zengine: Engine) -> None:
    """The monitor opens the init's pidfd while the init builds its rootfs: an init that then
    fails (a working dir it cannot make in a read-only root) leaves the pod's process none."""
    keeper = zengine.containers.create(spec("pm-keeper", "sleep", "60"))
    zengine.containers.start(keeper.id)
    proc = monitor(zengine, keeper.id)["process"]
    with pytest.raises(ExecError, match="pm-rofail"):
        zengine.containers.create(spec("pm-rofail", "true", read_only=True, working_dir="/no/such/dir"))
    assert alive(proc) and _pidfds(proc) == 1  # the keeper's init only
    wait_for(lambda: zombie_children(proc) == [], timeout=5)
    zengine.containers.remove(keeper.id, force=True)


def test_a_container_that_ended_leaves_the_shared_monitor_none_of_its_files(zengine: Engine) -> None:
    """The pod's process lives on after a container's thread ended: that thread's ctl FIFO and
    log file are closed (else each container served left two fds, and a removed container's
    log its blocks on disk, until the process exits)."""
    keeper = zengine.containers.create(spec("pm-keeper", "sleep", "60"))
    done = zengine.containers.create(spec("pm-done", "true"))
    for c in (keeper, done):
        zengine.containers.start(c.id)
    proc = monitor(zengine, keeper.id)["process"]
    assert monitor(zengine, done.id)["process"] == proc
    assert wait_monitor_exit(zengine.containers, done.id, 5.0)
    assert [fd for fd in _fds(proc) if done.id in fd] == []
    assert [fd for fd in _fds(proc) if keeper.id in fd]  # the live one's are open
    for c in (keeper, done):
        zengine.containers.remove(c.id, force=True)


def test_the_monitor_forks_each_init_into_its_pid_namespace_itself(zengine: Engine) -> None:
    """No intermediate process: an init's parent is the monitor process, it is PID 1 of a PID
    namespace of its own, and every thread of the monitor forks beside itself again after."""
    a = zengine.containers.create(spec("pm-direct-a", "sleep", "60"))
    b = zengine.containers.create(spec("pm-direct-b", "sleep", "60"))
    for c in (a, b):
        zengine.containers.start(c.id)
    proc = monitor(zengine, a.id)["process"]
    own = os.readlink("/proc/self/ns/pid")
    namespaces = set()
    for c in (a, b):
        pid = zengine.containers.get(c.id).pid
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        assert int(status["PPid"]) == proc
        assert status["NSpid"].split() == [str(pid), "1"]
        namespaces.add(os.readlink(f"/proc/{pid}/ns/pid"))
    assert len(namespaces) == 2 and own not in namespaces
    assert os.readlink(f"/proc/{proc}/ns/pid") == own
    for tid in os.listdir(f"/proc/{proc}/task"):
        assert os.readlink(f"/proc/{proc}/task/{tid}/ns/pid_for_children") == own
    for c in (a, b):
        zengine.containers.remove(c.id, force=True)


def test_pause_and_kill_of_a_created_container_in_a_shared_monitor(zengine: Engine) -> None:
    a = zengine.containers.create(spec("pm-pause", "sleep", "60"))
    b = zengine.containers.create(spec("pm-created", "sleep", "60"))
    zengine.containers.start(a.id)
    zengine.containers.pause(a.id)
    assert zengine.containers.get(a.id).status == "paused"
    zengine.containers.unpause(a.id)
    assert zengine.containers.get(a.id).status == "running"
    proc = monitor(zengine, b.id)["process"]
    # removing a created container (its init at the gate) ends its thread only
    zengine.containers.remove(b.id, force=True)
    assert alive(proc) and zengine.containers.get(a.id).status == "running"
    zengine.containers.remove(a.id, force=True)
    assert not alive(proc)


def test_pod_monitors_can_be_turned_off(zengine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(zygote.POD_ENV, "0")
    a = zengine.containers.create(spec("pm-off-a", "true"))
    b = zengine.containers.create(spec("pm-off-b", "true"))
    ma, mb = monitor(zengine, a.id), monitor(zengine, b.id)
    assert "process" not in ma and "process" not in mb and ma["pid"] != mb["pid"]
    for c in (a, b):
        zengine.containers.remove(c.id, force=True)


def test_a_restart_in_a_shared_monitor_shares_the_donors_dev_shm(zengine: Engine, tmp_path: Path) -> None:
    """A restart of an ipc joiner mounts its donor's /dev/shm again: from a forked child (setns into
    a mount namespace is refused to a multi-threaded process)."""
    from runtime.spec import ExecSpec

    donor = zengine.containers.create(spec("pm-donor", "sleep", "60", ipc_mode="shareable"))
    zengine.containers.start(donor.id)
    with open(tmp_path / "out", "wb") as f:
        cmd = ExecSpec(command=("sh", "-c", "echo shared > /dev/shm/a"))
        assert zengine.containers.exec(donor.id, cmd, stdout=f.fileno(), stderr=f.fileno()) == 0
    retry = RestartPolicy(name="on-failure", max_retries=2)
    joiner = zengine.containers.create(
        spec("pm-joiner", "sh", "-c", "cat /dev/shm/a; exit 1", ipc_mode="container:pm-donor", restart=retry)
    )
    assert monitor(zengine, joiner.id)["process"] == monitor(zengine, donor.id)["process"]
    zengine.containers.start(joiner.id)
    assert zengine.containers.wait(joiner.id, timeout=20) == 1
    info = zengine.containers.get(joiner.id)
    assert info.restart_count == 2 and info.status == "exited"
    assert [r.text for r in join_partials(zengine.containers.logs(joiner.id))] == [b"shared"] * 3
    for c in (joiner, donor):
        zengine.containers.remove(c.id, force=True)


def test_an_init_at_its_gate_holds_none_of_the_other_containers_fds(zengine: Engine) -> None:
    """Every fork of a shared monitor inherits all its threads' fds: a created container's init
    (waiting at its start gate, before the exec that would close them) kept another container's
    sync pipe open, whose start then never saw its EOF (a 60 s "did not report" under `up -d`)."""
    a = zengine.containers.create(spec("pm-fd-a", "sleep", "60"))
    b = zengine.containers.create(spec("pm-fd-b", "sleep", "60"))
    proc = monitor(zengine, a.id)["process"]
    assert monitor(zengine, b.id)["process"] == proc
    init_b = zengine.containers.get(b.id).pid
    held = sorted(int(fd) for fd in os.listdir(f"/proc/{init_b}/fd"))
    # its stdio, its end of the sync pipe and of the start gate: nothing of the pod's other fds
    # (a's pipes, log, ctl and FIFOs, the clients' connections, the pod's socket)
    targets = {os.readlink(f"/proc/{init_b}/fd/{fd}") for fd in held}
    pipes = {t for t in targets if t.startswith("pipe:")}
    assert targets - pipes == {"/dev/null"} and len(pipes) == 4, targets  # stdout, stderr, sync, gate
    zengine.containers.start(a.id)  # its sync pipe reaches EOF at its exec
    assert zengine.containers.get(a.id).status == "running"
    for c in (a, b):
        zengine.containers.remove(c.id, force=True)


def _pod_pids(eng: Engine) -> list[int]:
    """Pids of the pod monitors serving *eng*'s run dir (their command line names its socket)."""
    return [pid for pid, argv in processes() if "--pod" in argv and pod_socket(eng) in argv and alive(pid)]


def test_a_warm_pod_monitor_serves_the_first_container_and_waits_for_it_only_a_while(
    zengine: Engine,
) -> None:
    rundir = str(zengine.paths.rundir)
    zygote.warm_pod(rundir, POD)  # started empty, ahead of the pod's containers (as create does)
    [pid] = _pod_pids(zengine)
    zygote.warm_pod(rundir, POD)  # a second look finds it: no second process, its wait goes on
    with socket.socket(socket.AF_UNIX) as probe:  # a client that connects and leaves
        probe.connect(pod_socket(zengine))
    time.sleep(0.5)
    assert _pod_pids(zengine) == [pid]
    c = zengine.containers.create(spec("pm-warm", "sleep", "60"))
    assert monitor(zengine, c.id)["process"] == pid  # the warm process, not a new one
    zengine.containers.remove(c.id, force=True)
    wait_for(lambda: not alive(pid))  # retired with its last container
    # started empty and never used: it retires by itself after its grace
    zygote.warm_pod(rundir, POD)
    [idle] = _pod_pids(zengine)
    assert idle != pid
    wait_for(lambda: not alive(idle), timeout=podmon.WARM_GRACE + 5)
    assert not os.path.exists(pod_socket(zengine))


def test_creating_a_pods_first_container_starts_its_monitor_ahead(zengine: Engine) -> None:
    c = zengine.containers.create(spec("pm-ahead", "sleep", "60"))
    proc = monitor(zengine, c.id)["process"]
    # the monitor was launched empty (no container arguments) by create's background warm-up
    cmd = Path(f"/proc/{proc}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    assert cmd[cmd.index(b"--pod") + 1:] == [pod_socket(zengine).encode()]
    zengine.containers.remove(c.id, force=True)
    wait_for(lambda: not alive(proc))


def test_a_failed_first_create_leaves_no_warm_monitor_waiting(zengine: Engine) -> None:
    from runtime.errors import NotFound

    with pytest.raises(NotFound):  # fails while being set up, after its warm-up started
        zengine.containers.create(spec("pm-nofrom", "true", volumes_from=("pm-nosuch",)))
    # well before its grace ends, the warm monitor has retired: nothing waits for the container
    wait_for(lambda: not _pod_pids(zengine), timeout=podmon.WARM_GRACE / 2)
    assert not os.path.exists(pod_socket(zengine))


def test_a_pods_containers_created_at_once_warm_its_monitor_once(
        zengine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` creates a pod's containers in parallel threads: one warm-up, not one per container
    (the others would only wait on the pod's lock)."""
    import threading

    calls: list[str] = []
    warm = zygote.warm_pod

    def counted(rundir: str, pod: str) -> None:
        calls.append(pod)
        warm(rundir, pod)

    monkeypatch.setattr(zygote, "warm_pod", counted)
    made: list[str] = []
    threads = [threading.Thread(target=lambda i=i: made.append(
        zengine.containers.create(spec(f"pm-at-once-{i}", "sleep", "60")).id)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 4 and calls == [POD]
    assert len({monitor(zengine, cid)["process"] for cid in made}) == 1

"""Real containers from the busybox image: namespaces, mounts, security, lifecycle, logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.container_monitor import kill_monitor
from runtime.containers import StartError
from runtime.engine import Engine
from runtime.errors import Conflict, ExecError, InvalidSpec, NotFound
from runtime.logs import EVENTS_FILE, join_partials
from runtime.paths import Paths
from runtime.spec import ContainerInfo, ContainerSpec, ExecSpec, Healthcheck, Mount, RestartPolicy
from tests.conftest import settled_leftovers
from tests.runtime.conftest import zombie_children

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"


def _cgroups(ids: set[str]) -> list[str]:
    """Cgroup dirs named by *ids* under any hierarchy's composer/ (os.walk: other engines' dirs may
    vanish while we look, which Path.glob reports as an error)."""
    out = []
    for top in Path("/sys/fs/cgroup").iterdir():
        for d, subdirs, _ in os.walk(top / "composer"):
            out += [os.path.join(d, s) for s in subdirs if s in ids]
    return out


@pytest.fixture
def engine(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[Engine]:
    root, run = engine_paths
    eng = Engine(Paths(root=str(root), rundir=str(run)))
    eng.images.import_tarball(busybox_tar, IMAGE)
    ids: set[str] = set()
    create = eng.containers.create

    def tracking_create(s: ContainerSpec, **kw: bool) -> ContainerInfo:
        info = create(s, **kw)  # type: ignore[arg-type]
        ids.add(info.id)
        return info

    eng.containers.create = tracking_create  # type: ignore[method-assign,assignment]
    yield eng
    for c in eng.containers.list():
        eng.containers.remove(c.id, force=True)
    eng.close()
    from runtime import zygote

    zygote.stop(eng.paths)  # lingers while idle by design; only when containers remain
    assert settled_leftovers(root.parent) == []
    assert _cgroups(ids) == []
    assert not list((root / "containers").glob("*")) if (root / "containers").exists() else True


def spec(name: str, *cmd: str, **kw: object) -> ContainerSpec:
    kw.setdefault("network_mode", "none")
    return ContainerSpec(name=name, image=IMAGE, command=cmd or None, **kw)  # type: ignore[arg-type]


def run(engine: Engine, s: ContainerSpec, timeout: float = 20) -> tuple[int, str, str]:
    c = engine.containers.create(s)
    engine.containers.start(c.id)
    code = engine.containers.wait(c.id, timeout=timeout)
    recs = list(join_partials(engine.containers.logs(c.id)))
    out = "".join(r.text.decode() + "\n" for r in recs if r.stream == "stdout")
    err = "".join(r.text.decode() + "\n" for r in recs if r.stream == "stderr")
    return code, out, err


def test_create_stops_at_the_gate_and_start_runs_pid_1(engine: Engine) -> None:
    c = engine.containers.create(spec("t-gate", "sh", "-c", "echo pid=$$; hostname; exit 3"))
    assert c.status == "created" and c.pid > 0
    assert engine.containers.logs(c.id) is not None and list(engine.containers.logs(c.id)) == []
    assert engine.containers.start(c.id).status in ("running", "exited")
    assert engine.containers.wait(c.id, timeout=10) == 3
    info = engine.containers.get("t-gate")
    assert info.status == "exited" and info.exit_code == 3 and info.finished_at
    lines = [r.text for r in engine.containers.logs(c.id)]
    assert lines == [b"pid=1", c.id[:12].encode()]
    assert engine.containers.get(c.id[:10]).id == c.id


def test_logs_keep_stream_order_and_partial_lines(engine: Engine) -> None:
    # two pipes: the order between streams is kept for writes that do not race each other
    c = engine.containers.create(
        spec(
            "t-logs",
            "sh",
            "-c",
            "echo one; sleep 0.1; echo two >&2; sleep 0.1; printf three; sleep 0.2; echo ' four'",
        )
    )
    engine.containers.start(c.id)
    engine.containers.wait(c.id, timeout=10)
    recs = list(engine.containers.logs(c.id))
    assert [(r.stream, r.text, r.partial) for r in recs[:3]] == [
        ("stdout", b"one", False),
        ("stderr", b"two", False),
        ("stdout", b"three", True),
    ]
    assert [r.text for r in join_partials(recs) if r.stream == "stdout"] == [b"one", b"three four"]
    assert [r.text for r in engine.containers.logs(c.id, tail=1)] == [b" four"]
    raw = Path(engine.containers.log_path(c.id)).read_text().splitlines()
    assert raw[0].endswith(" stdout F one") and " stdout P three" in raw[2]


def test_security_defaults_apply(engine: Engine) -> None:
    from runtime.security.caps import DEFAULT_CAPS, caps_mask

    script = (
        "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
        "wc -c < /proc/timer_list; (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null || echo sys-ro; "
        "cat /proc/mounts"
    )
    code, out, _ = run(engine, spec("t-sec", "sh", "-c", script))
    assert code == 0
    status = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    mask = f"{caps_mask(DEFAULT_CAPS):016x}"
    assert status["CapEff"] == mask and status["CapBnd"] == mask
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert "\n0\n" in out and "sys-ro" in out  # /proc/kcore is absent on these kernels: timer_list
    assert Path("/proc/timer_list").read_bytes() != b""
    table = [line.split() for line in out.split("sys-ro\n", 1)[1].splitlines()]
    assert table[0][:3] == ["overlay", "/", "overlay"]
    allowed = ("/proc", "/dev", "/sys", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname")
    assert [m[1] for m in table[1:] if not m[1].startswith(allowed)] == []  # no host mounts visible


def test_user_is_resolved_from_the_image(engine: Engine) -> None:
    code, out, _ = run(engine, spec("t-user", "id", user="www-data", group_add=("users",)))
    assert code == 0 and out.strip() == "uid=33(www-data) gid=33(www-data) groups=33(www-data),100(users)"
    code, out, _ = run(
        engine, spec("t-uid", "sh", "-c", "id -u; id -g; grep CapEff /proc/self/status", user="1234:5")
    )
    assert out.split() == ["1234", "5", "CapEff:", "0000000000000000"]


def test_unknown_user_fails_create_and_leaves_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidSpec, match=r"container t-nouser: unable to find user nosuch"):
        engine.containers.create(spec("t-nouser", "true", user="nosuch"))
    with pytest.raises(NotFound):
        engine.containers.get("t-nouser")
    assert not any((Path(engine.paths.root) / "containers").iterdir())


def test_a_missing_executable_fails_the_start_and_the_container_stays(engine: Engine) -> None:
    """As docker's: the create makes it, each start fails with the lookup's one line (exit code
    127), and the container stays, created (it never ran), with its volumes, until it is
    removed; neither a start nor a die is logged for it."""
    anon = (Mount(type="volume", target="/anon"), Mount(type="volume", source="t-named", target="/named"))
    always = RestartPolicy(name="always")
    c = engine.containers.create(spec("t-noexe", "nosuchcmd", mounts=anon, restart=always))
    error = 'container t-noexe: exec: "nosuchcmd": executable file not found in $PATH'
    for _ in range(2):  # the first start opens the gate, the second needs a fresh monitor
        with pytest.raises(ExecError, match=r'^container t-noexe: exec: "nosuchcmd": executable file not'):
            engine.containers.start(c.id)
        assert engine.containers.wait(c.id, timeout=10) == 127
        time.sleep(0.5)  # its monitor ends; restart: always brings no second try
        left = engine.containers.get(c.id)
        assert (left.status, left.exit_code, left.restart_count) == ("created", 127, 0)
        assert (left.error, left.started_at, left.finished_at, left.pid) == (error, "", "", 0)
        assert engine.containers.stop(c.id).status == "created"
    assert [c.status for c in engine.containers.list(all=False)] == []
    events = (Path(engine.paths.rundir) / EVENTS_FILE).read_text()
    assert '"action":"create"' in events
    assert '"action":"start"' not in events and '"action":"die"' not in events
    assert len(engine.volumes.list()) == 2
    engine.containers.remove(c.id, volumes=True)
    assert [v.name for v in engine.volumes.list()] == ["t-named"]  # the anonymous one went with it
    assert not any((Path(engine.paths.root) / "containers").iterdir()) and not any(
        (Path(engine.paths.rundir) / "containers").iterdir()
    )
    engine.volumes.remove("t-named")


def test_a_failed_start_after_a_run_keeps_the_container_exited_with_that_runs_times(engine: Engine) -> None:
    """moby's State: "created" is for a container that never ran; one that ran reads "exited"
    after a failed start, with the times of its run, exit code 127 and the start's error."""
    c = engine.containers.create(spec("t-rmsh", "sh", "-c", "rm /bin/sh"))  # its next start fails
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=10) == 0
    ran = engine.containers.get(c.id)
    assert ran.status == "exited" and ran.started_at and ran.finished_at
    with pytest.raises(ExecError, match=r'exec: "sh": executable file not found'):
        engine.containers.start(c.id)
    engine.containers.wait(c.id, timeout=10)
    time.sleep(0.3)  # its monitor ends
    left = engine.containers.get(c.id)
    assert (left.status, left.exit_code) == ("exited", 127)
    assert (left.started_at, left.finished_at) == (ran.started_at, ran.finished_at)
    engine.containers.remove(c.id)


def test_a_start_that_reads_the_exit_first_keeps_the_run_when_it_fails(engine: Engine) -> None:
    """No verb read the run's exit before the start: the start folds it, and must not save its
    older copy of the row over the fold (the run was lost: the failed start read "created", as
    if the container had never run, with no times)."""
    c = engine.containers.create(spec("t-rmsh-unread", "sh", "-c", "sleep 0.1; rm /bin/sh"))  # after start()
    engine.containers.start(c.id)
    exit_file = Path(engine.paths.container_run(c.id)) / "exit.json"
    _wait_for(exit_file.exists)  # read as a file: no verb folds it into the row
    ran = json.loads(exit_file.read_text())
    with pytest.raises(ExecError, match=r'exec: "sh": executable file not found'):
        engine.containers.start(c.id)
    engine.containers.wait(c.id, timeout=10)
    time.sleep(0.3)  # its monitor ends
    left = engine.containers.get(c.id)
    assert (left.status, left.exit_code) == ("exited", 127)
    assert (left.started_at, left.finished_at) == (ran["started_at"], ran["finished_at"])
    engine.containers.remove(c.id)


def test_get_without_fold_reads_the_exit_and_leaves_it_for_the_next_reader(engine: Engine) -> None:
    """An attached run --rm reads its container's exit without folding it into the row it is
    about to delete (get(fold=False)): the exit file stays, the row is unchanged; the next
    get() folds it as before, and a removal of an unfolded exit leaves nothing."""
    # each exits after start() returned: a start that sees the exit file folds it itself
    c = engine.containers.create(spec("t-nofold", "sh", "-c", "sleep 0.1; exit 3"))
    engine.containers.start(c.id)
    exit_file = Path(engine.paths.container_run(c.id)) / "exit.json"
    _wait_for(exit_file.exists)
    seen = engine.containers.get(c.id, fold=False)
    assert (seen.status, seen.exit_code) == ("exited", 3)
    assert exit_file.exists()
    assert "last_state" not in (engine.store.read().get("container", c.id) or {})
    folded = engine.containers.get(c.id)
    assert (folded.status, folded.exit_code) == ("exited", 3)
    assert not exit_file.exists()
    assert engine.store.read().get("container", c.id)["last_state"]["exit_code"] == 3
    other = engine.containers.create(spec("t-nofold-rm", "sleep", "0.1"))
    engine.containers.start(other.id)
    _wait_for((Path(engine.paths.container_run(other.id)) / "exit.json").exists)
    engine.containers.remove(other.id)  # its exit never folded: removed all the same
    engine.containers.remove(c.id)
    for cid in (c.id, other.id):
        assert not os.path.exists(engine.paths.container_dir(cid))
        assert not os.path.exists(engine.paths.container_run(cid))


def test_a_failed_start_is_reported_while_another_reader_folds_its_exit(engine: Engine) -> None:
    """The start reads the start's error after the monitor answered; meanwhile the init that
    could not exec exits, and another reader (ps, up's other threads) may fold the exit file,
    removing state.json: the error is then read from the row, not missed (the start returned
    as if the container ran: 4 starts in 40 here)."""
    import threading

    stop = threading.Event()

    def fold() -> None:
        other = Engine(engine.paths)
        while not stop.is_set():
            other.containers.list()
        other.close()

    reader = threading.Thread(target=fold)
    reader.start()
    missed = []
    try:
        for i in range(40):
            c = engine.containers.create(spec(f"t-race-{i}", "nosuchcmd"))
            try:
                engine.containers.start(c.id)
                missed.append(i)
            except ExecError:
                pass
            engine.containers.remove(c.id, force=True)
    finally:
        stop.set()
        reader.join()
    assert missed == []


def test_name_conflict(engine: Engine) -> None:
    engine.containers.create(spec("t-dup", "true"))
    with pytest.raises(Conflict, match='container name "t-dup" is already in use'):
        engine.containers.create(spec("t-dup", "true"))


def test_stop_uses_the_stop_signal_then_sigkill(engine: Engine) -> None:
    trap = "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
    c = engine.containers.create(spec("t-stop", "sh", "-c", trap))
    engine.containers.start(c.id)
    _wait_log(engine, c.id, b"ready")
    info = engine.containers.stop(c.id, timeout=5)
    assert info.status == "exited" and info.exit_code == 0
    assert b"got-term" in [r.text for r in engine.containers.logs(c.id)]
    c2 = engine.containers.create(
        spec("t-stubborn", "sh", "-c", "trap '' TERM; while :; do sleep 0.05; done")
    )
    engine.containers.start(c2.id)
    t = time.monotonic()
    info = engine.containers.stop(c2.id, timeout=0.5)
    assert info.exit_code == 137 and info.exit_signal == "SIGKILL" and time.monotonic() - t < 5


def test_kill_records_the_signal_and_start_again(engine: Engine) -> None:
    c = engine.containers.create(spec("t-kill", "sleep", "100"))
    engine.containers.start(c.id)
    engine.containers.kill(c.id, "SIGKILL")
    assert engine.containers.wait(c.id, timeout=10) == 137
    assert engine.containers.get(c.id).exit_signal == "SIGKILL"
    info = engine.containers.start(c.id)
    assert info.status == "running"
    with pytest.raises(Conflict, match="cannot remove a running container"):
        engine.containers.remove(c.id)
    engine.containers.remove(c.id, force=True)
    with pytest.raises(NotFound, match=f"no container with name or ID {c.id} found"):
        engine.containers.get(c.id)


def test_restart_on_failure_2_restarts_twice(engine: Engine) -> None:
    c = engine.containers.create(
        spec(
            "t-restart",
            "sh",
            "-c",
            "echo run; exit 2",
            restart=RestartPolicy(name="on-failure", max_retries=2),
        )
    )
    engine.containers.start(c.id)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        info = engine.containers.get(c.id)
        if info.status == "exited":
            break
        time.sleep(0.05)
    assert info.status == "exited" and info.exit_code == 2 and info.restart_count == 2
    assert [r.text for r in engine.containers.logs(c.id)] == [b"run"] * 3


def test_healthcheck_turns_healthy_then_unhealthy(engine: Engine) -> None:
    hc = Healthcheck(test=("CMD-SHELL", "test ! -e /tmp/sick"), interval=0.2, timeout=2, retries=2)
    c = engine.containers.create(spec("t-health", "sleep", "100", healthcheck=hc))
    engine.containers.start(c.id)
    assert engine.containers.get(c.id).health in ("starting", "healthy")
    _wait_for(lambda: engine.containers.get(c.id).health == "healthy")
    assert engine.containers.exec(c.id, ExecSpec(command=("touch", "/tmp/sick"))) == 0
    _wait_for(lambda: engine.containers.get(c.id).health == "unhealthy")


def test_exec_enters_every_namespace(engine: Engine, tmp_path: Path) -> None:
    c = engine.containers.create(spec("t-exec", "sleep", "100", user="www-data"))
    engine.containers.start(c.id)
    out = tmp_path / "out"
    with open(out, "wb") as f:
        code = engine.containers.exec(
            c.id,
            ExecSpec(
                command=(
                    "sh",
                    "-c",
                    "for n in pid mnt uts ipc net; do "
                    "[ $(readlink /proc/1/ns/$n) = $(readlink /proc/self/ns/$n) ]"
                    " || echo differ $n; done; id -u; hostname; grep Seccomp: /proc/self/status; exit 7",
                )
            ),
            stdout=f.fileno(),
        )
    assert code == 7
    assert out.read_text().split("\n")[:4] == ["33", c.id[:12], "Seccomp:\t2", ""]
    with open(out, "wb") as f:
        assert engine.containers.exec(c.id, ExecSpec(command=("id", "-u"), user="0"), stdout=f.fileno()) == 0
    assert out.read_text() == "0\n"
    assert engine.containers.exec(c.id, ExecSpec(command=("nosuchcmd",)), stderr=subprocess.DEVNULL) == 127
    top = engine.containers.top(c.id)
    assert [p["CMD"] for p in top] == ["sleep 100"]


def test_binds_tmpfs_and_read_only_rootfs(engine: Engine, tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    (host / "in.txt").write_text("from-host\n")
    mounts = (
        Mount(type="bind", source=str(host), target="/data"),
        Mount(type="bind", source=str(host), target="/ro", read_only=True),
        Mount(type="tmpfs", target="/scratch", tmpfs_size=1 << 20),
    )
    script = (
        "cat /data/in.txt; echo out > /data/out.txt; (echo x > /ro/x) 2>/dev/null || echo ro-ok; "
        "echo s > /scratch/s && grep ' /scratch ' /proc/mounts | cut -d' ' -f3; "
        "(touch /etc/x) 2>/dev/null || echo rootfs-ro"
    )
    code, out, _ = run(engine, spec("t-mounts", "sh", "-c", script, mounts=mounts, read_only=True))
    assert code == 0 and out.split() == ["from-host", "ro-ok", "tmpfs", "rootfs-ro"]
    assert (host / "out.txt").read_text() == "out\n"


def test_init_true_runs_tini_as_pid_1(engine: Engine) -> None:
    code, out, _ = run(
        engine, spec("t-init", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '", init=True)
    )
    assert code == 0
    pid, cmdline = out.splitlines()
    assert pid != "1" and cmdline.startswith("/dev/init -- sh")


def test_sigkill_of_the_monitor_then_rm_force_cleans_everything(engine: Engine) -> None:
    c = engine.containers.create(spec("t-orphan", "sleep", "100"))
    engine.containers.start(c.id)
    import json

    mon = json.loads((Path(engine.paths.container_run(c.id)) / "monitor.json").read_text())
    init_pid = engine.containers.get(c.id).pid
    os.kill(mon["pid"], signal.SIGKILL)
    _wait_for(lambda: engine.containers.get(c.id).status == "dead")
    assert Path(f"/proc/{init_pid}").exists()  # the workload outlived its monitor
    engine.containers.remove(c.id, force=True)
    _wait_for(lambda: not Path(f"/proc/{init_pid}").exists())
    from runtime import zygote

    zygote.stop(engine.paths)
    assert settled_leftovers(Path(engine.paths.root).parent) == []
    assert not os.path.exists(engine.paths.container_dir(c.id))
    assert not os.path.exists(engine.paths.container_run(c.id))


def test_stop_of_a_created_container_and_list_by_labels(engine: Engine) -> None:
    a = engine.containers.create(spec("t-a", "true", labels={"p": "x"}))
    engine.containers.create(spec("t-b", "true", labels={"p": "y"}))
    assert [c.name for c in engine.containers.list(labels={"p": "x"})] == ["t-a"]
    assert engine.containers.list(all=False) == []
    assert engine.containers.stop(a.id).status == "created"  # as docker: nothing to stop
    engine.containers.remove(a.id)


def _wait_log(engine: Engine, cid: str, text: bytes, timeout: float = 10) -> None:
    _wait_for(lambda: text in [r.text for r in engine.containers.logs(cid)], timeout)


def _wait_for(cond: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_volume_data_survives_container_removal(engine: Engine) -> None:
    vol = (Mount(type="volume", source="t-data", target="/var/www"),)
    code, out, _ = run(
        engine, spec("t-vol1", "sh", "-c", "cat /var/www/index.html; echo kept > /var/www/x", mounts=vol)
    )
    assert code == 0 and out == "<h1>composer demo</h1>\n"  # copied up from the image
    engine.containers.remove("t-vol1")
    code, out, _ = run(engine, spec("t-vol2", "cat", "/var/www/x", mounts=vol))
    assert out == "kept\n"
    anon = engine.containers.create(spec("t-anon", "true", mounts=(Mount(type="volume", target="/anon"),)))
    (name,) = (engine.store.read().get("container", anon.id) or {})["anonymous_volumes"]
    engine.containers.remove(anon.id, volumes=True)
    with pytest.raises(NotFound):
        engine.volumes.get(name)
    engine.containers.remove("t-vol2")
    engine.volumes.remove("t-data")


def test_memory_limit_oom_kill_is_reported(engine: Engine) -> None:
    from runtime.spec import Resources

    hog = "x=a; while :; do x=$x$x; done"
    code, _, _ = run(
        engine, spec("t-oom", "sh", "-c", hog, resources=Resources(memory=16 << 20, memory_swap=16 << 20))
    )
    info = engine.containers.get("t-oom")
    assert code == 137 and info.oom_killed and info.exit_signal == "SIGKILL"


def test_pause_freezes_and_unpause_thaws(engine: Engine) -> None:
    c = engine.containers.create(spec("t-pause", "sh", "-c", "while :; do date +%s%N; sleep 0.02; done"))
    engine.containers.start(c.id)
    _wait_for(lambda: len(list(engine.containers.logs(c.id))) > 2)
    assert engine.containers.pause(c.id).status == "paused"
    time.sleep(0.1)
    n = len(list(engine.containers.logs(c.id)))
    time.sleep(0.3)
    assert len(list(engine.containers.logs(c.id))) == n
    assert engine.containers.unpause(c.id).status == "running"
    _wait_for(lambda: len(list(engine.containers.logs(c.id))) > n)
    assert engine.containers.stop(c.id, timeout=0.2).status == "exited"


def test_pod_owns_the_cgroup_parent_of_its_containers(engine: Engine) -> None:
    from runtime.spec import PodSpec

    pod = engine.pods.create(PodSpec(name="t-pod", labels={"a": "b"}))
    parent = Path("/sys/fs/cgroup/memory", pod.cgroup_parent)
    assert pod.cgroup_parent.startswith("composer/") and pod.cgroup_parent.endswith("/t-pod")
    assert parent.is_dir()
    c = engine.containers.create(spec("t-pod-web", "sleep", "100", pod="t-pod"))
    engine.containers.start(c.id)
    assert engine.pods.get("t-pod").containers == (c.id,)
    assert (parent / c.id / "cgroup.procs").read_text().split()
    with pytest.raises(Conflict, match="pod t-pod: has 1 containers"):
        engine.pods.remove("t-pod")
    engine.pods.stop("t-pod", timeout=0.1)
    assert engine.containers.get(c.id).status == "exited"
    engine.pods.remove("t-pod", force=True)
    assert engine.pods.list() == [] and engine.containers.list() == []
    assert not parent.exists()


def test_containers_on_a_bridge_network_reach_each_other_by_name(engine: Engine) -> None:
    from runtime.spec import NetworkAttachment, NetworkSpec

    engine.networks.create(NetworkSpec(name="t_default"))
    try:
        att = (NetworkAttachment(network="t_default", aliases=("web",)),)
        web = engine.containers.create(
            spec(
                "t-web-1", "httpd", "-f", "-p", "8080", "-h", "/var/www", network_mode="bridge", networks=att
            )
        )
        engine.containers.start(web.id)
        code, out, err = run(
            engine,
            spec(
                "t-client-1",
                "sh",
                "-c",
                "ip -o -4 addr show eth0 | wc -l; wget -q -O - http://web:8080/; hostname",
                network_mode="bridge",
                networks=(NetworkAttachment(network="t_default"),),
            ),
        )
        assert code == 0, err
        assert out.splitlines()[:2] == ["1", "<h1>composer demo</h1>"]
        assert engine.containers.get(web.id).networks["t_default"]
        for c in engine.containers.list():
            engine.containers.remove(c.id, force=True)
    finally:
        engine.networks.remove("t_default")


def test_always_restarts_until_a_user_stop(engine: Engine) -> None:
    c = engine.containers.create(
        spec("t-always", "sh", "-c", "echo run; sleep 0.05; exit 1", restart=RestartPolicy(name="always"))
    )
    engine.containers.start(c.id)
    _wait_for(lambda: engine.containers.get(c.id).restart_count >= 2)
    t = time.monotonic()
    info = engine.containers.stop(c.id, timeout=1)
    assert info.status == "exited" and time.monotonic() - t < 3
    n = len(list(engine.containers.logs(c.id)))
    time.sleep(0.5)
    assert engine.containers.get(c.id).status == "exited" and len(list(engine.containers.logs(c.id))) == n


@pytest.mark.parametrize(("stop_signal", "sig", "restarts"), [
    (None, "SIGKILL", False),      # docker's kill: the restart manager is cancelled
    (None, "SIGUSR1", False),      # any signal, when no stop signal is named
    ("SIGTERM", "SIGUSR1", True),  # a stop signal is named and this is another: the policy holds
])
def test_kill_ends_a_restart_policy_as_dockers(
    engine: Engine, stop_signal: str | None, sig: str, restarts: bool
) -> None:
    # PID 1 ignores a signal it has no handler for: the shell traps USR1 and exits on it
    loop = "trap 'exit 3' USR1; echo trapped; while :; do sleep 0.1; done"
    c = engine.containers.create(spec(f"t-kill-{sig.lower()}-{bool(stop_signal)}", "sh", "-c", loop,
                                      restart=RestartPolicy(name="always"), stop_signal=stop_signal))
    engine.containers.start(c.id)
    _wait_for(lambda: [r.text for r in engine.containers.logs(c.id)] == [b"trapped"])  # before the kill
    engine.containers.kill(c.id, sig)
    if restarts:
        _wait_for(lambda: engine.containers.get(c.id).restart_count >= 1)
        assert engine.containers.get(c.id).status in ("running", "restarting")
    else:
        _wait_for(lambda: engine.containers.get(c.id).status == "exited")
        time.sleep(0.5)  # past the first back-off (0.1 s): no restart came
        info = engine.containers.get(c.id)
        assert (info.status, info.restart_count) == ("exited", 0)
    engine.containers.remove(c.id, force=True)

def test_kill_with_the_signal_that_ends_it_resumes_a_paused_container(engine: Engine) -> None:
    """As moby's killWithSignal: the kill that ends the container (ExitOnNext: here SIGTERM, no
    stop signal named) resumes it when paused, so that the signal is delivered (it stayed
    frozen, paused, with the signal pending)."""
    loop = "trap 'exit 3' TERM; echo trapped; while :; do sleep 0.1; done"
    c = engine.containers.create(spec("t-kill-paused", "sh", "-c", loop))
    engine.containers.start(c.id)
    _wait_for(lambda: [r.text for r in engine.containers.logs(c.id)] == [b"trapped"])
    engine.containers.pause(c.id)
    engine.containers.kill(c.id, "SIGTERM")
    assert engine.containers.wait(c.id, timeout=10) == 3
    engine.containers.remove(c.id)


def test_tty_gives_the_container_a_terminal(engine: Engine) -> None:
    code, out, _ = run(
        engine, spec("t-tty", "sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; echo $TERM", tty=True)
    )
    assert code == 0 and out.replace("\r", "").split() == ["is-a-tty", "xterm"]


def test_follow_streams_until_the_container_exits(engine: Engine) -> None:
    c = engine.containers.create(spec("t-follow", "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"))
    engine.containers.start(c.id)
    assert [r.text for r in engine.containers.logs(c.id, follow=True)] == [b"1", b"2", b"3"]


def test_copy_to_and_from_a_running_container(engine: Engine, tmp_path: Path) -> None:
    c = engine.containers.create(spec("t-cp", "sleep", "100"))
    engine.containers.start(c.id)
    src = tmp_path / "hello.txt"
    src.write_text("hi\n")
    engine.containers.copy_to(c.id, src, "/tmp")
    out = tmp_path / "out"
    with open(out, "wb") as f:
        assert (
            engine.containers.exec(c.id, ExecSpec(command=("cat", "/tmp/hello.txt")), stdout=f.fileno()) == 0
        )
    assert out.read_text() == "hi\n"
    engine.containers.copy_from(c.id, "/etc/passwd", tmp_path / "passwd")
    assert (tmp_path / "passwd").read_text().startswith("root:x:0:0")


def test_volumes_from_devices_and_shared_ipc_pid(engine: Engine) -> None:
    src = engine.containers.create(
        spec(
            "t-src", "sh", "-c", "echo shared > /v/f; sleep 100", mounts=(Mount(type="volume", target="/v"),)
        )
    )
    engine.containers.start(src.id)
    # its content, not the file: the shell creates it before it writes (a read between: empty)
    _wait_for(lambda: any(f.read_text() == "shared\n" for f in Path(engine.paths.volumes).glob("*/_data/f")))
    script = (
        "cat /v/f; (echo x > /v/g) 2>/dev/null || echo ro; readlink /proc/self/ns/ipc; "
        "ps -o comm | grep -c sleep; "
        "ls -l /dev/fuse | cut -c1"
    )
    code, out, err = run(
        engine,
        spec(
            "t-user2",
            "sh",
            "-c",
            script,
            volumes_from=(f"{src.id}:ro",),
            ipc_mode=f"container:{src.id}",
            pid_mode=f"container:{src.id}",
            devices=("/dev/fuse:/dev/fuse:rwm",),
        ),
    )
    assert code == 0, err
    assert out.split() == [
        "shared",
        "ro",
        os.readlink(f"/proc/{engine.containers.get(src.id).pid}/ns/ipc"),
        "1",
        "c",
    ]
    with pytest.raises(InvalidSpec, match="device /dev/nosuch does not exist"):
        engine.containers.create(spec("t-nodev", "true", devices=("/dev/nosuch",)))


def test_device_nodes_have_their_types_modes_owners_and_parents(engine: Engine) -> None:
    """The default nodes and a mapped one at a nested path: character devices of the host's
    numbers, rw for all, root's; the parents made for it 755; /dev's links to /proc."""
    script = ("ls -ln /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/a/b/mynull; "
              "ls -ldn /dev/a /dev/a/b; for l in fd stdin ptmx core; do readlink /dev/$l; done")
    mapped = ("/dev/null:/dev/a/b/mynull:rwm",)
    code, out, err = run(engine, spec("t-devs", "sh", "-c", script, devices=mapped))
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    nodes = {r[-1]: (r[0], r[2], r[3], r[4] + r[5]) for r in rows if r[0].startswith("c")}
    assert nodes == {
        "/dev/null": ("crw-rw-rw-", "0", "0", "1,3"), "/dev/zero": ("crw-rw-rw-", "0", "0", "1,5"),
        "/dev/full": ("crw-rw-rw-", "0", "0", "1,7"), "/dev/random": ("crw-rw-rw-", "0", "0", "1,8"),
        "/dev/urandom": ("crw-rw-rw-", "0", "0", "1,9"), "/dev/tty": ("crw-rw-rw-", "0", "0", "5,0"),
        "/dev/a/b/mynull": ("crw-rw-rw-", "0", "0", "1,3"),
    }
    assert [(r[0], r[2], r[-1]) for r in rows if r[0].startswith("d")] == [
        ("drwxr-xr-x", "0", "/dev/a"), ("drwxr-xr-x", "0", "/dev/a/b")]
    assert out.split()[-4:] == ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx", "/proc/kcore"]


def test_a_half_created_container_is_dead_and_rm_force_cleans_it(engine: Engine) -> None:
    c = engine.containers.create(spec("t-half", "sleep", "100"))
    kill_monitor(engine.containers, c.id)  # as if create's process had died before start
    for name in ("monitor.json", "state.json", "ctl"):
        (Path(engine.paths.container_run(c.id)) / name).unlink(missing_ok=True)
    assert engine.containers.get(c.id).status == "dead"
    engine.containers.remove(c.id, force=True)
    assert engine.containers.list() == []


def test_an_exec_failure_at_start_is_reported(engine: Engine, tmp_path: Path) -> None:
    """In docker's words and codes: 126 for a command that cannot be run, 127 for one that is not
    there, a script whose interpreter is missing too (ENOENT from execve: it read 'No such file
    or directory', which `run` did not take for a missing command, and exited 126)."""
    c = engine.containers.create(spec("t-noexec", "/etc/passwd"))
    with pytest.raises(ExecError, match=r'container t-noexec: exec: "/etc/passwd": permission denied$'):
        engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=10) == 126
    (tmp_path / "x.sh").write_text("#!/nonexistent/sh\necho hi\n")
    (tmp_path / "x.sh").chmod(0o755)
    bind = (Mount(type="bind", source=str(tmp_path), target="/s"),)
    with pytest.raises(StartError, match=r'exec: "/s/x.sh": no such file or directory$') as err:
        engine.containers.create(spec("t-noint", "/s/x.sh", mounts=bind), start=True)
    assert err.value.exit_code == 127
    assert engine.containers.wait(err.value.container_id, timeout=10) == 127


def test_parallel_creates_starts_and_removes(engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        infos = list(
            pool.map(
                lambda i: engine.containers.create(spec(f"t-par-{i}", "sh", "-c", f"echo {i}")), range(6)
            )
        )
        list(pool.map(lambda c: engine.containers.start(c.id), infos))
        codes = list(pool.map(lambda c: engine.containers.wait(c.id, timeout=20), infos))
        assert codes == [0] * 6
        assert [[r.text for r in engine.containers.logs(c.id)] for c in infos] == [
            [str(i).encode()] for i in range(6)
        ]
        list(pool.map(lambda c: engine.containers.remove(c.id), infos))
    assert engine.containers.list() == []


def test_stdin_open_keeps_a_reading_shell_alive(engine: Engine) -> None:
    c = engine.containers.create(spec("t-stdin", "sh", stdin_open=True))
    engine.containers.start(c.id)
    time.sleep(0.3)
    assert engine.containers.get(c.id).status == "running"
    assert engine.containers.stop(c.id, timeout=0.2).exit_code == 137


def test_copy_into_a_stopped_container_is_seen_when_it_runs(engine: Engine, tmp_path: Path) -> None:
    c = engine.containers.create(spec("t-cp2", "cat", "/etc/motd"))
    (tmp_path / "motd").write_text("copied\n")
    engine.containers.copy_to(c.id, tmp_path / "motd", "/etc/motd")
    engine.containers.copy_from(c.id, "/etc/group", tmp_path)
    assert (tmp_path / "group").read_text().startswith("root:x:0:")
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=10) == 0
    assert [r.text for r in engine.containers.logs(c.id)] == [b"copied"]
    engine.containers.copy_from(c.id, "/etc/motd", tmp_path / "back")  # exited: through its overlay
    assert (tmp_path / "back").read_text() == "copied\n"
    assert not list(Path(engine.paths.container_dir(c.id)).glob("cp-*"))


def test_healthchecks_wait_while_paused(engine: Engine) -> None:
    hc = Healthcheck(test=("CMD", "true"), interval=0.1, timeout=0.3, retries=1)
    c = engine.containers.create(spec("t-hpause", "sleep", "100", healthcheck=hc))
    engine.containers.start(c.id)
    _wait_for(lambda: engine.containers.get(c.id).health == "healthy")
    engine.containers.pause(c.id)
    time.sleep(1.0)
    assert engine.containers.get(c.id).health == "healthy"  # no probe ran into the frozen cgroup
    engine.containers.unpause(c.id)
    time.sleep(0.5)
    assert engine.containers.get(c.id).health == "healthy"
    assert engine.containers.stop(c.id, timeout=0.2).status == "exited"


def test_privileged_seccomp_profiles_and_sysctls(engine: Engine, tmp_path: Path) -> None:
    import json

    from runtime.security.caps import ALL_CAPS

    status = "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr '\\n' ' '"
    _, out, _ = run(engine, spec("t-priv", "sh", "-c", status, privileged=True))
    assert "Seccomp:\t0" in out
    assert int(out.split("CapEff:\t")[1].split()[0], 16) & (1 << ALL_CAPS["SYS_ADMIN"])
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
            }
        )
    )
    code, out, _ = run(
        engine, spec("t-prof", "sh", "-c", "mkdir /x 2>/dev/null || echo denied", seccomp=str(profile))
    )
    assert out == "denied\n"
    sysctls = {"net.core.somaxconn": "77"}
    _, out, _ = run(engine, spec("t-sysctl", "cat", "/proc/sys/net/core/somaxconn", sysctls=sysctls))
    assert out == "77\n"
    with pytest.raises(InvalidSpec, match='container t-bad: sysctl "kernel.panic" is not namespaced'):
        engine.containers.create(spec("t-bad", "true", sysctls={"kernel.panic": "1"}))


def test_start_after_a_reboot_recreates_the_run_dir(engine: Engine) -> None:
    import shutil

    from runtime.spec import NetworkAttachment, NetworkSpec

    engine.networks.create(NetworkSpec(name="t_reboot"))
    try:
        nets = (NetworkAttachment(network="t_reboot"),)
        c = engine.containers.create(
            spec(
                "t-reboot",
                "sh",
                "-c",
                "hostname; ip -o -4 addr show eth0 | wc -l",
                network_mode="bridge",
                networks=nets,
            )
        )
        engine.containers.start(c.id)
        assert engine.containers.wait(c.id, timeout=10) == 0
        engine.containers.get(c.id)  # folds the exit file into the row
        engine.networks.teardown_container(c.id)  # what a reboot loses: the pin, the run dir
        shutil.rmtree(engine.paths.container_run(c.id))
        assert engine.containers.get(c.id).status == "exited"
        engine.containers.start(c.id)
        assert engine.containers.wait(c.id, timeout=10) == 0
        assert [r.text for r in engine.containers.logs(c.id)] == [c.id[:12].encode(), b"1"] * 2
        engine.containers.remove(c.id)
    finally:
        engine.networks.remove("t_reboot")


def test_the_image_config_gives_user_workdir_cmd_volumes_and_stop_signal(
    engine: Engine, busybox_tar: Path
) -> None:
    changes = [
        "USER www-data",
        "WORKDIR /work/dir",
        'CMD ["sh", "-c", "id -u; pwd; echo $GREETING; '
        'trap \\"echo got-usr1; exit 0\\" USR1; while :; do sleep 0.05; done"]',
        "ENV GREETING=hi",
        "VOLUME /cache",
        "STOPSIGNAL SIGUSR1",
    ]
    engine.images.import_tarball(busybox_tar, "localhost/configured:latest", changes=changes)
    c = engine.containers.create(
        ContainerSpec(name="t-imgcfg", image="localhost/configured:latest", network_mode="none")
    )
    engine.containers.start(c.id)
    _wait_log(engine, c.id, b"hi")
    assert [r.text for r in engine.containers.logs(c.id)] == [b"33", b"/work/dir", b"hi"]
    info = engine.containers.stop(c.id, timeout=5)
    assert info.exit_code == 0 and b"got-usr1" in [r.text for r in engine.containers.logs(c.id)]
    doc = engine.store.read().get("container", c.id) or {}
    assert list(doc["volume_targets"]) == ["/cache"] and doc["anonymous_volumes"] == doc["volume_names"]
    engine.containers.remove(c.id, volumes=True)
    assert engine.volumes.list() == []


def _set_disposition(sig: int, handler: int) -> None:
    """rt_sigaction by number (glibc refuses 32 and 33): as a caller that ignores them would."""
    import ctypes

    act = (ctypes.c_ulong * 4)(handler, 0, 0, 0)
    assert ctypes.CDLL(None).syscall(ctypes.c_long(13), ctypes.c_int(sig), ctypes.byref(act), None,
                                     ctypes.c_size_t(8)) == 0


def test_workload_signals_are_default_and_orphans_are_reaped(engine: Engine) -> None:
    _set_disposition(32, 1)  # SIG_IGN inherited from whoever started composer (seen under CI)
    try:
        code, out, _ = run(engine, spec("t-sig", "grep", "SigIgn", "/proc/self/status"))
    finally:
        _set_disposition(32, 0)
    assert out == "SigIgn:\t0000000000000000\n"
    # with the host's PID namespace an orphan is re-parented to the monitor, a subreaper
    c = engine.containers.create(
        spec("t-orphans", "sh", "-c", "sh -c 'sleep 0.2 &'; sleep 30", pid_mode="host")
    )
    engine.containers.start(c.id)
    import json

    mon = json.loads((Path(engine.paths.container_run(c.id)) / "monitor.json").read_text())["pid"]

    time.sleep(0.8)
    assert zombie_children(mon) == []
    engine.containers.stop(c.id, timeout=0.1)


def test_log_rotation_keeps_the_newest_lines(engine: Engine) -> None:
    code, _, _ = run(
        engine,
        spec(
            "t-rot",
            "sh",
            "-c",
            "for i in $(seq 1 200); do echo line-$i; done",
            log_max_size=2000,
            log_max_file=2,
        ),
    )
    assert code == 0
    path = Path(engine.containers.log_path("t-rot"))
    assert sorted(p.name for p in path.parent.glob("ctr.log*")) == ["ctr.log", "ctr.log.1"]
    assert all(p.stat().st_size <= 2000 for p in path.parent.glob("ctr.log*"))
    texts = [r.text for r in engine.containers.logs("t-rot")]
    assert texts[-1] == b"line-200" and b"line-1" not in texts
    assert texts == [f"line-{i}".encode() for i in range(201 - len(texts), 201)]


def test_network_mode_container_shares_the_network_namespace(engine: Engine) -> None:
    from runtime.spec import NetworkAttachment, NetworkSpec

    engine.networks.create(NetworkSpec(name="t_shared"))
    try:
        a = engine.containers.create(
            spec(
                "t-net-a",
                "sleep",
                "100",
                network_mode="bridge",
                networks=(NetworkAttachment(network="t_shared"),),
            )
        )
        engine.containers.start(a.id)
        code, out, err = run(
            engine,
            spec("t-net-b", "sh", "-c", "readlink /proc/self/ns/net", network_mode=f"container:{a.id}"),
        )
        assert code == 0, err
        assert out.strip() == os.readlink(f"/proc/{engine.containers.get(a.id).pid}/ns/net")
        for c in engine.containers.list():
            engine.containers.remove(c.id, force=True)
    finally:
        engine.networks.remove("t_shared")


def test_the_workload_gets_umask_022_whatever_the_caller_has(engine: Engine) -> None:
    old = os.umask(0o077)
    try:
        code, out, _ = run(engine, spec("t-umask", "sh", "-c", "umask"))
    finally:
        os.umask(old)
    assert out == "0022\n"


def test_open_files_default_to_the_hard_limit_and_ulimits_apply(engine: Engine) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    _, out, _ = run(engine, spec("t-nofile", "sh", "-c", "ulimit -n"))
    assert out == f"{want}\n"
    _, out, _ = run(
        engine,
        spec(
            "t-nproc", "sh", "-c", "ulimit -n; ulimit -u", ulimits={"nofile": (100, 200), "nproc": (50, 60)}
        ),
    )
    assert out.split() == ["100", "50"]


def test_attached_stdin_reaches_the_workload_and_eof_ends_it(engine: Engine) -> None:
    c = engine.containers.create(
        spec("t-attach", "sh", "-c", "while read l; do echo got-$l; done; echo eof", stdin_open=True)
    )
    engine.containers.start(c.id)
    r, w = os.pipe()
    os.write(w, b"one\ntwo\n")
    os.close(w)
    engine.containers.attach_stdin(c.id, r)
    os.close(r)
    assert engine.containers.wait(c.id, timeout=10) == 0
    assert [x.text for x in engine.containers.logs(c.id)] == [b"got-one", b"got-two", b"eof"]
    with pytest.raises(Conflict, match="cannot attach stdin"):
        engine.containers.attach_stdin(c.id, 0)


def test_attached_input_goes_through_the_terminal(engine: Engine) -> None:
    c = engine.containers.create(spec("t-attach-tty", "sh", stdin_open=True, tty=True))
    engine.containers.start(c.id)
    r, w = os.pipe()
    os.write(w, b"echo hi-from-$((40+2))\nexit 5\n")
    os.close(w)
    engine.containers.attach_stdin(c.id, r)
    os.close(r)
    assert engine.containers.wait(c.id, timeout=10) == 5
    assert b"hi-from-42" in [x.text.rstrip(b"\r") for x in engine.containers.logs(c.id)]

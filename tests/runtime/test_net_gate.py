"""A `run`'s network gate (runtime/container_create.py NetworkGate): asked for with its start from
a warm monitor, the init sets up while the command plugs the network in, and runs its workload
only after the go-ahead. Its workload sees its network from its first instruction; a set-up that
fails after the request, and a SIGKILL of the command before the go-ahead, end the init before its
workload, and what is left is listed truly and removed whole."""

from __future__ import annotations

import ipaddress
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime import warm_monitor
from runtime.engine import Engine
from runtime.errors import ExecError, NetworkError
from runtime.executor import NET_GATE
from runtime.spec import ContainerSpec, Mount, NetworkAttachment, NetworkInfo, NetworkSpec
from tests.conftest import composer_cli, leftovers
from tests.killpoint import DIE_AT
from tests.runtime.conftest import wait_for

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]
# the workload's first instructions: what it sees of its network, and a mark that it ran
WORKLOAD = "ip -4 addr show eth0 > /m/seen; ip -4 route >> /m/seen; touch /m/ran; sleep 30"


def _spec(name: str, marks: Path, volatile: bool = False) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=("sh", "-c", WORKLOAD), volatile=volatile,
                         mounts=(Mount(type="bind", source=str(marks), target="/m"),),
                         networks=(NetworkAttachment(network="t-gate"),))


@pytest.fixture
def gated(engine: Engine) -> Engine:
    engine.networks.create(NetworkSpec(name="t-gate"))  # a free subnet of the pool
    return engine


def _net(engine: Engine) -> NetworkInfo:
    return engine.networks.get("t-gate")


def _default_route(engine: Engine) -> str:
    return f"default via {_net(engine).gateways[0]} dev eth0"


def _no_monitor_left(engine: Engine) -> None:
    wait_for(lambda: not [p for p in leftovers(engine.paths.rundir) if p.startswith("process")])


def test_the_workload_sees_its_network_from_its_first_instruction(gated: Engine, tmp_path: Path) -> None:
    warm = warm_monitor.start(gated.paths)
    assert warm is not None
    info = gated.containers.create(_spec("t-gate-a", tmp_path), start=True, warm=warm)
    run = Path(gated.paths.container_run(info.id))
    assert stat.S_ISFIFO(os.stat(run / NET_GATE).st_mode)  # asked for with the gate
    wait_for(lambda: (tmp_path / "ran").exists())
    seen = (tmp_path / "seen").read_text()
    address = gated.containers.get(info.id).networks["t-gate"]
    prefix = _net(gated).subnets[0].split("/")[1]
    assert f"inet {address}/{prefix}" in seen and _default_route(gated) in seen, seen
    assert gated.containers.intact(info.id)
    gated.containers.remove(info.id, force=True)


def test_a_run_asked_of_the_shared_monitor_already_up_plugs_its_network_first(
        gated: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)
    monkeypatch.delenv("COMPOSER_POD_MONITOR", raising=False)
    first = gated.containers.create(ContainerSpec(name="t-gate-up", image=IMAGE, command=("sleep", "30"),
                                                  network_mode="none"), start=True)
    # a warm monitor started anyway (a run racing the first one's monitor): the lone containers'
    # monitor answers on its socket, and the network is set up before that request
    warm = warm_monitor.spawn()
    assert warm is not None
    info = gated.containers.create(_spec("t-gate-d", tmp_path), start=True, warm=warm)
    wait_for(lambda: (tmp_path / "ran").exists())
    assert _default_route(gated) in (tmp_path / "seen").read_text()
    for cid in (info.id, first.id):
        gated.containers.remove(cid, force=True)


def test_a_set_up_failing_after_the_request_fails_the_run_and_leaves_nothing(
        gated: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.network import links

    def broken(*_: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(links, "plug", broken)
    warm = warm_monitor.start(gated.paths)
    with pytest.raises(NetworkError) as failed:
        gated.containers.create(_spec("t-gate-b", tmp_path), start=True, warm=warm)
    assert "\n" not in str(failed.value) and "Input/output error" in str(failed.value)
    assert gated.containers.list(all=True) == []
    _no_monitor_left(gated)
    assert not (tmp_path / "ran").exists()
    assert list(Path(gated.paths.netns("x")).parent.glob("*")) == []
    assert gated.networks.store.read().list("ip") == []  # its lease went with it


def test_a_run_whose_network_fails_after_the_request_says_so_in_one_line(
        gated: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSER_ZYGOTE", raising=False)  # as a user's: a warm monitor, asked first
    res = composer_cli("container", "run", "--rm", "--network", "t-gate", "--ip", "192.0.2.5", IMAGE, "true")
    assert res.returncode == 125 and res.stdout == "", res
    subnet = _net(gated).subnets[0]
    assert res.stderr.endswith(f"address 192.0.2.5 is not in subnet {subnet} of network t-gate\n"), res
    assert res.stderr.count("\n") == 1, res.stderr
    assert gated.containers.list(all=True) == []
    _no_monitor_left(gated)
    assert list(Path(gated.paths.netns("x")).parent.glob("*")) == []


def test_a_second_attempt_after_a_repair_plugs_into_the_namespace_the_init_joined(
        gated: Engine, tmp_path: Path) -> None:
    from runtime.network.manager import CTR

    static, stale = str(list(ipaddress.ip_network(_net(gated).subnets[0]).hosts())[76]), "d" * 64
    on_it = (NetworkAttachment(network="t-gate", ipv4_address=static),)
    # a crashed command's set-up holding the address: no container row, its owner dead
    gated.networks.setup_container(stale, ContainerSpec(name="t-gate-old", image=IMAGE, networks=on_it))
    with gated.networks.store.transaction() as tx:
        doc = tx.get(CTR, stale)
        assert doc is not None
        doc["owner"] = [2**22 + 1, "1"]  # beyond pid_max
        tx.put(CTR, stale, doc)
    spec = ContainerSpec(name="t-gate-c", image=IMAGE, command=("sh", "-c", WORKLOAD), networks=on_it,
                         mounts=(Mount(type="bind", source=str(tmp_path), target="/m"),))
    info = gated.containers.create(spec, start=True, warm=warm_monitor.start(gated.paths))
    wait_for(lambda: (tmp_path / "ran").exists())
    assert f"inet {static}/" in (tmp_path / "seen").read_text()
    assert gated.networks.store.read().get(CTR, stale) is None  # repaired
    gated.containers.remove(info.id, force=True)


KILLED = DIE_AT + textwrap.dedent("""
    from pathlib import Path
    from runtime import warm_monitor
    from runtime.engine import Engine
    from runtime.paths import Paths
    from runtime.spec import ContainerSpec, Mount, NetworkAttachment

    die_at(sys.argv[3])
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    spec = ContainerSpec(name="t-gate-k", image="localhost/busybox:latest",
                         command=("sh", "-c", sys.argv[5]), volatile=sys.argv[6] == "rm",
                         mounts=(Mount(type="bind", source=sys.argv[4], target="/m"),),
                         networks=(NetworkAttachment(network="t-gate"),))
    eng.containers.create(spec, start=True, warm=warm_monitor.start(eng.paths))
""")


def _killed_at(engine: Engine, step: str, marks: Path, rm: bool) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED, str(engine.paths.root), str(engine.paths.rundir),
                           step, str(marks), WORKLOAD, "rm" if rm else ""], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("step", [
    "before runtime.container_create._plug_network",  # asked for: nothing plugged yet
    "after runtime.container_create._plug_network",   # plugged, its bundle and row not whole
    "after runtime.container_create._finish_bundle",  # whole, but no go-ahead
])
def test_a_kill_before_the_go_ahead_never_runs_the_workload(gated: Engine, tmp_path: Path, step: str) -> None:
    _killed_at(gated, step, tmp_path, rm=False)
    [left] = gated.containers.list(all=True)
    run = Path(gated.paths.container_run(left.id))
    wait_for(lambda: (run / "exit.json").exists())  # the init ended at the gate
    assert not (tmp_path / "ran").exists()
    again = gated.containers.get(left.id)
    assert again.status == "created" and again.error, again  # the truth: it never ran
    if gated.containers.intact(left.id):  # made whole: a start runs it, with its network
        gated.containers.start(left.id)
        wait_for(lambda: (tmp_path / "ran").exists())
        assert _default_route(gated) in (tmp_path / "seen").read_text()
    else:
        with pytest.raises(ExecError, match="interrupted create"):
            gated.containers.start(left.id)
    gated.containers.remove(left.id, force=True)
    _no_monitor_left(gated)
    assert list(Path(gated.paths.netns("x")).parent.glob("*")) == []


def test_a_kill_before_the_go_ahead_of_run_rm_leaves_it_to_remove_itself(gated: Engine,
                                                                         tmp_path: Path) -> None:
    _killed_at(gated, "after runtime.container_create._plug_network", tmp_path, rm=True)
    wait_for(lambda: gated.containers.list(all=True) == [])  # its monitor's remover, the claim free
    _no_monitor_left(gated)
    assert not (tmp_path / "ran").exists()
    assert list(Path(gated.paths.netns("x")).parent.glob("*")) == []
    assert gated.networks.store.read().list("ip") == []

"""`composer container ...`: flag parsing (pure) and real busybox containers through the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from composer.cli._compose import status_text
from composer.cli.container_flags import (
    UsageError,
    parse_add_host,
    parse_bytes,
    parse_duration,
    parse_entrypoint,
    parse_publish,
    parse_restart,
    parse_security_opts,
    parse_tmpfs,
    parse_ulimit,
    parse_volume,
)
from composer.cli.container_spec import build_spec
from composer.cli.container_verbs import split_cp_arg
from composer.cli.context import Context
from composer.cli.humanize import human_duration
from composer.cli.main import build_parser
from runtime.spec import ContainerInfo, Mount, PortMapping
from tests.conftest import composer_cli

# ---- pure ---------------------------------------------------------------------------------


def test_sizes_and_durations() -> None:
    assert parse_bytes("512m", "memory") == 512 << 20
    assert parse_bytes("1G", "memory") == 1 << 30
    assert parse_bytes("1.5k", "memory") == 1536
    assert parse_bytes("-1", "swap") == -1
    assert parse_bytes("100", "memory") == 100
    with pytest.raises(UsageError, match="invalid memory '12q'"):
        parse_bytes("12q", "memory")
    assert parse_duration("1m30s", "interval") == 90
    assert parse_duration("500ms", "interval") == 0.5
    assert parse_duration("2", "interval") == 2
    with pytest.raises(UsageError, match="invalid interval '5 min'"):
        parse_duration("5 min", "interval")


def test_publish_forms() -> None:
    assert parse_publish("80") == [PortMapping(container_port=80)]
    assert parse_publish("8080:80") == [PortMapping(container_port=80, host_port=8080)]
    assert parse_publish("127.0.0.1:8080:80/udp") == [
        PortMapping(container_port=80, host_port=8080, host_ip="127.0.0.1", protocol="udp")]
    assert parse_publish("127.0.0.1::80") == [PortMapping(container_port=80, host_ip="127.0.0.1")]
    assert parse_publish("[::1]:8080:80") == [PortMapping(container_port=80, host_port=8080, host_ip="::1")]
    assert [p.host_port for p in parse_publish("9000-9001:80-81")] == [9000, 9001]
    for bad in ("80/sctp", "a:b", "0", "1:2:3:4", "90-91:80-82"):
        with pytest.raises(UsageError, match="invalid port"):
            parse_publish(bad)


def test_volume_forms(tmp_path: Path) -> None:
    assert parse_volume("/data", "/w") == Mount(type="volume", target="/data")
    assert parse_volume("cache:/data:ro", "/w") == Mount(type="volume", source="cache", target="/data",
                                                        read_only=True)
    assert parse_volume("./src:/app", "/w") == Mount(type="bind", source="/w/src", target="/app")
    assert parse_volume("/etc:/host-etc:ro,rslave", "/w") == Mount(
        type="bind", source="/etc", target="/host-etc", read_only=True, propagation="rslave")
    assert parse_volume("/data:ro", "/w") == Mount(type="volume", target="/data", read_only=True)
    with pytest.raises(UsageError, match="absolute"):
        parse_volume("x:data", "/w")
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        parse_volume("/a:/b:bogus", "/w")
    assert parse_tmpfs("/run:size=64m,mode=1777") == Mount(type="tmpfs", target="/run",
                                                           tmpfs_size=64 << 20, tmpfs_mode=0o1777)


def test_small_flags() -> None:
    assert parse_ulimit("nofile=1024:2048") == ("nofile", (1024, 2048))
    assert parse_ulimit("core=0") == ("core", (0, 0))
    with pytest.raises(UsageError, match="invalid ulimit"):
        parse_ulimit("nofile")
    assert parse_restart("on-failure:3") == ("on-failure", 3)
    with pytest.raises(UsageError, match="invalid restart policy 'sometimes'"):
        parse_restart("sometimes")
    assert parse_add_host("db:10.0.0.5") == ("db", "10.0.0.5")
    assert parse_add_host("v6:[::1]") == ("v6", "::1")
    assert parse_entrypoint('["/bin/sh", "-c"]') == ("/bin/sh", "-c")
    assert parse_entrypoint("") == ()
    assert parse_entrypoint("top") == ("top",)
    assert parse_security_opts(["seccomp=unconfined", "no-new-privileges=false", "label=disable"]) == {
        "seccomp": "unconfined", "no_new_privileges": False}
    with pytest.raises(UsageError, match="invalid security option"):
        parse_security_opts(["bogus=1"])
    assert split_cp_arg("web:/etc/hosts") == ("web", "/etc/hosts")
    assert split_cp_arg("/tmp/a:b") == (None, "/tmp/a:b")
    assert split_cp_arg("./x") == (None, "./x")


def test_human_output() -> None:
    assert human_duration(0.3) == "Less than a second"
    assert human_duration(5) == "5 seconds"
    assert human_duration(70) == "About a minute"
    assert human_duration(3 * 3600) == "3 hours"
    info = ContainerInfo(id="a" * 64, name="x", image="busybox", image_id="", labels={},
                         status="exited", created_at="2026-01-01T00:00:00.123456789Z",
                         finished_at="2026-01-01T00:00:10Z", exit_code=3)
    now = 1767225610.0 + 20   # 2026-01-01T00:00:30Z
    assert status_text(info, now) == "Exited (3) 20 seconds ago"


def _parsed(*argv: str) -> Context:
    args = build_parser().parse_args(["container", *argv])
    return Context(args=args, environ={"FROM_HOST": "h"}, cwd="/work")


def test_run_flags_become_a_container_spec() -> None:
    ctx = _parsed("run", "--name", "web", "-e", "A=1", "-e", "FROM_HOST", "-e", "UNSET", "-v", "./d:/d",
                  "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--memory", "64m", "--cpus", "0.5",
                  "--pids-limit", "20", "--restart", "on-failure:2", "--health-cmd", "true",
                  "--health-interval", "5s", "-p", "8080:80", "--network", "front,back",
                  "--network-alias", "www", "--ulimit", "nofile=10:20", "--sysctl", "net.core.somaxconn=1",
                  "--security-opt", "seccomp=unconfined", "-u", "1000:1000", "-w", "/tmp", "-t", "-i",
                  "--hostname", "h1", "--init", "--read-only", "--stop-signal", "SIGINT", "--pod", "p",
                  "busybox", "sh", "-c", "echo hi")
    spec = build_spec(ctx.args, ctx)
    assert spec.name == "web" and spec.image == "busybox" and spec.command == ("sh", "-c", "echo hi")
    assert spec.env == {"A": "1", "FROM_HOST": "h"}
    assert spec.mounts == (Mount(type="bind", source="/work/d", target="/d"),)
    assert spec.cap_add == ("NET_ADMIN",) and spec.cap_drop == ("ALL",)
    assert (spec.resources.memory, spec.resources.cpus, spec.resources.pids_limit) == (64 << 20, 0.5, 20)
    assert (spec.restart.name, spec.restart.max_retries) == ("on-failure", 2)
    assert spec.healthcheck is not None and spec.healthcheck.test == ("CMD-SHELL", "true")
    assert spec.healthcheck.interval == 5
    assert spec.ports == (PortMapping(container_port=80, host_port=8080),)
    assert [(n.network, n.aliases) for n in spec.networks] == [("front", ("www",)), ("back", ("www",))]
    assert spec.ulimits == {"nofile": (10, 20)} and spec.sysctls == {"net.core.somaxconn": "1"}
    assert spec.seccomp == "unconfined" and spec.user == "1000:1000" and spec.working_dir == "/tmp"
    assert spec.tty and spec.stdin_open and spec.init and spec.read_only
    assert (spec.hostname, spec.stop_signal, spec.pod) == ("h1", "SIGINT", "p")


def test_run_defaults() -> None:
    ctx = _parsed("run", "busybox")
    spec = build_spec(ctx.args, ctx)
    assert re.fullmatch(r"[a-z]+_[a-z]+", spec.name)
    assert spec.command is None and spec.entrypoint is None
    assert [n.network for n in spec.networks] == ["composer"] and spec.network_mode == "bridge"
    ctx = _parsed("run", "--network", "none", "busybox", "true")
    assert build_spec(ctx.args, ctx).networks == ()
    assert not spec.volatile and not build_spec(_parsed("create", "busybox").args, ctx).volatile
    ctx = _parsed("run", "--rm", "busybox")
    assert build_spec(ctx.args, ctx).volatile  # its storage skips syncs, as podman's --rm


def test_publish_all_takes_each_port_of_an_exposed_range_and_refuses_a_bad_one() -> None:
    ctx = _parsed("run", "-P", "--expose", "8000-8001/udp", "--expose", "80", "busybox")
    spec = build_spec(ctx.args, ctx, {"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}})
    assert [(p.container_port, p.protocol) for p in spec.ports] == [
        (80, "tcp"), (443, "tcp"), (8000, "udp"), (8001, "udp")]
    ctx = _parsed("run", "-P", "--expose", "abc", "busybox")
    with pytest.raises(UsageError, match=r"^invalid exposed port 'abc'; expected PORT\[-PORT\]"):
        build_spec(ctx.args, ctx)

# ---- real containers ----------------------------------------------------------------------

pytestmark_priv = pytest.mark.privileged


@pytest.fixture
def bb(engine_paths: tuple[Path, Path], busybox_tar: Path) -> Iterator[tuple[Path, Path]]:
    """busybox imported as localhost/busybox in a private root; every container and the default
    network are removed afterwards, and nothing may be left on the host."""
    r = composer_cli("image", "import", str(busybox_tar), "localhost/busybox:latest")
    assert r.returncode == 0, r.stderr
    yield engine_paths
    from runtime.engine import Engine
    from runtime.errors import NotFound
    from runtime.network.manager import host_veth
    from runtime.paths import Paths

    root, run = engine_paths
    engine = Engine(Paths(root=str(root), rundir=str(run)))
    try:
        infos = engine.containers.list(all=True)
        ids = [c.id for c in infos]
        veths = [host_veth(c.id, n) for c in infos for n in c.networks]
        for cid in ids:
            engine.containers.remove(cid, force=True, volumes=True)
        with contextlib.suppress(NotFound):
            engine.networks.remove("composer")
    finally:
        engine.close()
    leaked = [p for p in Path("/sys/fs/cgroup").glob("*/composer/standalone/*") if p.name in ids]
    assert not leaked, f"cgroups left behind: {leaked}"
    assert not [m for m in Path("/proc/mounts").read_text().splitlines() if str(root) in m or str(run) in m]
    assert not [v for v in veths if os.path.exists(f"/sys/class/net/{v}")], "veths left behind"


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return composer_cli("container", *args, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.privileged
def test_run_attaches_output_and_exits_with_the_containers_code(bb: tuple[Path, Path]) -> None:
    r = cli("run", "--rm", "--name", "t1", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7, r.stderr
    assert r.stdout == "out\n" and r.stderr == "err\n"
    assert cli("ls", "-a", "-q").stdout == ""   # --rm removed it


@pytest.mark.privileged
def test_only_a_run_rm_rootfs_is_volatile(bb: tuple[Path, Path]) -> None:
    """As podman: an --rm container's overlay skips syncs (its exit would sync the host's file
    system under it); a kept container's does not, so its writes survive a crash."""
    show = ("sh", "-c", "grep ' / ' /proc/mounts | grep -c volatile")
    r = cli("run", "--rm", "busybox", *show)
    assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr
    r = cli("run", "--name", "t-kept", "busybox", *show)
    assert (r.returncode, r.stdout) == (1, "0\n"), r.stderr
    assert cli("rm", "t-kept").returncode == 0


@pytest.mark.privileged
def test_detached_lifecycle_ls_inspect_exec_logs_stop_rm(bb: tuple[Path, Path]) -> None:
    r = cli("run", "-d", "--name", "web", "-e", "GREETING=hello", "-l", "tier=front", "busybox",
            "sh", "-c", "echo booted; echo oops >&2; exec sleep 300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)

    table = cli("ls").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert table[1].startswith(cid[:12]) and table[1].endswith("web") and " Up " in table[1]

    [doc] = [json.loads(line) for line in cli("ls", "--format", "json").stdout.splitlines()]
    assert doc["ID"] == cid[:12] and doc["Names"] == "web" and doc["State"] == "running"
    assert doc["Labels"] == "tier=front"
    assert cli("ls", "--filter", "label=tier=back", "-q").stdout == ""

    [ins] = json.loads(cli("inspect", "web").stdout)
    assert ins["Id"] == cid and ins["State"]["Running"] and ins["State"]["Pid"] > 0
    assert "GREETING=hello" in ins["Config"]["Env"]
    assert cli("inspect", "-f", "{{.State.Status}}", cid[:10]).stdout == "running\n"

    r = cli("exec", "-e", "X=1", "web", "sh", "-c", 'echo "$GREETING $X"; exit 3')
    assert (r.returncode, r.stdout) == (3, "hello 1\n")

    deadline = time.monotonic() + 5
    while "booted" not in cli("logs", "web").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    r = cli("logs", "web")
    assert (r.stdout, r.stderr) == ("booted\n", "oops\n")
    r = cli("logs", "-t", "--tail", "1", "web")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z oops\n", r.stderr + r.stdout)

    top = cli("top", "web").stdout.splitlines()
    assert top[0].split() == ["UID", "PID", "PPID", "CMD"] and "sleep 300" in top[1]

    assert cli("stop", "-t", "1", "web").stdout == "web\n"
    assert cli("wait", "web").stdout.strip() in ("137", "143")
    assert "Exited (" in cli("ls", "-a").stdout
    assert cli("ls", "-q").stdout == ""
    assert cli("rm", "web").returncode == 0
    r = cli("inspect", "web")
    assert r.returncode == 125 and "no container with name or ID web found" in r.stderr


@pytest.mark.privileged
def test_security_defaults_and_flags_reach_the_process(bb: tuple[Path, Path]) -> None:
    from runtime.security.caps import DEFAULT_CAPS, caps_mask

    probe = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ulimit -n"
    r = cli("run", "--rm", "--network", "none", "busybox", "sh", "-c", probe)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(":\t") for line in r.stdout.splitlines()[:-1])
    assert lines == {"CapEff": f"{caps_mask(DEFAULT_CAPS):016x}", "CapBnd": f"{caps_mask(DEFAULT_CAPS):016x}",
                     "NoNewPrivs": "1", "Seccomp": "2"}

    r = cli("run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE",
            "--security-opt", "seccomp=unconfined", "--ulimit", "nofile=100:200",
            "busybox", "sh", "-c", probe)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert f"CapEff:\t{caps_mask({'NET_BIND_SERVICE'}):016x}" in out and "Seccomp:\t0" in out
    assert out[-1] == "100"

    r = cli("run", "--rm", "--network", "none", "--cap-add", "CAP_BOGUS", "busybox", "true")
    assert r.returncode == 125 and 'unknown capability "CAP_BOGUS"' in r.stderr

    r = cli("run", "--rm", "--name", "sys", "--network", "none", "--sysctl", "vm.swappiness=1",
            "busybox", "true")
    assert r.returncode == 125
    assert r.stderr == ('container sys: sysctl "vm.swappiness" is not namespaced and cannot be set '
                        'in a container\n')
    r = cli("run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "busybox",
            "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert (r.returncode, r.stdout) == (0, "80\n"), r.stderr
    assert cli("ls", "-a", "-q").stdout == ""


@pytest.mark.privileged
def test_pids_limit_and_memory_limit_are_enforced(bb: tuple[Path, Path]) -> None:
    r = cli("run", "--rm", "--network", "none", "--pids-limit", "5", "busybox", "sh", "-c",
            "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait; echo done")
    # sh plus four sleeps fill the limit: the fifth fork fails and sh exits 2
    assert (r.returncode, r.stdout) == (2, ""), r
    assert "can't fork: Resource temporarily unavailable" in r.stderr
    # one process that grows without bound (no newline in /dev/zero): the OOM killer's only victim
    r = cli("run", "-d", "--name", "hog", "--network", "none", "--memory", "16m", "busybox", "sh", "-c",
            "exec tail /dev/zero")
    assert r.returncode == 0, r.stderr
    assert cli("wait", "hog").stdout.strip() == "137"
    [ins] = json.loads(cli("inspect", "hog").stdout)
    assert ins["State"]["OOMKilled"] is True and ins["HostConfig"]["Memory"] == 16 << 20


@pytest.mark.privileged
def test_pause_cp_and_published_port(bb: tuple[Path, Path], tmp_path: Path) -> None:
    port = _free_port()
    r = cli("run", "-d", "--name", "srv", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
            "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www")
    assert r.returncode == 0, r.stderr
    assert cli("port", "srv").stdout == f"80/tcp -> 127.0.0.1:{port}\n"
    assert cli("port", "srv", "80").stdout == f"127.0.0.1:{port}\n"

    body = ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "hello" not in body:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                body = s.recv(4096).decode(errors="replace")
        except OSError:
            time.sleep(0.1)
    assert "hello" in body

    (tmp_path / "in.txt").write_text("from host\n")
    assert cli("cp", str(tmp_path / "in.txt"), "srv:/www/in.txt").returncode == 0
    assert cli("exec", "srv", "cat", "/www/in.txt").stdout == "from host\n"
    assert cli("cp", "srv:/www/index.html", str(tmp_path / "out.html")).returncode == 0
    assert (tmp_path / "out.html").read_text() == "hello\n"

    assert cli("pause", "srv").returncode == 0
    assert cli("inspect", "-f", "{{.State.Status}}", "srv").stdout == "paused\n"
    assert cli("unpause", "srv").returncode == 0
    assert cli("inspect", "-f", "{{.State.Status}}", "srv").stdout == "running\n"
    assert cli("rm", "srv").returncode == 125   # running: refused without -f
    assert cli("rm", "-f", "srv").returncode == 0


@pytest.mark.privileged
def test_ls_format_is_docker_ps_format_on_the_go_template_engine(bb: tuple[Path, Path]) -> None:
    """docker ps --format: its fields (.ID .Names .Command .State .Status .Label "k" .Labels
    .Networks ...), a `table` prefix with the fields' titles, `json` one object per line with
    docker's keys, and the whole of Go's text/template (if, eq, printf), as every other --format."""
    r = cli("run", "-d", "--name", "fmt-up", "-l", "tier=front", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert cli("create", "--name", "fmt-new", "--network", "none", "busybox", "true").returncode == 0
    r = cli("ls", "-a", "--format", "table {{.Names}}\t{{.State}}\t{{.Command}}")
    assert r.returncode == 0, r.stderr
    assert [line.split() for line in r.stdout.splitlines()] == [
        ["NAMES", "STATE", "COMMAND"], ["fmt-new", "created", '"true"'],  # newest first, as docker's
        ["fmt-up", "running", '"sleep', '300"']]
    r = cli("ls", "-a", "--format",
            '{{if eq .State "running"}}{{printf "%s=%s" .Names .ID}} {{.Label "tier"}}{{end}} {{.Networks}}')
    assert (r.returncode, r.stdout) == (0, f" \nfmt-up={cid[:12]} front composer\n"), r.stderr
    assert cli("ls", "--no-trunc", "--format", "{{.ID}}").stdout == cid + "\n"
    r = cli("ls", "-q")  # docker warns of a --format that -q overrides, only when one is given
    assert (r.stdout, r.stderr) == (cid[:12] + "\n", "")
    r = cli("ls", "-q", "--format", "{{.Names}}")
    assert r.stdout == cid[:12] + "\n" and r.stderr.startswith("WARNING: Ignoring custom format")
    [doc] = [json.loads(line) for line in cli("ls", "--format", "json").stdout.splitlines()]
    assert sorted(doc) == ["Command", "CreatedAt", "HealthStatus", "ID", "Image", "Labels", "LocalVolumes",
                           "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"]
    assert (doc["Names"], doc["Labels"], doc["Size"]) == ("fmt-up", "tier=front", "0B")
    assert doc["Status"].startswith("Up ") and doc["RunningFor"].endswith(" ago")
    head = cli("ls", "--format", "table").stdout.splitlines()[0]
    titles = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert re.split(r" {3,}", head) == titles
    # the same titles as the default table's (not its widths: "1 second ago" may be "2 seconds" by now)
    assert re.split(r" {3,}", cli("ls").stdout.splitlines()[0]) == titles


@pytest.mark.privileged
def test_table_titles_are_docker_s_header_row(bb: tuple[Path, Path]) -> None:
    """docker/cli runs a table's template on its SubHeaderContext, a map of titles: .Label "k" is the
    key's last dotted part with '-' and '_' as spaces, its case kept (it was upper-cased), and a
    field with no title (or none at all) is a key the map lacks, <no value> (it was blank)."""
    r = cli("run", "-d", "--name", "hdr", "-l", "com.example.my-app_tier=front", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    r = cli("ls", "--format", 'table {{.Names}}\t{{.Label "com.example.my-app_tier"}}\t{{.Size}}')
    assert r.stdout.splitlines() == ["NAMES     my app tier   SIZE", "hdr       front         0B"], r.stderr
    r = cli("ls", "--filter", "name=nosuch", "--format", "table {{.Names}}\t{{.Nothing}}")
    assert (r.returncode, r.stdout) == (0, "NAMES     <no value>\n"), r.stderr


@pytest.mark.privileged
def test_create_then_start_attach_and_detached_rm(bb: tuple[Path, Path]) -> None:
    r = cli("create", "--name", "later", "--network", "none", "busybox", "echo", "hi")
    assert r.returncode == 0, r.stderr
    assert cli("inspect", "-f", "{{.State.Status}}", "later").stdout == "created\n"
    r = cli("start", "-a", "later")
    assert (r.returncode, r.stdout) == (0, "hi\n")

    r = cli("run", "-d", "--rm", "--name", "gone", "--network", "none", "busybox", "true")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while "gone" in cli("ls", "-a").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "gone" not in cli("ls", "-a").stdout


@pytest.mark.privileged
def test_a_failed_start_exits_1_and_a_failed_run_as_docker_run(bb: tuple[Path, Path]) -> None:
    """docker start (and restart) of a container whose command cannot run prints the error, then
    the containers that failed, and exits 1; docker run exits 127 for a command that is not there,
    126 for one that cannot be run (start exited 126 too, as run)."""
    assert cli("create", "--name", "nocmd", "--network", "none", "busybox", "nosuchcmd").returncode == 0
    assert cli("create", "--name", "fine", "--network", "none", "busybox", "true").returncode == 0
    why = 'exec: "nosuchcmd": executable file not found in $PATH'
    r = cli("start", "fine", "nocmd")
    assert (r.returncode, r.stdout) == (1, "fine\n"), r.stderr
    assert r.stderr.splitlines() == [f"Error: container nocmd: {why}", "failed to start containers: nocmd"]
    for argv in (("start", "-a", "nocmd"), ("restart", "-t", "0", "nocmd")):
        r = cli(*argv)
        assert r.returncode == 1 and r.stderr.strip().endswith(why), (argv, r.stderr)
    r = cli("run", "--rm", "--network", "none", "busybox", "nosuchcmd")
    assert r.returncode == 127 and r.stderr.strip().endswith(why), r.stderr
    r = cli("run", "--rm", "--network", "none", "busybox", "/etc")
    assert r.returncode == 126 and r.stderr.strip().endswith('exec: "/etc": permission denied'), r.stderr


# ---- pods ---------------------------------------------------------------------------------

def test_pod_status_from_container_statuses() -> None:
    from composer.cli.cmd_pod import pod_status

    assert pod_status([]) == "Created"
    assert pod_status(["running", "running"]) == "Running"
    assert pod_status(["running", "exited"]) == "Degraded"
    assert pod_status(["exited", "created"]) == "Exited"
    assert pod_status(["created"]) == "Created"
    assert pod_status(["paused"]) == "Paused"


def _have_pods() -> bool:
    import importlib.util

    return importlib.util.find_spec("runtime.pods") is not None


@pytest.mark.privileged
@pytest.mark.skipif(not _have_pods(), reason="runtime/pods.py (PodManager) is not written yet")
def test_pod_create_run_in_it_ls_inspect_stop_rm(bb: tuple[Path, Path]) -> None:
    r = composer_cli("pod", "create", "--name", "pp", "-l", "k=v")
    assert r.returncode == 0, r.stderr
    pod_id = r.stdout.strip()
    r = cli("run", "-d", "--name", "pp-a", "--pod", "pp", "--network", "none", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert any(p.name == cid for p in Path("/sys/fs/cgroup").glob("*/composer/**/pp/*"))
    table = composer_cli("pod", "ls").stdout.splitlines()
    assert table[0].split() == ["POD", "ID", "NAME", "STATUS", "CREATED", "#", "OF", "CONTAINERS"]
    assert table[1].startswith(pod_id[:12]) and " pp " in table[1] and "Running" in table[1]
    [doc] = json.loads(composer_cli("pod", "inspect", "pp").stdout)
    assert doc["Name"] == "pp" and doc["Labels"] == {"k": "v"} and doc["Containers"][0]["Id"] == cid
    assert composer_cli("pod", "stop", "-t", "1", "pp").returncode == 0
    assert cli("inspect", "-f", "{{.State.Status}}", "pp-a").stdout == "exited\n"
    assert composer_cli("pod", "rm", "-f", "pp").returncode == 0
    assert composer_cli("pod", "ls", "-q").stdout == ""
    assert cli("ls", "-a", "-q").stdout == ""
    r = composer_cli("pod", "inspect", "pp")
    assert r.returncode == 125 and json.loads(r.stdout) == []


@pytest.mark.privileged
def test_kill_with_a_signal_restart_and_follow_logs(bb: tuple[Path, Path]) -> None:
    r = cli("run", "-d", "--name", "trap", "--network", "none", "busybox", "sh", "-c",
            "trap 'echo got-usr1; exit 5' USR1; echo ready; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 10
    while "ready" not in cli("logs", "trap").stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cli("kill", "-s", "USR1", "trap").returncode == 0
    assert cli("wait", "trap").stdout == "5\n"
    # -f returns once the container has stopped, with everything it printed
    assert cli("logs", "-f", "trap").stdout == "ready\ngot-usr1\n"

    first = json.loads(cli("inspect", "trap").stdout)[0]["State"]["StartedAt"]
    assert cli("restart", "-t", "1", "trap").stdout == "trap\n"
    [ins] = json.loads(cli("inspect", "trap").stdout)
    assert ins["State"]["Running"] and ins["State"]["StartedAt"] > first
    assert cli("kill", "trap").returncode == 0   # SIGKILL by default
    assert cli("wait", "trap").stdout == "137\n"
    r = cli("kill", "trap")
    assert r.returncode == 125 and "cannot kill while exited" in r.stderr

"""Issue 4 audit, the `container run` network flags through the real CLI and real containers:
`--network NAME|none|host|container:NAME`, `--network-alias`, `--ip`, `-P` with `--expose`,
`--dns`, `--add-host`, `--hostname`, `container port`; `network rm` refuses a network in use; bad
input (unknown network, address outside the subnet or taken) is a one-line error that leaves no
container behind."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import composer_cli

from .conftest import links, tcp_get

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
ASK = ("for i in $(seq 25); do out=$(echo | nc -w 1 {host} 8080 2>/dev/null) && [ -n \"$out\" ] "
       "&& echo $out && exit 0; sleep 0.2; done; exit 1")


def _ok(*args: str) -> str:
    res = composer_cli(*args)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return res.stdout


def _run(*args: str) -> str:
    return _ok("container", "run", "--rm", *args)


def test_container_run_network_flags(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    _ok("image", "import", str(busybox_tar), IMAGE)
    _ok("network", "create", "--subnet", "10.232.9.0/24", "aud4n1")
    bridge = _ok("network", "inspect", "-f", '{{index .Options "com.docker.network.bridge.name"}}',
                 "aud4n1").strip()
    try:
        _ok("container", "run", "-d", "--name", "aud4s1", "--network", "aud4n1", "--network-alias", "sa",
            "--ip", "10.232.9.50", "--hostname", "hs1", "--dns", "192.0.2.9", "--add-host", "foo:10.3.3.3",
            "--expose", "8080", "-P", IMAGE, "nc", "-ll", "-p", "8080", "-e", "echo", "hi-s1")
        # -P published the exposed port on a random host port, listed by `container port`
        (line,) = _ok("container", "port", "aud4s1").splitlines()
        assert line.startswith("8080/tcp -> 0.0.0.0:"), line
        port = int(line.rsplit(":", 1)[1])
        for _ in range(25):
            try:
                if tcp_get("127.0.0.1", port) == "hi-s1":
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert tcp_get("127.0.0.1", port) == "hi-s1"
        files = _ok("container", "exec", "aud4s1", "sh", "-c",
                    "hostname; cat /etc/resolv.conf /etc/hosts; ip -4 -o addr show eth0").splitlines()
        # on a dns-enabled network the resolver at the gateway answers; --dns is where it forwards
        assert files[0] == "hs1" and "nameserver 10.232.9.1" in files
        records = (engine_paths[1] / "dns" / "records").read_text().splitlines()
        assert "upstream 10.232.9.50 192.0.2.9" in records
        assert "10.3.3.3\tfoo" in files and "10.232.9.50\ths1 aud4s1 sa" in files
        assert "inet 10.232.9.50/24" in files[-1]
        # a peer on the network reaches it by alias and by name; container: shares its interfaces
        assert _run("--network", "aud4n1", IMAGE, "sh", "-c", ASK.format(host="sa")).strip() == "hi-s1"
        assert _run("--network", "aud4n1", IMAGE, "sh", "-c", ASK.format(host="aud4s1")).strip() == "hi-s1"
        joined = _run("--network", "container:aud4s1", IMAGE, "ip", "-4", "-o", "addr", "show", "eth0")
        assert "inet 10.232.9.50/24" in joined
        # none: lo only; host: the host's interfaces
        none = _run("--network", "none", IMAGE, "ip", "-o", "link").splitlines()
        assert [ln.split()[1] for ln in none] == ["lo:"]
        host_links = {ln.split()[1].rstrip(":").split("@")[0]
                      for ln in _run("--network", "host", IMAGE, "ip", "-o", "link").splitlines()}
        assert bridge in host_links

        # bad input: one line naming the container or network, nothing left behind
        for args, msg in (
            (("--network", "aud4nosuch"), "network aud4nosuch not found"),
            (("--network", "aud4n1", "--ip", "10.233.0.5"),
             "address 10.233.0.5 is not in subnet 10.232.9.0/24"),
            (("--network", "aud4n1", "--ip", "10.232.9.50"),
             "address 10.232.9.50 is already in use on network"),
        ):
            res = composer_cli("container", "run", "--rm", "--name", "aud4bad", *args, IMAGE, "true")
            assert res.returncode == 125 and msg in res.stderr, (args, res.stderr)
            assert len(res.stderr.strip().splitlines()) == 1 and "container aud4bad" in res.stderr
        assert _ok("container", "ls", "-a", "--format", "{{.Names}}").split() == ["aud4s1"]

        # network rm refuses while in use, and keeps the bridge
        res = composer_cli("network", "rm", "aud4n1")
        assert res.returncode == 125 and res.stderr.strip() == "network aud4n1: in use by container aud4s1"
        assert bridge in links()
    finally:
        composer_cli("container", "rm", "-f", "aud4s1")
        composer_cli("network", "rm", "aud4n1")
    assert bridge not in links()
    assert str(engine_paths[1]) not in Path("/proc/mounts").read_text()


def test_repeated_network_flags_mtu_and_bridge_name(
        engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    """`--network` repeated gives one eth per network in order, the default route through the first;
    docker's MTU and bridge-name driver options reach the bridge and the container's interface."""
    _ok("image", "import", str(busybox_tar), IMAGE)
    bridge = f"cma4br{os.getpid() % 100000}"  # a host-wide name: unique per run
    _ok("network", "create", "--subnet", "10.232.10.0/24", "--opt", "com.docker.network.driver.mtu=1400",
        "--opt", f"com.docker.network.bridge.name={bridge}", "aud4m1")
    _ok("network", "create", "--subnet", "10.232.11.0/24", "--attachable", "aud4m2")
    try:
        shown = json.loads(_ok("network", "inspect", "aud4m1", "aud4m2"))
        assert shown[0]["Options"] == {"com.docker.network.bridge.name": bridge,
                                       "com.docker.network.driver.mtu": "1400"}
        assert [n["Attachable"] for n in shown] == [False, True]
        assert Path(f"/sys/class/net/{bridge}/mtu").read_text().strip() == "1400"
        out = _run("--network", "aud4m1", "--network", "aud4m2", IMAGE, "sh", "-c",
                   "cat /sys/class/net/eth0/mtu; ip -4 -o addr show eth0; ip -4 -o addr show eth1; ip route")
        lines = out.splitlines()
        assert lines[0] == "1400"
        assert "inet 10.232.10." in lines[1] and "inet 10.232.11." in lines[2]
        assert "default via 10.232.10.1 dev eth0" in out
    finally:
        composer_cli("network", "rm", "aud4m1", "aud4m2")
    assert bridge not in links()

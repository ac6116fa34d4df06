"""`composer network ...` through the real CLI (a subprocess), on a private root and run dir."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from runtime.network.nft import table_name
from tests.conftest import composer_cli

from .conftest import links, nft_tables

pytestmark = pytest.mark.privileged


def _ok(*args: str) -> str:
    r = composer_cli(*args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def test_network_create_ls_inspect_rm_prune(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("network", "create", "--subnet", "172.29.44.0/24", "--gateway", "172.29.44.1",
                     "--label", "team=a", "--opt", "mtu=1400", "demo_net")
    assert r.returncode == 0 and r.stdout == "demo_net\n", r.stderr
    (info,) = json.loads(_ok("network", "inspect", "demo_net"))
    bridge = info["Options"]["com.docker.network.bridge.name"]
    # docker's NetworkResource, in its order
    assert list(info) == ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv4", "EnableIPv6", "IPAM",
                          "Internal", "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers",
                          "Options", "Labels"]
    assert info["Name"] == "demo_net" and len(info["Id"]) == 64
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", info["Created"]), info["Created"]
    assert (info["Scope"], info["Driver"]) == ("local", "bridge")
    assert (info["EnableIPv4"], info["EnableIPv6"]) == (True, False)
    assert info["IPAM"] == {"Driver": "default", "Options": {},
                            "Config": [{"Subnet": "172.29.44.0/24", "Gateway": "172.29.44.1"}]}
    assert (info["Internal"], info["Attachable"], info["Ingress"], info["ConfigOnly"]) == (False,) * 4
    assert info["ConfigFrom"] == {"Network": ""} and info["Containers"] == {}
    assert info["Options"] == {"mtu": "1400", "com.docker.network.bridge.name": bridge}
    assert info["Labels"] == {"team": "a"}
    assert bridge in links()
    assert "mtu 1400" in subprocess.run(["ip", "link", "show", bridge], capture_output=True, text=True).stdout
    r = composer_cli("network", "create", "--subnet", "172.29.0.0/16", "clash")
    assert r.returncode == 125
    assert r.stderr.strip() == ("network clash: subnet 172.29.0.0/16 overlaps subnet 172.29.44.0/24 "
                                "of network demo_net")
    r = composer_cli("network", "create", "--internal", "--subnet", "172.29.45.0/24", "--subnet",
                     "fd89:29:45::/64", "--gateway", "172.29.45.254", "other")
    assert r.returncode == 0, r.stderr
    (other,) = json.loads(_ok("network", "inspect", "other"))
    assert other["IPAM"]["Config"] == [{"Subnet": "172.29.45.0/24", "Gateway": "172.29.45.254"},
                                       {"Subnet": "fd89:29:45::/64", "Gateway": "fd89:29:45::1"}]
    assert other["EnableIPv6"] is True and other["Internal"] is True
    ids = {n: json.loads(_ok("network", "inspect", n))[0]["Id"] for n in ("demo_net", "other")}
    # ls: docker's columns, -q the short ids, sorted by name
    assert _ok("network", "ls", "-q").split() == [ids["demo_net"][:12], ids["other"][:12]]
    assert _ok("network", "ls", "-q", "--no-trunc").split() == [ids["demo_net"], ids["other"]]
    table = _ok("network", "ls").splitlines()
    assert table == [f"{'NETWORK ID':<15}{'NAME':<11}{'DRIVER':<10}SCOPE",
                     f"{ids['demo_net'][:12]:<15}{'demo_net':<11}{'bridge':<10}local",
                     f"{ids['other'][:12]:<15}{'other':<11}{'bridge':<10}local"]
    listed = [json.loads(x)
              for x in _ok("network", "ls", "--format", "json", "--filter", "label=team=a").splitlines()]
    assert [sorted(n) for n in listed] == [["CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels",
                                            "Name", "Scope"]]
    assert (listed[0]["Name"], listed[0]["Labels"], listed[0]["IPv6"]) == ("demo_net", "team=a", "false")
    assert listed[0]["CreatedAt"].endswith(" +0000 UTC")
    fmt = "{{.Name}} {{.IPv6}} {{.Internal}} {{.Label \"team\"}}"
    assert _ok("network", "ls", "--format", fmt).splitlines() == ["demo_net false false a",
                                                                  "other true true "]
    assert _ok("network", "ls", "--format", "table {{.Name}}\t{{.Driver}}").splitlines()[0].split() == [
        "NAME", "DRIVER"]
    assert _ok("network", "ls", "-q", "--filter", "name=oth").split() == [ids["other"][:12]]
    by_id = _ok("network", "ls", "-q", "--filter", f"id={ids['demo_net'][:6]}")
    assert by_id.split() == [ids["demo_net"][:12]]
    assert _ok("network", "ls", "-q", "--filter", "label=team", "--filter", "driver=bridge").split() == [
        ids["demo_net"][:12]]
    assert _ok("network", "ls", "-q", "--filter", "type=builtin").split() == []
    assert len(_ok("network", "ls", "-q", "--filter", "dangling=true").split()) == 2
    r = composer_cli("network", "ls", "--filter", "colour=red")
    assert r.returncode == 2 and "invalid filter 'colour'" in r.stderr and "Traceback" not in r.stderr
    # inspect --format: Go's text/template over the document
    assert _ok("network", "inspect", "-f", "{{.Name}} {{(index .IPAM.Config 0).Subnet}} {{.Labels}}",
               "demo_net", "other") == "demo_net 172.29.44.0/24 map[team:a]\nother 172.29.45.0/24 map[]\n"
    assert _ok("network", "inspect", "--format", "{{json .ConfigFrom}}", "demo_net") == '{"Network":""}\n'
    r = composer_cli("network", "inspect", "nope")
    assert r.returncode == 125 and "network nope: not found" in r.stderr and json.loads(r.stdout) == []
    assert composer_cli("network", "rm", "demo_net").stdout == "demo_net\n"
    assert bridge not in links()
    assert composer_cli("network", "prune", "-f").stdout == "other\n"
    assert composer_cli("network", "ls", "-q").stdout == ""
    assert f"table inet {table_name(engine_paths[1])}\n" not in nft_tables()


def test_network_inspect_shows_each_containers_endpoint(engine_paths: tuple[Path, Path],
                                                         busybox_image: str) -> None:
    _ok("network", "create", "--subnet", "172.29.46.0/24", "--ip-range", "172.29.46.128/25",
        "--subnet", "fd89:29:46::/64", "h9ep")
    try:
        cid = _ok("container", "run", "-d", "--name", "h9ep-c", "--network", "h9ep", busybox_image,
                  "sleep", "300").strip()
        (info,) = json.loads(_ok("network", "inspect", "h9ep"))
        assert info["IPAM"]["Config"][0] == {"Subnet": "172.29.46.0/24", "IPRange": "172.29.46.128/25",
                                             "Gateway": "172.29.46.1"}
        assert list(info["Containers"]) == [cid]
        ep = info["Containers"][cid]
        assert list(ep) == ["Name", "EndpointID", "MacAddress", "IPv4Address", "IPv6Address"]
        assert ep["Name"] == "h9ep-c" and re.fullmatch(r"[0-9a-f]{64}", ep["EndpointID"])
        assert ep["IPv4Address"] == "172.29.46.128/24" and ep["IPv6Address"].endswith("/64")
        # the container's own view agrees: address, MAC and endpoint
        inside = _ok("container", "exec", "h9ep-c", "sh", "-c", "cat /sys/class/net/eth0/address; "
                     "ip -4 -o addr show eth0").splitlines()
        assert inside[0] == ep["MacAddress"] and "inet 172.29.46.128/24" in inside[1]
        net = json.loads(_ok("container", "inspect", "h9ep-c"))[0]["NetworkSettings"]["Networks"]["h9ep"]
        assert (net["EndpointID"], net["MacAddress"], net["NetworkID"]) == (
            ep["EndpointID"], ep["MacAddress"], info["Id"])
        names = '{{range $id, $c := .Containers}}{{$c.Name}}={{$c.IPv4Address}}{{end}}'
        assert _ok("network", "inspect", "-f", names, "h9ep") == "h9ep-c=172.29.46.128/24\n"
        assert _ok("network", "ls", "-q", "--filter", "dangling=false").split() == [info["Id"][:12]]
    finally:
        composer_cli("container", "rm", "-f", "h9ep-c")
        composer_cli("network", "rm", "h9ep")


def test_network_inspect_lists_only_the_containers_with_a_live_endpoint(
    engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    """As moby's, whose endpoint of a container lives from its start to its exit: a created or
    stopped container attached is not in Containers (it was), a paused one is; a network with
    only such containers is dangling."""
    _ok("network", "create", "h9live")
    _ok("network", "create", "h9idle")
    try:
        run = ("--network", "h9live", busybox_image, "sleep", "300")
        up = _ok("container", "run", "-d", "--name", "h9live-up", *run).strip()
        paused = _ok("container", "run", "-d", "--name", "h9live-paused", *run).strip()
        _ok("container", "pause", "h9live-paused")
        _ok("container", "create", "--name", "h9live-created", *run)
        _ok("container", "run", "-d", "--name", "h9live-stopped", *run)
        _ok("container", "stop", "-t", "0", "h9live-stopped")
        _ok("container", "create", "--name", "h9idle-created", "--network", "h9idle", busybox_image, "true")
        (info,) = json.loads(_ok("network", "inspect", "h9live"))
        assert sorted(info["Containers"]) == sorted([up, paused])
        (idle,) = json.loads(_ok("network", "inspect", "h9idle"))
        assert idle["Containers"] == {}
        dangling = _ok("network", "ls", "--filter", "dangling=true", "--format", "{{.Name}}").split()
        assert "h9idle" in dangling and "h9live" not in dangling
    finally:
        for c in ("h9live-up", "h9live-paused", "h9live-created", "h9live-stopped", "h9idle-created"):
            composer_cli("container", "rm", "-f", c)
        composer_cli("network", "rm", "h9live", "h9idle")

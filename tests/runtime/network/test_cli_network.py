"""`composer network ...` through the real CLI (a subprocess), on a private root and run dir."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runtime.network.nft import table_name
from tests.conftest import composer_cli

from .conftest import links, nft_tables

pytestmark = pytest.mark.privileged


def test_network_create_ls_inspect_rm_prune(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("network", "create", "--subnet", "172.29.44.0/24", "--gateway", "172.29.44.1",
                     "--label", "team=a", "--opt", "mtu=1400", "demo_net")
    assert r.returncode == 0 and r.stdout == "demo_net\n", r.stderr
    (info,) = json.loads(composer_cli("network", "inspect", "demo_net").stdout)
    assert info["subnets"] == ["172.29.44.0/24"] and info["labels"] == {"team": "a"}
    bridge = info["bridge"]
    assert bridge in links()
    assert "mtu 1400" in subprocess.run(["ip", "link", "show", bridge], capture_output=True, text=True).stdout
    r = composer_cli("network", "create", "--subnet", "172.29.0.0/16", "clash")
    assert r.returncode == 125
    assert r.stderr.strip() == ("network clash: subnet 172.29.0.0/16 overlaps subnet 172.29.44.0/24 "
                                "of network demo_net")
    r = composer_cli("network", "create", "--internal", "--subnet", "172.29.45.0/24", "--subnet",
                     "fd89:29:45::/64", "--gateway", "172.29.45.254", "other")
    assert r.returncode == 0, r.stderr
    other = composer_cli("network", "inspect", "other")
    assert '"172.29.45.254"' in other.stdout and '"fd89:29:45::/64"' in other.stdout
    assert '"enable_ipv6": true' in other.stdout and '"internal": true' in other.stdout
    assert composer_cli("network", "ls", "-q").stdout.split() == ["demo_net", "other"]
    table = composer_cli("network", "ls").stdout.splitlines()
    assert table[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SUBNETS"] and len(table) == 3
    listed = json.loads(composer_cli("network", "ls", "--format", "json", "--filter", "label=team=a").stdout)
    assert [n["name"] for n in listed] == ["demo_net"]
    r = composer_cli("network", "inspect", "nope")
    assert r.returncode == 125 and "network nope: not found" in r.stderr and json.loads(r.stdout) == []
    assert composer_cli("network", "rm", "demo_net").stdout == "demo_net\n"
    assert bridge not in links()
    assert composer_cli("network", "prune", "-f").stdout == "other\n"
    assert composer_cli("network", "ls", "-q").stdout == ""
    assert f"table inet {table_name(engine_paths[1])}\n" not in nft_tables()

"""nft.apply for real, through libnftables in process and through an `nft -f` process: the same
table results, an invalid script is a one-line NetworkError, and the table is gone after."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import NetworkError
from runtime.network import NetworkManager, nft
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec, PortMapping

from .conftest import free_port, tcp_get

pytestmark = pytest.mark.privileged

TABLE = "composer_applytest"
Fx = Callable[..., Any]


def listed() -> str:
    proc = subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else ""


@pytest.fixture(params=[True, False], ids=["libnftables", "nft-process"])
def via(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    monkeypatch.setattr(nft, "use_library", request.param)
    if request.param:
        assert nft._library() is not None, "libnftables.so.1 should load on this host"
    yield request.param
    nft.apply(nft.render(TABLE, [], []))
    assert listed() == ""


def test_apply_makes_replaces_and_deletes_our_table(via: bool) -> None:
    bridges = [nft.BridgeRules("cmapply0", ("10.250.0.0/24",), False)]
    nft.apply(nft.render(TABLE, bridges, [nft.PortRule("tcp", "127.0.0.1", 18081, "10.250.0.2", 80)]))
    first = listed()
    assert "127.0.0.1 . tcp . 18081 : 10.250.0.2 . 80" in first
    nft.apply(nft.render(TABLE, bridges, [nft.PortRule("udp", "", 18082, "10.250.0.3", 53)]))
    second = listed()
    assert "18081" not in second and "udp . 18082 : 10.250.0.3 . 53" in second
    nft.apply(nft.render(TABLE, [], []))
    assert listed() == ""


def test_an_invalid_script_is_a_one_line_error_and_changes_nothing(via: bool) -> None:
    nft.apply(nft.render(TABLE, [nft.BridgeRules("cmapply0", ("10.250.0.0/24",), False)], []))
    before = listed()
    with pytest.raises(NetworkError, match="^nftables: cannot apply composer rules: ") as err:
        nft.apply(f"table inet {TABLE} {{\n  chain x {{\n    bogus rule\n  }}\n}}\n")
    assert "\n" not in str(err.value)
    assert listed() == before


def test_port_changes_touch_only_their_elements_and_need_the_table(via: bool) -> None:
    a = nft.PortRule("tcp", "", 18083, "10.250.0.2", 80)
    b = nft.PortRule("udp", "127.0.0.1", 18084, "10.250.0.4", 53)
    with pytest.raises(NetworkError):
        nft.apply(nft.render_port_change(TABLE, add=[a]))  # no table
    bridges = [nft.BridgeRules("cmapply0", ("10.250.0.0/24",), False)]
    nft.apply(nft.render(TABLE, bridges, [a]))
    assert "tcp . 18083 : 10.250.0.2 . 80" in listed()
    nft.apply(nft.render_port_change(TABLE, add=[b], remove=[a]))
    got = listed()
    assert "18083" not in got and "127.0.0.1 . udp . 18084 : 10.250.0.4 . 53" in got
    assert 'saddr 10.250.0.0/24 oifname != "cmapply0" masquerade' in got  # the rest is untouched
    with pytest.raises(NetworkError):  # deleting what is not there fails, changing nothing
        nft.apply(nft.render_port_change(TABLE, add=[a], remove=[a, a]))
    assert listed() == got
    with pytest.raises(NetworkError):  # the same key with another address fails too
        other = nft.PortRule("udp", "127.0.0.1", 18084, "10.250.0.9", 53)
        nft.apply(nft.render_port_change(TABLE, add=[other]))
    assert listed() == got


def test_a_table_deleted_behind_our_back_is_made_again(manager: NetworkManager, servers: Fx) -> None:
    manager.create(NetworkSpec(name="demo_default"))
    subprocess.run(["nft", "delete", "table", "inet", manager.table], check=True)
    port = free_port()
    net = manager.setup_container("a" * 64, ContainerSpec(
        name="demo-web-1", image="i", networks=(NetworkAttachment(network="demo_default"),),
        ports=(PortMapping(container_port=80, host_port=port, host_ip="127.0.0.1"),)))
    assert net.netns_path
    servers(net.netns_path, 80, "again")
    assert tcp_get("127.0.0.1", port) == "again"


def test_asking_whether_nftables_is_there_loads_no_library_where_the_command_is() -> None:
    """A container set-up asks (NetworkManager.nft_ok) but writes no rule unless it publishes a
    port: the answer comes from PATH, the library (~1 ms to load) from what writes rules."""
    import sys

    code = ("from runtime.network import nft; assert nft.nft_available(); "
            "assert nft._lib is None, 'libnftables was loaded'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_command_is_looked_for_as_shutil_which_does(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    import shutil

    exe, plain = tmp_path / "bin" / "tool", tmp_path / "bin" / "data"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    plain.write_text("")
    (tmp_path / "bin" / "dir").mkdir()
    for path in (f"/nonexistent:{exe.parent}", "/nonexistent", ""):
        monkeypatch.setenv("PATH", path)
        for name in ("tool", "data", "dir", "missing"):
            assert nft._which(name) == shutil.which(name), (path, name)

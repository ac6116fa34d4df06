"""nft.apply for real, through libnftables in process and through an `nft -f` process: the same
table results, an invalid script is a one-line NetworkError, and the table is gone after."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from runtime.errors import NetworkError
from runtime.network import nft

pytestmark = pytest.mark.privileged

TABLE = "composer_applytest"


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
    assert "tcp dport 18081 dnat ip to 10.250.0.2:80" in first
    nft.apply(nft.render(TABLE, bridges, [nft.PortRule("udp", "", 18082, "10.250.0.3", 53)]))
    second = listed()
    assert "18081" not in second and "udp dport 18082 dnat ip to 10.250.0.3:53" in second
    nft.apply(nft.render(TABLE, [], []))
    assert listed() == ""


def test_an_invalid_script_is_a_one_line_error_and_changes_nothing(via: bool) -> None:
    nft.apply(nft.render(TABLE, [nft.BridgeRules("cmapply0", ("10.250.0.0/24",), False)], []))
    before = listed()
    with pytest.raises(NetworkError, match="^nftables: cannot apply composer rules: ") as err:
        nft.apply(f"table inet {TABLE} {{\n  chain x {{\n    bogus rule\n  }}\n}}\n")
    assert "\n" not in str(err.value)
    assert listed() == before

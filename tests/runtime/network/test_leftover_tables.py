"""Other engines' leftover nftables tables: network set-up deletes the table of an engine whose
state is gone, and one that serves no link (a command killed between deleting a bridge and its
rules), whose masquerade of a subnet a live network reuses would rewrite that network's bridged
traffic under br_netfilter; never a live engine's table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.network import NetworkManager, links, nft
from runtime.paths import Paths
from runtime.spec import IPAMConfig, NetworkSpec
from runtime.state import Store
from tests.killpoint import DIE_AT

REPO = Path(__file__).resolve().parents[3]
SUBNET = "10.77.42.0/24"

# ---- pure: the table's owner comment and the decision -------------------------------------------

LISTING = textwrap.dedent("""\
    table inet composer_0123abcd { # handle 77
    \tcomment "composer mntns=4026531832 root=/tmp/t/root"
    \tmap at4 { # handle 2
    \t\ttypeof ip daddr . meta l4proto . th dport : ip daddr . th dport
    \t}
    \tchain postrouting { # handle 9
    \t\toifname "cmaaaa" ip saddr 10.77.42.0/24 masquerade # handle 12
    \t}
    \tchain forward { # handle 10
    \t\tiifname "cmaaaa" oifname { "cmbbbb", "br-x" } drop # handle 13
    \t}
    \tchain input { # handle 11
    \t\tip daddr 10.77.42.1 meta l4proto { tcp, udp } th dport 53 iifname != { "lo", "cmaaaa" } drop
    \t}
    }
""")


def test_a_table_listing_gives_its_handle_comment_and_bridges() -> None:
    t = nft.parse_table("composer_0123abcd", LISTING)
    assert t == nft.TableListing("composer_0123abcd", 77, "composer mntns=4026531832 root=/tmp/t/root",
                                 ("cmaaaa", "cmbbbb", "br-x"))
    assert nft.comment_owner(t.comment) == (4026531832, "/tmp/t/root")
    assert nft.comment_owner("something else") is None


def test_the_owner_comment_names_the_engine_root_or_nothing_when_nft_cannot_hold_it() -> None:
    assert nft.owner_comment(Path("/tmp/t/root"), 5) == "composer mntns=5 root=/tmp/t/root"
    assert nft.owner_comment(Path("/tmp/" + "x" * 120), 5) == ""
    assert nft.owner_comment(Path('/tmp/a"b'), 5) == ""
    text = nft.render("composer_0123abcd", [nft.BridgeRules("cmaaaa", (SUBNET,), False)], [],
                      "composer mntns=5 root=/r")
    assert '\n  comment "composer mntns=5 root=/r"\n' in text


def _reason(t: nft.TableListing, *, owned: set[str] = frozenset(), links_up: set[str] = frozenset(),  # type: ignore[assignment]
            states: set[str] = frozenset(), mntns: int = 4026531832) -> str:  # type: ignore[assignment]
    return nft.leftover_reason(t, mntns=mntns, owned=owned.__contains__, link_exists=links_up.__contains__,
                               state_exists=states.__contains__)


def test_a_table_is_a_leftover_when_its_engine_state_is_gone_or_it_serves_no_link() -> None:
    t = nft.parse_table("composer_0123abcd", LISTING)
    live = {"/tmp/t/root"}
    assert _reason(t, links_up={"cmaaaa"}, states=live) == ""  # a live engine's, its bridge up
    assert _reason(t, owned={"composer_0123abcd"}, states=live) == ""  # a link names it as owner
    assert _reason(t, links_up={"br-x"}, states=live) == ""  # a bridge it names (an older alias-less one)
    assert _reason(t, states=live) == "none of its bridges exists"
    assert "state of its engine (/tmp/t/root) is gone" in _reason(t, links_up={"cmaaaa"})
    # seen from another mount namespace its root says nothing: kept while its links live
    assert _reason(t, links_up={"cmaaaa"}, mntns=1) == ""
    other = nft.TableListing("docker_nat", 3, "", ())  # not an engine's table: never
    assert _reason(other) == ""
    assert not nft.is_engine_table("composer_0123abcz") and nft.is_engine_table("composer")


# ---- real tables -------------------------------------------------------------------------------


def _table(name: str) -> str | None:
    r = subprocess.run(["nft", "list", "table", "inet", name], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def _manager(base: Path) -> NetworkManager:
    paths = Paths(root=str(base / "root"), rundir=str(base / "run"))
    return NetworkManager(paths, Store(base / "root" / "state.db"))


@pytest.mark.privileged
def test_network_create_deletes_the_table_of_an_engine_whose_state_is_gone_and_keeps_live_ones(
    manager: NetworkManager, tmp_path: Path
) -> None:
    dead = _manager(tmp_path / "dead")
    bridge = dead.create(NetworkSpec(name="t-lt-dead", ipam=(IPAMConfig(subnet="10.77.42.0/26"),))).bridge
    live = _manager(tmp_path / "live")
    live.create(NetworkSpec(name="t-lt-live", ipam=(IPAMConfig(subnet="10.77.42.64/26"),)))
    try:
        assert 'comment "composer mntns=' in (_table(dead.table) or "")
        dead.store.close()
        shutil.rmtree(tmp_path / "dead")  # its state gone without a down; its bridge stays up
        manager.create(NetworkSpec(name="t-lt-new", ipam=(IPAMConfig(subnet="10.77.42.128/26"),)))
        assert _table(dead.table) is None
        assert "10.77.42.64/26" in (_table(live.table) or "")  # a live engine's: kept
        assert "10.77.42.128/26" in (_table(manager.table) or "")
    finally:
        links.delete_bridge(bridge)
        live.remove("t-lt-live")
        live.store.close()


@pytest.mark.privileged
def test_a_table_a_killed_network_rm_left_for_a_reused_subnet_goes_when_another_engine_takes_it(
    manager: NetworkManager, tmp_path: Path
) -> None:
    """`network rm` killed after deleting the bridge, before rendering the table without it: the
    table still masquerades the subnet off that bridge. Another engine's network on the subnet
    deletes it; the killed engine's next command finds its own table right."""
    killed = _manager(tmp_path / "k")
    killed.create(NetworkSpec(name="t-lt-k", ipam=(IPAMConfig(subnet=SUBNET),)))
    code = DIE_AT + textwrap.dedent(f"""
        from pathlib import Path
        from runtime.engine import Engine
        from runtime.paths import Paths
        die_at("before runtime.network.manager.NetworkManager._refresh_nft")
        k = Path({str(tmp_path / "k")!r})
        Engine(Paths(root=str(k / "root"), rundir=str(k / "run"))).networks.remove("t-lt-k")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stderr
    assert SUBNET in (_table(killed.table) or "")  # the leftover: its bridge is gone
    manager.create(NetworkSpec(name="t-lt-reuse", ipam=(IPAMConfig(subnet=SUBNET),)))
    assert _table(killed.table) is None
    assert SUBNET in (_table(manager.table) or "")
    killed.repair()  # the killed engine's next command finishes the removal
    assert killed.list() == [] and _table(killed.table) is None
    killed.store.close()

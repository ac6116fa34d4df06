"""Every host link composer makes (a network's bridge, a container's host veth) names its engine
and owner in its alias (links.owner_alias), as `ip link` shows it; the suite's leak check reads it
to report the links of this run's engines only, with the run dir (the test) that left them."""

from __future__ import annotations

import pytest

from runtime.network import NetworkManager, links
from runtime.spec import ContainerSpec, NetworkAttachment, NetworkSpec

pytestmark = pytest.mark.privileged


def test_the_leak_check_names_this_engines_links_only(manager: NetworkManager,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import _links_under

    info = manager.create(NetworkSpec(name="lc_default"))
    manager.setup_container("c" * 64, ContainerSpec(name="lc-c-1", image="i",
                                                    networks=(NetworkAttachment(network="lc_default"),)))
    assert links.owner_of(info.bridge) == manager.table
    found = _links_under(str(tmp_path_factory.getbasetemp()))
    assert f"bridge {info.bridge} (network lc_default) of the engine at {manager.paths.rundir}" in found
    assert any(line.startswith("link ve") and "(container lc-c-1)" in line for line in found), found
    assert _links_under(str(manager.paths.root)) == []  # no engine's run dir under it: nothing

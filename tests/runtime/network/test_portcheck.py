"""Published ports out of range are refused in one line before anything is made (pure)."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidSpec
from runtime.network.portcheck import check_ports
from runtime.spec import PortMapping


@pytest.mark.parametrize(
    ("port", "what"),
    [
        (PortMapping(container_port=80, host_port=70000), "published port 70000:80/tcp: host port must be 0-65535"),
        (PortMapping(container_port=80, host_port=-1), "published port -1:80/tcp: host port must be 0-65535"),
        (PortMapping(container_port=0, host_port=8080), "published port 8080:0/tcp: container port must be 1-65535"),
        (PortMapping(container_port=65536, protocol="udp"), "published port 0:65536/udp: container port must be"),
    ],
)
def test_out_of_range_is_refused_naming_the_container(port: PortMapping, what: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        check_ports("demo-web-1", (PortMapping(container_port=53), port))
    assert str(info.value).startswith(f"container demo-web-1: {what}")
    assert "\n" not in str(info.value) and not str(info.value).endswith(".")


def test_the_bounds_are_accepted() -> None:
    check_ports("c", (PortMapping(container_port=1, host_port=0), PortMapping(container_port=65535, host_port=65535)))

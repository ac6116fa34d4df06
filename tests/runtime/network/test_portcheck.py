"""Published ports out of range are refused in one line before anything is made (pure)."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidSpec
from runtime.network.portcheck import check_ports
from runtime.spec import PortMapping


def _pm(container: int, host: int, protocol: str = "tcp") -> PortMapping:
    return PortMapping(container_port=container, host_port=host, protocol=protocol)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("port", "what"),
    [
        (_pm(80, 70000), "published port 70000:80/tcp: host port must be 0-65535"),
        (_pm(80, -1), "published port -1:80/tcp: host port must be 0-65535"),
        (_pm(0, 8080), "published port 8080:0/tcp: container port must be 1-65535"),
        (_pm(65536, 0, "udp"), "published port 0:65536/udp: container port must be"),
    ],
)
def test_out_of_range_is_refused_naming_the_container(port: PortMapping, what: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        check_ports("demo-web-1", (PortMapping(container_port=53), port))
    assert str(info.value).startswith(f"container demo-web-1: {what}")
    assert "\n" not in str(info.value) and not str(info.value).endswith(".")


def test_the_bounds_are_accepted() -> None:
    check_ports("c", (_pm(1, 0), _pm(65535, 65535)))

"""Published ports checked before anything of a container is made (pure; no socket is opened).

Python's socket.bind() says "bind(): port must be 0-65535." for a host port out of range, and a
container port 0 would make a DNAT to nowhere: both are refused here, in one line naming the
container, the mapping and the range.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import InvalidSpec
from runtime.spec import PortMapping


def check_ports(name: str, ports: Sequence[PortMapping]) -> None:
    """Raise InvalidSpec for the first mapping whose host or container port is out of range."""
    for p in ports:
        what = f"container {name}: published port {p.host_port}:{p.container_port}/{p.protocol}"
        if not 0 <= p.host_port <= 65535:
            raise InvalidSpec(f"{what}: host port must be 0-65535 (0: any free port)")
        if not 1 <= p.container_port <= 65535:
            raise InvalidSpec(f"{what}: container port must be 1-65535")

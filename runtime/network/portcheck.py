"""Published and exposed ports checked before anything of a container is made (pure; no socket
is opened).

Python's socket.bind() says "bind(): port must be 0-65535." for a host port out of range, and a
container port 0 would make a DNAT to nowhere: both are refused here, in one line naming the
container, the mapping and the range. An exposed port is read as docker's ParsePortRange reads
it (compose refuses `expose: [abc]` when it builds the container, the loader accepts it).
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


_PORT = "[0-9]{1,5}"


def check_expose(name: str, expose: Sequence[str]) -> None:
    """Raise InvalidSpec for the first `expose` entry that is not PORT[-PORT][/PROTOCOL]."""
    if not expose:
        return
    import re  # here: `container run` without --expose never loads it

    for item in expose:
        m = re.fullmatch(rf"({_PORT})(?:-({_PORT}))?(?:/([A-Za-z]*))?", item)
        what = f"container {name}: invalid exposed port {item!r}"
        if m is None:
            raise InvalidSpec(f"{what}; expected PORT[-PORT][/PROTOCOL]")
        start, end = int(m.group(1)), int(m.group(2) or m.group(1))
        if end > 65535:
            raise InvalidSpec(f"{what}: ports are 0-65535")
        if end < start:
            raise InvalidSpec(f"{what}: the range ends before it starts")

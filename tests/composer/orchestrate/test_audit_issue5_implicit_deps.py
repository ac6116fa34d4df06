"""Issue 5 audit: implicit dependencies (links, volumes_from, network_mode/ipc/pid: service:x) order
the services like depends_on does, and teardown runs the other way round."""

from __future__ import annotations

from pathlib import Path

from composer.graph import service_dependencies, service_order

from .helpers import load

IMPLICIT = """
services:
  front:
    image: busybox
    links: ["api:backend"]
  api:
    image: busybox
    volumes_from: ["store:ro"]
    ipc: "service:shm"
  store:
    image: busybox
    network_mode: "service:net"
  net:
    image: busybox
  shm:
    image: busybox
    pid: "service:net"
"""


def test_implicit_dependencies_order_the_services(tmp_path: Path) -> None:
    p = load(tmp_path, IMPLICIT)
    order = service_order(p)
    for dependent, dependency in [
        ("front", "api"),
        ("api", "store"),
        ("api", "shm"),
        ("store", "net"),
        ("shm", "net"),
    ]:
        assert order.index(dependency) < order.index(dependent), order
    # the loader may already have turned these into depends_on (compose-go does): either way each
    # dependent names its dependency
    assert set(service_dependencies(p.services["api"])) == {"store", "shm"}
    assert set(service_dependencies(p.services["front"])) == {"api"}
    assert set(service_dependencies(p.services["store"])) == {"net"}
    assert set(service_dependencies(p.services["shm"])) == {"net"}

"""Service keys composer once accepted and ignored, applied to real containers as docker compose and
docker's engine apply them: mac_address (service level: the primary network's only; per network),
cgroup (host: no cgroup namespace of its own), mem_reservation and
deploy.resources.reservations.memory (the memory cgroup's soft limit), and what is not applied
said in one warning line (reservations.cpus)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

SLEEP = '["sleep", "1000"]'
COMPOSE = f"""
name: keys
services:
  mac:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    mac_address: "02:42:ac:11:00:99"
    networks:
      back: {{}}
      front: {{priority: 10}}
  netmac:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    networks:
      back: {{mac_address: "02-42-AC-11-00-AA"}}
  hostcg:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    cgroup: host
  privcg:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    cgroup: private
  resv:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    deploy: {{resources: {{reservations: {{memory: 64M, cpus: "0.5"}}}}}}
  memres:
    image: localhost/busybox:latest
    command: {SLEEP}
    stop_grace_period: 1s
    mem_reservation: 32m
networks:
  front: {{}}
  back: {{}}
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "keys")


def _sh(proj: Path, service: str, script: str) -> str:
    return composer_ok(proj, "exec", "-T", service, "sh", "-c", script).stdout


def test_service_keys_reach_the_container(proj: Path) -> None:
    up = composer_ok(proj, "up", "-d")

    # the service-level address is the primary network's (front: priority 10, eth0) only
    macs = _sh(proj, "mac", "cat /sys/class/net/eth0/address /sys/class/net/eth1/address").split()
    assert macs[0] == "02:42:ac:11:00:99"
    assert macs[1] != macs[0]
    assert _sh(proj, "netmac", "cat /sys/class/net/eth0/address").strip() == "02:42:ac:11:00:aa"

    host_ns = os.readlink("/proc/self/ns/cgroup")
    out = _sh(proj, "hostcg", "readlink /proc/self/ns/cgroup; grep :memory: /proc/self/cgroup; "
                              "ls /sys/fs/cgroup/memory/composer 2>&1 | head -1").splitlines()
    assert out[0] == host_ns
    assert out[1].startswith(f"{out[1].split(':')[0]}:memory:/composer/")  # its place in the host's tree
    assert "No such file" in out[2]  # /sys/fs/cgroup shows its own cgroup, not the host's tree
    out = _sh(proj, "privcg", "readlink /proc/self/ns/cgroup; grep :memory: /proc/self/cgroup").splitlines()
    assert out[0] != host_ns and out[1].endswith(":memory:/")
    insp = composer_ok(proj, "container", "inspect", "-f", "{{.HostConfig.CgroupnsMode}}", "keys-hostcg-1")
    assert insp.stdout.strip() == "host"

    soft = "cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.low"
    assert _sh(proj, "resv", soft).strip() == str(64 * 1024 * 1024)
    assert _sh(proj, "memres", soft).strip() == str(32 * 1024 * 1024)
    warned = [line for line in up.stderr.splitlines() if "reservations" in line]
    assert len(warned) == 1 and "service resv: deploy.resources.reservations.cpus is not applied" in warned[0]
    assert "mac_address" not in up.stderr and "cgroup is" not in up.stderr  # applied, not ignored


BAD = """
name: keysbad
services:
  a:
    image: localhost/busybox:latest
    command: ["sleep", "1000"]
    {key}
    networks:
      one: {{mac_address: "02:42:ac:11:00:01"}}
      two: {{}}
networks: {{one: {{}}, two: {{}}}}
"""


@pytest.mark.parametrize(("key", "said"), [
    ('mac_address: "02:42:ac:11:00"',
     "service a: mac_address: invalid mac address '02:42:ac:11:00'; expected a unicast address"),
    ('mac_address: "03:42:ac:11:00:02"',   # multicast: the kernel refuses it on an interface
     "service a: mac_address: invalid mac address '03:42:ac:11:00:02'"),
    ('mac_address: "02:42:ac:11:00:02"',   # as docker compose's prepareContainerMACAddress
     "service a: mac_address: the service-level mac_address should have the same value as network one"),
])
def test_a_bad_mac_address_is_one_line_and_makes_nothing(tmp_path: Path, busybox_image: str,
                                                         key: str, said: str) -> None:
    (tmp_path / "compose.yaml").write_text(BAD.format(key=key))
    try:
        res = composer_cli("up", "-d", cwd=tmp_path)
        assert res.returncode != 0
        assert said in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert composer_cli("ps", "-a", "-q", cwd=tmp_path).stdout.strip() == ""
        assert "keysbad" not in composer_cli("network", "ls", cwd=tmp_path).stdout
    finally:
        composer_cli("down", "-v", cwd=tmp_path)


def test_a_per_network_mac_address_is_checked_at_up(tmp_path: Path, busybox_image: str) -> None:
    (tmp_path / "compose.yaml").write_text(BAD.format(key="").replace("02:42:ac:11:00:01", "zz"))
    assert composer_cli("config", "-q", cwd=tmp_path).returncode == 0  # as docker compose's config
    try:
        res = composer_cli("up", "-d", cwd=tmp_path)
        assert res.returncode != 0
        assert "service a: networks.one.mac_address: invalid mac address 'zz'" in res.stderr
        assert composer_cli("ps", "-a", "-q", cwd=tmp_path).stdout.strip() == ""
    finally:
        composer_cli("down", "-v", cwd=tmp_path)


def test_container_run_cgroupns(busybox_image: str) -> None:
    host_ns = os.readlink("/proc/self/ns/cgroup")
    for mode, same in (("host", True), ("private", False)):
        res = composer_cli("container", "run", "--rm", "--network", "none", "--cgroupns", mode,
                           busybox_image, "readlink", "/proc/self/ns/cgroup")
        assert res.returncode == 0, res.stderr
        assert (res.stdout.strip() == host_ns) is same


BLKIO = """
name: keysblk
services:
  io:
    image: localhost/busybox:latest
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    blkio_config:
      weight: 300
      weight_device: [{{path: {dev}, weight: 400}}]
      device_read_bps: [{{path: {dev}, rate: 1mb}}]
      device_write_bps: [{{path: {dev}, rate: "2m"}}]
      device_read_iops: [{{path: {dev}, rate: 100}}]
      device_write_iops: [{{path: {dev}, rate: 200}}]
  bad:
    image: localhost/busybox:latest
    profiles: [bad]
    command: ["sleep", "1000"]
    blkio_config: {{device_read_bps: [{{path: /dev/null, rate: 1}}]}}
"""


def test_blkio_config_reaches_the_cgroup(tmp_path: Path, busybox_image: str) -> None:
    from tests.runtime.test_cgroups import block_device

    dev, num = block_device()
    (tmp_path / "compose.yaml").write_text(BLKIO.format(dev=dev))
    try:
        up = composer_ok(tmp_path, "up", "-d")
        v1 = "blkio" in (Path("/proc/self/cgroup").read_text())
        if not v1:
            pytest.skip("no v1 blkio hierarchy")  # the plans for v2 are checked in test_cgroups
        files = "blkio.throttle.read_bps_device blkio.throttle.write_bps_device " \
                "blkio.throttle.read_iops_device blkio.throttle.write_iops_device"
        out = _sh(tmp_path, "io", f"cd /sys/fs/cgroup/blkio && cat {files}").splitlines()
        assert out == [f"{num} {1024 * 1024}", f"{num} {2 * 1024 * 1024}", f"{num} 100", f"{num} 200"]
        weight = _sh(tmp_path, "io", "cd /sys/fs/cgroup/blkio; cat blkio.weight blkio.bfq.weight "
                                     "blkio.weight_device blkio.bfq.weight_device 2>/dev/null; true")
        said = [line for line in up.stderr.splitlines() if "blkio" in line]
        # applied where this host's blkio cgroup has the file and the device's scheduler takes it,
        # else said in one line naming the service (this host's devices do not use BFQ)
        assert len(said) <= 1
        assert ("300" in weight.split()) or "weight:" in "".join(said)
        assert (f"{num} 400" in weight) or "weight_device:" in "".join(said)
        assert all(line.startswith("WARN[0000] service io: blkio settings not applied (") for line in said)
        bad = composer_cli("--profile", "bad", "up", "-d", "bad", cwd=tmp_path)
        assert bad.returncode != 0 and "blkio device /dev/null: not a block device" in bad.stderr
        assert "keysblk-bad" not in composer_cli("ps", "-a", cwd=tmp_path).stdout
    finally:
        composer_cli("--profile", "bad", "down", "-v", "-t", "1", cwd=tmp_path)

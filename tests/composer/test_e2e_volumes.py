"""Top-level volumes as a docker compose user writes them: a named volume that binds a host dir
(driver_opts type: none, o: bind), a tmpfs volume, an external one, the image's own VOLUMEs; what
up makes, what the containers see, and what down -v removes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from composer import labels as L
from composer.loader.hashing import volume_hash
from tests.conftest import compose_project, composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
services:
  app:
    image: localhost/withvol:latest
    command: sleep 1000
    stop_grace_period: 1s
    volumes: [host:/host, scratch:/scratch, shared:/shared]
volumes:
  host:
    driver: local
    driver_opts: {{type: none, o: bind, device: "{hostdir}"}}
    labels: {{team: infra}}
  scratch:
    driver_opts: {{type: tmpfs, device: tmpfs, o: "size=2m"}}
  shared:
    external: true
    name: volumes-e2e-shared
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_tar: Path, busybox_image: str) -> Iterator[Path]:
    res = composer_cli("image", "import", "-c", 'VOLUME ["/data"]', str(busybox_tar),
                       "localhost/withvol:latest")
    assert res.returncode == 0, res.stderr
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    (hostdir / "h.txt").write_text("from the host\n")
    yield from compose_project(tmp_path, COMPOSE.format(hostdir=hostdir), "vole2e")
    composer_cli("volume", "rm", "-f", "volumes-e2e-shared")


def _names() -> list[str]:
    return sorted(composer_cli("volume", "ls", "-q").stdout.split())


def test_a_missing_external_volume_stops_up_before_anything_is_made(proj: Path) -> None:
    res = composer_ok(proj, "-p", "vole2e", "up", "-d", code=None)
    assert res.returncode != 0
    assert res.stderr.strip().endswith('external volume "volumes-e2e-shared" not found')
    assert _names() == [] and composer_cli("ps", "-a", "-q").stdout == ""


def test_driver_opts_volumes_image_volumes_and_down_v(proj: Path, tmp_path: Path) -> None:
    composer_cli("volume", "create", "volumes-e2e-shared")
    composer_ok(proj, "-p", "vole2e", "up", "-d")
    out = composer_ok(proj, "-p", "vole2e", "exec", "-T", "app", "sh", "-c",
                      "cat /host/h.txt; echo from-app > /host/a.txt; grep ' /scratch ' /proc/mounts; "
                      "echo kept > /data/f; grep -c ' /data ' /proc/mounts").stdout
    lines = out.splitlines()
    assert lines[0] == "from the host" and lines[-1] == "1"
    assert lines[1].startswith("tmpfs /scratch tmpfs ") and "size=2048k" in lines[1]
    assert (tmp_path / "hostdir" / "a.txt").read_text() == "from-app\n"
    [host] = json.loads(composer_cli("volume", "inspect", "vole2e_host").stdout)
    assert host["Labels"] == {"com.docker.compose.project": "vole2e", "com.docker.compose.version":
                              host["Labels"]["com.docker.compose.version"],
                              "com.docker.compose.volume": "host", "team": "infra",
                              L.CONFIG_HASH: host["Labels"][L.CONFIG_HASH]}
    assert host["Labels"][L.CONFIG_HASH] == volume_hash("vole2e_host", {
        "driver": "local", "driver_opts": host["Options"], "labels": {"team": "infra"}})
    assert host["Options"] == {"type": "none", "o": "bind", "device": str(tmp_path / "hostdir")}
    [anon] = [n for n in _names() if len(n) == 64]  # the image's VOLUME /data
    mounts = json.loads(composer_cli("container", "inspect", "-f", "{{json .Mounts}}", "vole2e-app-1").stdout)
    assert {m["Destination"]: m.get("Name") for m in mounts}["/data"] == anon
    composer_ok(proj, "-p", "vole2e", "down", "-v")
    assert _names() == ["volumes-e2e-shared"]  # an external volume is never the project's to remove
    assert sorted(p.name for p in (tmp_path / "hostdir").iterdir()) == ["a.txt", "h.txt"]


def test_up_warns_of_a_declared_volume_it_did_not_make_and_uses_it(proj: Path) -> None:
    composer_cli("volume", "create", "volumes-e2e-shared")
    composer_cli("volume", "create", "vole2e_host")
    res = composer_ok(proj, "-p", "vole2e", "up", "-d", "--no-start")
    assert ('WARN[0000] volume "vole2e_host" already exists but was not created by Docker Compose. '
            "Use `external: true` to use an existing volume") in res.stderr.splitlines()
    [host] = json.loads(composer_cli("volume", "inspect", "vole2e_host").stdout)
    assert host["Labels"] == {} and host["Options"] == {}  # used as it is, as docker compose does


def test_a_volume_plugin_driver_is_refused_before_anything_is_made(tmp_path: Path,
                                                                    busybox_image: str) -> None:
    d = tmp_path / "plugin"
    d.mkdir()
    (d / "compose.yaml").write_text("services:\n  a: {image: localhost/busybox:latest, volumes: [data:/d]}\n"
                                    "volumes:\n  data: {driver: rexray/ebs}\n")
    res = composer_ok(d, "-p", "voldrv", "up", "-d", code=None)
    assert res.returncode != 0
    assert res.stderr.strip().endswith('volumes.data.driver: error looking up volume plugin rexray/ebs: '
                                       'plugin "rexray/ebs" not found; expected local')
    assert _names() == [] and composer_cli("network", "ls", "-q").stdout == ""


SHARED = """
services:
  a: {image: localhost/busybox:latest, command: sleep 1000, stop_grace_period: 1s, volumes: [mem:/m]}
  b: {image: localhost/busybox:latest, command: sleep 1000, stop_grace_period: 1s, volumes: [mem:/m]}
volumes:
  mem:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m"}
"""


def _mounted_under(root: Path) -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(root))]


def test_services_sharing_a_tmpfs_volume_see_the_same_files_until_the_last_stops(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    """As docker's local driver: one tmpfs on the volume's own directory, bound into each."""
    root = engine_paths[0]
    for proj in compose_project(tmp_path, SHARED, "volshare"):
        composer_ok(proj, "-p", "volshare", "up", "-d")
        composer_ok(proj, "-p", "volshare", "exec", "-T", "a", "sh", "-c", "echo from-a > /m/f")
        assert composer_ok(proj, "-p", "volshare", "exec", "-T", "b", "cat", "/m/f").stdout == "from-a\n"
        assert len(_mounted_under(root / "volumes")) == 1
        composer_ok(proj, "-p", "volshare", "stop")
        assert _mounted_under(root / "volumes") == []  # its last user stopped: its data is gone
        composer_ok(proj, "-p", "volshare", "start")
        assert composer_ok(proj, "-p", "volshare", "exec", "-T", "b", "ls", "-A", "/m").stdout == ""
        composer_ok(proj, "-p", "volshare", "down", "-v")
        assert _mounted_under(root / "volumes") == [] and _names() == []


BAD_DEVICE = """
services:
  app: {{image: localhost/busybox:latest, command: sleep 1000, volumes: [gone:/g]}}
volumes:
  gone:
    driver_opts: {{type: none, o: bind, device: "{device}"}}
"""


def test_a_volume_whose_device_is_missing_fails_the_start_in_one_line(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    """moby mounts a local volume at the start: the container is made, its start fails."""
    device = tmp_path / "missing"
    for proj in compose_project(tmp_path, BAD_DEVICE.format(device=device), "volbad"):
        res = composer_ok(proj, "-p", "volbad", "up", "-d", code=None)
        data = engine_paths[0] / "volumes" / "volbad_gone" / "_data"
        why = (f"container volbad-app-1: error while mounting volume '{data}': failed to mount local "
               f"volume: mount {device}:{data}, flags: 0x1000: no such file or directory")
        assert res.returncode == 1 and res.stderr.strip().splitlines()[-1].endswith(why), res.stderr
        ps = composer_ok(proj, "-p", "volbad", "ps", "-a", "--format", "{{.Name}} {{.State}}").stdout
        assert ps.split() == ["volbad-app-1", "created"]
        assert _mounted_under(engine_paths[0]) == []


DRIFT = """
services:
  app: {{image: localhost/busybox:latest, command: sleep 1000, stop_grace_period: 1s, volumes: [data:/data]}}
volumes:
  data: {data}
"""


def test_a_volume_that_drifted_from_the_file_is_recreated_only_when_the_user_says_yes(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    """docker compose 2.40's ensureVolume: a config-hash label on the volumes it makes; up asks
    before recreating one whose hash differs (no answer: keep it), -y says yes; external: as is."""
    question = ('Volume "voldrift_data" exists but doesn\'t match configuration in compose file. '
                "Recreate (data will be lost)?")
    for proj in compose_project(tmp_path, DRIFT.format(data="{labels: {v: '1'}}"), "voldrift"):
        _up(proj)
        composer_ok(proj, "-p", "voldrift", "exec", "-T", "app", "touch", "/data/kept")
        first = composer_ok(proj, "-p", "voldrift", "ps", "-q").stdout
        assert question not in _up(proj)  # the file as it was: no question
        (proj / "compose.yaml").write_text(DRIFT.format(data="{labels: {v: '2'}}"))
        assert _up(proj) == question  # asked; no answer (stdin at its end) is no: kept as it is
        assert _ls_data(proj) == "kept\n" and composer_ok(proj, "-p", "voldrift", "ps", "-q").stdout == first
        assert question not in _up(proj, "-y")
        assert _ls_data(proj) == ""  # recreated, and the container with it
        assert composer_ok(proj, "-p", "voldrift", "ps", "-q").stdout != first
        [vol] = json.loads(composer_cli("volume", "inspect", "voldrift_data").stdout)
        assert vol["Labels"]["v"] == "2"
        assert vol["Labels"][L.CONFIG_HASH] == volume_hash("voldrift_data", {"labels": {"v": "2"}})
        assert question not in _up(proj)
        (proj / "compose.yaml").write_text(DRIFT.format(data="{external: true, name: voldrift_data}"))
        assert "match configuration" not in _up(proj)  # external: used as it is, never asked about


def _up(proj: Path, *flags: str) -> str:
    """`up -d` with stdin at its end, as a script runs it; its stdout."""
    res = composer_cli("--progress", "plain", "-p", "voldrift", "up", "-d", *flags, cwd=proj, input="")
    assert res.returncode == 0, res.stderr
    return res.stdout


def _ls_data(proj: Path) -> str:
    return composer_ok(proj, "-p", "voldrift", "exec", "-T", "app", "ls", "/data").stdout

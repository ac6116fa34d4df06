"""`composer volume ...` through the real CLI, in a private runtime root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import composer_cli


def test_volume_create_ls_inspect_rm(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("volume", "create", "--label", "com.example=yes", "--opt", "type=tmpfs",
                     "--opt", "device=tmpfs", "--opt", "o=size=1m", "data1")
    assert (r.returncode, r.stdout) == (0, "data1\n"), r.stderr
    r = composer_cli("volume", "create", "--label", "other=label", "data1")  # as docker's: the one there
    assert (r.returncode, r.stdout) == (0, "data1\n"), r.stderr
    r = composer_cli("volume", "create")
    anon = r.stdout.strip()
    assert r.returncode == 0 and len(anon) == 64

    r = composer_cli("volume", "ls")
    assert r.stdout.splitlines()[0] == "DRIVER    VOLUME NAME"  # docker's tabwriter: 10 wide, 3 apart
    assert sorted(line.split()[1] for line in r.stdout.splitlines()[1:]) == sorted([anon, "data1"])
    r = composer_cli("volume", "ls", "-q", "--filter", "label=com.example=yes")
    assert r.stdout == "data1\n"

    r = composer_cli("volume", "ls", "--format", "{{.Name}} {{.Label \"com.example\"}} {{.Scope}}",
                     "--filter", "name=^data")
    assert r.stdout == "data1 yes local\n"
    r = composer_cli("volume", "ls", "--format", "json", "--filter", "name=data1")
    assert json.loads(r.stdout) == {
        "Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "com.example=yes",
        "Links": "N/A", "Mountpoint": str(engine_paths[0] / "volumes" / "data1" / "_data"),
        "Name": "data1", "Scope": "local", "Size": "N/A", "Status": "N/A"}

    r = composer_cli("volume", "inspect", "data1")
    [doc] = json.loads(r.stdout)
    assert list(doc) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["CreatedAt"])  # Go's time.RFC3339
    assert doc["Mountpoint"] == str(engine_paths[0] / "volumes" / "data1" / "_data")
    assert doc["Labels"] == {"com.example": "yes"}
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}

    r = composer_cli("volume", "inspect", "data1", "nosuch")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: get nosuch: no such volume\n")
    assert [d["Name"] for d in json.loads(r.stdout)] == ["data1"]

    r = composer_cli("volume", "rm", "data1")
    assert (r.returncode, r.stdout) == (0, "data1\n")
    assert not (engine_paths[0] / "volumes" / "data1").exists()
    r = composer_cli("volume", "rm", "data1")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: get data1: no such volume\n")
    assert composer_cli("volume", "rm", "-f", "data1").returncode == 0

    composer_cli("volume", "create", "named")
    r = composer_cli("volume", "prune", "-f")  # docker >= 23: the anonymous ones only
    assert (r.returncode, r.stdout) == (0, f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n")
    assert composer_cli("volume", "ls", "-q").stdout == "named\n"
    r = composer_cli("volume", "prune", "-f", "--all")
    assert r.stdout == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    assert composer_cli("volume", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    assert composer_cli("volume", "ls", "-q").stdout == ""


@pytest.mark.privileged
def test_volume_rm_of_a_volume_in_use_says_so_as_docker(engine_paths: tuple[Path, Path],
                                                        busybox_image: str) -> None:
    r = composer_cli("container", "create", "--name", "holder", "-v", "held:/data", busybox_image, "true")
    assert r.returncode == 0, r.stderr
    cid = composer_cli("container", "inspect", "-f", "{{.Id}}", "holder").stdout.strip()
    r = composer_cli("volume", "rm", "held")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"Error response from daemon: remove held: volume is in use - [{cid}]\n"
    assert composer_cli("volume", "prune", "-a", "-f").stdout == "Total reclaimed space: 0B\n"
    assert composer_cli("container", "rm", "holder").returncode == 0
    assert composer_cli("volume", "rm", "held").stdout == "held\n"


def test_volume_create_with_a_bad_option_fails_and_names_it(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("volume", "create", "--opt", "colour=red", "v2")
    assert r.returncode == 125
    assert r.stderr.strip() == "volume v2: unknown driver option 'colour'; expected type, device or o"

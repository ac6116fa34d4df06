"""`composer volume ...` through the real CLI, in a private runtime root."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import composer_cli


def test_volume_create_ls_inspect_rm(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("volume", "create", "--label", "com.example=yes", "--opt", "type=tmpfs",
                     "--opt", "device=tmpfs", "--opt", "o=size=1m", "data1")
    assert (r.returncode, r.stdout) == (0, "data1\n"), r.stderr
    r = composer_cli("volume", "create")
    anon = r.stdout.strip()
    assert r.returncode == 0 and len(anon) == 64

    r = composer_cli("volume", "ls")
    assert r.stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split()[1] for line in r.stdout.splitlines()[1:]) == sorted([anon, "data1"])
    r = composer_cli("volume", "ls", "-q", "--filter", "label=com.example=yes")
    assert r.stdout == "data1\n"

    r = composer_cli("volume", "inspect", "data1")
    [doc] = json.loads(r.stdout)
    assert doc["Mountpoint"] == str(engine_paths[0] / "volumes" / "data1" / "_data")
    assert doc["Labels"] == {"com.example": "yes"}
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}

    r = composer_cli("volume", "inspect", "nosuch")
    assert r.returncode == 125 and "volume 'nosuch' not found" in r.stderr

    r = composer_cli("volume", "rm", "data1")
    assert (r.returncode, r.stdout) == (0, "data1\n")
    assert not (engine_paths[0] / "volumes" / "data1").exists()
    r = composer_cli("volume", "rm", "data1")
    assert r.returncode == 1 and "volume 'data1' not found" in r.stderr
    assert composer_cli("volume", "rm", "-f", "data1").returncode == 0

    r = composer_cli("volume", "prune", "-f")
    assert (r.returncode, r.stdout) == (0, anon + "\n")
    assert composer_cli("volume", "ls", "-q").stdout == ""


def test_volume_create_with_a_bad_option_fails_and_names_it(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("volume", "create", "--opt", "colour=red", "v2")
    assert r.returncode == 125
    assert r.stderr.strip() == "volume v2: unknown driver option 'colour'; expected type, device or o"

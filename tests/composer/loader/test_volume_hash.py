"""The config hash docker compose 2.40 labels its volumes with (VolumeHash: compose-go's
VolumeConfig as Go marshals it), checked on what docker compose's own loader makes of the file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from composer.loader import LoadOptions, load_project
from composer.loader.hashing import go_json, volume_hash
from composer.specgen import volume_name
from runtime.digest import sha256
from tests.composer.fixturelib import DOCKER_COMPOSE

pytestmark = pytest.mark.skipif(not DOCKER_COMPOSE.exists(), reason="no docker compose binary")

COMPOSE = """\
name: vh
services:
  a: {image: busybox, volumes: [opts:/o, plain:/p, listed:/l, named:/n, ext:/e]}
volumes:
  opts:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=2m,uid=1000"}
    labels: {z: "1", a: "<b>&c", n: 5}
  plain: {}
  listed: {driver: local, labels: [k=v, "e="]}
  named: {name: "my-vol"}
  ext: {external: true, name: outside}
"""


def test_volume_hash_is_docker_compose_s_marshal_of_its_volume_config(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    out = subprocess.run([str(DOCKER_COMPOSE), "config", "--format", "json"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    theirs = json.loads(out)["volumes"]
    project = load_project(LoadOptions(cwd=str(tmp_path)))
    assert sorted(theirs) == sorted(project.volumes)
    for key, conf in theirs.items():
        conf.setdefault("driver", "local")  # VolumeHash's default before it marshals
        order = ("name", "driver", "driver_opts", "external", "labels")  # the struct's field order
        doc = {k: dict(sorted(conf[k].items())) if isinstance(conf[k], dict) else conf[k]
               for k in order if k in conf}
        want = sha256(go_json(doc).encode()).hexdigest()
        assert volume_hash(volume_name(project, key), project.volumes[key]) == want, key
    assert volume_hash("x", {}) != volume_hash("x", {"labels": {"a": "1"}})

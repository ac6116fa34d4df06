"""`composer run -v` read as docker compose reads it (compose-go's short volume syntax), through
the real CLI on real containers: an empty spec is refused before anything is made, an unknown
option is dropped, propagation and ro apply, a relative source is a bind under the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """\
name: h5runv
services:
  s:
    image: localhost/busybox:latest
    volumes: [data:/data]
volumes:
  data: {}
"""


def test_run_volume_flags_as_docker_compose(
    tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str
) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "f").write_text("bound\n")
    try:
        empty = composer_ok(tmp_path, "run", "--rm", "-v", "", "s", "true", code=None)
        assert empty.returncode != 0
        assert empty.stderr.strip().splitlines()[-1] == "invalid empty volume spec"
        assert composer_cli("network", "ls", "-q").stdout.split() == []  # refused before any change
        colons = composer_ok(tmp_path, "run", "--rm", "-v", "/a::/b", "s", "true", code=None)
        assert "invalid volume '/a::/b': empty section between colons" in colons.stderr
        script = "cat /b/f; grep -E ' /(b|d) ' /proc/mounts | cut -d' ' -f2,4 | cut -c1-5; ls /d"
        out = composer_ok(tmp_path, "run", "--rm", "-T", "-v", "./in:/b:zz,ro,rslave", "-v", "data:/d",
                          "s", "sh", "-c", script).stdout
        assert out.split("\n") == ["bound", "/b ro", "/d rw", ""]  # the project's volume: empty
        assert composer_cli("volume", "ls", "-q").stdout.split() == ["h5runv_data"]
    finally:
        composer_ok(tmp_path, "down", "-v", code=None)

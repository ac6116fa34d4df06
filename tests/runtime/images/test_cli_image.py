"""`composer image ...` through the real CLI, in a private runtime root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import composer_cli


def test_import_then_inspect_shows_env_path_and_layer_with_busybox(
    engine_paths: tuple[Path, Path], busybox_tar: Path
) -> None:
    r = composer_cli("image", "import", str(busybox_tar), "localhost/busybox:latest")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71

    r = composer_cli("image", "inspect", "localhost/busybox:latest")
    assert r.returncode == 0, r.stderr
    [doc] = json.loads(r.stdout)
    assert doc["Id"] == image_id.removeprefix("sha256:")
    assert doc["RepoTags"] == ["localhost/busybox:latest"]
    assert doc["Config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert "Cmd" not in doc["Config"]  # as podman import: no Cmd unless --change gives one
    [layer_dir] = doc["LayerDirs"]
    assert (Path(layer_dir) / "bin" / "busybox").is_file()
    assert Path(layer_dir).is_relative_to(engine_paths[0])


def test_import_with_changes_sets_cmd_and_short_name_resolves(
    engine_paths: tuple[Path, Path], busybox_tar: Path
) -> None:
    r = composer_cli("image", "import", "--change", 'CMD ["sh"]', "--change", "ENV A=1",
                     "--change", "EXPOSE 80", str(busybox_tar), "localhost/bb")
    assert r.returncode == 0, r.stderr
    r = composer_cli("image", "inspect", "bb")  # a short name finds localhost/bb:latest
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)[0]["Config"]
    assert cfg["Cmd"] == ["sh"]
    assert "A=1" in cfg["Env"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}}


def test_exists_exits_0_or_1(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    assert composer_cli("image", "exists", "localhost/busybox").returncode == 1
    composer_cli("image", "import", str(busybox_tar), "localhost/busybox")
    assert composer_cli("image", "exists", "localhost/busybox").returncode == 0


def test_inspect_of_a_missing_image_exits_125_and_names_it(engine_paths: tuple[Path, Path]) -> None:
    r = composer_cli("image", "inspect", "localhost/nosuch:1")
    assert r.returncode == 125
    assert "image 'localhost/nosuch:1' not found" in r.stderr
    assert json.loads(r.stdout) == []


def test_import_from_stdin_and_ls_table(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    with open(busybox_tar, "rb") as f:
        argv = [sys.executable, "-m", "composer", "image", "import", "-", "localhost/fromstdin:v1"]
        p = subprocess.run(argv, stdin=f, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    r = composer_cli("image", "ls")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:3] == ["localhost/fromstdin", "v1", p.stdout.strip()[7:19]]
    assert lines[1].endswith("MB")


def test_save_load_tag_rm_prune_through_the_cli(engine_paths: tuple[Path, Path], busybox_tar: Path,
                                               tmp_path: Path) -> None:
    image_id = composer_cli("image", "import", "-q", str(busybox_tar), "localhost/busybox").stdout.strip()
    assert composer_cli("image", "tag", "localhost/busybox", "localhost/copy:2").returncode == 0
    archive = tmp_path / "bb.tar"
    r = composer_cli("image", "save", "--format", "oci-archive", "-o", str(archive), "localhost/copy:2")
    assert r.returncode == 0, r.stderr

    r = composer_cli("image", "rm", "localhost/copy:2")
    assert (r.returncode, r.stdout) == (0, "Untagged: localhost/copy:2\n")
    r = composer_cli("image", "rm", image_id[:12])
    assert r.stdout.splitlines() == ["Untagged: localhost/busybox:latest", f"Deleted: sha256:{image_id}"]
    assert composer_cli("image", "ls", "-q").stdout == ""
    r = composer_cli("image", "rm", "localhost/busybox")
    assert r.returncode == 1 and "image 'localhost/busybox' not found" in r.stderr

    r = composer_cli("image", "load", "-i", str(archive))
    assert (r.returncode, r.stdout) == (0, "Loaded image: localhost/copy:2\n"), r.stderr
    r = composer_cli("image", "ls", "--format", "json")
    [doc] = json.loads(r.stdout)
    assert (doc["Id"], doc["Names"]) == (image_id, ["localhost/copy:2"])

    composer_cli("image", "import", str(busybox_tar), "localhost/copy:2")  # the old one dangles
    r = composer_cli("image", "prune")
    assert (r.returncode, r.stdout) == (0, image_id + "\n")


@pytest.mark.slow
def test_push_and_pull_through_the_cli(engine_paths: tuple[Path, Path], busybox_tar: Path,
                                       registry: str) -> None:
    image_id = composer_cli("image", "import", "-q", str(busybox_tar), "localhost/busybox").stdout.strip()
    r = composer_cli("image", "push", "localhost/busybox", f"{registry}/cli/busybox:1")
    assert r.returncode == 0, r.stderr
    assert "Writing manifest to image destination: sha256:" in r.stderr
    assert composer_cli("image", "rm", "localhost/busybox").returncode == 0
    r = composer_cli("image", "pull", "-q", f"{registry}/cli/busybox:1")
    assert (r.returncode, r.stdout.strip()) == (0, image_id), r.stderr
    r = composer_cli("image", "pull", "--tls-verify=true", f"{registry}/cli/busybox:1")
    assert r.returncode == 125 and f"registry: GET https://{registry}/v2/cli/busybox/manifests/1" in r.stderr


def test_inspect_format_template(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    image_id = composer_cli("image", "import", "-q", str(busybox_tar), "localhost/busybox").stdout.strip()
    r = composer_cli("image", "inspect", "--format", "{{.Id}} {{json .RepoTags}}", "localhost/busybox")
    assert (r.returncode, r.stdout) == (0, f'{image_id} ["localhost/busybox:latest"]\n'), r.stderr
    r = composer_cli("image", "inspect", "--format", "{{.Nope}}", "localhost/busybox")
    assert r.returncode == 2 and 'map has no entry for key "Nope"' in r.stderr
    r = composer_cli("image", "inspect", "--format", "{{range .RepoTags}}{{.}};{{end}}{{len .RootFS.Layers}}",
                     "localhost/busybox")
    assert (r.returncode, r.stdout) == (0, "localhost/busybox:latest;1\n"), r.stderr


def test_ls_filters(engine_paths: tuple[Path, Path], busybox_tar: Path) -> None:
    old = composer_cli("image", "import", "-q", str(busybox_tar), "localhost/app:1").stdout.strip()
    new = composer_cli("image", "import", "-q", "--change", "LABEL tier=web", str(busybox_tar),
                       "localhost/app:1").stdout.strip()

    def ls(f: str) -> str:
        return composer_cli("image", "ls", "-q", "--filter", f).stdout

    assert ls("dangling=true") == old[:12] + "\n"
    assert ls("reference=app") == new[:12] + "\n"
    assert ls("reference=localhost/app:1") == new[:12] + "\n"
    assert ls("reference=nginx") == ""
    assert ls("label=tier=web") == new[:12] + "\n"

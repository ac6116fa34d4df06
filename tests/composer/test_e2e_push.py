"""`composer push` to a real registry (Debian's docker-registry on loopback), as docker compose
v2.40.3 pushes (pkg/compose/push.go: the image and build tags of each service with both a build
section and an image name; the others skipped); and `publish`, refused in one line."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok
from tests.runtime.images.conftest import registry  # noqa: F401  (the fixture)

pytestmark = pytest.mark.privileged


def _compose(host: str) -> str:
    return f"""
name: pushy
services:
  app:
    image: {host}/pushy/app:1
    build:
      context: .
      tags: [{host}/pushy/app:extra]
    command: [sh, -c, "echo pushed app"]
  plain:
    image: {host}/pushy/plain:1
  missing:
    image: {host}/pushy/missing:1
    build: .
    profiles: [missing]
  helper:
    image: {host}/pushy/helper:1
    build: .
    profiles: [deps]
  front:
    image: {host}/pushy/front:1
    build: .
    depends_on: [helper]
    profiles: [deps]
"""


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str, registry: str) -> Iterator[Path]:  # noqa: F811
    for name in ("app:1", "app:extra", "plain:1", "helper:1", "front:1"):
        composer_ok(tmp_path, "image", "tag", busybox_image, f"{registry}/pushy/{name}")
    yield from compose_project(tmp_path, _compose(registry), "pushy")


def _tags(host: str, repo: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{host}/v2/pushy/{repo}/tags/list", timeout=10) as r:
            return sorted(json.loads(r.read()).get("tags") or [])
    except OSError:
        return []


def test_push_pushes_the_built_services_images_and_skips_the_others(proj: Path, registry: str) -> None:  # noqa: F811
    res = composer_ok(proj, "push")
    assert f"Image {registry}/pushy/app:1  Pushed" in res.stderr
    assert "Service plain  Skipped" in res.stderr
    assert _tags(registry, "app") == ["1", "extra"]
    assert _tags(registry, "plain") == []  # no build section: not ours to push
    # what the registry holds runs: pulled back into an engine that no longer has it
    composer_ok(proj, "image", "rm", f"{registry}/pushy/app:extra")
    composer_ok(proj, "image", "pull", f"{registry}/pushy/app:extra")
    ran = composer_ok(proj, "container", "run", "--rm", f"{registry}/pushy/app:extra", "echo", "ran")
    assert ran.stdout == "ran\n"


def test_push_failures_stop_the_push_unless_ignored(proj: Path, registry: str) -> None:  # noqa: F811
    res = composer_ok(proj, "--profile", "missing", "push", "missing", code=1)
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"service missing: push of {registry}/pushy/missing:1: "), last
    res = composer_ok(proj, "--profile", "missing", "push", "-q", "--ignore-push-failures", "missing", "app")
    assert res.stderr.startswith("Pushing missing: ")  # quiet: only the failure, after the pushes
    assert len(res.stderr.strip().splitlines()) == 1
    assert _tags(registry, "app") == ["1", "extra"]


def test_push_include_deps(proj: Path, registry: str) -> None:  # noqa: F811
    composer_ok(proj, "--profile", "deps", "push", "front")
    assert (_tags(registry, "front"), _tags(registry, "helper")) == (["1"], [])
    composer_ok(proj, "--profile", "deps", "push", "--include-deps", "front")
    assert _tags(registry, "helper") == ["1"]


def test_publish_is_refused_in_one_line(proj: Path, registry: str) -> None:  # noqa: F811
    res = composer_cli("publish", f"{registry}/pushy/app-compose:1", cwd=proj)
    assert res.returncode == 1
    assert res.stderr == "publish is not supported yet\n"
    assert _tags(registry, "app-compose") == []

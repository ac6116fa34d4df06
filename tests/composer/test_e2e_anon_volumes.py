"""Anonymous volumes carry over when `up -d` recreates a container (compose semantics); -V renews them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import composer_cli, composer_ok

pytestmark = pytest.mark.privileged

COMPOSE = """
name: anonkeep
services:
  app:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo {version}; exec sleep 1000"]
    stop_grace_period: 1s
    volumes: [/scratch, "/cache"]
"""


_cli = composer_ok


@pytest.fixture
def proj(tmp_path: Path, busybox_image: str) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    return d


def _volumes() -> list[str]:
    return sorted(composer_cli("volume", "ls", "-q").stdout.split())


def test_a_recreated_container_keeps_its_anonymous_volumes(proj: Path) -> None:
    (proj / "compose.yaml").write_text(COMPOSE.format(version="v1"))
    try:
        _cli(proj, "up", "-d")
        before = _volumes()
        assert len(before) == 2
        _cli(proj, "exec", "-T", "app", "sh", "-c", "echo kept > /scratch/f")
        (proj / "compose.yaml").write_text(COMPOSE.format(version="v2"))
        out = _cli(proj, "up", "-d")
        assert "Recreate" in out.stdout + out.stderr
        assert _cli(proj, "exec", "-T", "app", "cat", "/scratch/f").stdout == "kept\n"
        assert _volumes() == before
        _cli(proj, "down", "-v")
        assert _volumes() == []  # the handed-over volumes are still removed with their container
    finally:
        composer_cli("down", "-v", cwd=proj, timeout=120)


def test_renew_anon_volumes_gives_new_ones(proj: Path) -> None:
    """-V: the plan option `up -V` sets; the recreated container starts with empty volumes."""
    import trio

    from composer.drive_trio import execute, limiter_for
    from composer.orchestrate import DriverOptions, observe
    from composer.plan import ReconcileOptions, reconcile
    from composer.progress import Progress
    from runtime.engine import Engine
    from tests.composer.orchestrate.helpers import load

    (proj / "compose.yaml").write_text(COMPOSE.format(version="v1"))
    try:
        _cli(proj, "up", "-d")
        before = _volumes()
        _cli(proj, "exec", "-T", "app", "sh", "-c", "echo kept > /scratch/f")
        project = load(proj, COMPOSE.format(version="v2"), name="anonkeep")
        engine = Engine()
        try:
            plan = reconcile(project, observe(engine, project), ReconcileOptions(renew_anon_volumes=True))
            assert [op.inherit_volumes for op in plan.ops if op.kind == "RecreateContainer"] == [()]

            async def main() -> dict[int, str]:
                return await execute(plan, engine, project=project, progress=Progress("quiet"),
                                     options=DriverOptions(files_dir=str), limiter=limiter_for(1))

            assert trio.run(main) == {}
        finally:
            engine.close()
        res = composer_cli("exec", "-T", "app", "cat", "/scratch/f", cwd=proj, timeout=60)
        assert res.returncode != 0 and "kept" not in res.stdout
        after = _volumes()
        assert len(after) == 2 and not set(after) & set(before)  # the old ones were removed, not leaked
    finally:
        composer_cli("down", "-v", cwd=proj, timeout=120)


def test_up_with_renew_anon_volumes_flag_starts_with_empty_volumes(proj: Path) -> None:
    (proj / "compose.yaml").write_text(COMPOSE.format(version="v1"))
    try:
        _cli(proj, "up", "-d")
        before = _volumes()
        _cli(proj, "exec", "-T", "app", "sh", "-c", "echo kept > /scratch/f")
        (proj / "compose.yaml").write_text(COMPOSE.format(version="v2"))
        _cli(proj, "up", "-d", "-V")
        res = composer_cli("exec", "-T", "app", "cat", "/scratch/f", cwd=proj, timeout=60)
        assert res.returncode != 0 and "kept" not in res.stdout
        assert not set(_volumes()) & set(before)
    finally:
        composer_cli("down", "-v", cwd=proj, timeout=120)

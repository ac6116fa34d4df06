"""`composer build`: docker compose 2.40.3's flags, and the same one-line refusal as `up --build`
(there is no builder yet), not argparse's "invalid choice"."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import composer_cli


def test_build_is_refused_as_up_build_is(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n    image: localhost/web:1\n")
    up = composer_cli("up", "--build", cwd=tmp_path)
    assert (up.returncode, up.stderr) == (2, "build is not supported yet\n")
    for argv in (["build"], ["build", "web"], ["build", "--no-cache", "--pull", "-q", "--build-arg", "A=1",
                                                 "--with-dependencies", "web"]):
        res = composer_cli(*argv, cwd=tmp_path)
        assert (res.returncode, res.stdout, res.stderr) == (up.returncode, "", up.stderr), argv

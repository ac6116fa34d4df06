"""Real-container regressions reported by the other engineers: seccomp order, pod cgroups."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine import Engine
from tests.runtime.test_containers import engine, run, spec  # noqa: F401  (the fixture)

pytestmark = pytest.mark.privileged


def test_a_user_without_no_new_privileges_gets_the_seccomp_filter(engine: Engine) -> None:  # noqa: F811
    script = "id -u; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status"
    code, out, err = run(engine, spec("t-nnp-off", "sh", "-c", script, user="1234:5", no_new_privileges=False))
    assert (code, err) == (0, "")
    assert _status(out) == {"uid": "1234", "Seccomp": "2", "NoNewPrivs": "0", "CapEff": "0" * 16}
    code, out, _ = run(engine, spec("t-nnp-off-root", "sh", "-c", script, no_new_privileges=False))
    assert code == 0 and _status(out)["uid"] == "0" and _status(out)["Seccomp"] == "2"
    code, out, _ = run(engine, spec("t-nnp-on", "sh", "-c", script, user="1234:5"))
    assert code == 0 and _status(out) == {"uid": "1234", "Seccomp": "2", "NoNewPrivs": "1", "CapEff": "0" * 16}


def _status(out: str) -> dict[str, str]:
    lines = out.splitlines()
    return {"uid": lines[0], **dict(line.split(":\t") for line in lines[1:])}

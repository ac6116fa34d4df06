"""Real-container regressions reported by the other engineers: seccomp order, pod cgroups."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine import Engine
from tests.runtime.test_containers import engine, run, spec  # noqa: F401  (the fixture)

pytestmark = pytest.mark.privileged


def test_a_user_without_no_new_privileges_gets_the_seccomp_filter(engine: Engine) -> None:  # noqa: F811
    script = "id -u; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status"
    code, out, err = run(engine, spec("t-nnp-off", "sh", "-c", script, user="1234:5",
                                      no_new_privileges=False))
    assert (code, err) == (0, "")
    assert _status(out) == {"uid": "1234", "Seccomp": "2", "NoNewPrivs": "0", "CapEff": "0" * 16}
    code, out, _ = run(engine, spec("t-nnp-off-root", "sh", "-c", script, no_new_privileges=False))
    assert code == 0 and _status(out)["uid"] == "0" and _status(out)["Seccomp"] == "2"
    code, out, _ = run(engine, spec("t-nnp-on", "sh", "-c", script, user="1234:5"))
    assert code == 0
    assert _status(out) == {"uid": "1234", "Seccomp": "2", "NoNewPrivs": "1", "CapEff": "0" * 16}


def _status(out: str) -> dict[str, str]:
    lines = out.splitlines()
    return {"uid": lines[0], **dict(line.split(":\t") for line in lines[1:])}


def test_two_engines_run_a_pod_of_the_same_name(
    engine: Engine, tmp_path: Path, busybox_tar: Path  # noqa: F811
) -> None:
    from runtime.paths import Paths
    from runtime.spec import PodSpec

    other = Engine(Paths(root=str(tmp_path / "root2"), rundir=str(tmp_path / "run2")))
    try:
        other.images.import_tarball(busybox_tar, "localhost/busybox:latest")
        pods = [e.pods.create(PodSpec(name="t-same")) for e in (engine, other)]
        assert pods[0].cgroup_parent != pods[1].cgroup_parent
        dirs = [Path("/sys/fs/cgroup/memory", p.cgroup_parent) for p in pods]
        assert all(d.is_dir() for d in dirs)
        cids = [e.containers.create(spec("t-same-web", "sleep", "100", pod="t-same")).id
                for e in (engine, other)]
        for e, cid in zip((engine, other), cids, strict=True):
            e.containers.start(cid)
        other.pods.remove("t-same", force=True)
        assert not dirs[1].exists() and (dirs[0] / cids[0]).is_dir()
        assert engine.containers.get(cids[0]).status == "running"
        engine.pods.remove("t-same", force=True)
        assert not dirs[0].exists()
        from runtime.cgroups import engine_scope

        assert engine_scope(Path("/var/lib/composer")) == ()  # the system engine keeps composer/<pod>
    finally:
        for c in other.containers.list():
            other.containers.remove(c.id, force=True)
        for p in other.pods.list():
            other.pods.remove(p.name, force=True)
        other.close()

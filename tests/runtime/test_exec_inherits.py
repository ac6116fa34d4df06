"""An exec gets the container's process settings as docker's does (its exec starts from the
container's OCI process): rlimits, no_new_privs, seccomp, capabilities, user with group_add, cwd
and env; -u, -w, -e and --privileged change only their own part. Checked from inside."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.spec import ContainerSpec, ExecSpec

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
STATUS = "grep -E '^(Groups|CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
LIMITS = "echo n=$(ulimit -n) Hn=$(ulimit -Hn) u=$(ulimit -u) Hu=$(ulimit -Hu) c=$(ulimit -c)"


def _exec(engine: Engine, ref: str, script: str, tmp: Path, **kw: object) -> str:
    out = tmp / "exec.out"
    with open(out, "wb") as f:
        code = engine.containers.exec(ref, ExecSpec(command=("sh", "-c", script), **kw),  # type: ignore[arg-type]
                                      stdout=f.fileno(), stderr=f.fileno())
    assert code == 0, out.read_text()
    return out.read_text()


def _started(engine: Engine, name: str, **kw: object) -> str:
    """A running container whose init wrote what it sees (LIMITS, STATUS, pwd) to /tmp/init.out."""
    script = f"({LIMITS}; {STATUS}; pwd; echo HOME=$HOME X=$X) > /tmp/init.out; exec sleep 100"
    c = engine.containers.create(ContainerSpec(name=name, image=IMAGE, command=("sh", "-c", script),
                                               network_mode="none", **kw))  # type: ignore[arg-type]
    engine.containers.start(c.id)
    return c.id


def _init_view(engine: Engine, cid: str, tmp: Path) -> str:
    for _ in range(200):
        text = _exec(engine, cid, "cat /tmp/init.out 2>/dev/null", tmp)
        if "X=" in text:
            return text
        time.sleep(0.02)
    raise AssertionError("the init did not write /tmp/init.out")


def test_exec_has_the_containers_ulimits_and_security_context(engine: Engine, tmp_path: Path) -> None:
    cid = _started(engine, "t-ex-lim", working_dir="/tmp", env={"X": "1"},
                   ulimits={"nofile": (321, 654), "nproc": (77, 88), "core": (0, 0)})
    init = _init_view(engine, cid, tmp_path)
    assert "n=321 Hn=654 u=77 Hu=88 c=0" in init
    mine = _exec(engine, cid, f"{LIMITS}; {STATUS}; pwd; echo HOME=$HOME X=$X", tmp_path)
    assert mine == init


def test_exec_as_another_user_without_no_new_privileges(engine: Engine, tmp_path: Path) -> None:
    """No no_new_privs: the seccomp filter is loaded before the user changes (as the init does),
    else a non-root exec could not load it; -u gets the service's group_add, -w and -e apply."""
    cid = _started(engine, "t-ex-user", group_add=("100",), ulimits={"nofile": (500, 600)},
                   no_new_privileges=False)
    out = _exec(engine, cid, f"id; {STATUS}; {LIMITS}; pwd; echo X=$X", tmp_path,
                user="nobody", working_dir="/tmp", env={"X": "2"})
    lines = out.splitlines()
    assert lines[0].startswith("uid=65534(nobody)") and "100" in lines[1].split(":", 1)[1].split()
    assert "Seccomp:\t2" in out and "NoNewPrivs:\t0" in out and "CapEff:\t0000000000000000" in out
    assert "n=500 Hn=600" in out and lines[-2:] == ["/tmp", "X=2"]
    # HOME follows the exec's user (runc sets it from passwd) unless the service or image set one
    want = _exec(engine, cid, "grep ^nobody: /etc/passwd | cut -d: -f6", tmp_path).strip()
    assert _exec(engine, cid, "echo $HOME", tmp_path).strip() == "/root"
    assert _exec(engine, cid, "echo $HOME", tmp_path, user="nobody").strip() == want != "/root"
    set_home = _started(engine, "t-ex-home", env={"HOME": "/data"})
    assert _exec(engine, set_home, "echo $HOME", tmp_path, user="nobody").strip() == "/data"


def test_privileged_exec_gets_every_capability_but_keeps_the_seccomp_filter(
        engine: Engine, tmp_path: Path) -> None:
    cid = _started(engine, "t-ex-priv", no_new_privileges=True)
    init = _init_view(engine, cid, tmp_path)
    assert "NoNewPrivs:\t1" in init and "Seccomp:\t2" in init
    out = _exec(engine, cid, f"{STATUS}; unshare -m true 2>/dev/null; echo unshare=$?", tmp_path,
                privileged=True)
    cap = next(ln.split()[1] for ln in out.splitlines() if ln.startswith("CapEff"))
    assert int(cap, 16) > int(next(ln.split()[1] for ln in init.splitlines() if ln.startswith("CapEff")), 16)
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out and "unshare=1" in out


def test_exec_with_a_terminal_gets_term_xterm(engine: Engine) -> None:
    """docker sets TERM=xterm for `exec -t` (unless the container's or the exec's env sets it)."""
    cid = _started(engine, "t-ex-term")
    for env, want in (({}, "xterm"), ({"TERM": "vt100"}, "vt100")):
        m, s = os.openpty()
        try:
            spec = ExecSpec(command=("sh", "-c", "echo term=$TERM"), tty=True, env=env)
            assert engine.containers.exec(cid, spec, stdin=s, stdout=s, stderr=s) == 0
        finally:
            os.close(s)
        out = b""
        while select.select([m], [], [], 2)[0]:
            try:
                chunk = os.read(m, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            out += chunk
        os.close(m)
        assert f"term={want}" in out.decode(), out

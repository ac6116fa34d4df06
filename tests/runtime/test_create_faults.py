"""Faults in the middle of a create, with real containers: a bind source that does not exist
(made, as docker's daemon makes it, unless the caller said not to), and a process killed right
after it made a container's anonymous volume (the container's removal still removes it); and the
values docker's engine refuses when it creates a container (a relative working directory, a
nameserver that is no address, an exposed port that is no port range), refused before anything is
made, naming the container."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.errors import InvalidSpec
from runtime.spec import ContainerSpec, Mount

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"
REPO = Path(__file__).resolve().parents[2]


def _spec(name: str, *mounts: Mount) -> ContainerSpec:
    return ContainerSpec(name=name, image=IMAGE, command=("sh", "-c", "echo hi > /b/f"),
                         network_mode="none", mounts=mounts)


def test_a_missing_bind_source_is_made_as_a_directory(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "not" / "yet"
    c = engine.containers.create(_spec("t-cf-mk", Mount(type="bind", source=str(src), target="/b")))
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=15) == 0
    assert (src / "f").read_text() == "hi\n"
    engine.containers.remove(c.id)
    assert src.is_dir()  # the user's path: it outlives the container, as docker's does


def test_a_missing_bind_source_without_create_host_path_is_refused_before_anything_is_made(
    engine: Engine, tmp_path: Path
) -> None:
    src = tmp_path / "absent"
    m = Mount(type="bind", source=str(src), target="/b", create_host_path=False)
    with pytest.raises(InvalidSpec, match=rf"^container t-cf-no: bind source path does not exist: {src}$"):
        engine.containers.create(_spec("t-cf-no", m))
    assert not src.exists()
    assert engine.containers.list(all=True) == []


KILLED_AFTER_VOLUME = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from runtime.engine import Engine
    from runtime.paths import Paths
    from runtime.spec import ContainerSpec, Mount
    from runtime.volumes import VolumeManager

    made = VolumeManager.create_anonymous
    def create_then_die(self, *args, **kw):
        made(self, *args, **kw)
        os.kill(os.getpid(), signal.SIGKILL)  # as a user's kill -9 of the CLI at this moment
    VolumeManager.create_anonymous = create_then_die
    eng = Engine(Paths(root=sys.argv[1], rundir=sys.argv[2]))
    eng.containers.create(ContainerSpec(name="t-cf-anon", image="localhost/busybox:latest",
                                        network_mode="none", mounts=(Mount(type="volume", target="/v"),)))
""")


def test_a_kill_after_the_anonymous_volume_is_made_leaks_no_volume(
    engine: Engine, engine_paths: tuple[Path, Path]
) -> None:
    root, run = engine_paths
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_VOLUME, str(root), str(run)], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(engine.volumes.list()) == 1
    (left,) = engine.containers.list(all=True)
    engine.containers.remove(left.id, force=True, volumes=True)
    assert engine.volumes.list() == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"working_dir": "relative"},
         "the working directory 'relative' is invalid, it needs to be an absolute path"),
        ({"dns": ("1.1.1.1", "notanip")}, "bad nameserver address 'notanip'; expected an IP address"),
        ({"dns": (" 1.1.1.1",)}, "bad nameserver address ' 1.1.1.1'; expected an IP address"),
        ({"expose": ("80", "abc")}, "invalid exposed port 'abc'; expected PORT[-PORT][/PROTOCOL]"),
        ({"expose": ("90-80/tcp",)}, "invalid exposed port '90-80/tcp': the range ends before it starts"),
        ({"expose": ("70000",)}, "invalid exposed port '70000': ports are 0-65535"),
    ],
)
def test_what_dockers_engine_refuses_at_create_is_refused_before_anything_is_made(
    engine: Engine, change: dict[str, object], error: str
) -> None:
    spec = ContainerSpec(name="t-cf-bad", image=IMAGE, command=("true",), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec) as caught:
        engine.containers.create(spec)
    assert str(caught.value) == f"container t-cf-bad: {error}"
    assert engine.containers.list(all=True) == []
    made = Path(engine.paths.root) / "containers"
    assert not made.exists() or not any(made.iterdir())


def test_what_docker_accepts_for_dns_expose_and_working_dir_is_created(engine: Engine) -> None:
    spec = ContainerSpec(name="t-cf-ok", image=IMAGE, command=("pwd",), network_mode="none",
                         working_dir="/srv/app", dns=("fe80::1%eth0", "1.1.1.1", "::1"),
                         expose=("80", "8000-8001/udp", "53/"))
    c = engine.containers.create(spec)
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=15) == 0
    assert b"".join(r.text for r in engine.containers.logs(c.id)) == b"/srv/app"
    engine.containers.remove(c.id)

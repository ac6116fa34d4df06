"""`cp` reads and writes a container's volumes and binds, also when it is stopped (as docker cp):
the stopped container's overlay and mounts are set up in a private mount namespace that goes
away with the copy. Real containers, a real named volume and real bind mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine import Engine
from runtime.errors import ExecError, NotFound
from runtime.spec import ContainerInfo, ContainerSpec, Mount
from tests.conftest import composer_cli

pytestmark = pytest.mark.privileged
IMAGE = "localhost/busybox:latest"


def _exited(engine: Engine, tmp_path: Path, name: str = "t-cpv") -> tuple[ContainerInfo, Path, Path]:
    bind, robind = tmp_path / "bind", tmp_path / "robind"
    bind.mkdir()
    robind.mkdir()
    (robind / "r").write_text("ro\n")
    c = engine.containers.create(
        ContainerSpec(
            name=name,
            image=IMAGE,
            command=("sh", "-c", "echo vol >/data/f; mkdir /data/d; echo deep >/data/d/x; echo b >/bind/g"),
            network_mode="none",
            mounts=(
                Mount(type="volume", source=f"{name}-data", target="/data"),
                Mount(type="bind", source=str(bind), target="/bind"),
                Mount(type="bind", source=str(robind), target="/robind", read_only=True),
            ),
        )
    )
    engine.containers.start(c.id)
    assert engine.containers.wait(c.id, timeout=15) == 0
    assert engine.containers.get(c.id).status == "exited"
    return c, bind, robind


def test_copy_from_a_stopped_container_reads_its_volume_and_binds(engine: Engine, tmp_path: Path) -> None:
    c, _, _ = _exited(engine, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    engine.containers.copy_from(c.id, "/data/f", out / "f")
    assert (out / "f").read_text() == "vol\n"
    engine.containers.copy_from(c.id, "/data", out)  # a directory, into a directory
    assert (out / "data" / "d" / "x").read_text() == "deep\n"
    engine.containers.copy_from(c.id, "/bind/g", out / "g")
    assert (out / "g").read_text() == "b\n"
    engine.containers.copy_from(c.id, "/robind/r", out / "r")
    assert (out / "r").read_text() == "ro\n"
    # the data came from the volume, not from the container's own layer
    assert not (Path(engine.paths.container_dir(c.id)) / "upper" / "data" / "f").exists()
    with pytest.raises(NotFound, match=r"^container t-cpv: no such file /data/nosuch$"):
        engine.containers.copy_from(c.id, "/data/nosuch", out)


def test_copy_into_a_stopped_container_writes_its_volume_and_bind(engine: Engine, tmp_path: Path) -> None:
    c, bind, robind = _exited(engine, tmp_path)
    src = tmp_path / "in.txt"
    src.write_text("copied in\n")
    engine.containers.copy_to(c.id, src, "/data")
    engine.containers.copy_to(c.id, src, "/bind/renamed.txt")
    assert (bind / "renamed.txt").read_text() == "copied in\n"
    vol = engine.volumes.get("t-cpv-data")
    assert (Path(vol.mountpoint) / "in.txt").read_text() == "copied in\n"
    assert not (Path(engine.paths.container_dir(c.id)) / "upper" / "data" / "in.txt").exists()
    # a read-only bind stays read-only, with a one-line error that names the container
    ro_error = r"^container t-cpv: cannot copy /robind/in.txt: read-only file system$"
    with pytest.raises(ExecError, match=ro_error):
        engine.containers.copy_to(c.id, src, "/robind")
    assert sorted(p.name for p in robind.iterdir()) == ["r"]
    # another container that mounts the volume sees what was copied in
    reader = engine.containers.create(
        ContainerSpec(
            name="t-cpv-reader",
            image=IMAGE,
            command=("cat", "/v/in.txt"),
            network_mode="none",
            mounts=(Mount(type="volume", source="t-cpv-data", target="/v"),),
        )
    )
    engine.containers.start(reader.id)
    assert engine.containers.wait(reader.id, timeout=15) == 0
    assert [r.text for r in engine.containers.logs(reader.id)] == [b"copied in"]


def test_copy_from_a_running_container_reads_its_volume(engine: Engine, tmp_path: Path) -> None:
    c = engine.containers.create(
        ContainerSpec(
            name="t-cpv-run",
            image=IMAGE,
            # written whole, then renamed: the copy below finds no file, or all of it (a copy
            # between the shell's create and its write read an empty file)
            command=("sh", "-c", "echo live > /data/f.tmp && mv /data/f.tmp /data/f; sleep 100"),
            network_mode="none",
            mounts=(Mount(type="volume", source="t-cpv-run-data", target="/data"),),
        )
    )
    engine.containers.start(c.id)
    for _ in range(100):
        try:
            engine.containers.copy_from(c.id, "/data/f", tmp_path / "f")
            break
        except NotFound:
            import time

            time.sleep(0.05)
    assert (tmp_path / "f").read_text() == "live\n"


def test_cli_cp_from_an_exited_container_volume(engine: Engine, tmp_path: Path) -> None:
    c, _, _ = _exited(engine, tmp_path, "t-cpv-cli")
    r = composer_cli("container", "cp", f"{c.name}:/data/d", str(tmp_path / "got"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got" / "x").read_text() == "deep\n"
    r = composer_cli("container", "cp", f"{c.name}:/data/none", str(tmp_path / "x"))
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].endswith("container t-cpv-cli: no such file /data/none")


def test_compose_cp_on_stopped_services_writes_every_replica(engine: Engine, tmp_path: Path) -> None:
    """As docker compose cp: stopped containers are copied from and to; a copy to a service writes
    each replica, a copy from it reads the first; --index picks one; a missing one is named."""
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {IMAGE}\n    command: sh -c 'echo $$HOSTNAME > /data/who'\n"
        f"    network_mode: none\n    scale: 2\n    volumes: [/data]\n"
    )
    base = ("-f", str(tmp_path / "compose.yaml"), "-p", "cpdemo")
    r = composer_cli(*base, "up", "-d")
    assert r.returncode == 0, r.stderr
    try:
        names = ["cpdemo-app-1", "cpdemo-app-2"]
        for n in names:
            assert engine.containers.wait(n, timeout=15) == 0
            assert engine.containers.get(n).status == "exited"
        r = composer_cli(*base, "cp", "app:/data/who", str(tmp_path / "who"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "who").read_text() == engine.containers.get(names[0]).id[:12] + "\n"  # the first
        (tmp_path / "in.txt").write_text("to-all\n")
        r = composer_cli(*base, "cp", str(tmp_path / "in.txt"), "app:/data/in.txt")
        assert r.returncode == 0, r.stderr
        for n in names:
            engine.containers.copy_from(n, "/data/in.txt", tmp_path / f"{n}.txt")
            assert (tmp_path / f"{n}.txt").read_text() == "to-all\n"
        (tmp_path / "two.txt").write_text("only-2\n")
        r = composer_cli(*base, "cp", "--index", "2", str(tmp_path / "two.txt"), "app:/data/two.txt")
        assert r.returncode == 0, r.stderr
        r = composer_cli(*base, "cp", "--index", "2", "app:/data/two.txt", str(tmp_path / "back2.txt"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "back2.txt").read_text() == "only-2\n"
        r = composer_cli(*base, "cp", "app:/data/two.txt", str(tmp_path / "back1.txt"))
        # replica 1 has none (the daemon's words, as docker compose passes them on)
        assert r.returncode != 0 and "Could not find the file /data/two.txt in container" in r.stderr
        r = composer_cli(*base, "cp", "--index", "3", "app:/data/who", str(tmp_path / "x"))
        assert r.returncode != 0 and "service \"app\" is not running container #3" in r.stderr
    finally:
        r = composer_cli(*base, "down", "-v")
        assert r.returncode == 0, r.stderr
    r = composer_cli(*base, "cp", "app:/data/who", str(tmp_path / "y"))
    assert r.returncode != 0 and "no container found for service 'app'" in r.stderr

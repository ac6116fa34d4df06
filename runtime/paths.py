"""Where the runtime keeps things (DESIGN.md section 4). Pure: the environment is passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from runtime.record import record

TRASH = ".gone-"  # a removed container's dirs, renamed (container_trash); the monitor names it too


@record
class Paths:
    root: Path    # state DB, images, layers, volumes, container upper dirs
    rundir: Path  # netns pins, exit files, sockets, per-container hosts files

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, uid: int | None = None) -> Paths:
        env = os.environ if env is None else env
        uid = os.getuid() if uid is None else uid
        if uid == 0:
            root, run = Path("/var/lib/composer"), Path("/run/composer")
        else:
            data = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local/share")
            xdg_run = env.get("XDG_RUNTIME_DIR") or f"/tmp/composer-run-{uid}"
            root, run = Path(data) / "composer", Path(xdg_run) / "composer"
        return cls(root=Path(env.get("COMPOSER_ROOT", root)), rundir=Path(env.get("COMPOSER_RUNDIR", run)))

    @property
    def db(self) -> Path:
        return self.root / "state.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    @property
    def volumes(self) -> Path:
        return self.root / "volumes"

    def container_dir(self, container_id: str) -> Path:
        """Persistent per-container data: overlay upper/work dirs, logs, config.json."""
        return self.root / "containers" / container_id

    def container_run(self, container_id: str) -> Path:
        """Volatile per-container data: exit file, gate fifo, hosts, resolv.conf, pid."""
        return self.rundir / "containers" / container_id

    def container_trash(self, container_id: str) -> tuple[Path, Path]:
        """The names a removal gives the container's two dirs for its monitor's child to delete
        (container_lifecycle._dirs_to_trash): hidden siblings; no container id starts with a dot."""
        return (self.root / "containers" / f"{TRASH}{container_id}",
                self.rundir / "containers" / f"{TRASH}{container_id}")

    def netns(self, container_id: str) -> Path:
        return self.rundir / "netns" / container_id

    def lock(self, name: str) -> Path:
        return self.rundir / "locks" / f"{name}.lock"

"""Where the runtime keeps things (DESIGN.md section 4). Pure: the environment is passed in.

Paths are plain strings, here and in every module `container run` imports: pathlib's import
(with urllib.parse, ipaddress, ntpath, fnmatch and re) is ~4 ms of CPU on that command's
critical path. Modules off that path may wrap them in Path where that reads better.
"""

from __future__ import annotations

import os

from runtime.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping  # collections (~1.7 ms): not before run's monitor spawn


TRASH = ".gone-"  # a removed container's dirs, renamed (container_trash); the monitor names it too


@record
class Paths:
    root: str    # state DB, images, layers, volumes, container upper dirs
    rundir: str  # netns pins, exit files, sockets, per-container hosts files

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, uid: int | None = None) -> Paths:
        env = os.environ if env is None else env
        uid = os.getuid() if uid is None else uid
        if uid == 0:
            root, run = "/var/lib/composer", "/run/composer"
        else:
            data = env.get("XDG_DATA_HOME") or f"{env.get('HOME', '/tmp')}/.local/share"
            xdg_run = env.get("XDG_RUNTIME_DIR") or f"/tmp/composer-run-{uid}"
            root, run = f"{data}/composer", f"{xdg_run}/composer"
        # normalised as Path did ("run/" and "run" are one engine: the hashes of its names agree)
        return cls(root=os.path.normpath(env.get("COMPOSER_ROOT", root)),
                   rundir=os.path.normpath(env.get("COMPOSER_RUNDIR", run)))

    @property
    def db(self) -> str:
        return f"{self.root}/state.db"

    @property
    def blobs(self) -> str:
        return f"{self.root}/blobs/sha256"

    @property
    def layers(self) -> str:
        return f"{self.root}/layers"

    @property
    def volumes(self) -> str:
        return f"{self.root}/volumes"

    def container_dir(self, container_id: str) -> str:
        """Persistent per-container data: overlay upper/work dirs, logs, config.json."""
        return f"{self.root}/containers/{container_id}"

    def container_run(self, container_id: str) -> str:
        """Volatile per-container data: exit file, gate fifo, hosts, resolv.conf, pid."""
        return f"{self.rundir}/containers/{container_id}"

    def container_trash(self, container_id: str) -> tuple[str, str]:
        """The names a removal gives the container's two dirs for its monitor's child to delete
        (container_lifecycle._dirs_to_trash): hidden siblings; no container id starts with a dot."""
        return (f"{self.root}/containers/{TRASH}{container_id}",
                f"{self.rundir}/containers/{TRASH}{container_id}")

    def netns(self, container_id: str) -> str:
        return f"{self.rundir}/netns/{container_id}"

    def lock(self, name: str) -> str:
        return f"{self.rundir}/locks/{name}.lock"

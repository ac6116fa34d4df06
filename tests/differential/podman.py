"""A private, throwaway podman for differential tests: its own storage, run root, tmp dir,
containers.conf and cgroup parent, all under one directory that `close()` removes.

Minimal set-up measured on the hybrid-cgroup development VM (podman 4.3, root, no systemd):
- `cgroup_manager = "cgroupfs"` and `events_logger = "file"`: there is no systemd to talk to;
- the overlay storage driver with `--root/--runroot/--tmpdir` under the test's tmp dir;
- `default_ulimits`: rootful podman 4.3 asks crun for nofile and nproc 1048576, which root without
  CAP_SYS_RESOURCE cannot set here ("setrlimit RLIMIT_NOFILE: Operation not permitted"), so the
  default is clamped to what podman's own processes may set (newer podman clamps the same way);
- `init_path`: Debian's podman has no catatonit; tini-static is the init composer uses too;
- `--network none` on every run: podman's default bridge (netavark) writes iptables-nft tables
  (`ip nat`, `ip filter`) that outlive the container, and the tests must leave the host as found;
- `network_config_dir` in the tmp dir (else /etc/containers/networks appears), and /run/containers,
  which podman 4.3 makes whatever its flags, removed again when it was not there before.
CONTAINERS_CONF replaces the distribution's containers.conf, so the distribution's security
defaults (default_capabilities, default_sysctls) are copied from it: the reference is podman as
installed, not podman's compiled-in fallbacks.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

DISTRO_CONF = Path("/usr/share/containers/containers.conf")
RUN_CONTAINERS = Path("/run/containers")  # podman 4.3 makes run/containers/networks whatever its flags
IMAGE = "localhost/busybox:latest"
# podman's processes run with nproc <= 32768 here (measured on conmon), so crun can set no more.
PODMAN_NPROC_CEILING = 32768


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def containers_conf(network_dir: Path) -> str:
    """The containers.conf text: the distribution's security defaults plus the set-up above."""
    distro: dict[str, object] = {}
    if DISTRO_CONF.exists():
        distro = tomllib.loads(DISTRO_CONF.read_text()).get("containers", {})
    caps = list(distro.get("default_capabilities", []))  # type: ignore[call-overload]
    sysctls = list(distro.get("default_sysctls", []))  # type: ignore[call-overload]
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], PODMAN_NPROC_CEILING)
    lines = ["[containers]"]
    if caps:
        lines.append(f"default_capabilities = {_toml_list(caps)}")
    if sysctls:
        lines.append(f"default_sysctls = {_toml_list(sysctls)}")
    lines += [
        f'default_ulimits = {_toml_list([f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"])}',
        'log_driver = "k8s-file"',
        'init_path = "/usr/bin/tini-static"',
        "[network]",
        f'network_config_dir = "{network_dir}"',
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime = "crun"',
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Podman:
    base: Path
    cgroup_parent: str  # e.g. /composer-difftest-1a2b3c4d, made in every hierarchy podman uses
    had_run_containers: bool = True

    @classmethod
    def create(cls, base: Path) -> Podman:
        base.mkdir(parents=True, exist_ok=True)
        (base / "tmp").mkdir(exist_ok=True)
        (base / "networks").mkdir(exist_ok=True)  # else podman makes /etc/containers/networks
        (base / "containers.conf").write_text(containers_conf(base / "networks"))
        (base / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{base / "root"}"\nrunroot = "{base / "run"}"\n'
        )
        return cls(base, f"/composer-difftest-{uuid.uuid4().hex[:8]}", RUN_CONTAINERS.exists())

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.base / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.base / "storage.conf"),
            "TMPDIR": str(self.base / "tmp"),
        }

    def argv(self, *args: str) -> list[str]:
        b = self.base
        return [
            "podman", "--root", str(b / "root"), "--runroot", str(b / "run"), "--tmpdir", str(b / "tmp"),
            "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            *args,
        ]

    def __call__(
        self, *args: str, timeout: float = 60, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        # in our tmp dir: podman's conmon inherits the working directory and creates an empty
        # file named "oom" there when the container meets an OOM kill (it did in the repo root)
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env, timeout=timeout, check=check,
            cwd=self.base / "tmp",
        )

    def run_flags(self) -> list[str]:
        """Flags every `podman run`/`create` of the tests gets (see the module docstring)."""
        return ["--network", "none", "--cgroup-parent", self.cgroup_parent]

    def close(self) -> None:
        """Remove every container, image and layer, then the directory; unmount what is left."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self("rm", "-a", "-f", "-t", "0", timeout=60)
            self("system", "reset", "-f", timeout=120)
        _unmount_under(str(self.base))
        shutil.rmtree(self.base, ignore_errors=True)
        _remove_cgroup(self.cgroup_parent)
        if not self.had_run_containers:
            _remove_empty_tree(RUN_CONTAINERS)


def _unmount_under(base: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(base)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _remove_cgroup(parent: str) -> None:
    """rmdir the cgroup parent podman made (bottom-up) in every hierarchy under /sys/fs/cgroup."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        _remove_empty_tree(hierarchy / parent.lstrip("/"))


def _remove_empty_tree(top: Path) -> None:
    """rmdir *top* and its directories bottom-up, leaving any that hold a file (someone's state)."""
    if not top.is_dir():
        return
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()

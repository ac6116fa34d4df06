"""Run one busybox script in composer and in podman with the same flags, and read what it printed:
the shared half of the differential tests."""

from __future__ import annotations

import subprocess

from tests.conftest import composer_cli
from tests.differential.podman import IMAGE, Podman

STATUS = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status"


Result = subprocess.CompletedProcess[str]


def run_both(podman: Podman, flags: list[str], script: str, timeout: float = 60) -> tuple[Result, Result]:
    """(podman, composer) results of `run --rm FLAGS IMAGE sh -c SCRIPT`."""
    theirs = podman("run", "--rm", *podman.run_flags(), *flags, IMAGE, "sh", "-c", script, timeout=timeout)
    ours = composer_cli("container", "run", "--rm", "--network", "none", *flags, IMAGE, "sh", "-c", script,
                        timeout=timeout)
    return theirs, ours


def sections(out: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            found[current] = []
        else:
            found.setdefault(current, []).append(line)
    return found


def probe(podman: Podman, flags: list[str], parts: dict[str, str]) -> tuple[dict[str, list[str]], ...]:
    """Run a script of named parts in both; return each side's sections (after checking both ran)."""
    script = "; ".join(f"echo '== {name}'; {cmd}" for name, cmd in parts.items())
    theirs, ours = run_both(podman, flags, script)
    assert theirs.returncode == 0, f"podman: {theirs.stderr}"
    assert ours.returncode == 0, f"composer: {ours.stderr}"
    return sections(theirs.stdout), sections(ours.stdout)


def status(lines: list[str]) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


CAP_NET_RAW, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_NET_ADMIN, CAP_CHOWN = 13, 27, 29, 12, 0


def bit(mask: str, n: int) -> bool:
    return bool(int(mask, 16) >> n & 1)


IDS = "grep -E '^(Uid|Gid|Groups):' /proc/self/status"


FLAGS = ("ro", "rw", "nosuid", "nodev", "noexec")


PODMAN_ONLY = {"/run/.containerenv"}  # podman's own marker file (docker has /.dockerenv instead)


def mount_table(lines: list[str]) -> dict[str, tuple[str, frozenset[str]]]:
    """mount point -> (fs type, per-mount flags), without host-specific sources and without the
    cgroup tree (compared on its own). Files masked with a bind of /dev/null keep no fs type: the
    null node comes from the host's devtmpfs in podman and from the container's /dev in composer."""
    table: dict[str, tuple[str, frozenset[str]]] = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 10:
            continue
        sep = fields.index("-")
        root, point, opts, fstype = fields[3], fields[4], fields[5], fields[sep + 1]
        if point in PODMAN_ONLY or point.startswith("/sys/fs/cgroup"):
            continue
        if root == "/null":
            fstype = "<null>"
        table[point] = (fstype, frozenset(o for o in opts.split(",") if o in FLAGS))
    return table


def dev_entries(lines: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (type and mode, major:minor or link target), from `ls -l /dev` without . and .."""
    out: dict[str, tuple[str, str]] = {}
    for line in lines:
        f = line.split()
        if len(f) < 9 or f[-1] in (".", ".."):
            continue
        if f[0].startswith(("c", "b")):
            out[f[-1]] = (f[0], f[4] + f[5])
        elif f[0].startswith("l"):
            out[f[-3]] = (f[0], f[-1])
        else:
            out[f[-1]] = (f[0], "")
    return out


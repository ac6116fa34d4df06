"""The floor of a Python `run --rm true` on this machine: run with `python -I -S floor.py LAYER`.

One interpreter and only what every container start needs, none of composer's features: join a
fresh cgroup in the v1 memory and pids hierarchies (or the cgroup2 one), unshare the mount, PID,
UTS, IPC and network namespaces, mount an overlay of the image layer LAYER, fork PID 1, mount
/proc, pivot_root, exec /bin/true, wait, then remove the cgroups and the overlay's dirs. No
seccomp, capabilities, state, network set-up, monitor or logs. `make bench` prints its time beside
composer's, crun's and podman's (bench/FINDINGS.md F22). Standard library only, no composer import.
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_REC, MS_PRIVATE, MNT_DETACH, SYS_PIVOT_ROOT = 0x4000, 0x40000, 2, 155

libc = ctypes.CDLL(None, use_errno=True)


def check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def cgroup_dirs(name: str) -> list[str]:
    v1 = [f"/sys/fs/cgroup/{c}" for c in ("memory", "pids")]
    roots = [r for r in v1 if os.path.isdir(r)] or ["/sys/fs/cgroup"]
    return [f"{r}/{name}" for r in roots]


def container(layer: str, work: str, cgroups: list[str]) -> int:
    """The child: join the cgroups, unshare, mount, fork PID 1 and wait for it."""
    for cg in cgroups:
        with open(f"{cg}/cgroup.procs", "w") as f:
            f.write("0")
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET),
          "unshare")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    root = f"{work}/root".encode()
    opts = f"lowerdir={layer},upperdir={work}/upper,workdir={work}/work,volatile".encode()
    check(libc.mount(b"overlay", root, b"overlay", 0, opts), "overlay")
    pid = os.fork()
    if pid == 0:
        check(libc.mount(b"proc", root + b"/proc", b"proc", 0, None), "proc")
        os.chdir(root)
        check(libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        check(libc.umount2(b".", MNT_DETACH), "detach the old root")
        os.chdir("/")
        os.execv("/bin/true", ["true"])
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def main(layer: str) -> int:
    work = f"/tmp/composer-floor-{os.getpid()}"
    cgroups = cgroup_dirs(f"composer-floor-{os.getpid()}")
    made: list[str] = []
    try:
        for d in ("upper", "work", "root"):
            os.makedirs(f"{work}/{d}")
        for cg in cgroups:
            os.mkdir(cg)
            made.append(cg)
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(container(layer, work, cgroups))
            except BaseException as exc:  # the child never returns into main
                print(f"floor: {exc}", file=sys.stderr, flush=True)
                os._exit(125)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        for cg in made:
            os.rmdir(cg)
        remove_tree(work)


def remove_tree(top: str) -> None:
    """rm -r without shutil (its import, with re and fnmatch, would be a cost of the floor)."""
    for root, dirs, files in os.walk(top, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.unlink(path)
            else:
                os.rmdir(path)
    if os.path.isdir(top):
        os.rmdir(top)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

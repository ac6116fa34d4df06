"""Reaching into a container from the host: exec, attach stdin, top, and copying files in and out.
Functions of a ContainerManager (its lookups and paths); the manager's methods delegate here."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from runtime import containers
from runtime.containers import read_json
from runtime.errors import Conflict, ExecError, InvalidSpec, NotFound
from runtime.spec import ContainerInfo, ExecSpec

if TYPE_CHECKING:
    from runtime.containers import ContainerManager

ENTER: Final = str(Path(__file__).resolve().parent / "executor" / "enter.py")


def exec(
    mgr: ContainerManager, ref: str, spec: ExecSpec, *, stdin: int = 0, stdout: int = 1, stderr: int = 2
) -> int:
    """Run a process in a running container (its namespaces, cgroup, user, caps, seccomp)."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    containers.check_transition("exec", info.status, info.name)
    req = {
        "pid": info.pid,
        "container_dir": str(mgr.paths.container_dir(cid)),
        "command": list(spec.command),
        "env": dict(spec.env),
        "user": spec.user,
        "working_dir": spec.working_dir,
        "privileged": spec.privileged,
        "tty": spec.tty and not spec.detach,
    }
    argv = [sys.executable, "-I", "-S", ENTER, json.dumps(req)]
    if spec.detach:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return 0
    return subprocess.run(argv, stdin=stdin, stdout=stdout, stderr=stderr).returncode

def attach_stdin(mgr: ContainerManager, ref: str, fd: int) -> None:
    """Copy *fd* into the stdin of a running ``stdin_open`` container until EOF, which closes
    the container's stdin (as ``docker run -i``; with ``tty`` the terminal stays open)."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    if info.status not in ("running", "created") or not (info.spec and info.spec.stdin_open):
        raise Conflict(
            f"container {info.name}: cannot attach stdin: it is {info.status}"
            + ("" if info.spec and info.spec.stdin_open else " and has no stdin_open")
        )
    out = os.open(mgr.paths.container_run(cid) / "stdin", os.O_WRONLY | os.O_CLOEXEC)
    try:
        while data := os.read(fd, 65536):
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
    except BrokenPipeError:
        pass  # the monitor went away: the container is gone
    finally:
        os.close(out)

def top(mgr: ContainerManager, ref: str) -> list[dict[str, str]]:
    """The processes of a running container (host view): PID, PPID, UID, CMD."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    if info.status not in ("running", "paused"):
        raise Conflict(f"container {info.name}: cannot top while {info.status}")
    try:
        ns = os.stat(f"/proc/{info.pid}/ns/pid").st_ino
        mnt = os.stat(f"/proc/{info.pid}/ns/mnt").st_ino
    except OSError:
        return []
    out = []
    for entry in sorted((e for e in os.listdir("/proc") if e.isdigit()), key=int):
        try:
            if (
                os.stat(f"/proc/{entry}/ns/pid").st_ino != ns
                or os.stat(f"/proc/{entry}/ns/mnt").st_ino != mnt
            ):
                continue
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append(
            {
                "PID": entry,
                "PPID": status.get("PPid", "").strip(),
                "UID": status.get("Uid", "").split()[0] if status.get("Uid") else "",
                "CMD": cmd or f"[{status.get('Name', '').strip()}]",
            }
        )
    return out

@contextlib.contextmanager
def _root_view(mgr: ContainerManager, cid: str, info: ContainerInfo) -> Iterator[str]:
    """The container's root as the host sees it: the running init's /proc/<pid>/root (with
    its volumes), else its overlay mounted for the copy on a private directory."""
    if info.status in ("running", "paused", "created") and info.pid:  # created: the init at the gate
        yield f"/proc/{info.pid}/root"
        return
    from runtime.executor import syscalls as sc

    cdir = mgr.paths.container_dir(cid)
    meta = read_json(cdir / "container.json")
    if meta is None:
        raise Conflict(f"container {info.name}: its root filesystem is not available")
    view = cdir / f"cp-{secrets.token_hex(4)}"
    view.mkdir()
    lower = ":".join(reversed(meta["lowerdirs"]))
    try:
        sc.SYSCALLS.mount(
            "overlay",
            str(view),
            "overlay",
            0,
            f"lowerdir={lower},upperdir={meta['upperdir']},workdir={meta['workdir']}",
        )
    except OSError as exc:
        view.rmdir()
        raise ExecError(
            f"container {info.name}: cannot mount its root filesystem: {exc.strerror}"
        ) from None
    try:
        yield str(view)
    finally:
        sc.SYSCALLS.umount2(str(view), sc.MNT_DETACH)
        view.rmdir()

def copy_to(mgr: ContainerManager, ref: str, src: str | Path, dst: str) -> None:
    """Copy host file or directory *src* to *dst* inside the container."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    if not dst.startswith("/"):
        raise InvalidSpec(f"container {info.name}: copy destination {dst!r} is not absolute")
    from runtime.executor.init import secure_join

    with _root_view(mgr, cid, info) as root:
        target = secure_join(root, dst)
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(str(src).rstrip("/")))
        if os.path.isdir(src):
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)

def copy_from(mgr: ContainerManager, ref: str, src: str, dst: str | Path) -> None:
    """Copy *src* inside the container to host path *dst*."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    from runtime.executor.init import secure_join

    with _root_view(mgr, cid, info) as root:
        source = secure_join(root, src)
        if not os.path.lexists(source):
            raise NotFound(f"container {info.name}: no such file {src}")
        target = Path(dst)
        if target.is_dir():
            target = target / os.path.basename(src.rstrip("/"))
        if os.path.isdir(source) and not os.path.islink(source):
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target, follow_symlinks=False)

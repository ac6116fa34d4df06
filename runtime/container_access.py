"""Reaching into a container from the host: exec, attach stdin, top, and copying files in and out.
Functions of a ContainerManager (its lookups and paths); the manager's methods delegate here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from runtime import containers
from runtime.containers import read_json
from runtime.errors import Conflict, EngineError, ExecError, InvalidSpec, NotFound
from runtime.spec import ContainerInfo, ExecSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any, Final

    from runtime.containers import ContainerManager

ENTER: Final = str(Path(__file__).resolve().parent / "executor" / "enter.py")


def exec(
    mgr: ContainerManager, ref: str, spec: ExecSpec, *, stdin: int = 0, stdout: int = 1, stderr: int = 2
) -> int:
    """Run a process in a running container (its namespaces, cgroup, user, caps, seccomp)."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    containers.check_transition("exec", info.status, info.name)
    from runtime import attach_lock

    attach_lock.open_ahead()  # the helper's move into the container's cgroup, ~20 ms from now
    req = {
        "pid": info.pid,
        "container_dir": str(mgr.paths.container_dir(cid)),
        "command": list(spec.command),
        "env": dict(spec.env),
        "user": spec.user,
        "group_add": list(info.spec.group_add) if spec.user and info.spec else [],
        "user_home": bool(spec.user) and "HOME" not in spec.env and _home_defaulted(mgr, info),
        "working_dir": spec.working_dir,
        "privileged": spec.privileged,
        "tty": spec.tty and not spec.detach,
        "stdin_open": spec.stdin_open,
    }
    req["events"] = _log_exec_start(mgr, cid, doc, spec.command)
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


def _log_exec_start(
    mgr: ContainerManager, cid: str, doc: Mapping[str, Any], command: Sequence[str]
) -> dict[str, str]:
    """Log an exec's exec_create and exec_start as docker's daemon does (moby daemon/exec.go: the
    action names the entrypoint, a space, then the arguments joined by spaces; execID among the
    container's attributes); returns what the helper needs to log its exec_die."""
    from runtime.container_records import event_attrs
    from runtime.logs import EVENTS_FILE, append_event

    exec_id = os.urandom(32).hex()
    attrs = event_attrs(doc)
    path = f"{mgr.paths.rundir}/{EVENTS_FILE}"
    entrypoint, *args = command or [""]
    what = json.dumps(f"{entrypoint} {' '.join(args)}")[1:-1]  # a JSON string's inside
    for verb in ("exec_create", "exec_start"):
        append_event(path, cid, f"{verb}: {what}", attrs, f'"execID":"{exec_id}"')
    return {"path": path, "cid": cid, "exec_id": exec_id, "attrs": attrs}


def _home_defaulted(mgr: ContainerManager, info: ContainerInfo) -> bool:
    """Whether the container's HOME came from its user's passwd entry (neither the service nor
    the image set one): docker's exec -u then gets the exec user's home, as runc sets it."""
    if info.spec is None or "HOME" in info.spec.env:
        return False
    try:
        config = mgr.engine.images.resolve(info.image_id or info.image).config
    except EngineError:  # the image is gone: its env is unknown, keep the container's HOME
        return False
    env = config.get("Env")
    return not (isinstance(env, list) and any(str(e).startswith("HOME=") for e in env))


def resize_tty(mgr: ContainerManager, ref: str, rows: int, columns: int) -> bool:
    """Give a running container's terminal the size *rows* x *columns* (docker's resize): its
    workload gets a SIGWINCH. Through the init's stdio, the terminal's far end, so the monitor
    that holds the pty's master needs no request. False when it has no terminal (or is gone)."""
    import fcntl
    import termios

    from runtime.executor.exec_tty import winsize

    info = mgr.get(ref)
    if not (info.spec and info.spec.tty) or info.status != "running" or not info.pid:
        return False
    for fd in (0, 1, 2):  # the workload may have closed or redirected some of them
        try:
            tty = os.open(f"/proc/{info.pid}/fd/{fd}", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if os.isatty(tty):
                fcntl.ioctl(tty, termios.TIOCSWINSZ, winsize(rows, columns))
                return True
        except OSError:
            pass
        finally:
            os.close(tty)
    return False


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
    out = os.open(f"{mgr.paths.container_run(cid)}/stdin", os.O_WRONLY | os.O_CLOEXEC)
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


# file systems the init mounts itself over the image: a bind below them has no place in a view of
# the container's files (and would create its mount point in the container's upper dir)
_NOT_IN_VIEW: Final = ("/dev", "/proc", "/sys")
_ERRORS: Final[dict[str, type[Exception]]] = {"NotFound": NotFound, "InvalidSpec": InvalidSpec}


def _in_root(mgr: ContainerManager, cid: str, info: ContainerInfo, fn: Callable[[str], None]) -> None:
    """Call *fn* with the container's root as the host sees it, its volumes and binds included:
    a running (or created, waiting at the gate) init's /proc/<pid>/root; else its overlay and
    bind mounts set up in a forked child's private mount namespace, which takes them along when
    it exits (nothing to unmount, nothing left behind even when killed)."""
    if info.status in ("running", "paused", "created") and info.pid:
        fn(f"/proc/{info.pid}/root")
        return
    cdir = mgr.paths.container_dir(cid)
    meta = read_json(f"{cdir}/container.json")
    config = read_json(f"{cdir}/config.json")
    if meta is None or config is None:
        raise Conflict(f"container {info.name}: its root filesystem is not available")
    from runtime.executor import init as _init  # noqa: F401 - imported before the fork, used by the child

    r, w = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.close(r)
            view = f"{cdir}/rootfs"  # the init's mount point: empty in this namespace
            _mount_view(view, meta, config, info.name)
            fn(view)
        except BaseException as exc:  # noqa: BLE001 - the child must never unwind into the caller
            kind = type(exc).__name__ if type(exc).__name__ in _ERRORS else "ExecError"
            text = str(exc) if kind != "ExecError" or isinstance(exc, ExecError) else _describe(info, exc)
            os.write(w, json.dumps([kind, text]).encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read()
    os.waitpid(child, 0)
    if report:
        kind, text = json.loads(report)
        raise _ERRORS.get(kind, ExecError)(text)


def _describe(info: ContainerInfo, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"container {info.name}: cannot copy{where}: {(exc.strerror or str(exc)).lower()}"
    return f"container {info.name}: cannot copy: {exc}"


def _mount_view(view: str, meta: Mapping[str, Any], config: Mapping[str, Any], name: str) -> None:
    """In a new mount namespace: the container's overlay on *view*, then its volumes and binds
    (read-only ones read-only) where their mount points exist."""
    from runtime.executor import init as _init
    from runtime.executor import syscalls as sc

    sys_ = sc.SYSCALLS
    sys_.unshare(sc.CLONE_NEWNS)
    sys_.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing of this propagates to the host
    lower = ":".join(reversed(meta["lowerdirs"]))
    try:
        sys_.mount(
            "overlay",
            view,
            "overlay",
            0,
            f"lowerdir={lower},upperdir={meta['upperdir']},workdir={meta['workdir']}",
        )
    except OSError as exc:
        raise ExecError(f"container {name}: cannot mount its root filesystem: {exc.strerror}") from None
    for m in config.get("mounts") or []:
        dest = str(m.get("destination") or "")
        if m.get("type") != "bind" or any(dest == p or dest.startswith(p + "/") for p in _NOT_IN_VIEW):
            continue
        if not os.path.exists(str(m.get("source") or "")) or not os.path.lexists(
            _init.secure_join(view, dest)
        ):
            continue  # a run-dir file gone after a reboot, or a mount point the init never made
        _init.mount_one(m, view, sys_)


def copy_to(mgr: ContainerManager, ref: str, src: str | os.PathLike[str], dst: str, *,
            follow_link: bool = False, copy_uid_gid: bool = False) -> None:

    """Copy host file or directory *src* (``-``: a tar stream on stdin) to *dst* inside the
    container (into its volumes and binds too, also when it is stopped), as docker's cp: owned by
    root unless *copy_uid_gid*, a symlink *src* copied as a link unless *follow_link*."""
    from runtime import copy_tree

    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    src = str(src)
    if not dst.startswith("/"):
        raise InvalidSpec(f"container {info.name}: copy destination {dst!r} is not absolute")
    if src != "-" and not os.path.lexists(src):
        raise NotFound(f"container {info.name}: no such file {src} on the host")

    def copy(root: str) -> None:
        try:
            if src == "-":
                copy_tree.tar_in(root, dst, 0, keep_owner=copy_uid_gid)
            else:
                copy_tree.copy_in(root, src, dst, follow=follow_link, keep_owner=copy_uid_gid)
        except copy_tree.CopyError as exc:
            raise ExecError(f"container {info.name}: cannot copy to {dst}: {exc}") from None
        except OSError as exc:
            raise ExecError(_describe(info, _inside(exc, root))) from None
        except shutil.Error as exc:
            raise ExecError(f"container {info.name}: cannot copy to {dst}: {exc.args[0][0][2]}") from None

    _in_root(mgr, cid, info, copy)


def sync_files(
    mgr: ContainerManager, ref: str, copies: Sequence[tuple[str, str]], deletes: Sequence[str]
) -> None:
    """A compose watch sync in the container (running or stopped, its volumes and binds too):
    *deletes* removed, then each (host path, container path) of *copies* written with its
    owners kept (copy_tree.sync_in); paths resolved inside the container's root."""
    from runtime import copy_tree

    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    for path in [*deletes, *(dst for _, dst in copies)]:
        if not path.startswith("/"):
            raise InvalidSpec(f"container {info.name}: sync path {path!r} is not absolute")

    def sync(root: str) -> None:
        try:
            copy_tree.sync_in(root, copies, deletes)
        except OSError as exc:
            raise ExecError(_describe(info, _inside(exc, root))) from None

    _in_root(mgr, cid, info, sync)


def copy_from(
    mgr: ContainerManager, ref: str, src: str, dst: str | os.PathLike[str], *, follow_link: bool = False
) -> None:
    """Copy *src* inside the container (its volumes and binds included) to host path *dst*
    (``-``: a tar stream on stdout), as docker's cp: a symlink *src* is copied as a link unless
    *follow_link*."""
    from runtime import copy_tree

    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    dst = str(dst)

    def copy(root: str) -> None:
        if not os.path.lexists(copy_tree.container_path(root, src, follow_link)):
            raise NotFound(f"container {info.name}: no such file {src}")
        try:
            if dst == "-":
                sys.stdout.flush()
                copy_tree.tar_out(root, src, 1, follow=follow_link)
            else:
                copy_tree.copy_out(root, src, dst, follow=follow_link)
        except copy_tree.CopyError as exc:
            raise ExecError(f"container {info.name}: cannot copy {src} to {dst}: {exc}") from None
        except OSError as exc:
            raise ExecError(_describe(info, _inside(exc, root))) from None
        except shutil.Error as exc:
            raise ExecError(f"container {info.name}: cannot copy {src}: {exc.args[0][0][2]}") from None

    _in_root(mgr, cid, info, copy)


def _inside(exc: OSError, root: str) -> OSError:
    """*exc* naming the file in the container when it concerns one (shutil names the source
    first and the destination second: a full disk is the destination's)."""
    for name in (str(exc.filename2 or ""), str(exc.filename or "")):
        if name.startswith(root + "/"):
            return OSError(exc.errno, exc.strerror, name[len(root) :])
    return exc


SHM_SHARE: Final = str(Path(__file__).resolve().parent / "executor" / "shm_share.py")


def share_shm(mgr: ContainerManager, cid: str, donor_ref: str) -> None:
    """Give created container *cid* (its init at the gate) the /dev/shm of running container
    *donor_ref*, whose IPC namespace it joins (``ipc: container:X``), as docker does."""
    me, donor = mgr.get(cid), mgr.get(donor_ref)
    if not me.pid or not donor.pid:
        raise Conflict(f"container {me.name}: /dev/shm of container {donor.name} is not available")
    proc = subprocess.run(
        [sys.executable, "-I", "-S", SHM_SHARE, str(donor.pid), str(me.pid)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        close_fds=True,
        timeout=30,
    )
    if proc.returncode != 0:
        why = (proc.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        raise ExecError(f"container {me.name}: cannot share /dev/shm of container {donor.name}: {why}")

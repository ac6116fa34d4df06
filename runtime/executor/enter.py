"""Enter a running container: its namespaces, cgroup, user, capabilities and seccomp (exec, probes).

Run as a small helper process (``python -I -S runtime/executor/enter.py REQUEST_JSON``) so that the
process that enters is never a big threaded one; the monitor calls ``spawn_entered`` directly for
healthchecks. The helper joins the namespaces, forks (a PID namespace applies to children), and
exits with the workload's status. Standard library only.
"""

from __future__ import annotations

import fcntl
import os
import sys
import termios

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

TYPE_CHECKING = False  # typing (and the re it imports) stays out of every exec: annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Final

from runtime.executor import init as _init  # noqa: E402
from runtime.executor import syscalls as sc  # noqa: E402
from runtime.executor.syscalls import SYSCALLS  # noqa: E402
from runtime.executor.user import UserError, resolve_user  # noqa: E402

# join order: everything but mnt first (their /proc/<pid>/ns files are reached through the host's /proc)
_JOIN: Final = (
    ("cgroup", sc.CLONE_NEWCGROUP),
    ("ipc", sc.CLONE_NEWIPC),
    ("uts", sc.CLONE_NEWUTS),
    ("net", sc.CLONE_NEWNET),
    ("pid", sc.CLONE_NEWPID),
    ("mnt", sc.CLONE_NEWNS),
)


def join_namespaces(pid: int, cgroup_procs: Sequence[str]) -> None:
    """Join the cgroup and every namespace of process *pid* that differs from ours."""
    _init.join_cgroup(cgroup_procs, os.getpid())
    fds: list[tuple[int, int]] = []
    try:
        for name, flag in _JOIN:
            theirs = f"/proc/{pid}/ns/{name}"
            if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
            fds.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), flag))
        for fd, flag in fds:
            SYSCALLS.setns(fd, flag)
    finally:
        for fd, _ in fds:
            os.close(fd)
    os.chdir("/")


def exec_in(config: Mapping[str, Any], req: Mapping[str, Any], seccomp_bpf: bytes | None) -> None:
    """In the entered child: the container's process settings as its init got them (rlimits,
    user, caps, no_new_privs, seccomp, cwd, env), then execve. Never returns. As docker's exec:
    -u resolves in the container with its group_add, --privileged gives every capability but
    keeps the container's seccomp filter, a terminal gets TERM=xterm unless the env sets it."""
    process = dict(config["process"])
    home = None
    if req.get("user"):

        def etc(name: str) -> str:
            try:
                with open(f"/etc/{name}") as f:
                    return f.read()
            except OSError:
                return ""

        u = resolve_user(str(req["user"]), req.get("group_add") or (), etc("passwd"), etc("group"))
        process["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": list(u.additional_gids)}
        home = u.home if req.get("user_home") else None  # HOME was the container user's default
    if req.get("privileged"):
        process["capabilities"] = {"bounding": _all_caps()}
    env = dict(e.partition("=")[::2] for e in process.get("env") or [])
    if home is not None:
        env["HOME"] = home
    if req.get("tty"):
        env.setdefault("TERM", "xterm")
    for k, v in (req.get("env") or {}).items():
        if v is None:  # a name without a value unsets it, as moby's exec env (a compose hook's `- FOO`)
            env.pop(k, None)
        else:
            env[k] = v
    envl = [f"{k}={v}" for k, v in env.items()]
    args = [str(a) for a in req["command"]]
    cwd = str(req.get("working_dir") or process.get("cwd") or "/")
    _init._set_rlimits(process.get("rlimits") or [])  # while root: raising a hard limit needs it
    if process.get("noNewPrivileges"):
        _init.set_identity(process)
        _init.set_no_new_privs()
        _init.load_seccomp(seccomp_bpf)
    else:  # as the init: without no_new_privs only a privileged process may load the filter
        _init.load_seccomp(seccomp_bpf)
        _init.set_identity(process)
    try:
        os.chdir(cwd)
    except OSError as exc:  # runc's words (libcontainer finalizeNamespace)
        why = _init.go_errno(exc)
        raise _init.InitError(f'chdir to cwd ("{cwd}") set in config.json failed: {why}') from None
    exe = _init.find_executable(args[0], envl)
    try:
        os.execve(exe, args, env)
    except OSError as exc:  # Go's words, as the init's (a directory: LookPath's, as runc's exec)
        why = "is a directory" if os.path.isdir(exe) else _init.go_errno(exc)
        raise _init.InitError(f'exec: "{args[0]}": {why}') from None


def exec_start_error(msg: str) -> tuple[str, int]:
    """What docker says of an exec whose process could not start, and its exit code: runc's error
    as containerd hands it to moby (`OCI runtime exec failed: exec failed: unable to start
    container process: ...: unknown`), then moby's setExitCodeFromError on its words: 126 for
    permission denied (and is a directory, which gets ': permission denied'), 127 for a missing
    command, file or directory (not a directory too, with moby's hint), 128 for anything else."""
    desc = f"OCI runtime exec failed: exec failed: unable to start container process: {msg}: unknown"
    low = desc.lower()
    if "permission denied" in low:
        return desc, 126
    if "is a directory" in low:
        return desc + ": permission denied", 126
    if "not a directory" in low:
        return desc + (": Are you trying to mount a directory onto a file (or vice-versa)? Check if the"
                       " specified host path exists and is the expected type"), 127
    if any(w in low for w in ("executable file not found", "no such file or directory")):
        return desc, 127
    return desc, 128


def _all_caps() -> list[str]:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except OSError:
        last = 40
    try:
        from runtime.security.caps import ALL_CAPS

        return sorted(ALL_CAPS)
    except ImportError:
        return [f"CAP_{i}" for i in range(last + 1)]


def spawn_entered(
    pid: int,
    config: Mapping[str, Any],
    req: Mapping[str, Any],
    cgroup_procs: Sequence[str],
    seccomp_bpf: bytes | None,
    stdio: tuple[int, int, int],
    new_pgrp: bool = True,
    tty: bool = False,
    docker_words: bool = False,
) -> int:
    """Fork a process that enters container process *pid* and runs req["command"]; returns its pid.

    The forked process joins the namespaces, forks the workload (now inside the PID namespace),
    waits for it and exits with its status; on a setup failure it prints one line to its stderr
    and exits 126 (127 when the executable is missing); with *docker_words* (an exec) the line
    and the code are docker's (exec_start_error). With *tty* the workload leads a new session
    whose controlling terminal is its stdin (a pty slave).
    """
    _init.preload()  # everything is imported before entering the mount namespace
    child = os.fork()
    if child:
        return child
    code = 126
    try:
        _init.reset_signals()
        os.umask(0o022)
        if new_pgrp:
            os.setpgid(0, 0)
        for target, fd in enumerate(stdio):
            if fd != target:
                os.dup2(fd, target)
        join_namespaces(pid, cgroup_procs)
        grandchild = os.fork()
        if grandchild == 0:
            try:
                if tty:
                    os.setsid()
                    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
                exec_in(config, req, seccomp_bpf)
            except BaseException as exc:  # noqa: BLE001
                msg = str(exc) if isinstance(exc, _init.InitError) else _init.describe(exc)
                if docker_words and isinstance(exc, UserError):
                    failed = 126  # moby resolves the user itself, before runc: its words, 126
                elif docker_words:
                    msg, failed = exec_start_error(msg)
                else:
                    failed = 127 if "executable file not found" in msg or "no such file" in msg else 126
                os.write(2, f"{msg}\n".encode())
                os._exit(failed)
        _, status = os.waitpid(grandchild, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"{_init.describe(exc)}\n".encode())
    os._exit(code)


def main(argv: Sequence[str]) -> int:
    """Helper entry point: argv[1] is a JSON request {pid, container_dir, command, env, user, ...}.
    With req["events"] (the log, the container's id and event attributes, the exec's id) it logs
    the exec's exec_die with its exitCode, as docker's daemon does when an exec's process exits:
    this helper is the one process that waits for it, a detached exec's too."""
    import json

    req = json.loads(argv[1])
    code = _run(req)
    ev = req.get("events")
    if ev:
        from runtime.logs import append_event

        extra = f'"execID":"{ev["exec_id"]}","exitCode":"{code}"'
        append_event(str(ev["path"]), str(ev["cid"]), "exec_die", str(ev["attrs"]), extra)
    return code


def _run(req: Mapping[str, Any]) -> int:
    """Enter the container, run the request's command and wait for it; returns its exit code."""
    import json

    cdir = str(req["container_dir"])
    with open(os.path.join(cdir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(cdir, "container.json")) as f:
        meta = json.load(f)
    bpf = None
    if meta.get("seccomp_bpf"):
        with open(meta["seccomp_bpf"], "rb") as f:
            bpf = f.read()
    procs = meta.get("cgroup_procs") or []
    if req.get("tty"):
        from runtime.executor import exec_tty

        try:
            master, slave, _ = exec_tty.open_container_pty(int(req["pid"]))
        except OSError as exc:
            msg = f"container {meta.get('name', '')}: cannot allocate a terminal: {exc.strerror}"
            os.write(2, f"{msg}\n".encode())
            return 126
        exec_tty.copy_winsize(0, master)
        stdio = (slave, slave, slave)
        child = spawn_entered(int(req["pid"]), config, req, procs, bpf, stdio, new_pgrp=False, tty=True,
                              docker_words=True)
        os.close(slave)
        return exec_tty.relay(master, child, stdin_open=bool(req.get("stdin_open")))
    child = spawn_entered(int(req["pid"]), config, req, procs, bpf, (0, 1, 2), new_pgrp=False,
                          docker_words=True)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv))

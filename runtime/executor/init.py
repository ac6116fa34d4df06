"""The sequence inside a new container, from joining its cgroup to execve (DESIGN.md section 3).

``spawn(...)`` is called by the monitor (a thread of it, in a pod's shared monitor). It forks the
container's init straight into the container's PID namespace: ``unshare(CLONE_NEWPID)`` (or a
``setns`` into another container's) sets the PID namespace of the calling thread's children only,
and is undone right after the fork. The init, PID 1 there and the monitor's own child, joins the
namespaces given by path, unshares the others, builds the rootfs and pivots into it, while the
monitor moves it into its cgroup (the move waits out an RCU grace period, 7-30 ms here, that the
set-up now overlaps: bench/FINDINGS.md F21). Then the init unshares its cgroup namespace and mounts
its view of /sys/fs/cgroup, drops privileges, loads seccomp, writes ``ready`` and waits on the start
gate; then it looks the command up and execs it. Any failure is one line ``error container <name>: <what
failed>`` on the sync pipe, never a traceback. (An intermediate process that unshared and forked, as
runc's, cost ~6 ms CPU per container in page faults, a fork and an exit: bench/FINDINGS.md F19.)
Standard library only; everything is imported and the seccomp BPF read before pivot_root.
"""

from __future__ import annotations

import _signal  # not the signal module: its enums cost each init's reset_signals ~0.3 ms
import errno
import fcntl
import os
import resource
import stat
import sys as _sysmod
import termios

from runtime.executor import NETWORK_READY
from runtime.executor import syscalls as sc
from runtime.executor.exec_tty import open_pty, winsize
from runtime.executor.syscalls import SYSCALLS

# The monitor imports this module: typing (and the re it imports) stays out, annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, Final

    from runtime.executor.syscalls import Syscalls

_FLAGS: Final[dict[str, tuple[int, bool]]] = {  # option -> (flag, set it)
    "ro": (sc.MS_RDONLY, True),
    "rro": (sc.MS_RDONLY, True),  # and every mount under it too (mount_one)
    "rw": (sc.MS_RDONLY, False),
    "nosuid": (sc.MS_NOSUID, True),
    "suid": (sc.MS_NOSUID, False),
    "nodev": (sc.MS_NODEV, True),
    "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True),
    "exec": (sc.MS_NOEXEC, False),
    "sync": (sc.MS_SYNCHRONOUS, True),
    "async": (sc.MS_SYNCHRONOUS, False),
    "dirsync": (sc.MS_DIRSYNC, True),
    "remount": (sc.MS_REMOUNT, True),
    "bind": (sc.MS_BIND, True),
    "rbind": (sc.MS_BIND | sc.MS_REC, True),
    "relatime": (sc.MS_RELATIME, True),
    "norelatime": (sc.MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True),
    "noatime": (sc.MS_NOATIME, True),
    "nodiratime": (sc.MS_NODIRATIME, True),
    "atime": (sc.MS_NOATIME, False),
    "defaults": (0, True),
}
_PROPAGATION: Final[dict[str, int]] = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
_UNSHARE_ORDER: Final = ("mount", "uts", "ipc")  # pid: at the fork (spawn); cgroup: once joined
# Made in the container's /sys/fs/cgroup on a v1 host where absent, as crun does (podman shows them).
_CGROUP_V1_LINKS: Final = (
    ("cpu", "cpu,cpuacct"),
    ("cpuacct", "cpu,cpuacct"),
    ("net_cls", "net_cls,net_prio"),
    ("net_prio", "net_cls,net_prio"),
)
_CGROUP_TMPFS_FLAGS: Final = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


class InitError(Exception):
    """A step of the container setup failed; str() says which and why."""


class MountOptions:
    """mount(2) flags, a propagation change and fs-specific data (a plain class: no typing)."""

    __slots__ = ("flags", "propagation", "data")

    def __init__(self, flags: int, propagation: int, data: str) -> None:
        self.flags, self.propagation, self.data = flags, propagation, data

    def __repr__(self) -> str:
        return f"MountOptions(flags={self.flags}, propagation={self.propagation}, data={self.data!r})"


def parse_mount_options(options: Sequence[str]) -> MountOptions:
    """Split OCI mount options into mount(2) flags, a propagation change and fs-specific data."""
    flags, prop, data = 0, 0, []
    for opt in options:
        if opt in _FLAGS:
            bit, on = _FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in _PROPAGATION:
            prop = _PROPAGATION[opt]
        else:
            data.append(opt)
    return MountOptions(flags, prop, ",".join(data))


def secure_join(root: str, path: str) -> str:
    """*path* inside *root*, following symlinks as if *root* were /: never escapes *root*."""
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:
            resolved.append(part)
            continue
        links += 1
        if links > 40:
            raise InitError(f"too many levels of symbolic links in {path}")
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p] + parts
    return os.path.join(root, *resolved)


def _make_target(dest: str, as_file: bool) -> None:
    if os.path.lexists(dest):
        return
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if as_file:
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.mkdir(dest, 0o755)


def host_cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of the cgroup hierarchies under /sys/fs/cgroup."""
    out = []
    for line in mountinfo.splitlines():
        if " - cgroup" not in line:  # the separator, then the fs type (paths escape spaces)
            continue
        left, _, right = line.partition(" - ")
        fields, super_fields = left.split(), right.split()
        if len(fields) < 5 or len(super_fields) < 3:
            continue
        point, fstype = fields[4], super_fields[0]
        if fstype in ("cgroup", "cgroup2") and point.startswith("/sys/fs/cgroup"):
            out.append((point, fstype, super_fields[2]))
    return out


def mount_cgroup_tree(dest: str, flags: int, mountinfo: str, sys: Syscalls = SYSCALLS,
                      own: str | None = None) -> None:
    """The container's view of its cgroups at *dest*, as podman (crun) gives it: cgroup2 alone on a
    v2 host; on a v1 (or hybrid) host a tmpfs with one v1 mount per hierarchy of the host, made
    read-only last when *flags* say ro. Each shows the container's own cgroup as its root: the
    cgroup namespace, unshared after joining the container's cgroups, roots the mount there; in
    the host's cgroup namespace (cgroup: host) its own directory, named in *own* (the text of
    /proc/self/cgroup, read when not given; "" in a cgroup namespace of its own, where every
    hierarchy's root is its cgroup), is bound over the mount, as crun does."""
    if own is None:
        with open("/proc/self/cgroup") as f:
            own = f.read()
    v1 = [(point, data) for point, fstype, data in host_cgroup_mounts(mountinfo) if fstype == "cgroup"]
    _make_target(dest, False)
    if not v1:
        sys.mount("cgroup2", dest, "cgroup2", flags, None)
        _bind_own_cgroup(dest, flags, _own_cgroup_path(own, None), sys)
        return
    sys.mount("cgroup", dest, "tmpfs", _CGROUP_TMPFS_FLAGS, "mode=755,size=1024k")
    for point, data in v1:
        target = os.path.join(dest, os.path.basename(point))
        try:  # noqa: SIM105 - no contextlib; in the tmpfs just mounted: no parent to make
            os.mkdir(target)
        except FileExistsError:
            pass
        options = ",".join(o for o in data.split(",") if o not in ("rw", "ro"))
        try:
            sys.mount("cgroup", target, "cgroup", flags, options or None)
        except OSError:
            os.rmdir(target)  # a hierarchy the container cannot mount: it sees none
            continue
        try:
            _bind_own_cgroup(target, flags, _own_cgroup_path(own, set(options.split(","))), sys)
        except OSError:  # never the host's whole tree instead
            sys.umount2(target, sc.MNT_DETACH)
            os.rmdir(target)
    for link, target in _CGROUP_V1_LINKS:
        path = os.path.join(dest, link)
        if not os.path.lexists(path):
            os.symlink(target, path)
    if flags & sc.MS_RDONLY:
        sys.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _CGROUP_TMPFS_FLAGS)


def _own_cgroup_path(own: str, options: set[str] | None) -> str:
    """This process's cgroup in the hierarchy mounted with *options* (None: the cgroup2 one), from
    /proc/self/cgroup lines like ``4:memory:/composer/pod/id`` ("/" in its own cgroup namespace)."""
    for line in own.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        names = {n for n in parts[1].split(",") if n}
        if (not names) if options is None else (names and names <= options):
            return parts[2]
    return "/"


def _bind_own_cgroup(target: str, flags: int, path: str, sys: Syscalls) -> None:
    if path.strip("/") == "" or ".." in path.split("/"):  # its own namespace's root already
        return
    sys.mount(os.path.join(target, path.lstrip("/")), target, None, sc.MS_BIND)
    sys.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | flags)


def mount_one(
    m: Mapping[str, Any], rootfs: str, sys: Syscalls = SYSCALLS, mountinfo: str | None = None,
    own: str | None = None,
) -> None:
    """Mount one OCI mount entry under *rootfs*. A cgroup entry reads the host's hierarchies from
    *mountinfo*, else from /proc/self/mountinfo (the host's mounts are still in view then), and
    this process's cgroups from *own* (mount_cgroup_tree)."""
    dest = secure_join(rootfs, str(m["destination"]))
    mtype = str(m.get("type") or "")
    source = str(m.get("source") or mtype)
    opts = parse_mount_options(m.get("options") or ())
    if mtype == "cgroup":
        if mountinfo is None:
            with open("/proc/self/mountinfo") as f:
                mountinfo = f.read()
        mount_cgroup_tree(dest, opts.flags, mountinfo, sys, own)
        return
    is_bind = mtype == "bind" or bool(opts.flags & sc.MS_BIND)
    held = -1
    if is_bind and m.get("beneath"):
        held = open_beneath(str(m["beneath"]), str(m.get("subpath") or ""))
        source = f"/proc/self/fd/{held}"
    try:
        _mount_source(source, dest, mtype, opts, is_bind, sys)
    finally:
        if held >= 0:
            os.close(held)
    if "rro" in (m.get("options") or ()):
        _read_only_below(dest, sys)


def _read_only_below(dest: str, sys: Syscalls) -> None:
    """The mounts a read-only rbind brought along read-only too (docker's "rro", moby's default for
    a read-only mount since 25): a `/:/host:ro` must not leave /host/tmp or /host/run writable. A
    kernel before 5.12 lacks mount_setattr: the top stays read-only, as docker falls back."""
    try:
        sys.mount_setattr(dest, sc.AT_RECURSIVE, sc.MOUNT_ATTR_RDONLY)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL):
            raise


def _mount_source(
    source: str, dest: str, mtype: str, opts: MountOptions, is_bind: bool, sys: Syscalls
) -> None:
    if is_bind:
        if not os.path.exists(source):
            raise InitError(f"bind source {source} does not exist")
        _make_target(dest, not os.path.isdir(source))
        sys.mount(source, dest, None, sc.MS_BIND | (opts.flags & sc.MS_REC))
        extra = opts.flags & ~(sc.MS_BIND | sc.MS_REC)
        if extra:
            sys.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | extra)
    else:
        _make_target(dest, False)
        sys.mount(source, dest, mtype, opts.flags, opts.data or None)
    if opts.propagation:
        sys.mount(None, dest, None, opts.propagation)


def open_beneath(base: str, subpath: str) -> int:
    """An O_PATH descriptor of *subpath* under the directory *base*, as moby's safepath.Join opens
    a volume's subpath: its symbolic links resolved, refused when it leaves *base*, then opened one
    component at a time following no link, so that a link a container swaps into its volume
    between the check and the open cannot point the bind at the host; the mount binds the fd."""
    base = os.path.realpath(base)
    resolved = os.path.realpath(os.path.join(base, subpath.lstrip("/")))
    rel = os.path.relpath(resolved, base)
    if rel == ".." or rel.startswith("../"):
        raise InitError(f"path concatenation escapes the base directory, base: {base}, subpath: {subpath}")
    flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(base, flags | os.O_DIRECTORY)
    try:
        for part in (p for p in rel.split("/") if p not in ("", ".")):
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                raise InitError(f"cannot access path {os.path.join(base, subpath)}: "
                                "no such file or directory") from None
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):  # changed since it was resolved
                raise InitError(f"cannot access path {os.path.join(base, subpath)}: "
                                "too many levels of symbolic links")
    except BaseException:
        os.close(fd)
        raise
    return fd


def mount_rootfs(rootfs: str, options: str, volatile: bool, sys: Syscalls = SYSCALLS,
                 workdir: str = "") -> None:
    """The container's overlay root. *volatile* (Linux 5.10+; an older kernel mounts without it)
    skips every sync to the upper layer, as podman mounts a ``--rm`` container's: otherwise the
    overlay's unmount at the container's exit syncs the host file system under it, whatever else
    left dirty data there (300 MB of it: ~360 ms for a ``run --rm true``, ~160 volatile, F21).
    A volatile mount leaves work/incompat/volatile in its *workdir*, and overlayfs refuses the
    next mount over it (EINVAL) until it is removed, as podman's storage does: a restart of an
    ``--rm`` container failed."""
    if volatile:
        mark = os.path.join(workdir, "work", "incompat", "volatile") if workdir else ""
        for path, remove in ((os.path.join(mark, "dirty"), os.unlink), (mark, os.rmdir)):
            try:  # noqa: SIM105 - the init imports no contextlib
                if mark:
                    remove(path)
            except OSError:
                pass
        try:
            sys.mount("overlay", rootfs, "overlay", 0, options + ",volatile")
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    sys.mount("overlay", rootfs, "overlay", 0, options)


def _make_devices(devices: Sequence[Mapping[str, Any]], rootfs: str, sys: Syscalls) -> None:
    """Create the device nodes in the container's /dev (mknod as crun does; a bind mount of the
    host's node where mknod is refused). Each parent dir is made once, and the nodes under a
    zero umask (their modes as given): ~4 syscalls per node where it took ~9 (~0.6 ms for 6)."""
    nodes = [(d, secure_join(rootfs, str(d["path"]))) for d in devices]
    for parent in {os.path.dirname(dest) for _, dest in nodes}:
        os.makedirs(parent, exist_ok=True)
    old_umask = os.umask(0)
    try:
        refused = [(d, dest) for d, dest in nodes if not _mknod(d, dest)]
    finally:
        os.umask(old_umask)
    for d, dest in refused:
        _bind_device(d, dest, sys)
    dev = secure_join(rootfs, "/dev")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ):
        try:  # noqa: SIM105 - the init imports no contextlib
            os.symlink(target, os.path.join(dev, name))
        except FileExistsError:  # the image's own, or a mount's
            pass


def _mknod(d: Mapping[str, Any], dest: str) -> bool:
    """The device node *d* made at *dest* (replacing what is there); False when mknod is refused
    (a user namespace): the caller binds the host's node instead."""
    kind = stat.S_IFBLK if d.get("type") == "b" else stat.S_IFCHR
    perm = int(d.get("fileMode", 0o666)) & 0o7777
    uid, gid = int(d.get("uid", 0)), int(d.get("gid", 0))
    for _ in range(2):
        try:
            os.mknod(dest, kind | perm, os.makedev(int(d["major"]), int(d["minor"])))
        except FileExistsError:
            os.unlink(dest)
            continue
        except PermissionError:
            return False
        if uid or gid or os.geteuid() or os.getegid():  # else it is root's already
            os.chown(dest, uid, gid)
        return True
    raise InitError(f"device {d['path']}: cannot replace what is there")


def _bind_device(d: Mapping[str, Any], dest: str, sys: Syscalls) -> None:
    """A bind mount of the host's node for *d* at *dest*, where mknod is refused."""
    host = str(d.get("hostPath") or d["path"])
    try:
        mode = os.stat(host).st_mode
    except OSError:
        mode = 0
    if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        raise InitError(f"device {host} is not available on the host")
    _make_target(dest, True)
    sys.mount(host, dest, None, sc.MS_BIND)


def _mask_and_protect(masked: Sequence[str], readonly: Sequence[str], sys: Syscalls) -> None:
    for path in masked:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            sys.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
        else:  # a read-only bind, as podman: the flag only takes on a bind remount
            sys.mount("/dev/null", path, None, sc.MS_BIND)
            sys.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
    for path in readonly:
        if not os.path.exists(path):
            continue
        sys.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        sys.mount(
            None,
            path,
            None,
            sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
        )


def _set_sysctls(sysctls: Mapping[str, str]) -> None:
    for key, value in sysctls.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(str(value))
        except OSError as exc:
            raise InitError(f"sysctl {key}={value}: {exc.strerror}") from None


def _set_rlimits(rlimits: Sequence[Mapping[str, Any]]) -> None:
    for r in rlimits:
        name = str(r["type"])
        res = getattr(resource, name, None)
        if res is None:
            raise InitError(f"unknown rlimit {name}")
        try:
            resource.setrlimit(res, (int(r["soft"]), int(r["hard"])))
        except (ValueError, OSError) as exc:
            raise InitError(f"rlimit {name}: {exc}") from None


def go_errno(exc: OSError) -> str:
    """An errno's text as Go's syscall.Errno says it: lower-case ("no such file or directory")."""
    why = str(exc.strerror or exc)
    return why[:1].lower() + why[1:]


def find_executable(name: str, env: Sequence[str]) -> str:
    """The path execve will run: *name* itself if it has a slash, else the first match in PATH;
    one that is not there in the words of Go's exec.LookPath, as runc looks it up."""
    if "/" in name:
        try:
            os.stat(name)
        except OSError as exc:
            raise InitError(f'exec: "{name}": stat {name}: {go_errno(exc)}') from None
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/sbin:/usr/bin:/sbin:/bin")
    for d in path.split(":"):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise InitError(f'exec: "{name}": executable file not found in $PATH')


def reset_signals() -> None:
    """Default dispositions for the workload: Python ignores SIGPIPE and SIGXFSZ, and an ignored
    signal stays ignored across execve (``yes | head`` would misbehave in the container). By
    number (_signal): the first thing each init does, right after its fork."""
    _signal.set_wakeup_fd(-1)
    for sig in _signal.valid_signals():
        if sig in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            if _signal.getsignal(sig) != _signal.SIG_DFL:
                _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            continue
    _reset_reserved_signals()
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


# rt_sigaction by number: glibc's sigaction refuses signals 32 and 33 (its own, for threads), and
# Python's signal module does not list them, yet an ignored 32 or 33 inherited from whoever started
# composer would stay ignored across execve into the workload.
_SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}


_reserved_reset: Any = None  # the call below, made ready by preload (in the monitor, before forks)


def _prepare_reserved_reset() -> Any:
    """A function that sets signals 32 and 33 to SIG_DFL (a libc handle and its arguments: ~0.2 ms
    to make, paid once by the monitor instead of by each init)."""
    import ctypes

    nr = _SYS_RT_SIGACTION.get(os.uname().machine)
    if nr is None:
        return lambda: None
    call = ctypes.CDLL(None, use_errno=True).syscall
    default = (ctypes.c_ulong * 4)()  # kernel struct sigaction: handler SIG_DFL, flags, restorer, mask
    size = ctypes.c_size_t(8)
    args = [(ctypes.c_long(nr), ctypes.c_int(sig), ctypes.byref(default), None, size) for sig in (32, 33)]
    return lambda: [call(*a) for a in args]


def _reset_reserved_signals() -> None:
    (_reserved_reset or _prepare_reserved_reset())()


def set_identity(process: Mapping[str, Any]) -> None:
    """Groups, gid, uid and capabilities; SECURITY's apply_identity when present."""
    user = process.get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    groups = [int(g) for g in user.get("additionalGids") or []]
    caps = frozenset((process.get("capabilities") or {}).get("bounding") or [])
    ambient = frozenset(
        c.removeprefix("CAP_") for c in (process.get("capabilities") or {}).get("ambient") or []
    )
    from runtime.security.caps import apply_identity

    apply_identity(uid, gid, groups, frozenset(c.removeprefix("CAP_") for c in caps), user_caps=ambient)


def set_no_new_privs() -> None:
    from runtime.security.caps import set_no_new_privs as _nnp

    _nnp()


def load_seccomp(bpf: bytes | None) -> None:
    if bpf:
        sc.seccomp_load(bpf)


# ---- the init process ----------------------------------------------------------------------------


class InitPlan:
    """Everything the init needs, read by the monitor before forking (a plain class: no typing)."""

    __slots__ = (
        "name", "config", "lowerdirs", "upperdir", "workdir", "cgroup_procs", "seccomp_bpf", "stdio",
        "tty", "console", "volatile", "at_once", "net_gate",
    )  # fmt: skip

    def __init__(
        self,
        *,
        name: str,
        config: Mapping[str, Any],  # the OCI config.json
        lowerdirs: Sequence[str],  # image layer dirs, lowest first
        upperdir: str,
        workdir: str,
        cgroup_procs: Sequence[str],  # cgroup.procs files the monitor writes the init's pid to
        seccomp_bpf: bytes | None,
        stdio: tuple[int, int, int],  # fds to become 0, 1, 2 in the container (or the pty's)
        tty: bool,
        console: Any = None,  # tty: a _socket.socket (AF_UNIX) for the pty master (SCM_RIGHTS)
        volatile: bool = False,  # the overlay skips syncs (a container not kept past a crash)
        at_once: bool = False,  # no start gate: the workload is exec'd right after "ready"
        net_gate: int = -1,  # the network gate's read end (runtime.executor.NET_GATE), or -1
    ) -> None:
        self.name, self.config, self.lowerdirs = name, config, lowerdirs
        self.upperdir, self.workdir, self.cgroup_procs = upperdir, workdir, cgroup_procs
        self.seccomp_bpf, self.stdio, self.tty, self.console = seccomp_bpf, stdio, tty, console
        self.volatile, self.at_once, self.net_gate = volatile, at_once, net_gate


def _report(fd: int, line: str) -> None:
    try:  # noqa: SIM105 - no contextlib import in the monitor
        os.write(fd, (line.replace("\n", " ") + "\n").encode(errors="replace"))
    except OSError:
        pass


def preload() -> None:
    """Import and load everything the init needs later: after pivot_root the host's files are gone.
    What does not change between containers is made once (the monitor calls this before each
    fork)."""
    global _reserved_reset
    from runtime.security import caps

    caps.preload()
    if _reserved_reset is None:
        _reserved_reset = _prepare_reserved_reset()


def join_cgroup(procs: Sequence[str], pid: int) -> None:
    """Move *pid* into the container's cgroup: its cgroup.procs file in every hierarchy. Plain
    fds, no file objects: the monitor runs this right after forking the init, which waits behind
    it when both share a CPU."""
    data = str(pid).encode()
    for path in procs:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


JOINED = b"j"  # on the join pipe: the monitor moved the init into its cgroup (else: why not)


def _move_into_cgroup(procs: Sequence[str], pid: int, join_w: int) -> None:
    """In the monitor, right after the fork: the init into its cgroup, then the verdict on the join
    pipe. The first write to a cgroup.procs waits for an RCU grace period (the cgroup threadgroup
    lock's writer side); the init builds its rootfs meanwhile and reads the verdict only then."""
    try:
        join_cgroup(procs, pid)
        verdict = JOINED
    except OSError as exc:
        verdict = ("cannot join the cgroup: " + describe(exc)).encode(errors="replace")
    try:  # noqa: SIM105 - no contextlib import in the monitor
        os.write(join_w, verdict)
    except OSError:
        pass  # the init is gone already: its sync pipe says so


def _await_cgroup(join_r: int) -> None:
    """In the init: wait until the monitor moved it into its cgroup (before the cgroup namespace,
    whose root is the cgroup it is in, and before the workload)."""
    if join_r < 0:
        return
    verdict = os.read(join_r, 512)
    os.close(join_r)
    if verdict != JOINED:
        why = verdict.decode(errors="replace")
        raise InitError(why or "the monitor went away before the cgroup was joined")


def _await_network(fd: int) -> None:
    """In the init, its set-up done: wait until the command that asked for it has plugged its
    network in (the container sees its interfaces from its first instruction). EOF without the
    go-ahead (the command failed, or was killed): no workload without its network."""
    os.set_blocking(fd, True)
    try:
        go = os.read(fd, 1)
    finally:
        os.close(fd)
    if go != NETWORK_READY:
        raise InitError("its network set-up did not finish")


def spawn(plan: InitPlan, sync_w: int, gate_r: int, join: tuple[int, int] = (-1, -1)) -> int:
    """Fork the container's init in its PID namespace; returns its host pid. Raises InitError when
    the PID namespace of another container cannot be joined (nothing was forked then). *join*: a
    pipe (read end, write end) when plan.cgroup_procs names any; the init keeps the read end, the
    caller closes both ends after."""
    preload()
    namespaces = _namespaces(plan.config)
    own = -1
    if "pid" in namespaces:  # else the host's
        own = os.open("/proc/thread-self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _children_in_pid_namespace(namespaces["pid"])
        except BaseException:
            os.close(own)
            raise
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0 and own >= 0:  # this thread's next children are born beside it again
            SYSCALLS.setns(own, sc.CLONE_NEWPID)
            os.close(own)
    if pid:
        if join[1] >= 0:
            _move_into_cgroup(plan.cgroup_procs, pid, join[1])
        return pid
    try:
        # the host's PID namespace is not the init's to hold; the join pipe's write end must close
        # for a monitor that dies to read as EOF (a pod monitor's at-fork hook may have closed both)
        for fd in (own, join[1]):
            if fd >= 0:
                try:  # noqa: SIM105 - no contextlib in the monitor
                    os.close(fd)
                except OSError:
                    pass
        _container_init(plan, namespaces, sync_w, gate_r, join[0])
    except BaseException as exc:  # noqa: BLE001 - the child must never unwind into the monitor
        _report(sync_w, f"error container {plan.name}: {describe(exc)}")
    os._exit(127)


def _namespaces(config: Mapping[str, Any]) -> dict[str, str | None]:
    """The container's namespaces: type -> the path of one to join, or None for a new one."""
    linux = config.get("linux") or {}
    return {n["type"]: n.get("path") or None for n in linux.get("namespaces") or []}


def _children_in_pid_namespace(path: str | None) -> None:
    """The calling thread's next children in a new PID namespace (*path* None) or in *path*'s."""
    if path is None:
        SYSCALLS.unshare(sc.CLONE_NEWPID)
        return
    fd = os.open(str(path), os.O_RDONLY | os.O_CLOEXEC)
    try:
        SYSCALLS.setns(fd, sc.CLONE_NEWPID)
    except OSError as exc:
        raise InitError(f"cannot join the pid namespace {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if exc.filename is None else f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


def _enter_namespaces(namespaces: Mapping[str, str | None]) -> None:
    """In the init, before anything else is set up: the namespaces given by path (the network pin,
    another container's ipc), then new ones for the rest but the cgroup namespace (_enter_cgroup).
    Its PID namespace was settled by its fork."""
    fds = []
    try:
        for kind, path in namespaces.items():
            if path and kind != "pid":
                fds.append((os.open(str(path), os.O_RDONLY | os.O_CLOEXEC), kind))
        for fd, kind in fds:
            try:
                SYSCALLS.setns(fd, sc.NAMESPACE_FLAGS[kind])
            except OSError as exc:
                raise InitError(
                    f"cannot join the {kind} namespace {namespaces[kind]}: {exc.strerror}"
                ) from None
    finally:
        for fd, _ in fds:
            os.close(fd)
    flags = 0
    for kind in _UNSHARE_ORDER:
        if kind in namespaces and not namespaces[kind]:
            flags |= sc.NAMESPACE_FLAGS[kind]
    SYSCALLS.unshare(flags)


def _enter_cgroup(namespaces: Mapping[str, str | None], join_r: int) -> None:
    """Once in the container's cgroup: a new cgroup namespace, rooted there, when it asks for one."""
    _await_cgroup(join_r)
    if "cgroup" in namespaces and not namespaces["cgroup"]:
        SYSCALLS.unshare(sc.NAMESPACE_FLAGS["cgroup"])


def _defers(m: Mapping[str, Any], mounts: Sequence[Mapping[str, Any]]) -> bool:
    """A cgroup mount can wait until the cgroup is joined, after pivot_root, unless another mount
    lands inside it (made before it, that one would be hidden)."""
    inside = str(m["destination"]).rstrip("/") + "/"
    return not any(str(o["destination"]).startswith(inside) for o in mounts)


def _mount_cgroup_view(
    m: Mapping[str, Any], root: str, mountinfo: str | None, sys: Syscalls,
    namespaces: Mapping[str, str | None],
) -> None:
    """The container's /sys/fs/cgroup (a cgroup or cgroup2 mount entry); a host that refuses it
    gives the container none. In a cgroup namespace of its own (unshared once joined), its cgroup
    is the root of every hierarchy: no /proc/self/cgroup to read and match per hierarchy."""
    own = "" if "cgroup" in namespaces and not namespaces["cgroup"] else None
    try:
        mount_one(m, root, sys, mountinfo, own)
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.EPERM, errno.EINVAL):
            raise InitError(f"mount {m['destination']}: {exc.strerror}") from None


def setup_console(console: Any, sys: Syscalls = SYSCALLS, size: Mapping[str, int] | None = None) -> None:
    """The container's terminal, as crun's --console-socket: a pty of the container's own devpts
    (so ``tty`` names a /dev/pts/N the workload sees) becomes stdio and the controlling terminal,
    /dev/console is bound to it, and its master goes to the monitor over *console*. *size*: the
    OCI config's consoleSize (height, width), set before the workload can ask for it."""
    import _socket  # imported by the monitor already (before the fork): no file is read here

    try:
        master, slave, n = open_pty("/dev/pts/ptmx")
    except OSError as exc:
        raise InitError(f"cannot allocate a terminal in the container's /dev/pts: {exc.strerror}") from None
    try:
        for target in (0, 1, 2):
            os.dup2(slave, target)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if size and size.get("height") and size.get("width"):
            fcntl.ioctl(0, termios.TIOCSWINSZ, winsize(size["height"], size["width"]))
        if os.path.isdir("/dev") and not os.path.islink("/dev/console"):
            _make_target("/dev/console", True)
            sys.mount(f"/dev/pts/{n}", "/dev/console", None, sc.MS_BIND)
        fd = master.to_bytes(4, _sysmod.byteorder)
        console.sendmsg([b"t"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd)])
    finally:
        os.close(master)
        os.close(slave)
        console.close()


def _container_init(
    plan: InitPlan, namespaces: Mapping[str, str | None], sync_w: int, gate_r: int, join_r: int
) -> None:
    reset_signals()  # before anything else: the monitor's handlers must not run in its children
    _enter_namespaces(namespaces)  # as spawn read them from the config before the fork
    cfg = plan.config
    process = cfg["process"]
    linux = cfg.get("linux") or {}
    os.setsid()
    os.umask(0o022)  # as docker: not whatever the user who ran composer had
    for target, fd in enumerate(plan.stdio):
        os.dup2(fd, target)
    if plan.tty and plan.console is None:  # a terminal given by the caller (tests)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    sys = SYSCALLS
    rootfs = str(cfg["root"]["path"])
    sys.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    lower = ":".join(reversed([str(d) for d in plan.lowerdirs]))  # overlay wants the top layer first
    layers = f"lowerdir={lower},upperdir={plan.upperdir},workdir={plan.workdir}"
    mount_rootfs(rootfs, layers, plan.volatile, sys, workdir=plan.workdir)
    mounts = cfg.get("mounts") or []
    views = [m for m in mounts if m.get("type") in ("cgroup", "cgroup2")]
    deferred = views if all(_defers(m, mounts) for m in views) else []
    joined = False
    for m in mounts:
        if m.get("type") in ("cgroup", "cgroup2"):
            if not deferred:  # in its place: a later mount lands inside it
                if not joined:
                    _enter_cgroup(namespaces, join_r)
                    joined = True
                _mount_cgroup_view(m, rootfs, None, sys, namespaces)
            continue
        try:
            mount_one(m, rootfs, sys)
        except OSError as exc:
            raise InitError(f"mount {m['destination']}: {exc.strerror}") from None
    host_mounts = ""
    if deferred:  # the host's cgroup hierarchies, read while its mounts are still in view
        with open("/proc/self/mountinfo") as f:
            host_mounts = f.read()
        for m in deferred:  # made while the root may still be written (a read-only one is not)
            _make_target(secure_join(rootfs, str(m["destination"])), False)
    _make_devices(linux.get("devices") or [], rootfs, sys)
    os.chdir(rootfs)
    sys.pivot_root(".", ".")
    sys.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    if cfg["root"].get("readonly"):
        sys.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
    _set_sysctls(linux.get("sysctl") or {})
    _mask_and_protect(linux.get("maskedPaths") or [], linux.get("readonlyPaths") or [], sys)
    if plan.tty and plan.console is not None:
        setup_console(plan.console, sys, process.get("consoleSize"))
    if "uts" in {n["type"] for n in linux.get("namespaces") or []}:
        sys.sethostname(str(cfg.get("hostname") or ""))
        if cfg.get("domainname"):
            sys.setdomainname(str(cfg["domainname"]))
    _set_rlimits(process.get("rlimits") or [])
    if not joined:
        _enter_cgroup(namespaces, join_r)
    for m in deferred:
        _mount_cgroup_view(m, "/", host_mounts, sys, namespaces)
    cwd = str(process.get("cwd") or "/")
    os.makedirs(cwd, exist_ok=True)
    env = list(process.get("env") or [])
    args = [str(a) for a in process["args"]]
    if process.get("noNewPrivileges"):
        set_identity(process)
        set_no_new_privs()
        load_seccomp(plan.seccomp_bpf)
    else:
        # Without no_new_privs only CAP_SYS_ADMIN may load a filter: load it while still root
        # (as runc does); the default profile allows the setgroups/setresuid/capset that follow.
        load_seccomp(plan.seccomp_bpf)
        set_identity(process)
    os.chdir(cwd)
    if plan.net_gate >= 0:
        _await_network(plan.net_gate)
    _report(sync_w, "ready")
    # a create with start (at_once) goes on: no round trip through the monitor, which reads
    # "ready" and then the exec's EOF (or its error line) on the same pipe
    if not plan.at_once and os.read(gate_r, 1) != b"s":
        os._exit(0)  # the gate was closed without a start: the monitor is going away
    os.close(gate_r)
    # after the gate: a command the image lacks fails the start, not the create, as docker's
    # (the container is made and stays; each start tries again)
    exe = find_executable(args[0], env)
    try:
        os.execve(exe, args, dict(e.partition("=")[::2] for e in env))
    except OSError as exc:  # Go's words for the errno, as docker's runtime says it
        why = str(exc.strerror or "")
        raise InitError(f'exec: "{args[0]}": {why[:1].lower()}{why[1:]}') from None

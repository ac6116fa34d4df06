"""The monitor fork server ("zygote"): one long-lived pre-imported Python per engine run dir that
forks container monitors on request, instead of a fresh ``python -I -S runtime/monitor.py`` each
(~50-100 ms CPU and 5.6 MB PSS per container; a forked monitor costs ~1-3 ms and ~2.6 MB PSS).
Used only where containers get monitor processes of their own: with COMPOSER_ZYGOTE=1, or
without shared monitors (COMPOSER_POD_MONITOR=0). By default a pod's containers, and the engine's
lone ones (LONE), each share one monitor process (runtime/executor/podmon.py), which this module's
client functions start and ask (spawn_monitor with *pod*).

Server: ``python -I -S runtime/zygote_server.py RUN_DIR`` (its own module: a command imports only
this one, the client's functions and the protocol's socket helpers). It binds
RUN_DIR/zygote.sock, detaches (setsid, double fork: never a child of the CLI), imports the monitor
body (runtime.executor.supervise), freezes the GC and serves. It exits after COMPOSER_ZYGOTE_IDLE
seconds (default 30) without a request, removing its socket.

Protocol, one connection per monitor: the client sends a 4-byte length and a NUL-separated request
(umask, container dir, run dir, ["--start"]). The zygote forks a child that writes ``forked PID``
and waits for ``g`` from the client: only a client that saw ``forked`` sends it, so a client that
gave up (and spawns the monitor directly) can never get a second monitor. The child then becomes
what monitor.py is (setsid, default signals, fds 0-2 only, its command line rewritten to
monitor.py's) and runs ``supervise.main`` without its detaching fork: the monitor is the zygote's
child (reaped by it; re-parented when it exits) in a session of its own. The connection is its
stdout and stderr until the monitor reports ``ok``/``error`` and redirects them, so the client
reads exactly what the direct path reads from a monitor's stdout. A client that cannot use the
zygote raises ``Unavailable`` before anything was forked; the caller then spawns the monitor
directly.
"""

from __future__ import annotations

import _signal  # not the signal module, whose import brings enum (~2 ms of each monitor start)
import _socket  # not the socket module, whose import converts four enums: ~2.5 ms of each start
import errno  # no contextlib: monitors import this module (podmon), and contextlib brings
import os  # collections and functools, ~2.5 ms of each warm monitor's start before its request
import struct
import sys
import time

TYPE_CHECKING = False  # typing only for mypy: this module runs as the fork server too

SOCK, LOCK, PIDFILE, ERRFILE = "zygote.sock", "zygote.lock", "zygote.pid", "zygote.err"
IDLE_ENV, ZYGOTE_ENV, NO_ZYGOTE_ENV = "COMPOSER_ZYGOTE_IDLE", "COMPOSER_ZYGOTE", "COMPOSER_NO_ZYGOTE"
# COMPOSER_POD_MONITOR=0: every container of a pod gets a monitor process of its own, as a lone one
POD_ENV, PODS = "COMPOSER_POD_MONITOR", "monitors"
# On by default (COMPOSER_NO_ZYGOTE=1 or COMPOSER_ZYGOTE=0 turn it off). It lives while it is used:
# the engine's last container removal stops it (ContainerManager.remove: `down` leaves no process),
# and it exits by itself after DEFAULT_IDLE seconds without a request.
ON_BY_DEFAULT = True
DEFAULT_IDLE = 30.0
HERE = os.path.dirname(os.path.abspath(__file__))
ZYGOTE = os.path.join(HERE, "zygote_server.py")  # the server (a command never imports it)
MONITOR = os.path.join(HERE, "monitor.py")


if TYPE_CHECKING:
    from collections.abc import Callable

    # starts ``monitor.py --pod PATH ARGS`` and returns what it said (see _run_pod_monitor)
    Launch = Callable[[str, list[str], float], bytes]


class Unavailable(Exception):
    """The zygote could not be used; nothing was forked (spawn the monitor directly)."""


# ---------------------------------------------------------------- client (runs in the CLI)
def enabled() -> bool:
    """COMPOSER_NO_ZYGOTE=1 forces the direct spawn, COMPOSER_ZYGOTE=1 the zygote."""
    if os.environ.get(NO_ZYGOTE_ENV, "") in ("1", "true", "yes"):
        return False
    on = os.environ.get(ZYGOTE_ENV)
    return ON_BY_DEFAULT if on is None else on in ("1", "true", "yes")


def worth_it(rundir: str, others: bool) -> bool:
    """Whether to fork this monitor from the zygote: always when COMPOSER_ZYGOTE=1 or one runs;
    else only when the engine has *others* containers. Its launch (an interpreter, the imports)
    costs more than one directly spawned monitor: a lone `container run --rm` does not start it,
    the second container (or `up -d` of several) does."""
    if not enabled():
        return False
    if os.environ.get(ZYGOTE_ENV) in ("1", "true", "yes") or others:
        return True
    return os.path.exists(os.path.join(rundir, SOCK))


def others_in(runs_dir: str, cid: str = "") -> bool:
    """Whether the engine has containers besides *cid* (their run dirs, not the trash of removed
    ones: dot names, Paths.container_trash): worth_it's *others*."""
    try:
        return any(n != cid and n[0] != "." for n in os.listdir(runs_dir))
    except FileNotFoundError:
        return False


def pod_monitors() -> bool:
    """Whether the containers of a pod share one monitor process (runtime/executor/podmon.py)."""
    return os.environ.get(POD_ENV, "") not in ("0", "false", "no")


# The key of the engine's lone containers (those of no pod) in the shared monitors: they share one
# process as a pod's containers do (F4: a monitor process of its own each kept ~2.8 MB PSS). No pod
# name has a slash.
LONE = "/lone"


def lone_shared() -> bool:
    """Whether lone containers share the engine's LONE monitor: with pod monitors on, unless
    COMPOSER_ZYGOTE=1 asks for a monitor process of their own forked by the zygote."""
    return pod_monitors() and os.environ.get(ZYGOTE_ENV) not in ("1", "true", "yes")


class Socket(_socket.socket):
    """A socket as the socket module makes it, for the little this code asks of one: used in a
    ``with``, accept() giving a socket back. The network code uses _socket's type as it is."""

    __slots__ = ()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def accept(self) -> tuple[Socket, object]:
        fd, addr = self._accept()  # type: ignore[attr-defined]  # the C accept, as socket.py calls it
        return Socket(self.family, self.type, self.proto, fileno=fd), addr


def pod_socket(rundir: str, pod: str) -> str:
    """The socket of the shared monitor of *pod* (a digest: pod names can be long)."""
    if pod == LONE:
        return os.path.join(rundir, PODS, "lone.sock")
    from runtime.digest import sha256  # not hashlib: OpenSSL's import is ~3 ms of every `up`

    return os.path.join(rundir, PODS, sha256(os.fsencode(pod)).hexdigest()[:16] + ".sock")


def spawn_monitor(
    rundir: str, cdir: str, rdir: str, *, start: bool, pod: str | None = None, timeout: float = 60,
    launch: Launch | None = None, before_request: Callable[[], object] | None = None,
) -> bytes:
    """Have the zygote of *rundir* fork a monitor for (cdir, rdir) (with *pod*: run it in the pod's
    shared monitor, started by *launch* or as a new interpreter for the pod's first container);
    returns what the monitor wrote before it detached its stdout and stderr (``ok PID`` or
    ``error ...``, or a traceback). Raises Unavailable if no monitor was started, TimeoutError if
    the started one never reported. *before_request*: called before a request made here (not
    *launch*'s: it sees to that itself)."""
    req = [b"%o" % _umask(), os.fsencode(cdir), os.fsencode(rdir), *([b"--start"] if start else [])]
    if pod is not None:
        return _spawn_in_pod(pod_socket(rundir, pod), req, timeout, launch or _run_pod_monitor,
                             before_request)
    sock = _connect(rundir)
    if sock is None:
        sock = _launch(rundir, 2 * (len(cdir) + len(rdir)) + 256)
    if before_request is not None:
        before_request()
    return _request(sock, req, timeout)


def _pod_lock(path: str) -> int:
    """The pod's lock (held while a client connects to or starts its shared monitor), as an fd."""
    import fcntl

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = os.open(path[: -len(".sock")] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unavailable(f"pod monitor: {exc}") from None
    deadline = time.monotonic() + 10
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(lock)
                raise Unavailable("pod monitor: its lock is held too long") from None
            time.sleep(0.002)


def _run_pod_monitor(path: str, args: list[str], timeout: float) -> bytes:
    """``monitor.py --pod PATH ARGS``, under the pod's lock: it binds the socket, detaches, and
    (with a container in ARGS) answers on its stdout like a lone monitor. Started as a warm
    monitor handed that command line (runtime/warm_monitor.py: posix_spawn, no subprocess import,
    ~7 ms CPU). Raises TimeoutError, or OSError when no process could be started."""
    from runtime.warm_monitor import spawn

    _unlink(path)  # stale: its process died
    warm = spawn()
    if warm is None:
        raise OSError(f"pod monitor {path}: cannot start {sys.executable}")
    return warm.launch_pod(path, args, timeout)


def _spawn_in_pod(path: str, req: list[bytes], timeout: float, launch: Launch,
                  before_request: Callable[[], object] | None = None) -> bytes:
    """Ask the pod's shared monitor, or (none listens) *launch* one: ``monitor.py --pod`` binds the
    pod's socket and runs this container's monitor first, answering on its stdout like a lone
    monitor. Under the pod's lock until it answered, so that a pod's containers created at once
    share one process. A fresh interpreter (or a warm one: runtime/warm_monitor.py), not a fork of
    the zygote: a forked one keeps ~2 MB of pages copied from the zygote, and the zygote's own
    pages count too (F4)."""
    lock = _pod_lock(path)
    try:
        sock = _connect(path)
        if sock is not None:
            os.close(lock)  # connected: a retiring pod monitor still serves what it accepts
            lock = -1
            if before_request is not None:
                before_request()
            return _request(sock, req, timeout, pod=True)
        return launch(path, [os.fsdecode(p) for p in req[1:]], timeout)
    finally:
        if lock >= 0:
            os.close(lock)


def warm_pod(rundir: str, pod: str) -> None:
    """Start the pod's shared monitor ahead of its containers (called in the background by the
    first create of a pod that has none), so that its interpreter start (~50-100 ms CPU)
    overlaps the containers' set-up instead of following it. Started empty, it waits a few
    seconds for its first container (podmon.WARM_GRACE), then retires. Quiet on failure: the
    first container's spawn starts one then."""
    path = pod_socket(rundir, pod)
    if os.path.exists(path):
        return
    try:
        lock = _pod_lock(path)
    except Unavailable:
        return
    try:
        sock = _connect(path)
        if sock is not None:
            sock.close()
            return
        try:  # noqa: SIM105 - no contextlib in monitors (see the imports)
            _run_pod_monitor(path, [], 10)  # it binds the socket and detaches, then says nothing
        except OSError:  # TimeoutError too
            pass
    finally:
        os.close(lock)


def retire_warm(rundir: str, pod: str) -> None:
    """Tell a pod monitor started by warm_pod that no container is coming after all (the create
    it was started for failed): if it serves none yet, it retires now instead of after its grace."""
    sock = _connect(pod_socket(rundir, pod))
    if sock is None:
        return
    with sock:
        try:  # noqa: SIM105 - no contextlib in monitors (see the imports)
            sock.settimeout(2)
            sock.sendall(struct.pack("!I", 6) + b"retire")
            sock.recv(1)  # its EOF: the request was read
        except OSError:
            pass


def _request(sock: Socket, req: list[bytes], timeout: float, pod: bool = False) -> bytes:
    """One monitor request on *sock* (the zygote's, or with *pod* a pod monitor's: see the module
    doc). A monitor of its own closes the connection once it reported (and redirected its stdout);
    a pod monitor's status line ends the answer (inits forked meanwhile hold the connection)."""
    with sock:
        try:
            data = b"\0".join(req)
            sock.settimeout(10)
            sock.sendall(struct.pack("!I", len(data)) + data)
            head, out = _read_line(sock)
        except OSError as exc:
            raise Unavailable(f"zygote: {exc}") from None
        if not head.startswith(b"forked "):
            raise Unavailable("zygote: no monitor was forked")
        # from here on a monitor exists: never fall back
        deadline = time.monotonic() + timeout
        try:  # noqa: SIM105 - no contextlib in monitors (see the imports)
            sock.sendall(b"g")
        except OSError:  # the child died at once: its output (none) says so
            pass
        while not (pod and any(ln.startswith((b"ok ", b"error ")) for ln in out.split(b"\n")[:-1])):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the monitor did not report in time")
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            out += data
        return bytes(out)


def _umask() -> int:
    """The process umask, read without setting it (os.umask would race with other threads)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _read_line(sock: Socket) -> tuple[bytes, bytearray]:
    """The first line on *sock* and what came after it. In chunks, not a byte per recv: each
    recv takes the GIL again, and with `up`'s other threads busy each wait for it can last up to
    a switch interval (5 ms); traced, the 13 bytes of ``forked PID`` took 15 recv calls while the
    monitor idled until the client's answer (bench/FINDINGS.md F20)."""
    buf = bytearray()
    while b"\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            return bytes(buf), bytearray()
        buf += chunk
    line, _, rest = buf.partition(b"\n")
    return bytes(line + b"\n"), bytearray(rest)


def _connect(where: str) -> Socket | None:
    """A connected socket, or None when no zygote listens (no socket file, or a stale one).
    *where*: a run dir (its zygote) or a socket path (a pod monitor's)."""
    s = Socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        s.connect(where if where.endswith(".sock") else os.path.join(where, SOCK))
        return s
    except OSError as exc:
        s.close()
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return None
        raise Unavailable(f"zygote: {exc}") from None


def _launch(rundir: str, room: int) -> Socket:
    """Start the zygote (one at a time: flock) unless another client just did; returns a
    connection to it."""
    import fcntl
    import subprocess

    try:
        os.makedirs(rundir, exist_ok=True)
        lock = os.open(os.path.join(rundir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise Unavailable(f"zygote: {exc}") from None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Unavailable("zygote: its lock is held too long") from None
                time.sleep(0.002)
        sock = _connect(rundir)  # another client may have started it meanwhile
        if sock is not None:
            return sock
        _unlink(os.path.join(rundir, SOCK))  # stale: its zygote died without cleaning up
        # returns once the socket listens (bound before the detaching forks)
        proc = subprocess.run(
            # empty arguments: room for the monitors' command lines (see proctitle.set_cmdline)
            [sys.executable, "-I", "-S", ZYGOTE, rundir, *([""] * room)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=True,
            timeout=10,
        )
        if proc.returncode != 0:
            detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no status"])[-1]
            raise Unavailable(f"zygote: did not start: {detail}")
        sock = _connect(rundir)
        if sock is None:
            raise Unavailable("zygote: started but does not listen")
        return sock
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"zygote: {exc}") from None
    finally:
        os.close(lock)


def zygote_pid(rundir: str) -> int | None:
    """The pid of the live zygote of *rundir*, if any (checked against its start time)."""
    try:
        with open(os.path.join(rundir, PIDFILE)) as f:
            pid, start = (int(x) for x in f.read().split())
        return pid if _starttime_of(pid) == start else None
    except (OSError, ValueError):
        return None


def stop(paths: object, timeout: float = 5) -> None:
    """Stop the zygote of *paths* (a runtime.paths.Paths, or a run dir) and remove its socket.
    Running monitors are not affected."""
    rundir = str(getattr(paths, "rundir", paths))
    pid = zygote_pid(rundir)
    if pid is not None:
        try:
            os.kill(pid, _signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _starttime_of(pid) is not None and time.monotonic() < deadline:
                time.sleep(0.01)
            if _starttime_of(pid) is not None:
                os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    for name in (SOCK, PIDFILE):
        _unlink(os.path.join(rundir, name))


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 - no contextlib in monitors (see the imports)
        os.unlink(path)
    except FileNotFoundError:
        pass


def _starttime_of(pid: int) -> int | None:
    from runtime.procs import starttime

    return starttime(pid)


def listen_private(path: str) -> Socket:
    """A unix socket listening at *path* that only its owner may use (bound under umask 077)."""
    listener = Socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        listener.bind(path)
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    finally:
        os.umask(old)
    return listener


def recv_exact(conn: Socket, n: int) -> bytes:
    """Exactly *n* bytes of a request (the fork server's and the pod monitors' protocol)."""
    buf = bytearray()
    while len(buf) < n:
        data = conn.recv(n - len(buf))
        if not data:
            raise EOFError("short request")
        buf += data
    return bytes(buf)

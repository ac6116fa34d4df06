"""The monitor's body (see runtime/monitor.py, its entry point). Standard library only."""

from __future__ import annotations

import _signal  # not the signal module, whose import brings enum (~2 ms of each monitor start)
import marshal
import os
import select
import sys
import time

from runtime.executor import NET_GATE
from runtime.executor import init as _init
from runtime.executor import syscalls as sc
from runtime.logs import EVENTS_FILE, LogWriter, append_event, rfc3339_nano

TYPE_CHECKING = False  # typing (and the re it imports) stays out of the monitor: annotations only
if TYPE_CHECKING:
    from typing import Any

BACKOFF_START, BACKOFF_MAX = 0.1, 10.0


def dumps(obj: Any) -> str:
    """JSON text of plain data (dict, list, str, int, float, bool, None): the json package costs
    the monitor an import of re on every container start."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, (int, float)):
        return repr(obj)
    if isinstance(obj, str):
        out = obj.replace("\\", "\\\\").replace('"', '\\"')
        if any(c < " " for c in out):
            out = "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in out)
        return '"' + out + '"'
    if isinstance(obj, dict):
        return "{" + ",".join(dumps(str(k)) + ":" + dumps(v) for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot encode {type(obj).__name__}")


def signal_name(sig: int) -> str:
    """``SIGTERM`` for 15, as signal.Signals names it (the first alias in alphabetical order:
    SIGABRT, SIGCHLD, SIGIO); ``SIG35`` for a real-time signal that has no name of its own."""
    names = [k for k, v in vars(_signal).items() if v == sig and k.startswith("SIG") and k[3:4] != "_"]
    return min(names) if names else f"SIG{sig}"


def write_json_atomic(path: str, data: Any) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(dumps(data))
    os.replace(tmp, path)


def now_rfc3339() -> str:
    return rfc3339_nano()


def proc_starttime(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    return int(raw[raw.rindex(b")") + 2 :].split()[19])


class _NoLock:
    """What a monitor of its own holds where a shared one takes the pod's fork gate."""

    def __call__(self, fds: tuple[int, ...]) -> _NoLock:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


class Monitor:
    def __init__(
        self, cdir: str, rdir: str, record: dict[str, int], shared: Any = None, out_fd: int = 1
    ) -> None:
        """*record*: what monitor.json says of this monitor (written with its first init: see
        _settle); *shared*: the runtime.executor.podmon.Pod whose thread this monitor runs in
        (None: a process of its own); *out_fd*: where the ok/error line goes (closed once
        written)."""
        self.cdir, self.rdir, self.record = cdir, rdir, record
        self.shared, self.out_fd = shared, out_fd
        # forks and the pod's orphan reaper exclude each other: a child forked by one thread is
        # never reaped by the pod's main thread before its owner recorded its pid
        self.fork_lock: Any = shared.lock if shared is not None else _NoLock()
        # config.json and container.json as one marshal blob: no JSON parser to import; read whole
        # (marshal.load of a file object reads it object by object: ~0.25 ms more, before the fork)
        with open(os.path.join(cdir, "monitor.bin"), "rb") as f:
            bundle = marshal.loads(f.read())
        self.config: dict[str, Any] = bundle["config"]
        self.meta: dict[str, Any] = bundle["meta"]
        self.name = str(self.meta["name"])
        # the engine's event log, in the run dir two levels up (RUN/containers/ID)
        self.events = os.path.join(os.path.dirname(os.path.dirname(rdir)), EVENTS_FILE)
        self.event_attrs = str(self.meta.get("event_attrs") or "")
        self.bpf: bytes | None = None
        if self.meta.get("seccomp_bpf"):
            with open(self.meta["seccomp_bpf"], "rb") as f:
                self.bpf = f.read()
        self.log: LogWriter | None = None  # these two made by _settle, while the first init sets up
        self.ctl = -1
        self.state: dict[str, Any] = {
            "status": "created",
            "pid": 0,
            "started_at": "",
            "finished_at": "",
            "exit_code": None,
            "signal": None,
            "oom_killed": False,
            "restart_count": 0,
            "error": "",
        }
        self.pid = 0  # the init (PID 1 of the container), host pid
        self.pidfd = -1
        self.mnt_ns = -1  # the init's mount namespace, held from "ready" to the exit record
        self.outs: dict[int, str] = {}  # fd -> stream name
        self.gate_w = -1  # >= 0: the init waits at its start gate (or, at_once, will exec)
        self.at_once = False  # the init goes on to exec without the gate (a create with start)
        self.sync_r = -1
        self.sync: _LineReader | None = None  # sync_r's reader: "ready", then the exec's EOF
        self.stdin_w = -1
        self.stdin_target = -1  # where attached input goes: the stdin pipe or the pty master
        self.attach_fd = -1  # the "stdin" FIFO a client writes to (stdin_open only)
        if self.meta.get("stdin_open"):
            fifo = self.path("stdin")
            if not os.path.exists(fifo):
                os.mkfifo(fifo, 0o600)
            self.attach_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.oom_base = 0
        self.oom_files: list[str] | None = None  # where oom_count found its counts
        # SIGCHLD wakes the loop (orphans re-parented to us are reaped at once); in a shared
        # monitor the pod's main thread owns signals and reaps orphans
        self.wake_r = -1
        if shared is None:
            self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            _signal.set_wakeup_fd(wake_w)
            _signal.signal(_signal.SIGCHLD, lambda *_: None)
        self.paused = False  # no probes while the cgroup is frozen
        # the workload was never exec'd (a command the image lacks): no restart policy applies,
        # as docker's restart manager leaves a container whose start failed
        self.start_failed = False
        self.unreaped: list[int] = []  # timed-out probes not dead yet
        self.health: Any = None  # runtime.executor.health.HealthState, imported when needed
        self.next_probe = 0.0
        self.probe: tuple[int, int, float, str, bytearray] | None = None  # pid, fd, deadline, start, out
        self.run_started = 0.0

    # ---- files ----
    def path(self, name: str) -> str:
        return os.path.join(self.rdir, name)

    def event(self, action: str, extra: str = "") -> None:
        """Log what happened to the container now (docker's start, die, oom, health_status)."""
        append_event(self.events, str(self.meta["id"]), action, self.event_attrs, extra)

    def save_state(self) -> None:
        write_json_atomic(self.path("state.json"), self.state)

    def stopping(self) -> bool:
        return os.path.exists(self.path("stopping"))

    # ---- the init ----
    def spawn(self, at_once: bool = False, net_gate: bool = False) -> str:
        """Fork the init; returns "" when it waits at the gate (*at_once*: when it goes on to
        exec its workload, which release() then waits for), else the error line. *net_gate*:
        the init waits for the network gate (runtime.executor.NET_GATE) before its workload."""
        self.drop_mount_ns()  # a restart: the last run's overlay must be unmounted before the next
        gate_fd = -1
        if net_gate:
            try:  # the command holds its write end: it is there, or the command is gone
                gate_fd = os.open(self.path(NET_GATE), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                return f"error container {self.name}: the network gate: {_init.describe(exc)}"
        tty = bool(self.config["process"].get("terminal"))
        console, init_console = None, None
        if tty:
            # the init opens the pty in the container's devpts and sends us its master
            import _socket  # only a terminal needs it (the socket module would import enum)

            console, init_console = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            stdio = (null, null, null)
            to_close = [null]
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            if self.stdin_w >= 0:  # a restart: the previous run's pipe
                os.close(self.stdin_w)
                self.stdin_w = -1
            if self.meta.get("stdin_open"):
                # stdin_open: a pipe whose write end the monitor keeps, so reads block, never EOF
                stdin, self.stdin_w = os.pipe2(os.O_CLOEXEC)
                self.stdin_target = self.stdin_w
            else:
                stdin = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
            stdio = (stdin, out_w, err_w)
            self.outs = {out_r: "stdout", err_r: "stderr"}
            to_close = [out_w, err_w, stdin]
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        join = os.pipe2(os.O_CLOEXEC) if self.meta.get("cgroup_procs") else (-1, -1)
        plan = _init.InitPlan(
            name=self.name,
            config=self.config,
            lowerdirs=self.meta["lowerdirs"],
            upperdir=self.meta["upperdir"],
            workdir=self.meta["workdir"],
            cgroup_procs=self.meta.get("cgroup_procs") or [],
            seccomp_bpf=self.bpf,
            stdio=stdio,
            tty=tty,
            console=init_console,
            volatile=bool(self.meta.get("volatile")),
            at_once=at_once,
            net_gate=gate_fd,
        )
        console_fd = [init_console.fileno()] if init_console is not None else []
        keep = (*stdio, sync_w, gate_r, join[0], gate_fd, *console_fd)
        pid, err, started = 0, "", 0
        with self.fork_lock(keep):  # until the init's pid is recorded
            try:
                pid = _init.spawn(plan, sync_w, gate_r, join)
            except (OSError, _init.InitError) as exc:
                err = f"error container {self.name}: {_init.describe(exc)}"
            finally:
                for fd in (*to_close, sync_w, gate_r, *join, gate_fd):
                    if fd >= 0:
                        os.close(fd)
                if init_console is not None:
                    init_console.close()
            self.gate_w, self.sync_r, self.at_once = gate_w, sync_r, at_once
            self.sync = _LineReader(sync_r)
            if pid:
                try:
                    started = self._settle(pid)
                except OSError as exc:
                    err = f"error container {self.name}: {_init.describe(exc)}"
                else:
                    err = read_sync(self.sync, self.name)
                    if not err:
                        self._hold_mount_ns(pid)
            self.pid = pid
        if console is not None:
            if not err:
                master = receive_fd(console)
                if master < 0:
                    err = f"error container {self.name}: the init sent no terminal"
                else:
                    self.outs = {master: "stdout"}
                    self.stdin_target = master  # input typed into the terminal
            console.close()
        if pid and err:
            self._reap_quietly(pid)
            if self.pidfd >= 0:
                os.close(self.pidfd)
                self.pidfd = -1
        if err:
            self.pid = 0
            self._close_init_fds()
            return err
        self.state["pid_start"] = started
        return ""

    def _hold_mount_ns(self, pid: int) -> None:
        """Keep the init's mount namespace (built by "ready") alive past its exit. The last
        process of a mount namespace unmounts its tree as it exits, and waits there for an
        expedited RCU grace period (~0.5-1.5 ms) before it can be reaped: held here, the exit
        is seen and recorded first, and the unmount runs in whoever drops the namespace last
        (:meth:`drop_mount_ns`), beside the caller's removal. spawn() dropped the last run's."""
        try:
            self.mnt_ns = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # it has exited already: nothing to hold
            self.mnt_ns = -1

    def drop_mount_ns(self) -> None:
        if self.mnt_ns >= 0:
            try:  # noqa: SIM105 - no contextlib import in the monitor
                os.close(self.mnt_ns)
            except OSError:
                pass
            self.mnt_ns = -1

    def _settle(self, pid: int) -> int:
        """While the init *pid* builds its rootfs (the files below are ~1 ms of creates, which
        the caller's status line waited for before the fork): its pidfd, the cgroup's OOM count
        (counts are per cgroup, across restarts); for the first init, the ctl FIFO (opened before
        the caller hears "ok": a start written right after must find a reader), the log file
        and monitor.json. Returns the init's start time (readers check it before signalling: a
        recorded pid may be reused after a crash)."""
        self.pidfd = os.pidfd_open(pid)
        self.oom_base = self.oom_count()
        if self.ctl < 0:
            ctl = self.path("ctl")
            if not os.path.exists(ctl):
                os.mkfifo(ctl, 0o600)
            self.ctl = os.open(ctl, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            meta = self.meta
            max_file = int(meta.get("log_max_file") or 1)
            self.log = LogWriter(str(meta["log_path"]), meta.get("log_max_size"), max_file)
            write_json_atomic(self.path("monitor.json"), self.record)
        return proc_starttime(pid)

    def shm_donor(self) -> int:
        """The pid whose IPC namespace the container joins (``ipc: container:X``), else 0."""
        for ns in (self.config.get("linux") or {}).get("namespaces") or []:
            path = str(ns.get("path") or "") if ns.get("type") == "ipc" else ""
            parts = path.split("/")  # /proc/PID/ns/ipc
            if len(parts) == 5 and parts[:2] == ["", "proc"] and parts[3:] == ["ns", "ipc"]:
                return int(parts[2]) if parts[2].isdigit() else 0
        return 0

    def share_shm(self) -> str:
        """After a restart's spawn, while the init waits at the gate: the IPC donor's /dev/shm over
        the new mount namespace's own, as ContainerManager does at create and start. "" or the
        error line (the init is then killed)."""
        donor = self.shm_donor()
        if not donor:
            return ""
        # imported only here: a restart of an ipc joiner (the monitor is single-threaded, so it
        # may enter mount namespaces itself, where the engine runs shm_share.py as a helper)
        from runtime.executor.shm_share import share_shm

        try:
            if self.shared is None:
                share_shm(donor, self.pid)
            else:  # setns into a mount namespace is refused to a multi-threaded process
                with self.fork_lock(()):
                    _in_child(share_shm, donor, self.pid)
        except OSError as exc:
            self._reap_quietly(self.pid)
            os.close(self.pidfd)
            self.pidfd, self.pid = -1, 0
            self._close_init_fds()
            why = exc.strerror or str(exc)
            return f"error container {self.name}: cannot share /dev/shm of process {donor}: {why}"
        finally:
            os.chdir("/")  # entering a mount namespace moved the cwd
        return ""

    def _reap_quietly(self, pid: int) -> None:
        try:
            os.kill(pid, _signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass

    def _close_init_fds(self) -> None:
        for fd in (*self.outs, self.gate_w, self.sync_r, self.stdin_w):
            if fd >= 0:
                try:  # noqa: SIM105 - no contextlib import in the monitor
                    os.close(fd)
                except OSError:
                    pass
        self.outs, self.gate_w, self.sync_r, self.stdin_w, self.stdin_target = {}, -1, -1, -1, -1
        self.sync = None

    def close(self) -> None:
        """Once its monitor thread ends (a shared monitor's process lives on): every fd it opened,
        the log file's too (a removed container's log keeps its blocks while it is open)."""
        self._close_init_fds()
        self.drop_mount_ns()
        for fd in (self.pidfd, self.ctl, self.attach_fd):
            if fd >= 0:
                try:  # noqa: SIM105 - no contextlib import in the monitor
                    os.close(fd)
                except OSError:
                    pass
        self.pidfd = self.ctl = self.attach_fd = -1
        if self.log is not None:
            self.log.close()
            self.log = None

    def release(self) -> str:
        """Open the gate (at_once: the init went on by itself); returns "" once the workload
        was exec'd, else the error line."""
        if not self.at_once:
            os.write(self.gate_w, b"s")
        os.close(self.gate_w)
        self.gate_w = -1
        assert self.sync is not None
        line = self.sync.readline()  # EOF: execve closed the pipe
        os.close(self.sync_r)
        self.sync_r, self.sync = -1, None
        self.run_started = time.monotonic()
        if line and line.startswith("error "):
            # as docker's failed start (moby daemon/start.go: SetError, exit code 127 for a command
            # that is not there, 126 for one that cannot be run): it never ran, so its status and
            # the times of its last run stay; neither start nor die is logged
            code = 126 if line.endswith(": permission denied") else 127
            self.state.update(error=line[6:], exit_code=code, signal=None, start_failed="exec")
            self.start_failed = True
            return line
        self.state.update(
            status="running",
            pid=self.pid,
            started_at=now_rfc3339(),
            finished_at="",
            exit_code=None,
            signal=None,
            oom_killed=False,
            error="",
        )
        hc = self.meta.get("healthcheck")
        if hc and hc.get("test") and hc["test"][0] != "NONE":
            from runtime.executor.health import HealthState

            self.health = HealthState(
                retries=int(hc["retries"]),
                start_period=float(hc["start_period"]),
                interval=float(hc["interval"]),
                start_interval=float(hc["start_interval"]),
                started_at=self.run_started,
            )
            self.next_probe = self.run_started + self.health.next_delay(self.run_started)
            self.write_health()
        self.event("start")
        return ""

    # ---- health ----
    def write_health(self) -> None:
        if self.health is not None:
            write_json_atomic(self.path("health.json"), self.health.to_json())

    def start_probe(self) -> None:
        from runtime.executor.enter import spawn_entered

        assert self.health is not None
        test = list(self.meta["healthcheck"]["test"])
        argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
        r, w = os.pipe2(os.O_CLOEXEC)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        timeout = float(self.meta["healthcheck"]["timeout"]) or 30.0
        with self.fork_lock((null, w)):
            pid = spawn_entered(
                self.pid,
                self.config,
                {"command": argv},
                self.meta.get("cgroup_procs") or [],
                self.bpf,
                (null, w, w),
            )
            self.probe = (pid, r, time.monotonic() + timeout, now_rfc3339(), bytearray())
        os.close(w)
        os.close(null)

    def finish_probe(self, timed_out: bool) -> None:
        assert self.probe is not None and self.health is not None
        pid, fd, _, start, out = self.probe
        if timed_out:
            try:  # noqa: SIM105 - no contextlib import in the monitor
                os.killpg(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            # a probe in a frozen cgroup dies only once thawed: never block on it
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                self.unreaped.append(pid)
            code = -1
        else:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        os.close(fd)
        self.probe = None
        now = time.monotonic()
        was = self.health.status
        status = self.health.record(
            start=start, end=now_rfc3339(), exit_code=code, output=out.decode(errors="replace"), now=now
        )
        self.write_health()
        if status != was:
            self.event("health_status: " + status)
        self.next_probe = now + self.health.next_delay(now)

    # ---- the loop ----
    def run_once(self) -> tuple[int, int | None]:
        """Pump stdio, serve ctl and probes until the init exits; returns (exit code, signal)."""
        return self._loop(self.ctl)

    def _loop(self, ctl: int) -> tuple[int, int | None]:
        exited: tuple[int, int | None] | None = None
        while True:
            if self.shared is None:
                self.reap_orphans()
            for pid in list(self.unreaped):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        self.unreaped.remove(pid)
                except ChildProcessError:
                    self.unreaped.remove(pid)
            fds = [*self.outs, ctl, *([self.wake_r] if self.wake_r >= 0 else [])]
            if self.attach_fd >= 0 and self.stdin_target >= 0 and exited is None:
                fds.append(self.attach_fd)
            if exited is None:
                fds.append(self.pidfd)
            if self.probe is not None:
                fds.append(self.probe[1])
            timeout = None
            now = time.monotonic()
            if self.probe is not None:
                timeout = max(0.0, self.probe[2] - now)
            elif self.health is not None and self.state["status"] == "running" and exited is None:
                timeout = 1.0 if self.paused else max(0.0, self.next_probe - now)
            if self.unreaped and (timeout is None or timeout > 1.0):
                timeout = 1.0
            if exited is not None:
                timeout = 0.0 if not self.outs else 0.5
            ready, _, _ = select.select(fds, [], [], timeout)
            for fd in ready:
                if fd in self.outs:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:  # EIO: the pty's last slave closed
                        data = b""
                    if data and self.log is not None:
                        try:
                            self.log.write(self.outs[fd], data)  # type: ignore[arg-type]
                        except OSError as exc:  # a full disk loses output, never the container
                            print(f"monitor: log write failed: {exc}", file=sys.stderr)
                    else:
                        os.close(fd)
                        del self.outs[fd]
                elif fd == ctl:
                    self.serve_ctl(ctl)
                elif fd == self.attach_fd:
                    self.forward_stdin()
                elif fd == self.wake_r:  # a SIGCHLD: reap_orphans runs at the top of the loop
                    try:  # noqa: SIM105 - no contextlib import in the monitor
                        os.read(fd, 4096)
                    except BlockingIOError:
                        pass
                elif fd == self.pidfd:
                    _, status = os.waitpid(self.pid, 0)
                    os.close(self.pidfd)
                    self.pidfd = -1
                    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
                    code = 128 + sig if sig else os.WEXITSTATUS(status)
                    exited = (code, sig)
                elif self.probe is not None and fd == self.probe[1]:
                    data = os.read(fd, 65536)
                    if data:
                        self.probe[4].extend(data)
                    else:
                        self.finish_probe(False)
            if self.probe is not None and time.monotonic() >= self.probe[2]:
                self.finish_probe(True)
            if (
                self.probe is None
                and self.health is not None
                and exited is None
                and not self.paused
                and self.state["status"] == "running"
                and time.monotonic() >= self.next_probe
            ):
                self.start_probe()
            if exited is not None and (not self.outs or not ready):
                for fd in list(self.outs):
                    os.close(fd)
                self.outs = {}
                if self.probe is not None:
                    self.finish_probe(True)
                return exited

    def forward_stdin(self) -> None:
        """Copy what an attached client wrote into the container's stdin. The client's EOF closes
        the container's stdin (as ``docker run -i``); with a terminal the FIFO is reopened."""
        try:
            data = os.read(self.attach_fd, 65536)
        except BlockingIOError:
            return
        if data:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self.stdin_target, view) :]
                except OSError:  # the container closed its stdin
                    return
            return
        os.close(self.attach_fd)
        self.attach_fd = -1
        if self.stdin_target == self.stdin_w and self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = self.stdin_target = -1
        else:
            self.attach_fd = os.open(self.path("stdin"), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

    def reap_orphans(self) -> None:
        """Reap processes re-parented to us (we are a subreaper: with a host or joined PID namespace
        a daemonizing workload leaves them), never the init or a probe we wait for ourselves."""
        mine = {self.pid, *self.unreaped, *([self.probe[0]] if self.probe else [])}
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in mine:
                return
            try:  # noqa: SIM105 - no contextlib import in the monitor
                os.waitpid(info.si_pid, 0)
            except ChildProcessError:
                pass

    def serve_ctl(self, ctl: int) -> None:
        try:
            data = os.read(ctl, 4096)
        except BlockingIOError:
            return
        words = data.decode(errors="replace").split()
        reply = ""
        for i, cmd in enumerate(words):
            if cmd == "reply" and i + 1 < len(words) and "/" not in words[i + 1]:
                reply = words[i + 1]  # a FIFO of the client's in our run dir: told when started
            elif cmd == "start":
                if self.gate_w >= 0:
                    self.release()
                    self.save_state()
                if reply:
                    self.answer(reply)
            elif cmd in ("pause", "unpause"):
                self.paused = cmd == "pause"
            elif cmd == "renamed":  # container_rename rewrote the bundle: events carry the new name
                try:
                    with open(os.path.join(self.cdir, "monitor.bin"), "rb") as f:
                        meta = marshal.loads(f.read())["meta"]
                    self.name, self.event_attrs = str(meta["name"]), str(meta.get("event_attrs") or "")
                except (OSError, ValueError, EOFError, KeyError):
                    pass

    def answer(self, name: str) -> None:
        """Wake a client waiting on its reply FIFO (gone or not listening: nothing to do)."""
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return
        try:  # noqa: SIM105 - no contextlib import in the monitor
            os.write(fd, b"started\n")
        except OSError:
            pass
        os.close(fd)

    def back_off(self, delay: float) -> bool:
        """Sleep *delay* before a restart; True if a stop came meanwhile (through ctl)."""
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.ctl], [], [], left)
            if ready:
                try:
                    if "stop" in os.read(self.ctl, 4096).decode(errors="replace").split():
                        return True
                except BlockingIOError:
                    pass
        return False

    def oom_count(self) -> int:
        """OOM kills so far in the container's memory cgroup (v1 memory.oom_control, v2
        memory.events), read directly: importing runtime.cgroups would slow every exit. The
        files found by the first count (its baseline, at the spawn) are the only ones read
        after: trying both names in every hierarchy is ~20 opens, ~0.2 ms of each exit."""
        if self.oom_files is not None:
            return sum(_oom_kills(path) or 0 for path in self.oom_files)
        total, found = 0, []
        for procs in self.meta.get("cgroup_procs") or []:
            d = os.path.dirname(procs)
            for name in ("memory.oom_control", "memory.events"):
                kills = _oom_kills(os.path.join(d, name))
                if kills is not None:
                    total += kills
                    found.append(os.path.join(d, name))
        if found:  # else look everywhere again next time (a v2 memory controller enabled later)
            self.oom_files = found
        return total

    def oom_killed(self) -> bool:
        return self.oom_count() > self.oom_base

    def should_restart(self, code: int) -> bool:
        if self.stopping():
            return False
        policy = self.meta.get("restart") or {}
        name = policy.get("name", "no")
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and code != 0:
            limit = int(policy.get("max_retries") or 0)
            return limit == 0 or int(self.state["restart_count"]) < limit
        return False

    def main(self, start_now: bool, net_gate: bool = False) -> int:
        err = self.spawn(at_once=start_now, net_gate=net_gate)
        if err:
            # a start (start_now) that failed: its container never ran, as after release()'s
            # failure (a create with start undoes itself: only a failed exec leaves it made);
            # else a create that failed, which removes the container
            self.state.update(error=err[6:], exit_code=127)
            if start_now:
                self.state["start_failed"] = "setup"
            else:
                self.state.update(status="dead", finished_at=now_rfc3339())
            self.save_state()
            claim = self.removal_claim() if start_now else -1  # moby's start: a failed one is removed
            write_json_atomic(self.path("exit.json"), self.state)
            code = self.report(err)
            self.hand_over_removal(claim)
            return code
        self.state.update(pid=self.pid)
        if start_now:
            err = self.release()
        self.save_state()
        self.report(err or f"ok {self.pid}")
        backoff = BACKOFF_START
        while True:
            code, sig = self.run_once()
            if self.start_failed:  # the init that failed to exec is gone: nothing ran
                self.state["pid"] = 0
                break
            self.state.update(
                status="exited",
                pid=0,
                exit_code=code,
                signal=signal_name(sig) if sig else None,
                oom_killed=self.oom_killed(),
                finished_at=now_rfc3339(),
            )
            if self.gate_w < 0:  # it ran: docker's oom and die
                if self.state["oom_killed"]:
                    self.event("oom")
                ran = int(time.monotonic() - self.run_started)
                self.event("die", f'"exitCode":"{code}","execDuration":"{ran}"')
            if self.gate_w >= 0 or not self.should_restart(code):
                break
            if time.monotonic() - self.run_started > BACKOFF_MAX:
                backoff = BACKOFF_START
            self.state.update(status="restarting")
            self.save_state()
            if self.back_off(backoff) or self.stopping():
                break
            backoff = min(backoff * 2, BACKOFF_MAX)
            self.state["restart_count"] = int(self.state["restart_count"]) + 1
            err = self.spawn() or self.share_shm()
            if err:  # as release()'s failure: the last run's status and times stay
                self.state.update(status="exited", exit_code=127, error=err[6:], start_failed="setup")
                break
            if not self.release():
                self.save_state()
            # else its init, which could not exec, exits: the next run_once reaps it (and closes
            # its pidfd: a pod's monitor lives on), and the loop ends there
        self._close_init_fds()
        # a container whose start failed and that never ran stays created, as docker's
        never_ran = self.start_failed and not self.state["started_at"]
        self.state["status"] = "created" if never_ran else "exited"
        claim = self.removal_claim()
        write_json_atomic(self.path("exit.json"), self.state)  # last: readers fold it into the row
        self.hand_over_removal(claim)  # its child inherits the mount namespace, and unmounts it
        self.drop_mount_ns()
        return 0

    def removal_claim(self) -> int:
        """``--rm``: the removal claim (runtime/autoremove.py) open, -1 without one. Opened before
        the exit file: a CLI woken by that may rename the run dir at once (_dirs_to_trash)."""
        if not self.meta.get("auto_remove"):
            return -1
        try:
            return os.open(self.path("removal"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return -1  # its run dir is gone: removed already

    def hand_over_removal(self, fd: int) -> None:
        """``--rm``: the container goes now that it has exited, whether or not a CLI waits for it
        (docker's daemon removes it, podman's conmon runs its exit command). A child waits for
        the removal claim *fd* (runtime/autoremove.py: an attached ``run --rm`` holds it until
        it removed the container itself) and removes the container unless its holder said done.
        After exit.json: an attached CLI is not kept waiting for the fork."""
        if fd < 0:
            return
        import fcntl  # noqa: F401 - here, not in the child of a threaded process

        try:
            with self.fork_lock((fd,)):
                if os.fork() == 0:
                    _remove_when_claimed(fd, self.cdir, self.rdir)
                # dropped at once: the child, which closes its copy as it starts, is then most
                # often the last holder and pays for the unmount, not this thread (whose end a
                # removing CLI waits for)
                self.drop_mount_ns()
            os.pwrite(fd, b"w", 64)  # the child waits: it may be left the dirs (autoremove.WAITED_AT)
        except OSError as exc:
            print(f"monitor: cannot hand over the removal: {exc}", file=sys.stderr)
        finally:
            os.close(fd)

    def report(self, line: str) -> int:
        try:  # noqa: SIM105 - no contextlib import in the monitor
            os.write(self.out_fd, (line + "\n").encode())
        except OSError:
            pass
        if self.out_fd != 1:  # a shared monitor's client connection: it reads to EOF
            os.close(self.out_fd)
            self.out_fd = -1
            return 0 if line.startswith("ok") else 1
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        return 0 if line.startswith("ok") else 1

    def owned(self) -> tuple[int, ...]:
        """The pids this monitor waits for itself (a pod's orphan reaper leaves them)."""
        probe = self.probe
        return (self.pid, *self.unreaped, *([probe[0]] if probe else []))


def _remove_when_claimed(fd: int, cdir: str, rdir: str) -> None:
    """In a child of the monitor: wait for the removal claim *fd*, then, unless its holder wrote
    why no removal is needed, become the remover (runtime/autoremove.py) with the claim held."""
    code = 1
    try:
        try:  # noqa: SIM105 - no contextlib import in the monitor
            _signal.set_wakeup_fd(-1)  # the monitor's, closed below
        except (ValueError, OSError):
            pass
        os.closerange(3, fd)
        os.closerange(fd + 1, 1 << 16)
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        word = os.pread(fd, 64, 0).rstrip(b"\0")  # the monitor's byte after it: autoremove.WAITED_AT
        if word == b"removed":
            _delete_trash(cdir, rdir)
        elif not word:
            os.set_inheritable(fd, True)
            runtime_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            root, rundir = os.path.dirname(os.path.dirname(cdir)), os.path.dirname(os.path.dirname(rdir))
            cid = os.path.basename(rdir)
            script = os.path.join(runtime_dir, "autoremove.py")
            os.execv(sys.executable, [sys.executable, "-I", script, root, rundir, cid, str(fd)])
        code = 0
    except BaseException:  # noqa: BLE001, S110 - never unwind into the monitor's code in a child
        pass
    os._exit(code)


def _delete_trash(cdir: str, rdir: str) -> None:
    """What an attached ``run --rm`` left this child: the container's dirs under their trash
    names (runtime/paths.py, Paths.container_trash), the run dir's last (a repair finds it)."""
    from runtime.trees import remove_trees

    remove_trees(os.path.join(os.path.dirname(d), ".gone-" + os.path.basename(d)) for d in (cdir, rdir))


def _in_child(fn: Any, *args: Any) -> None:
    """Run fn(*args) in a forked child (single-threaded, so it may setns into a mount namespace);
    an OSError it raises is raised here with its errno."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except OSError as exc:
            code = exc.errno or 255
        except BaseException:  # noqa: BLE001 - never unwind into the monitor's other threads
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise OSError(code if 0 < code < 255 else 5, os.strerror(code if 0 < code < 255 else 5))


def receive_fd(sock: Any) -> int:
    """The fd the init sent over *sock* (an AF_UNIX _socket.socket) with SCM_RIGHTS, close-on-exec
    (the monitor forks probes); -1 when none came. The init sent it before "ready": no waiting."""
    import _socket

    sock.setblocking(False)
    try:
        _, anc, _, _ = sock.recvmsg(1, _socket.CMSG_SPACE(4), _socket.MSG_CMSG_CLOEXEC)
    except OSError:
        return -1
    fds = [
        int.from_bytes(data[i : i + 4], sys.byteorder)
        for level, kind, data in anc
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
        for i in range(0, len(data) - 3, 4)
    ]
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else -1


def _oom_kills(path: str) -> int | None:
    """The oom_kill count of a memory.oom_control or memory.events file; None if unreadable."""
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return 0


def read_sync(reader: _LineReader, name: str) -> str:
    """The init's report on the sync pipe: "" once it waits at the gate (``ready``), else the
    error line (``error ...``, or its exit before either)."""
    while True:
        line = reader.readline()
        if line is None:
            return f"error container {name}: init exited during setup"
        if line == "ready":
            return ""
        if line.startswith("error "):
            return line


class _LineReader:
    """Blocking line reads from a pipe fd without a buffered file object. In chunks, not a byte
    per read: each read takes the GIL again, which a pod monitor's other threads may hold (see
    zygote._read_line). One per init: after ``ready`` an init started at once (InitPlan.at_once)
    may write its exec's error line before the monitor reads on, into the same buffer."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def readline(self) -> str | None:
        while b"\n" not in self.buf:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                line, self.buf = self.buf, bytearray()
                return line.decode(errors="replace") if line else None
            self.buf += chunk
        line, _, rest = self.buf.partition(b"\n")
        self.buf = bytearray(rest)
        return line.decode(errors="replace")


def main(argv: list[str], *, detach: bool = True) -> int:
    """Run the monitor of (argv[1], argv[2]). *detach*: fork once more so that the caller can reap
    its child at once (the zygote's child is detached already: a fork more would only copy the
    pages that child wrote into a monitor that outlives it)."""
    cdir, rdir = argv[1], argv[2]
    start_now = "--start" in argv[3:]
    net_gate = "--gate" in argv[3:]  # runtime.executor.NET_GATE: a `run` plugs its network meanwhile
    if detach and os.fork():
        os._exit(0)  # the caller reaps us at once; the monitor lives on, re-parented to init
    os.chdir("/")
    err_fd = os.open(os.path.join(rdir, "monitor.err"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(err_fd, 2)
    os.close(err_fd)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    sc.SYSCALLS.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    try:
        mon = Monitor(cdir, rdir, {"pid": os.getpid(), "starttime": proc_starttime(os.getpid())})
        return mon.main(start_now, net_gate)
    except Exception as exc:  # noqa: BLE001 - report one line, keep the traceback in monitor.err
        import traceback

        traceback.print_exc()
        try:  # noqa: SIM105 - no contextlib import in the monitor
            os.write(1, f"error monitor: {exc}\n".encode())
        except OSError:
            pass
        return 1

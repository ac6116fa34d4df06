"""Attaching to a container from `composer container run/start -a`: its output copied to ours
until it exits (following the log file, woken by a pidfd of its init), our stdin into its, and
the signals we get to its process (docker's --sig-proxy).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.containers import ContainerManager
    from runtime.spec import ContainerInfo


def check_tty(attach_stdin: bool, tty: bool) -> None:
    """docker/cli's In.CheckTty (v28, the one docker compose 2.40.3 builds with): a tty asked for
    with stdin attached needs our stdin to be a terminal; a pipe or a file into a pty would be
    read as typed keys (echoed, line-edited, ^C and ^D taken as signals). Checked before anything
    is made, as docker's run and exec do; docker exits 1."""
    if tty and attach_stdin and not os.isatty(0):
        from composer.errors import ComposerError

        raise ComposerError("the input device is not a TTY")


def attach(mgr: ContainerManager, cid: str, *, remove: bool, stdin: bool = False,
           sig_proxy: bool = True, log_from: int = 0) -> int:
    """Copy the container's output to ours (and with *stdin* our stdin to its) until it exits;
    return its exit code. With *sig_proxy* the signals we get go to the container's process
    (a SIGINT too, as docker's: the container decides whether it ends); without, a Ctrl-C stops
    it. *log_from*: where this run's output starts in the log file (after the last run's, which
    docker's attach does not show again). With *remove* it is gone when this returns (the
    removal claim its create took keeps its monitor from removing it too; a kill of this
    process leaves that to the monitor)."""
    proxy = None
    if sig_proxy:
        from composer.cli.sig_proxy import SignalProxy

        proxy = SignalProxy(mgr, cid)
    if stdin:
        forward_stdin(mgr, cid)
    try:
        last = stream_log(mgr, cid, tick=proxy.forward if proxy is not None else None, pos=log_from)
        code = last.exit_code if last.exit_code is not None else 0  # as mgr.wait(): it has stopped
    except KeyboardInterrupt:
        mgr.stop(cid, timeout=2)
        code = 130
    finally:
        if proxy is not None:
            proxy.close()
        if remove:
            mgr.remove(cid, force=True, volumes=True)
    return code


def forward_stdin(mgr: ContainerManager, cid: str) -> None:
    """Copy our stdin into the container's in a daemon thread (it may block on a terminal forever);
    EOF closes the container's stdin."""
    import threading

    from runtime.errors import EngineError

    def pump() -> None:
        with contextlib.suppress(EngineError, OSError):
            mgr.attach_stdin(cid, 0)

    threading.Thread(target=pump, name=f"stdin-{cid[:12]}", daemon=True).start()


def stream_log(mgr: ContainerManager, cid: str, poll: float = 0.02,
               tick: Callable[[], None] | None = None, pos: int = 0) -> ContainerInfo:
    """Follow the log file from *pos* (its start: it is new) until the container stops running; return
    its info at that point. Between reads it waits on a pidfd of the container's init, so that an
    exit is seen at once instead of at the next *poll* tick; *tick* is called at each turn."""
    from runtime.logs import LineFramer, decode_line

    path = mgr.log_path(cid)
    framer = LineFramer()
    gone = 0  # the init that has exited: its monitor writes the exit file in a moment
    while True:
        if tick is not None:
            tick()
        info = mgr.get(cid)
        running = info.status in ("running", "paused", "restarting", "created")
        try:
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
        except FileNotFoundError:
            data = b""
        for line in framer.feed(data):
            rec = decode_line(line)
            if rec is not None:
                emit(rec.stream, rec.text + (b"" if rec.partial else b"\n"))
        if not running and not data:
            return info
        if not data:
            if info.pid and info.pid != gone:
                if wait_exit(info.pid, poll):
                    gone = info.pid
            elif info.pid:  # its init has exited: the monitor writes the exit file in a moment
                mgr.await_exit_file(info.id, poll)
            else:
                time.sleep(poll)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to *timeout* for process *pid* to exit; True when it has (or is already gone)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # no pidfd (old kernel): sleep as before
        time.sleep(timeout)
        return False
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def emit(stream: str, data: bytes) -> None:
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.buffer.write(data)
    out.flush()

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
    import threading
    from collections.abc import Callable, Iterator
    from types import FrameType

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


class Detached(Exception):
    """The detach keys were typed: the attach ends, the container runs on."""


def attach(mgr: ContainerManager, cid: str, *, remove: bool, stdin: bool = False,
           sig_proxy: bool = True, log_from: int = 0, stop_on_interrupt: bool = True,
           detach_keys: bytes | None = None, tty: bool = False) -> int:
    """Copy the container's output to ours (and with *stdin* our stdin to its) until it exits;
    return its exit code. With *sig_proxy* the signals we get go to the container's process
    (a SIGINT too, as docker's: the container decides whether it ends); without, a Ctrl-C stops
    it. *log_from*: where this run's output starts in the log file (after the last run's, which
    docker's attach does not show again). Without *stop_on_interrupt* a Ctrl-C only detaches (an
    attach to a container that runs on its own); *detach_keys* typed on stdin detach too (exit 0).
    With *remove* it is gone when this returns (the removal claim its create took keeps its
    monitor from removing it too; a kill of this process leaves that to the monitor). With *tty*
    (the container has a terminal) ours is raw and its size followed (container_terminal)."""
    with container_terminal(mgr, cid, raw=stdin) if tty else contextlib.nullcontext():
        return _attach(mgr, cid, remove=remove, stdin=stdin, sig_proxy=sig_proxy, log_from=log_from,
                       stop_on_interrupt=stop_on_interrupt, detach_keys=detach_keys)


def _attach(mgr: ContainerManager, cid: str, *, remove: bool, stdin: bool, sig_proxy: bool,
            log_from: int, stop_on_interrupt: bool, detach_keys: bytes | None) -> int:
    proxy = None
    if sig_proxy:
        from composer.cli.sig_proxy import SignalProxy

        proxy = SignalProxy(mgr, cid)
    detached = forward_stdin(mgr, cid, detach_keys) if stdin else None

    def tick() -> None:
        if proxy is not None:
            proxy.forward()
        if detached is not None and detached.is_set():
            raise Detached

    left = False
    try:
        last = stream_log(mgr, cid, tick=tick, pos=log_from, fold=not remove)
        code = last.exit_code if last.exit_code is not None else 0  # as mgr.wait(): it has stopped
    except Detached:
        left, code = True, 0
    except KeyboardInterrupt:
        if stop_on_interrupt:
            mgr.stop(cid, timeout=2)
        code = 130
    finally:
        if proxy is not None:
            proxy.close()
        if remove and left:  # it runs on: its monitor removes it once it exits (docker's AutoRemove)
            mgr.release_removal(cid)
        elif remove:
            mgr.remove(cid, force=True, volumes=True, dirs_later=True)
    return code


def detach_keys_of(flag: str) -> bytes:
    """The detach sequence of a --detach-keys value (empty: docker's ctrl-p,ctrl-q); a bad one
    is refused in the daemon's words."""
    from composer.errors import ComposerError

    try:
        return detach_sequence(flag or DEFAULT_DETACH_KEYS)
    except ValueError:
        raise ComposerError(f"Error response from daemon: Invalid detach keys ({flag}) provided") from None


def attach_running(mgr: ContainerManager, ref: str, *, stdin: bool = True, sig_proxy: bool = True,
                   detach_keys: str = "") -> int:
    """docker's `attach` (docker/cli RunAttach): a running container's output from now on (and our
    stdin into its, when it keeps one open and *stdin*) until it exits; returns its exit code.
    Its state is checked first, with docker's words; signals are proxied only without a tty.
    With a tty, *detach_keys* (docker's default ctrl-p,ctrl-q) typed on our stdin detach, as
    the daemon's attach reads them; our terminal is raw meanwhile, so that they reach us."""
    from composer.errors import ComposerError

    keys = detach_keys_of(detach_keys)
    info = mgr.get(ref)
    if info.status == "paused":
        raise ComposerError("You cannot attach to a paused container, unpause it first")
    if info.status == "restarting":
        raise ComposerError("You cannot attach to a restarting container, wait until it is running")
    if info.status != "running":
        raise ComposerError("You cannot attach to a stopped container, start it first")
    tty = bool(info.spec and info.spec.tty)
    check_tty(stdin, tty)
    try:  # the output from now on: docker's attach asks for no logs
        log_from = os.path.getsize(mgr.log_path(info.id))
    except OSError:
        log_from = 0
    open_stdin = stdin and bool(info.spec and info.spec.stdin_open)
    return attach(mgr, info.id, remove=False, stdin=open_stdin, sig_proxy=sig_proxy and not tty,
                  log_from=log_from, stop_on_interrupt=False, detach_keys=keys if tty else None, tty=tty)


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# moby/term's ToBytes: "ctrl-@", "ctrl-a" .. "ctrl-z", "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"
_CTRL = {f"ctrl-{c}": i for i, c in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def detach_sequence(keys: str) -> bytes:
    """docker's --detach-keys (moby/term ToBytes): comma-separated single characters and ctrl-X.

    Raises:
        ValueError: a key that is neither.
    """
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out += key.encode()
        elif key.lower() in _CTRL:
            out.append(_CTRL[key.lower()])
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class EscapeFilter:
    """Find the detach sequence in what is typed, sans IO (moby/term's escapeProxy): the bytes
    of a sequence begun are held back, and passed on when it breaks off."""

    def __init__(self, keys: bytes) -> None:
        self.keys, self.matched = keys, 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the bytes to pass on, whether the whole sequence has been typed)."""
        out = bytearray()
        for b in data:
            if b == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    return bytes(out), True
                continue
            out += self.keys[:self.matched]
            self.matched = 1 if b == self.keys[0] else 0
            if not self.matched:
                out.append(b)
        return bytes(out), False


def terminal_size() -> tuple[int, int] | None:
    """(rows, columns) of our output's terminal (docker's Out().GetTtySize()), None without one."""
    try:
        size = os.get_terminal_size(1)
    except OSError:
        return None
    return (size.lines, size.columns) if size.lines and size.columns else None


@contextlib.contextmanager
def container_terminal(mgr: ContainerManager, cid: str, *, raw: bool) -> Iterator[None]:
    """Attached to a container with a tty, as docker's run, start -a and attach: our stdin raw
    (with *raw*: keys such as ^C and arrows go to its terminal as typed, echoed by it alone), and
    its terminal kept at our window's size, now and at each SIGWINCH (docker's MonitorTtySize)."""
    import _signal

    from runtime.errors import EngineError

    def resize(signum: int = 0, frame: FrameType | None = None) -> None:
        size = terminal_size()
        if size is not None:
            with contextlib.suppress(EngineError, OSError):
                mgr.resize_tty(cid, *size)
        if signum and callable(old):  # a SignalProxy's: docker forwards SIGWINCH as well
            old(signum, frame)

    old = _signal.signal(_signal.SIGWINCH, resize) if terminal_size() is not None else None
    try:
        resize()
        with raw_terminal(0) if raw else contextlib.nullcontext():
            yield
    finally:
        if old is not None:
            _signal.signal(_signal.SIGWINCH, old)


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """*fd* in raw mode meanwhile when it is a terminal (docker's SetRawTerminal)."""
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)  # as moby/term: input typed ahead stays (TCSAFLUSH drops it)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def forward_stdin(mgr: ContainerManager, cid: str,
                  detach_keys: bytes | None = None) -> threading.Event | None:
    """Copy our stdin into the container's in a daemon thread (it may block on a terminal forever);
    EOF closes the container's stdin. With *detach_keys* the copy goes through an EscapeFilter:
    the returned event is set once they are typed (and the copy stops there, without an EOF)."""
    import threading

    from runtime.errors import EngineError

    def pump(fd: int) -> None:
        with contextlib.suppress(EngineError, OSError):
            mgr.attach_stdin(cid, fd)

    if not detach_keys:
        threading.Thread(target=pump, args=(0,), name=f"stdin-{cid[:12]}", daemon=True).start()
        return None
    detached = threading.Event()
    r, w = os.pipe2(os.O_CLOEXEC)
    escape = EscapeFilter(detach_keys)

    def sift() -> None:
        with contextlib.suppress(OSError):
            while data := os.read(0, 65536):
                data, hit = escape.feed(data)
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view):]
                if hit:
                    detached.set()
                    return  # w stays open: a detach is no EOF for the container
            os.close(w)

    threading.Thread(target=pump, args=(r,), name=f"stdin-{cid[:12]}", daemon=True).start()
    threading.Thread(target=sift, name=f"keys-{cid[:12]}", daemon=True).start()
    return detached


def stream_log(mgr: ContainerManager, cid: str, poll: float = 0.02,
               tick: Callable[[], None] | None = None, pos: int = 0, fold: bool = True) -> ContainerInfo:
    """Follow the log file from *pos* (its start: it is new) until the container stops running; return
    its info at that point. Between reads it waits on a pidfd of the container's init, so that an
    exit is seen at once instead of at the next *poll* tick; *tick* is called at each turn.
    Without *fold* its exit file is left out of the row (ContainerManager.get): it is removed next."""
    from runtime.logs import LineFramer, decode_line

    path = mgr.log_path(cid)
    framer = LineFramer()
    gone = 0  # the init that has exited: its monitor writes the exit file in a moment
    while True:
        if tick is not None:
            tick()
        info = mgr.get(cid, fold=fold)
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

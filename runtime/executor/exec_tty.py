"""A terminal for ``exec -t``: a new pty of the container's own devpts instance, relayed to the
caller's terminal (raw while attached, restored after), as ``docker exec -it`` gives one.

The pty is allocated by opening /dev/pts/ptmx from inside the container's mount namespace (so no
symlink of the container can lead the lookup out of it), and its slave is opened from the master
with TIOCGPTPEER: the workload sees /dev/pts/N of its own /dev/pts. Standard library only.
"""

from __future__ import annotations

import _signal  # not the signal module, whose import brings enum (~2 ms of each monitor start)
import errno
import fcntl
import os
import select
import stat
import sys
import termios

from runtime.executor import syscalls as sc

# No typing at run time: the container init (in the monitor) imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

TIOCGPTN: Final = 0x80045430  # _IOR('T', 0x30, unsigned int)
TIOCSPTLCK: Final = 0x40045431  # _IOW('T', 0x31, int)
TIOCGPTPEER: Final = 0x5441  # _IO('T', 0x41), Linux >= 4.13
PTMX: Final = (5, 2)  # char device major, minor of every ptmx node


def open_container_pty(pid: int) -> tuple[int, int, int]:
    """A new pty of container process *pid*'s /dev/pts: (master fd, slave fd, N of /dev/pts/N).

    Raises:
        OSError: the container has no usable /dev/pts/ptmx (its message names the path).
    """
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        theirs = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            sc.SYSCALLS.setns(theirs, sc.CLONE_NEWNS)  # the helper is single-threaded: allowed
            try:
                master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
            finally:
                sc.SYSCALLS.setns(own, sc.CLONE_NEWNS)
                os.fchdir(cwd)
                os.close(cwd)
        finally:
            os.close(theirs)
    finally:
        os.close(own)
    return pty_pair(master, "/dev/pts/ptmx")


def open_pty(ptmx: str = "/dev/pts/ptmx") -> tuple[int, int, int]:
    """A new pty of the devpts instance at *ptmx* as this process resolves it (the container
    init, after pivot_root): (master fd, slave fd, N of /dev/pts/N).

    Raises:
        OSError: no usable pty multiplexer at *ptmx*.
    """
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
    return pty_pair(master, ptmx)


def pty_pair(master: int, ptmx: str) -> tuple[int, int, int]:
    """Unlock the pty of *master* (opened from *ptmx*) and open its slave from it (TIOCGPTPEER:
    the same devpts instance, whatever the caller's mount namespace); closes *master* on error."""
    try:
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or (os.major(st.st_rdev), os.minor(st.st_rdev)) != PTMX:
            raise OSError(errno.ENOTTY, "not a pty multiplexer", ptmx)
        fcntl.ioctl(master, TIOCSPTLCK, b"\0" * 4)  # unlockpt: an int 0, whatever the byte order
        n = int.from_bytes(fcntl.ioctl(master, TIOCGPTN, b"\0" * 4), sys.byteorder)
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    return master, slave, n


def winsize(rows: int, columns: int) -> bytes:
    """A struct winsize (rows, columns, no pixel sizes) for TIOCSWINSZ, without importing struct."""
    b = sys.byteorder
    return rows.to_bytes(2, b) + columns.to_bytes(2, b) + bytes(4)


def copy_winsize(src: int, dst: int) -> None:
    """Give terminal *dst* the window size of *src* (nothing when *src* is not a terminal)."""
    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return
    fcntl.ioctl(dst, termios.TIOCSWINSZ, size)


def relay(master: int, child: int, stdin: int = 0, stdout: int = 1, *, stdin_open: bool = True) -> int:
    """Copy *stdin* to the pty *master* and its output to *stdout* until process *child* exits;
    returns its exit code. A terminal *stdin* is raw meanwhile (keys such as ^C reach the
    container's line discipline) and follows window-size changes (SIGWINCH). When piped input
    (*stdin_open*, not a terminal) ends, the pty gets an end-of-file (^D) as a typed one would."""
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    old_winch = _signal.signal(_signal.SIGWINCH, lambda *_: copy_winsize(stdin, master))
    old_hup = _signal.signal(_signal.SIGHUP, _leave)
    old_term = _signal.signal(_signal.SIGTERM, _leave)
    pidfd = os.pidfd_open(child)
    os.set_blocking(master, False)
    pending = b""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(master, select.POLLIN)
    poller.register(stdin, select.POLLIN)
    watching = {master, stdin}
    try:
        if saved is not None:
            import tty as _tty  # only here: the init imports this module for open_pty

            _tty.setraw(stdin, termios.TCSANOW)
        eof_sent = False
        while True:
            # piped input that ended: ^D again while the process lives, for a reader (a line
            # editing shell) that turned the terminal raw after the first one was queued
            events = dict(poller.poll(250 if eof_sent else None))
            if not events and eof_sent and master in watching:
                pending += b"\x04"
            if pidfd in events:
                _drain(master, stdout)
                break
            if master in watching and master in events and not _pump(master, stdout):
                for fd in watching:  # every slave is closed: only the exit is left to wait for
                    poller.unregister(fd)
                watching.clear()
                continue
            if stdin in watching and stdin in events:
                data = _read(stdin)
                if data == b"":
                    poller.unregister(stdin)
                    watching.discard(stdin)
                    if saved is None and stdin_open:
                        data, eof_sent = b"\x04", True  # the terminal's EOF, or a shell waits on
                pending += data or b""
            if pending and master in watching:
                try:
                    pending = pending[os.write(master, pending) :]
                except BlockingIOError:
                    pass
                except OSError:
                    pending = b""
                poller.modify(master, select.POLLIN | (select.POLLOUT if pending else 0))
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        _signal.signal(_signal.SIGWINCH, old_winch)
        _signal.signal(_signal.SIGHUP, old_hup)
        _signal.signal(_signal.SIGTERM, old_term)
        os.close(pidfd)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _leave(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through relay's finally: the terminal is restored


def _read(fd: int) -> bytes | None:
    """Bytes read from *fd*; b"" at its end (or error); None when nothing is there after all."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _pump(master: int, stdout: int) -> bool:
    """Copy what the pty has to *stdout*; False once no slave is open (EIO)."""
    try:
        data = os.read(master, 65536)
    except BlockingIOError:
        return True
    except OSError as exc:
        if exc.errno == errno.EIO:
            return False
        raise
    if not data:
        return False
    _write_all(stdout, data)
    return True


def _drain(master: int, stdout: int) -> None:
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EAGAIN: nothing more; EIO: no slave left
            return
        if not data:
            return
        _write_all(stdout, data)


def _write_all(fd: int, data: bytes) -> None:
    """Write *data* to the caller's output; a reader that went away (EPIPE) drops it, as the
    process in the container keeps running until it exits on its own (docker exec does too)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])
        except BrokenPipeError:
            return

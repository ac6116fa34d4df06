"""docker's --sig-proxy: the signals an attached CLI receives go to its container's process.

As docker/cli's ForwardAllSignals (notifyAllSignals: every signal the process can catch), except
SIGCHLD and SIGPIPE, which it skips, and SIGURG, the Go runtime's own; SIGKILL and SIGSTOP cannot
be caught. SIGSEGV, SIGBUS, SIGFPE and SIGILL stay Python's: a handler cannot return from a real
fault (Go forwards them only when sent by kill). The handler only notes the signal; the attach
loop forwards it (:meth:`SignalProxy.forward`) as a `kill` of the container, outside whatever
the handler interrupted (a state read on the same connection).
"""

from __future__ import annotations

# the C module's signal() and valid_signals(), not the signal module's wrappers: those turn each
# number and each handler into an enum member (~0.45 ms of the ~0.5 ms of one attach's 106 calls,
# half of them after the container's exit)
import _signal
import contextlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

    from runtime.containers import ContainerManager

_KEPT: frozenset[int] = frozenset({
    _signal.SIGCHLD, _signal.SIGPIPE, _signal.SIGURG, _signal.SIGKILL, _signal.SIGSTOP,
    _signal.SIGSEGV, _signal.SIGBUS, _signal.SIGFPE, _signal.SIGILL,
})


class SignalProxy:
    """From construction to :meth:`close`, the signals this process gets are noted for
    *cid*; :meth:`forward` sends the noted ones to it."""

    def __init__(self, mgr: ContainerManager, cid: str) -> None:
        self.mgr, self.cid = mgr, cid
        self.pending: list[int] = []
        self.saved: dict[int, Any] = {}
        for sig in _signal.valid_signals():
            if sig in _KEPT:
                continue
            try:
                self.saved[sig] = _signal.signal(sig, self._note)
            except (OSError, ValueError):  # glibc's own real-time signals (32, 33)
                continue

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)
        if signum == _signal.SIGWINCH:  # Go gives a signal to every Notify: the tty's resize too
            chained = self.saved.get(signum)
            if callable(chained):
                chained(signum, frame)

    def forward(self) -> None:
        """Send the signals noted so far to the container (gone or stopped: dropped, as docker's
        failed ContainerKill is only logged)."""
        from runtime.errors import EngineError

        while self.pending:
            sig = self.pending.pop(0)
            with contextlib.suppress(EngineError):
                self.mgr.kill(self.cid, sig)

    def close(self) -> None:
        self.forward()
        for sig, handler in self.saved.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                _signal.signal(sig, handler)
        self.saved = {}

"""composer.cli.sig_proxy.SignalProxy: what it notes while attached, and what it gives back."""

from __future__ import annotations

import os
import signal
from types import FrameType


class _Kills:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def kill(self, cid: str, sig: int) -> None:
        self.sent.append((cid, sig))


def test_the_proxy_forwards_what_it_noted_and_gives_every_handler_back() -> None:
    from composer.cli.sig_proxy import SignalProxy

    mine: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        mine.append(signum)

    before = signal.signal(signal.SIGUSR1, handler)
    try:
        kills = _Kills()
        proxy = SignalProxy(kills, "c1")  # type: ignore[arg-type]  # only its kill() is used
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        assert proxy.pending == [signal.SIGUSR1, signal.SIGUSR2] and mine == []
        proxy.close()
        assert kills.sent == [("c1", signal.SIGUSR1), ("c1", signal.SIGUSR2)]
        assert signal.getsignal(signal.SIGUSR1) is handler  # ours again
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        os.kill(os.getpid(), signal.SIGUSR1)
        assert mine == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, before)

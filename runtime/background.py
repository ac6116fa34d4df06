"""A call made in a thread of its own, its result (or its exception) taken where it is needed.

From _thread, not threading: Thread.start() waits until the new thread runs (one more wake-up,
and on a busy host one more wait for a CPU, before the work even begins), and threading's import
is kept off `container run`. Standard library only, no typing.
"""

from __future__ import annotations

import _thread

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Background:
    """*fn(*args)* in a thread of its own when *wait* (it would wait in the kernel, or must not run
    in the caller's thread), else here and now; the caller goes on meanwhile. With no thread to be
    had it runs here too, unless *own_thread* (it changes its thread's namespaces): then
    RuntimeError."""

    def __init__(self, fn: Callable[..., object], *args: object, wait: bool = True,
                 own_thread: bool = False) -> None:
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._value: Any = None
        self._error: BaseException | None = None
        if wait or own_thread:
            try:
                _thread.start_new_thread(self._run, (fn, args))
                return
            except RuntimeError:
                if own_thread:
                    raise
        self._run(fn, args)

    def _run(self, fn: Callable[..., object], args: tuple[object, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._error = exc
        finally:
            self._done.release()

    def result(self) -> Any:
        """Its value once it returned, or its exception (each time it is asked)."""
        self.raise_failure()
        return self._value

    def raise_failure(self) -> None:
        """Once it ended: its exception, if it raised one."""
        error = self.wait()
        if error is not None:
            raise error

    def wait(self) -> BaseException | None:
        """Once it ended: its exception, or None when it returned."""
        with self._done:  # released by the call when it ends, then held by none
            pass
        return self._error

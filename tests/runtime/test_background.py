"""runtime.background.Background: a call made in a thread when it would wait in the kernel (a
create's cgroup mkdirs behind the attach lock's write) or must have a thread of its own (a
network namespace's pinning), its result or its error handed back where the caller needs it."""

from __future__ import annotations

import _thread
import threading

import pytest

from runtime.background import Background
from runtime.errors import InvalidSpec


def test_in_a_thread_it_runs_while_the_caller_goes_on_and_hands_back_its_value() -> None:
    gate = threading.Event()
    made = Background(lambda: (gate.wait(5), _thread.get_ident())[1], wait=True)
    gate.set()  # the call waits for this: had it run here, the line above would not have returned
    assert made.result() != _thread.get_ident()


def test_without_waiting_it_runs_here_and_now() -> None:
    made = Background(_thread.get_ident, wait=False)
    assert made.result() == _thread.get_ident()


@pytest.mark.parametrize("wait", [True, False])
def test_its_error_is_raised_where_its_result_is_taken_every_time(wait: bool) -> None:
    def refuse() -> None:
        raise InvalidSpec("container c: cgroup c: cannot set pids.max to 0: Invalid argument")

    made = Background(refuse, wait=wait)
    with pytest.raises(InvalidSpec, match="cannot set pids.max"):
        made.raise_failure()
    with pytest.raises(InvalidSpec, match="cannot set pids.max"):  # the undo takes it again
        made.result()


def test_a_call_that_returned_raises_nothing() -> None:
    made = Background(lambda: 42, wait=True)
    made.raise_failure()
    assert made.result() == 42


def test_a_call_that_needs_its_own_thread_never_runs_here() -> None:
    made = Background(_thread.get_ident, wait=False, own_thread=True)
    assert made.wait() is None
    assert made.result() != _thread.get_ident()

"""One `up`/`down` per project at a time: an flock under the run dir.

Two concurrent `composer up` of one project would both see "no container" and create duplicates;
the lock makes the second wait (observe-plan-apply runs under it).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from composer.errors import ProjectError


@contextmanager
def project_lock(lock_path: str, project: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of *project* at *lock_path* (created as needed).

    Raises:
        ProjectError: the lock was not obtained within *timeout* seconds.
    """
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)

    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise ProjectError(
                        project, "another composer command is working on this project"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock

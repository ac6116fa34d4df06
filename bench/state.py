"""Beside `up -d`: what SQLite lock contention between the orchestrator's worker threads costs.

runtime.state opens one connection per thread and takes BEGIN IMMEDIATE; a thread that finds the
database locked waits in SQLite's busy handler, which sleeps in steps of 1, 2, 5, 10 ... 100 ms
instead of waking when the lock is free. Measured here: N threads doing short read-modify-write
transactions through the real Store, as they are, and with an in-process lock around each
transaction (which wakes the next thread at once).
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import Item, Note, value

THREADS, PER, HOLD = 10, 5, 0.002


def _trial(serialize: bool) -> float:
    from runtime.state import Store

    with tempfile.TemporaryDirectory(prefix="bench-state-") as d:
        store = Store(Path(d) / "state.db")
        lock = threading.Lock()

        def work(i: int) -> None:
            for j in range(PER):
                with lock if serialize else contextlib.nullcontext(), store.transaction() as tx:
                    tx.put("bench", f"{i}-{j}", {"i": i}, name=f"n{i}-{j}")
                    time.sleep(HOLD)  # a short read-modify-write
            store.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return (time.perf_counter() - t0) * 1000


def state_contention() -> list[Item]:
    busy = [_trial(False) for _ in range(3)]
    locked = [_trial(True) for _ in range(3)]
    ideal = THREADS * PER * HOLD * 1000
    what = f"{THREADS} threads x {PER} tx of {HOLD * 1000:.0f} ms"
    return [
        value("state: busy handler", "composer", busy, "ms", note=what),
        value("state: in-process lock", "experiment", locked, "ms", note=what),
        Note(
            f"state: {THREADS * PER} transactions holding {HOLD * 1000:.0f} ms each need {ideal:.0f} ms "
            "serialized; the difference is time threads sleep in SQLite's busy handler"
        ),
    ]


ALL = [state_contention]

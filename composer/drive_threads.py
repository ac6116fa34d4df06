"""The thread driver (what the CLI uses): runs a Plan on a bounded pool of stdlib threads.

The calling thread schedules: an operation starts as soon as its last dependency is done, its
depends_on conditions are polled here (no worker ever waits on one, so a bounded pool cannot
deadlock), and Ctrl-C starts nothing new while the calls under way finish. No trio, no
concurrent.futures (bench/FINDINGS.md F9). The rules and the engine calls are orchestrate._Core's.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from composer.errors import ComposerError
from composer.graph import COMPLETED, HEALTHY
from composer.orchestrate import (
    DriverOptions,
    EngineLike,
    OpFailed,
    _Core,
    _DependencyFailed,
    _manager,
    _Seen,
)
from composer.progress import Progress
from runtime.errors import EngineError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Final

    from composer.plan import Op, Plan
    from composer.project import Project

MAX_THREADS = 32  # --parallel -1: enough to overlap every wait of a large project, bounded all the same


def needs_trio(plan: Plan) -> bool:
    """Does some operation poll a health or completion condition? (What the trio driver was for;
    the thread driver polls them from its scheduling thread.)"""
    return any(d.condition in (HEALTHY, COMPLETED) for op in plan.ops for d in op.wait_for)


class _Waiter:
    """An operation whose dependencies are done, meeting its depends_on conditions one by one."""

    __slots__ = ("op", "index", "seen", "deadline", "due")

    def __init__(self, op: Op, now: float) -> None:
        self.op, self.index, self.seen = op, 0, _Seen()
        self.deadline: float | None = None
        self.due = now


class _ThreadRun(_Core):
    def run_op(self, op: Op, start: Op | None = None) -> None:
        """In a worker thread, once *op*'s dependencies are done and its conditions met (and
        *start*'s too: a StartContainer done by *op*'s create)."""
        try:
            self.apply(op, start)
        except (ImportError, ComposerError, EngineError) as exc:
            self.record(op, exc)

    def poll(self, w: _Waiter, now: float) -> bool:
        """Look at *w*'s conditions from the current one on: True when every one is met (or an
        optional one failed: warned), False to look again at w.due; raises when a required one
        can no longer be met (or timed out)."""
        while w.index < len(w.op.wait_for):
            dep = w.op.wait_for[w.index]
            if w.deadline is None and self.opt.condition_timeout:
                w.deadline = now + self.opt.condition_timeout
            try:
                met = self.condition_met(dep, self.containers_of(dep.service), w.seen)
            except _DependencyFailed as exc:
                self.dep_failed(w.op, dep, str(exc))  # raises unless optional
                met = True
            if not met and w.deadline is not None and now >= w.deadline:
                self.dep_failed(w.op, dep, f"timed out waiting for {dep.condition}")
                met = True
            if not met:
                w.due = now + self.opt.poll_interval
                return False
            w.index, w.seen, w.deadline = w.index + 1, _Seen(), None
        return True


def execute_threads(
    plan: Plan,
    engine: EngineLike,
    *,
    project: Project | None,
    progress: Progress,
    options: DriverOptions,
    parallel: int = -1,
) -> dict[int, str]:
    """Run *plan* on a bounded pool of threads; returns {op id: error} of the failed operations.

    The calling thread schedules: an operation whose dependencies are done has its depends_on
    conditions polled here (every options.poll_interval), and is then submitted, so at most
    *parallel* engine calls (-1: up to MAX_THREADS) run at once and no worker ever waits on a
    condition (a bounded pool cannot deadlock). Ctrl-C (KeyboardInterrupt) stops the waits and
    starts nothing more; calls under way finish before it propagates.
    """
    import time

    run = _ThreadRun(plan, project, engine, progress, options)
    if not plan.ops:
        return run.errors
    remaining = {op.id: len(set(op.deps)) for op in plan.ops}
    dependents: dict[int, list[int]] = {}
    for op in plan.ops:
        for d in set(op.deps):
            dependents.setdefault(d, []).append(op.id)
    width = min(len(plan.ops), parallel if parallel and parallel > 0 else MAX_THREADS)
    waiting: dict[int, _Waiter] = {}
    tick = 0.1 if progress.mode == "tty" else None
    fused: set[int] = set()  # StartContainer ops done by their container's create

    def launch(op: Op) -> None:
        start = _start_to_fuse(op) if options.start_on_create and op.kind in _CREATES else None
        if start is not None:
            fused.add(start.id)
        pool.submit(op.id, functools.partial(run.run_op, op, start))

    def _start_to_fuse(op: Op) -> Op | None:
        """The StartContainer of *op*'s container when nothing but *op* holds it back: no condition
        to poll, every other dependency done and none failed."""
        for nxt in dependents.get(op.id, ()):
            s = run.by_id[nxt]
            if s.kind == "StartContainer" and s.name == op.name and not s.wait_for and remaining[nxt] == 1:
                return None if any(d in run.errors for d in s.deps) else s
        return None

    def ready(op_id: int) -> None:
        op = run.by_id[op_id]
        try:
            for dep in op.deps:
                run.blocked(op, dep)
        except OpFailed as exc:
            run.record(op, exc)
            done(op_id)
            return
        if op_id in fused:  # its create started it (or recorded why it did not start)
            done(op_id)
        elif op.wait_for:
            waiting[op_id] = _Waiter(op, time.monotonic())
        else:
            launch(op)

    def done(op_id: int) -> None:
        for nxt in dependents.get(op_id, ()):
            remaining[nxt] -= 1
            if remaining[nxt] == 0:
                ready(nxt)

    drops = _bridge_drops(plan, engine)

    def stopped(op_id: int | None) -> None:
        """*op_id* is done (None: at the start): a bridge whose containers are all stopped now can
        go (_bridge_drops)."""
        for net_id, (stops, call) in list(drops.items()):
            if op_id in stops:
                if op_id in run.errors:  # a container may still run on it: RemoveNetwork decides
                    del drops[net_id]
                    continue
                stops.discard(op_id)
            if not stops:
                del drops[net_id]
                pool.submit(-1 - net_id, call)  # negative: no operation of the plan

    with _network_batch(plan, engine):
        pool = _Pool(width)
        try:  # on Ctrl-C (or a bug) the finally starts nothing more and waits for the calls under way
            stopped(None)  # those with no container to stop
            for op in plan.ops:
                if remaining[op.id] == 0:
                    ready(op.id)
            while pool.busy or waiting:
                now = time.monotonic()
                for op_id, w in [(i, w) for i, w in waiting.items() if w.due <= now]:
                    try:
                        met = run.poll(w, now)
                    except (ImportError, ComposerError, EngineError) as exc:
                        del waiting[op_id]
                        run.record(w.op, exc)
                        done(op_id)
                        continue
                    if met:
                        del waiting[op_id]
                        launch(w.op)
                timeout = tick
                if waiting:
                    until = max(0.0, min(w.due for w in waiting.values()) - time.monotonic())
                    timeout = until if timeout is None else min(timeout, until)
                if pool.busy:
                    finished = pool.finished(timeout)
                else:
                    finished = []
                    time.sleep(timeout or 0.0)
                if tick:
                    progress.redraw()  # elapsed times move while an operation waits
                for op_id, bug in finished:
                    if bug is not None:  # not an engine or composer error: surface it
                        raise bug
                    if op_id >= 0:
                        done(op_id)
                        if drops:
                            stopped(op_id)
        finally:
            pool.close()
    progress.redraw()
    return run.errors


class _Pool:
    """Up to *width* worker threads, started as calls need them; each call is tagged with an op id
    and comes back on one queue when finished. (concurrent.futures would import logging: ~7 ms
    CPU of every command that runs a plan; and threading.Thread.start waits until the new thread
    runs, 1-30 ms each while the other workers hold the GIL: the scheduler would stall.)"""

    def __init__(self, width: int) -> None:
        import queue

        self.width, self.busy = width, 0  # busy: submitted and not yet handed back
        self._jobs: queue.SimpleQueue[tuple[int, Callable[[], None]] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()
        self._gone: queue.SimpleQueue[None] = queue.SimpleQueue()  # one item per ended worker
        self._threads = 0

    def submit(self, key: int, call: Callable[[], None]) -> None:
        import _thread

        self.busy += 1
        if self._threads < min(self.width, self.busy):
            _thread.start_new_thread(self._work, ())
            self._threads += 1
        self._jobs.put((key, call))

    def _work(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                key, call = job
                try:
                    call()
                except BaseException as exc:  # noqa: BLE001 - handed to the scheduling thread
                    self._done.put((key, exc))
                else:
                    self._done.put((key, None))
        finally:
            self._gone.put(None)

    def finished(self, timeout: float | None) -> list[tuple[int, BaseException | None]]:
        """The calls that finished: blocks up to *timeout* (None: until one does) for the first."""
        import queue

        out: list[tuple[int, BaseException | None]] = []
        try:
            out.append(self._done.get(timeout=timeout))
            while True:
                out.append(self._done.get_nowait())
        except queue.Empty:
            pass
        self.busy -= len(out)
        return out

    def close(self) -> None:
        """Drop the calls not started yet, let the running ones finish, end the workers. (Counts
        no calls: a KeyboardInterrupt may have struck between a queue operation and its count.)"""
        import queue

        try:
            while True:
                self._jobs.get_nowait()
        except queue.Empty:
            pass
        for _ in range(self._threads):
            self._jobs.put(None)
        for _ in range(self._threads):
            self._gone.get()


# what rewrites the peers' hosts files: a set-up, a teardown, and a stop or start (a stopped
# container's names leave them)
_NETWORKED: Final = frozenset({"CreateContainer", "RecreateContainer", "RemoveContainer", "StopContainer",
                               "StartContainer"})
_CREATES: Final = frozenset({"CreateContainer", "RecreateContainer"})


def _bridge_drops(plan: Plan, engine: EngineLike) -> dict[int, tuple[set[int], Callable[[], None]]]:
    """`down`: a network's bridge can go once every container it waits for is stopped, instead of
    after their removal (NetworkManager.drop_bridge: the kernel's deletion of a bridge is 40-70 ms
    here, which then overlaps the removals). {RemoveNetwork id: (the StopContainer ids it still
    waits for, the call)}. The call deletes nothing while another container uses the network, and
    RemoveNetwork still removes the network, its record and whatever is left."""
    if not any(op.kind == "RemoveNetwork" for op in plan.ops):
        return {}  # and no network manager to import
    drop = getattr(_manager(engine, "networks"), "drop_bridge", None)
    if drop is None:
        return {}
    by_id = {op.id: op for op in plan.ops}
    out: dict[int, tuple[set[int], Callable[[], None]]] = {}
    for op in plan.ops:
        removals = [by_id[d] for d in op.deps if by_id[d].kind == "RemoveContainer"]
        if op.kind != "RemoveNetwork" or not removals:
            continue
        stops = {d for r in removals for d in r.deps if by_id[d].kind == "StopContainer"}
        leaving = frozenset(r.container_id or r.name for r in removals)
        out[op.id] = (stops, functools.partial(_drop_quietly, drop, op.name, leaving))
    return out


def _drop_quietly(drop: Callable[[str, frozenset[str]], object], name: str, leaving: frozenset[str]) -> None:
    with contextlib.suppress(EngineError, OSError):  # RemoveNetwork will say what is wrong
        drop(name, leaving)


def _network_batch(plan: Plan, engine: EngineLike) -> contextlib.AbstractContextManager[None]:
    """NetworkManager.batch() around a plan that sets up or tears down many containers and waits
    on no condition: the peers' hosts files and the published ports are written once at its end,
    not after every container (n^2 hosts rewrites, one nft transaction per container). A plan that
    waits on a health or completion condition gets each container's peers and ports at once: a
    service may need them before the plan ends."""
    if needs_trio(plan) or sum(op.kind in _NETWORKED for op in plan.ops) < 2:
        return contextlib.nullcontext()
    batch = getattr(_manager(engine, "networks"), "batch", None)
    return batch() if callable(batch) else contextlib.nullcontext()

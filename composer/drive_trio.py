"""The trio driver: runs a Plan from inside trio, one task per operation.

The CLI runs plans on the thread driver (composer/drive_threads.py), which never imports trio
(~200 ms CPU, bench/FINDINGS.md F9); this one stays for callers already inside trio. Both share
orchestrate._Core: the failure rules, the condition checks and the engine calls. trio is imported
inside the functions only, so importing this module costs no trio.
"""

from __future__ import annotations

from composer.errors import ComposerError
from composer.orchestrate import DriverOptions, EngineLike, _Core, _DependencyFailed, _Seen
from composer.progress import Progress
from runtime.errors import EngineError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    import trio

    from composer.graph import Dependency
    from composer.plan import Op, Plan
    from composer.project import Project


class _TrioRun(_Core):
    def __init__(self, *args: Any, limiter: trio.CapacityLimiter) -> None:
        import trio

        super().__init__(*args)
        self.limiter = limiter
        self.done = {op.id: trio.Event() for op in self.plan.ops}

    async def run_op(self, op: Op) -> None:
        import trio

        try:
            for dep in op.deps:
                await self.done[dep].wait()
                self.blocked(op, dep)
            for cond in op.wait_for:
                await self.wait_condition(op, cond)
            async with self.limiter:
                await trio.to_thread.run_sync(self.apply, op)
        except (ImportError, ComposerError, EngineError) as exc:
            self.record(op, exc)
        finally:
            self.done[op.id].set()

    async def wait_condition(self, op: Op, dep: Dependency) -> None:
        """Block until *dep*'s containers meet its condition; fail (or warn when optional) if they cannot."""
        import trio

        seen = _Seen()
        try:
            with trio.fail_after(self.opt.condition_timeout) if self.opt.condition_timeout else _nullscope():
                while True:
                    containers = await trio.to_thread.run_sync(self.containers_of, dep.service)
                    if self.condition_met(dep, containers, seen):
                        return
                    await trio.sleep(self.opt.poll_interval)
        except trio.TooSlowError:
            self.dep_failed(op, dep, f"timed out waiting for {dep.condition}")
        except _DependencyFailed as exc:
            self.dep_failed(op, dep, str(exc))


async def execute(
    plan: Plan,
    engine: EngineLike,
    *,
    project: Project | None,
    progress: Progress,
    options: DriverOptions,
    limiter: trio.CapacityLimiter | None = None,
) -> dict[int, str]:
    """Run *plan* under trio; returns {op id: error} of the operations that failed (empty: all done).

    Independent operations run in parallel, bounded by *limiter* (default: unlimited).
    """
    import trio

    lim = limiter or trio.CapacityLimiter(1 << 16)
    run = _TrioRun(plan, project, engine, progress, options, limiter=lim)
    async with trio.open_nursery() as outer:
        if progress.mode == "tty":
            outer.start_soon(_tick, progress)  # elapsed times move while an operation waits
        async with trio.open_nursery() as nursery:
            for op in plan.ops:
                nursery.start_soon(run.run_op, op)
        outer.cancel_scope.cancel()
    progress.redraw()
    return run.errors


async def _tick(progress: Progress) -> None:
    import trio

    while True:
        await trio.sleep(0.1)
        progress.redraw()


def limiter_for(parallel: int) -> trio.CapacityLimiter:
    """--parallel N (-1: unlimited)."""
    import trio

    return trio.CapacityLimiter(parallel if parallel and parallel > 0 else 1 << 16)


class _nullscope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

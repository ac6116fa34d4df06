"""Healthcheck bookkeeping (pure)."""

from __future__ import annotations

from runtime.executor.health import HealthState


def state(**kw: float) -> HealthState:
    base = dict(retries=2, start_period=10.0, interval=30.0, start_interval=1.0, started_at=0.0)
    base.update(kw)
    return HealthState(**base)  # type: ignore[arg-type]


def probe(h: HealthState, code: int, now: float) -> str:
    return h.record(start="s", end="e", exit_code=code, output="out", now=now)


def test_failures_in_the_start_period_do_not_count() -> None:
    h = state()
    assert h.next_delay(0.0) == 1.0
    assert probe(h, 1, 1.0) == "starting" and h.failing_streak == 0
    assert probe(h, 0, 2.0) == "healthy" and h.next_delay(2.0) == 30.0


def test_retries_consecutive_failures_make_it_unhealthy_and_a_success_heals() -> None:
    h = state(start_period=0.0)
    assert probe(h, 1, 1.0) == "starting"
    assert probe(h, 1, 2.0) == "unhealthy"
    assert probe(h, 0, 3.0) == "healthy" and h.failing_streak == 0


def test_only_the_last_five_probes_are_kept() -> None:
    h = state()
    for i in range(8):
        probe(h, i % 2, float(i))
    assert len(h.to_json()["Log"]) == 5

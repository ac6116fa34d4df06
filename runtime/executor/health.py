"""Healthcheck bookkeeping as docker does it (sans-IO: the monitor runs the probes).

A failure during start_period does not count towards retries unless the container was already
healthy; a probe that times out counts as a failure with exit code -1.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any


KEEP_PROBES = 5


class HealthState:
    def __init__(
        self, *, retries: int, start_period: float, interval: float, start_interval: float, started_at: float
    ) -> None:
        self.retries, self.start_period, self.interval = retries, start_period, interval
        self.start_interval = start_interval
        self.started_at = started_at  # monotonic time the container started
        self.status = "starting"
        self.failing_streak = 0
        self.log: list[dict[str, Any]] = []

    def next_delay(self, now: float) -> float:
        """Seconds until the next probe."""
        in_start = self.status == "starting" and now - self.started_at < self.start_period
        return self.start_interval if in_start else self.interval

    def record(self, *, start: str, end: str, exit_code: int, output: str, now: float) -> str:
        """Fold one probe result in; returns the new status."""
        self.log.append({"Start": start, "End": end, "ExitCode": exit_code, "Output": output[-4096:]})
        del self.log[:-KEEP_PROBES]
        if exit_code == 0:
            self.status, self.failing_streak = "healthy", 0
            return self.status
        if self.status == "starting" and now - self.started_at < self.start_period:
            return self.status
        self.failing_streak += 1
        if self.failing_streak >= max(1, self.retries):
            self.status = "unhealthy"
        return self.status

    def to_json(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": list(self.log)}

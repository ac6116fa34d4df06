"""Healthcheck bookkeeping as docker does it (sans-IO: the monitor runs the probes).

A failure during start_period does not count towards retries unless the container was already
healthy; a probe that times out counts as a failure with exit code -1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEEP_PROBES = 5


@dataclass
class HealthState:
    retries: int
    start_period: float
    interval: float
    start_interval: float
    started_at: float                      # monotonic time the container started
    status: str = "starting"
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

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

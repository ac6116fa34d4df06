"""Resource limits (``ulimits``): docker's names, validation, clamping to what this host allows, and
setting them inside the container. Standard library only."""

from __future__ import annotations

from collections.abc import Mapping

from runtime.errors import ExecError, InvalidSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final

__all__ = ["RLIMIT_NAMES", "RLIM_INFINITY", "apply_rlimits", "clamp_rlimits", "getrlimit"]

# resource (~0.4 ms CPU of every container run to import) only where a limit is set: the current
# ones are read from /proc/self/limits.
RLIM_INFINITY: Final = -1  # resource.RLIM_INFINITY on Linux: rlim_t's all ones, as Python shows it
_INF: Final = RLIM_INFINITY

# docker's ulimit names -> Linux RLIMIT_* numbers (asm-generic/resource.h; Python's resource
# module lacks some of them, e.g. RLIMIT_LOCKS).
RLIMIT_NAMES: Final[dict[str, int]] = {
    "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
    "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13,
    "rtprio": 14, "rttime": 15,
}


def _norm(value: int) -> int:
    """-1 (docker's "unlimited") -> RLIM_INFINITY."""
    return _INF if value < 0 or value == _INF else value


def getrlimit(number: int) -> tuple[int, int]:
    """(soft, hard) limit *number* (RLIMIT_*) of this process, as resource.getrlimit gives it."""
    try:
        with open("/proc/self/limits") as f:
            row = f.read().splitlines()[number + 1]  # a header, then a row per limit in RLIMIT_* order
        soft, hard = row[25:].split()[:2]  # after the name's 25 columns: soft, hard, unit
        return (_INF if soft == "unlimited" else int(soft)), (_INF if hard == "unlimited" else int(hard))
    except (OSError, IndexError, ValueError):  # no /proc, or a kernel that writes it otherwise
        import resource

        return resource.getrlimit(number)


def _can_raise() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE (may raise hard limits)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 24 & 1)
    except OSError:
        pass
    return False


def clamp_rlimits(ulimits: Mapping[str, tuple[int, int]], *, can_raise: bool | None = None,
                  current: Mapping[str, tuple[int, int]] | None = None,
                  ) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Validate *ulimits* and clamp hard limits to what this process may set.

    Without CAP_SYS_RESOURCE a hard limit cannot rise above the current one (on the development
    machines root lacks it and the hard nofile limit is 20000), so a larger value is lowered to the
    current hard limit (and the soft one with it) and a warning names the limit.

    Args:
        ulimits: docker name -> (soft, hard); -1 means unlimited.
        can_raise, current: for tests; default to this process's capability and limits.
    Returns:
        (name -> (soft, hard) to apply, warnings for the caller to print).
    Raises:
        InvalidSpec: an unknown name, or soft above hard.
    """
    if can_raise is None and ulimits:
        can_raise = _can_raise()
    out: dict[str, tuple[int, int]] = {}
    warnings: list[str] = []
    for name, (soft_in, hard_in) in ulimits.items():
        key = name.strip().lower()
        if key not in RLIMIT_NAMES:
            raise InvalidSpec(f'unknown ulimit "{name}"; expected one of {", ".join(RLIMIT_NAMES)}')
        soft, hard = _norm(soft_in), _norm(hard_in)
        if _unlimited_cmp(soft) > _unlimited_cmp(hard):
            raise InvalidSpec(f'ulimit "{name}": soft limit {soft_in} is above hard limit {hard_in}')
        if not can_raise:
            cur_hard = (current[key] if current is not None and key in current
                        else getrlimit(RLIMIT_NAMES[key]))[1]
            if _unlimited_cmp(hard) > _unlimited_cmp(cur_hard):
                warnings.append(f'ulimit "{key}": hard limit {_show(hard)} lowered to {_show(cur_hard)}, '
                                f'the most this host allows')
                hard = cur_hard
                if _unlimited_cmp(soft) > _unlimited_cmp(hard):
                    soft = hard
        out[key] = (soft, hard)
    return out, warnings


def _unlimited_cmp(v: int) -> float:
    return float("inf") if v == _INF else float(v)


def _show(v: int) -> str:
    return "unlimited" if v == _INF else str(v)


def apply_rlimits(limits: Mapping[str, tuple[int, int]]) -> None:
    """setrlimit each of *limits* (as returned by ``clamp_rlimits``) on the calling process."""
    import resource

    for name, (soft, hard) in limits.items():
        try:
            resource.setrlimit(RLIMIT_NAMES[name], (_norm(soft), _norm(hard)))
        except (ValueError, OSError) as exc:
            raise ExecError(f'ulimit "{name}": cannot set {_show(soft)}:{_show(hard)}: {exc}') from exc

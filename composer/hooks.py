"""Service lifecycle hooks (compose-spec `post_start`, `pre_stop`), run as docker compose 2.40.3
runs them (pkg/compose/hook.go): each hook is an exec in the service's container, one after the
other, with the hook's user, privileged, working_dir and environment (a name without a value
unsets it, as moby's exec env does); the first that exits non-zero fails the verb with
`<service> hook exited with status <code>`.

post_start runs after each start of a container (up, start, restart); pre_stop before each stop
of a running one (stop, down, a scale down, restart, rm --stop, a dependent's restart) but not
before the stop of a recreate, as docker compose's recreateContainer. Only attached up shows what
a hook writes (docker compose's listener, `<name> ->` lines); the other verbs discard it.

Imported only when a service has hooks: callers look at the service's keys first.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence

from composer.errors import ComposerError
from runtime.errors import Conflict, NotFound

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

    from runtime.spec import ExecSpec

    OnLine = Callable[[str, str], None]  # (source: `<name> ->`, line) of a hook's output


class HookError(ComposerError):
    """A hook exited non-zero: docker compose's words."""

    def __init__(self, service: str, code: int) -> None:
        super().__init__(f"{service} hook exited with status {code}")
        self.service, self.code = service, code


def exec_spec(hook: Mapping[str, Any]) -> ExecSpec:
    """The exec of a hook (a lifecycle hook, a watch rule's exec): its command, user, working_dir,
    privileged and environment, where a name without a value unsets it."""
    from runtime.spec import ExecSpec

    env = {str(k): (None if v is None else str(v)) for k, v in (hook.get("environment") or {}).items()}
    return ExecSpec(
        command=tuple(str(a) for a in hook.get("command") or ()),
        env=env,  # type: ignore[arg-type]  # None: unset (enter.py)
        user=str(hook["user"]) if hook.get("user") not in (None, "") else None,
        working_dir=str(hook["working_dir"]) if hook.get("working_dir") else None,
        privileged=bool(hook.get("privileged")),
    )


def run_hooks(
    engine: Any,
    ref: str,
    name: str,
    service: str,
    hooks: Sequence[Mapping[str, Any]],
    *,
    on_line: OnLine | None = None,
) -> None:
    """Run *hooks* in container *ref* (named *name*) of *service*, in order; raise HookError at
    the first that fails. *on_line* gets their output, line by line; without it it is dropped."""
    for hook in hooks:
        code = _exec(engine, ref, exec_spec(hook), name, on_line)
        if code != 0:
            raise HookError(service, code)


def run_pre_stop(
    engine: Any,
    ref: str,
    name: str,
    service: str,
    hooks: Sequence[Mapping[str, Any]],
    *,
    on_line: OnLine | None = None,
) -> None:
    """pre_stop *hooks* of a container about to be stopped; one that no longer runs (stopped,
    paused, gone meanwhile) has nothing to run them in, and its stop goes on (docker compose
    ignores the daemon's not-found and conflict answers here)."""
    with contextlib.suppress(Conflict, NotFound):
        run_hooks(engine, ref, name, service, hooks, on_line=on_line)


def _exec(engine: Any, ref: str, spec: Any, name: str, on_line: OnLine | None) -> int:
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    out = os.memfd_create("hook", os.MFD_CLOEXEC) if on_line is not None else null
    try:
        code = int(engine.containers.exec(ref, spec, stdin=null, stdout=out, stderr=out))
        if on_line is not None:
            os.lseek(out, 0, os.SEEK_SET)
            with os.fdopen(os.dup(out), "rb") as f:
                for raw in f.read().decode(errors="replace").splitlines():
                    on_line(name, raw)
        return code
    finally:
        if out != null:
            os.close(out)
        os.close(null)


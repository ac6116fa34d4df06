"""The watch loop: host changes in, batched as docker compose batches them, then per service the
sync into its containers, the restarts and the exec hooks, through the engine. Runs on the
calling thread until KeyboardInterrupt (Ctrl-C), which it lets through after closing the watcher:
nothing stays behind (one inotify descriptor, no thread, no child)."""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Callable, Sequence
from typing import Any

from composer import labels as L
from composer.errors import ComposerError
from composer.watch.inotify import Watcher, WatchOverflow
from composer.watch.rules import (
    BatchPlan,
    Debouncer,
    WatchRule,
    WatchSetup,
    initial_files,
    plan_batch,
    restart_message,
)

Log = Callable[[str], None]


def _containers(engine: Any, project: str, service: str, *, running: bool, oneoff: bool = False) -> list[Any]:
    """*service*'s containers (its one-off `run` ones too with *oneoff*), by number."""
    found = engine.containers.list(all=not running, labels={L.PROJECT: project, L.SERVICE: service})
    found = [c for c in found if oneoff or c.labels.get(L.ONEOFF) != "True"]
    return sorted(found, key=lambda c: int(c.labels.get(L.CONTAINER_NUMBER, "0") or 0))


def sync_service(engine: Any, project: str, service: str, mappings: Sequence[tuple[str, str]]) -> None:
    """Write *mappings* (host path, container path) into every container of *service*, stopped
    ones too (docker compose's tar syncer); a host path that is gone is removed there."""
    deletes = [dst for src, dst in mappings if not os.path.lexists(src)]
    copies = [(src, dst) for src, dst in mappings if os.path.lexists(src)]
    errors = []
    for c in _containers(engine, project, service, running=False):
        try:
            engine.containers.sync_files(c.id, copies, deletes)
        except Exception as exc:  # noqa: BLE001 - every container gets its copy; errors told together
            errors.append(str(exc))
    if errors:
        raise ComposerError("; ".join(errors))


class Restarts:
    """The containers watch restarts, told to an attached up (up --watch): its monitor (a
    ProjectFollower) asks absorb() whether a container it saw stopped was stopped for a watch
    restart, and then keeps watching it as restarting (docker compose's `exited ... (restarting)`)."""

    def __init__(self) -> None:
        import threading

        self._cond = threading.Condition()
        self._begun: set[str] = set()
        self._busy: set[str] = set()

    def begin(self, cid: str) -> None:
        with self._cond:
            self._begun.add(cid)
            self._busy.add(cid)

    def end(self, cid: str) -> None:
        with self._cond:
            self._busy.discard(cid)
            self._cond.notify_all()

    def absorb(self, cid: str, timeout: float = 60.0) -> bool:
        """Whether container *cid* stopped for a watch restart (once per restart); waits for
        that restart to be over."""
        with self._cond:
            if cid not in self._begun:
                return False
            self._begun.discard(cid)
            self._cond.wait_for(lambda: cid not in self._busy, timeout)
            return True


def restart_services(
    engine: Any, project: Any, services: Sequence[str], restarts: Restarts | None = None
) -> None:
    """Restart *services* and the services that depend on them with `restart: true` (docker
    compose's restart as watch calls it), dependencies first, with their pre_stop and
    post_start hooks."""
    from composer.graph import service_dependencies, service_order

    wanted = set(services)
    grew = True
    while grew:
        more = {
            name
            for name, svc in project.services.items()
            if any(d.restart and d.service in wanted for d in service_dependencies(svc).values())
        }
        grew = not more <= wanted
        wanted |= more
    for name in (s for s in service_order(project) if s in wanted):
        svc = project.services[name]
        for c in _containers(engine, project.name, name, running=False):
            if svc.get("pre_stop") and c.status == "running":
                from composer.hooks import run_pre_stop

                run_pre_stop(engine, c.id, c.name, name, svc["pre_stop"])
            if restarts is not None:
                restarts.begin(c.id)
            try:
                engine.containers.restart(c.id)
            finally:
                if restarts is not None:
                    restarts.end(c.id)
            if svc.get("post_start"):
                from composer.hooks import run_hooks

                run_hooks(engine, c.id, c.name, name, svc["post_start"])


def exec_hook(engine: Any, project: str, rule: WatchRule) -> None:
    """A sync+exec rule's command in each running container of its service, its output on ours."""
    from composer.hooks import exec_spec

    spec = exec_spec(rule.exec or {})
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for c in _containers(engine, project, rule.service, running=True):
            code = int(engine.containers.exec(c.id, spec, stdin=null))
            if code != 0:
                raise ComposerError(f"container {c.name}: {spec.command[0]} exited with status {code}")
    finally:
        os.close(null)


def apply_batch(
    engine: Any, project: Any, plan: BatchPlan, log: Log, restarts: Restarts | None = None
) -> None:
    """docker compose's handleWatchBatch after its rebuilds: syncs, then restarts, then execs."""
    for service, mappings in plan.sync.items():
        log(f"Syncing service {json.dumps(service)} after {len(mappings)} changes were detected")
        sync_service(engine, project.name, service, mappings)
    if plan.restart:
        restart_services(engine, project, plan.restart, restarts)
        log(restart_message(plan.restart))
    for rules_to_run in plan.exec.values():
        for rule in rules_to_run:
            exec_hook(engine, project.name, rule)


def initial_sync(engine: Any, project: Any, setup: WatchSetup) -> None:
    """`initial_sync: true`: the files changed since the service's image was made, copied in
    before watching (docker compose's initialSync)."""
    from datetime import datetime

    for rule in setup.initial_sync:
        containers = _containers(engine, project.name, rule.service, running=False, oneoff=True)
        if not containers:  # docker compose's words
            raise ComposerError("could not get created time for service's image")
        image = engine.images.resolve(containers[0].image_id or containers[0].image)
        try:
            created = datetime.fromisoformat(image.created.replace("Z", "+00:00")).timestamp()
        except ValueError:  # no creation time: every file is newer
            created = 0.0
        binds = [str(v["source"]) for v in project.services[rule.service].get("volumes") or ()
                 if v.get("type") == "bind" and v.get("source")]
        files = initial_files(rule, created, binds)
        if files:
            sync_service(engine, project.name, rule.service, files)


_STARTED = time.monotonic()


def _warn(text: str) -> None:
    """A warning as logrus prints it: its seconds since the program started."""
    import sys

    sys.stderr.write(f"WARN[{int(time.monotonic() - _STARTED):04d}] {text}\n")
    sys.stderr.flush()


def start_watch(engine: Any, project: Any, setup: WatchSetup, log: Log) -> Watcher:
    """Say the setup's warnings, copy the initial_sync files, start watching: the watcher, which
    the caller closes."""
    for text in setup.warnings:
        _warn(text)
    if setup.initial_sync:
        initial_sync(engine, project, setup)
    watcher = Watcher(setup.paths)
    try:
        watcher.start()
    except BaseException:
        watcher.close()
        raise
    log("Watch enabled")
    return watcher


def watch_loop(
    engine: Any, project: Any, setup: WatchSetup, watcher: Watcher, log: Log, *, stop: int | None = None,
    restarts: Restarts | None = None,
) -> None:
    """Act on *watcher*'s changes until KeyboardInterrupt, or until *stop* (a file descriptor)
    becomes readable. A batch that fails is told as a warning and watching goes on, as docker
    compose does."""
    debouncer = Debouncer()
    waited: list[Any] = [watcher] if stop is None else [watcher, stop]
    while True:
        readable, _, _ = select.select(waited, [], [], debouncer.wait(time.monotonic()))
        if stop is not None and stop in readable:
            return
        if readable:
            try:
                changed = watcher.read()
            except WatchOverflow as exc:
                _warn(str(exc))
                changed = []
            now = time.monotonic()
            for path in changed:
                debouncer.add(path, now)
        batch = debouncer.due(time.monotonic())
        if not batch:
            continue
        try:
            apply_batch(engine, project, plan_batch(batch, setup.rules), log, restarts)
        except Exception as exc:  # noqa: BLE001 - docker compose warns and keeps watching
            _warn(f"Error handling changed files: {exc}")


def watch(engine: Any, project: Any, setup: WatchSetup, log: Log) -> None:
    """`composer watch`: start watching, then act on changes until Ctrl-C."""
    watcher = start_watch(engine, project, setup, log)
    try:
        watch_loop(engine, project, setup, watcher, log)
    finally:
        watcher.close()

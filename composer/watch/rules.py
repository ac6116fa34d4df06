"""What `composer watch` does with changed files, as docker compose 2.40.3 decides it
(pkg/compose/watch.go): each `develop.watch` trigger of a service is a rule; a changed host path
under a rule's path that its include patterns take and no ignore pattern drops maps to the same
place under the rule's target; a batch of changes becomes, per service, the files to sync, the
services to restart and the exec hooks to run. Pure: the driver (composer/watch/driver.py) reads
files and acts.

Ignored, besides a trigger's own `ignore`: the service's .dockerignore when it has a build
context (<dockerfile>.dockerignore first, as docker compose reads it), editors' temporary files,
and `.git`. docker compose's `.git` pattern is made absolute against "/" and so only ever matches
/.git; composer ignores every `.git` directory, which is what its comment says it means."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from composer.errors import ComposerError, ConfigError, ServiceError
from composer.watch.patterns import EPHEMERAL, PatternMatcher, any_matches, clean, read_ignore_file

SYNC_ACTIONS = frozenset({"sync", "sync+restart", "sync+exec"})
QUIET_PERIOD = 0.5  # docker compose's debounce window (pkg/watch/debounce.go QuietPeriod)


def is_child(parent: str, path: str) -> bool:
    """*path* is *parent* or below it."""
    parent, path = clean(parent), clean(path)
    return path == parent or path.startswith(parent.rstrip("/") + "/")


@dataclass(frozen=True, slots=True)
class WatchRule:
    service: str
    index: int  # the trigger's place in develop.watch, for messages
    path: str
    action: str
    target: str
    exec: Mapping[str, Any] | None
    include: PatternMatcher | None  # None: every path
    ignore: tuple[PatternMatcher, ...]

    def container_path(self, host_path: str) -> str | None:
        """Where *host_path* goes in the container ("" when the rule has no target), or None when
        the rule does not take it."""
        if not is_child(self.path, host_path):
            return None
        if self.include is not None and not self.include.matches(host_path):
            return None
        if any_matches(self.ignore, host_path):
            return None
        if not self.target:
            return ""
        return clean(posixpath.join(self.target, os.path.relpath(host_path, self.path)))


@dataclass(frozen=True, slots=True)
class WatchSetup:
    rules: tuple[WatchRule, ...]
    paths: tuple[str, ...]  # the host paths to watch
    initial_sync: tuple[WatchRule, ...]
    warnings: tuple[str, ...]


def _dockerignore(build: Any, read: Any) -> PatternMatcher | None:
    """The service's .dockerignore patterns (docker compose's LoadDockerIgnore), or None."""
    if not isinstance(build, Mapping) or not build.get("context"):
        return None
    context = str(build["context"])
    dockerfile = str(build.get("dockerfile") or "Dockerfile")
    for name in (dockerfile + ".dockerignore", ".dockerignore"):
        text = read(os.path.join(context, name))
        if text is not None:
            return PatternMatcher(os.path.abspath(context), read_ignore_file(text))
    return None


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _bind_sources(svc: Mapping[str, Any]) -> list[str]:
    return [str(v["source"]) for v in svc.get("volumes") or () if v.get("type") == "bind" and v.get("source")]


def check_trigger(name: str, svc: Mapping[str, Any], index: int, trigger: Mapping[str, Any]) -> None:
    """Refuse what composer cannot watch, in one line naming the service."""
    action = trigger.get("action")
    where = f"services.{name}.develop.watch[{index}]"
    if action == "rebuild":
        if not svc.get("build"):  # docker compose's words
            raise ComposerError(f'can\'t watch service "{name}" with action rebuild without a build context')
        raise ServiceError(
            name, "watch action rebuild needs an image build, which composer does not support yet"
        )
    if action == "sync+exec" and not (trigger.get("exec") or {}).get("command"):
        raise ConfigError(
            f"{where}.exec", f'can\'t watch with action "sync+exec" on service {name} without a command'
        )


def watch_setup(
    project_services: Mapping[str, Mapping[str, Any]], names: Iterable[str], read: Any = _read_text
) -> WatchSetup:
    """The rules and watched paths of services *names* (docker compose's watch(), getWatchRules).

    Raises:
        ComposerError: a trigger composer cannot act on, or no service with a develop section.
    """
    rules: list[WatchRule] = []
    paths: list[str] = []
    initial: list[WatchRule] = []
    warnings: list[str] = []
    editors = PatternMatcher("/", EPHEMERAL)
    dot_git = PatternMatcher("/", ["**/.git"])
    for name in sorted(names):
        svc = project_services[name]
        triggers = (svc.get("develop") or {}).get("watch") or []
        for i, trigger in enumerate(triggers):
            check_trigger(name, svc, i, trigger)
        try:
            dockerignore = _dockerignore(svc.get("build"), read)
        except ValueError as exc:
            raise ConfigError(f"services.{name}.build.context: .dockerignore", str(exc)) from None
        for i, trigger in enumerate(triggers):
            path = clean(str(trigger["path"]))
            where = f"services.{name}.develop.watch[{i}]"
            own_ignore = _matcher(path, trigger.get("ignore") or (), f"{where}.ignore")
            ignore = tuple(m for m in (dockerignore, editors, dot_git, own_ignore) if m is not None)
            include = None
            if trigger.get("include"):
                include = _matcher(path, trigger["include"], f"{where}.include")
            rule = WatchRule(
                service=name, index=i, path=path, action=str(trigger["action"]),
                target=str(trigger.get("target") or ""), exec=trigger.get("exec"),
                include=include, ignore=ignore,
            )
            rules.append(rule)
            if rule.action in ("sync", "sync+restart") and any(is_child(s, path) for s in _bind_sources(svc)):
                # docker compose's warning: the bind mount already shows the container the file
                warnings.append(
                    f"path '{path}' also declared by a bind mount volume, this path won't be monitored!"
                )
                continue
            if trigger.get("initial_sync") and rule.action in ("sync", "sync+restart"):
                initial.append(rule)
            paths.append(path)
    if not paths:
        raise ComposerError(
            "none of the selected services is configured for watch, consider setting a 'develop' section"
        )
    return WatchSetup(tuple(rules), tuple(dict.fromkeys(paths)), tuple(initial), tuple(warnings))


def _matcher(root: str, patterns: Sequence[str], where: str) -> PatternMatcher:
    try:
        return PatternMatcher(root, patterns)
    except ValueError as exc:
        raise ConfigError(where, str(exc)) from None


@dataclass(slots=True)
class BatchPlan:
    """What one batch of changed paths asks for (docker compose's handleWatchBatch)."""

    sync: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # service -> (host, container)
    restart: list[str] = field(default_factory=list)
    exec: dict[str, list[WatchRule]] = field(default_factory=dict)  # each rule once, in file order


def plan_batch(changed: Iterable[str], rules: Sequence[WatchRule]) -> BatchPlan:
    plan = BatchPlan()
    execs: dict[str, dict[tuple[str, int], WatchRule]] = {}
    for host_path in changed:
        for rule in rules:
            target = rule.container_path(host_path)
            if target is None:
                continue
            if rule.action in SYNC_ACTIONS:
                plan.sync.setdefault(rule.service, []).append((host_path, target))
            if rule.action in ("restart", "sync+restart") and rule.service not in plan.restart:
                plan.restart.append(rule.service)
            if rule.action == "sync+exec":
                execs.setdefault(rule.service, {})[(rule.service, rule.index)] = rule
    plan.restart.sort()
    plan.exec = {s: [found[k] for k in sorted(found)] for s, found in sorted(execs.items())}
    return plan


def initial_files(rule: WatchRule, newer_than: float, binds: Sequence[str]) -> list[tuple[str, str]]:
    """The files under *rule*'s path changed after *newer_than* (the image's creation), that no
    ignore pattern and no bind mount covers: what `initial_sync` copies before watching (docker
    compose's initialSyncFiles; it matches only a file's base name against the ignore patterns,
    composer matches the whole path, as for the changes it watches)."""
    out: list[tuple[str, str]] = []

    def keep(path: str) -> bool:
        return not any_matches(rule.ignore, path) and not any(is_child(b, path) for b in binds)

    if os.path.isfile(rule.path):
        if os.stat(rule.path).st_mtime > newer_than and keep(rule.path):
            out.append((rule.path, rule.target))
        return out
    for top, dirs, files in os.walk(rule.path):
        dirs[:] = sorted(d for d in dirs if keep(os.path.join(top, d)))
        for f in sorted(files):
            path = os.path.join(top, f)
            if not keep(path):
                continue
            try:
                changed = os.lstat(path).st_mtime
            except FileNotFoundError:
                continue
            if changed >= newer_than:
                out.append((path, clean(posixpath.join(rule.target, os.path.relpath(path, rule.path)))))
    return out


class Debouncer:
    """docker compose's BatchDebounceEvents, without its clock: paths gathered until none came
    for QUIET_PERIOD seconds, then handed over at once, each path once."""

    def __init__(self, quiet: float = QUIET_PERIOD) -> None:
        self.quiet = quiet
        self._seen: dict[str, None] = {}
        self._last = 0.0

    def add(self, path: str, now: float) -> None:
        self._seen[path] = None
        self._last = now

    def wait(self, now: float) -> float | None:
        """Seconds until the batch is due; None when there is none."""
        return max(0.0, self._last + self.quiet - now) if self._seen else None

    def due(self, now: float) -> list[str]:
        """The batch when it is due, else []."""
        if not self._seen or now < self._last + self.quiet:
            return []
        batch, self._seen = list(self._seen), {}
        return batch


def restart_message(services: Sequence[str]) -> str:
    """docker compose's `service(s) %q restarted` (Go's %q of a string slice)."""
    quoted = " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in services)
    return f"service(s) [{quoted}] restarted"

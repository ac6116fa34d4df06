"""Profiles and service selection over the canonical tree, then pruning of unused resources.

A service is enabled when it has no profiles, or one of its profiles is active (`*` activates all).
Services named on the command line are enabled whatever their profiles, with everything they depend
on, and the project is narrowed to them. A service that depends on a disabled one is an error unless
that dependency is `required: false` (then the dependency is dropped with a warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from composer.errors import ProfileError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Selection", "active_profiles", "dependencies_of", "select_services", "prune_resources",
           "all_profiles"]

Tree = dict[str, "Any"]


def active_profiles(explicit: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """--profile flags, else COMPOSE_PROFILES (comma separated)."""
    if explicit:
        names = [p for item in explicit for p in item.split(",")]
    else:
        names = (environ.get("COMPOSE_PROFILES") or "").split(",")
    return tuple(p.strip() for p in names if p.strip())


def _service_profiles(service: Any) -> list[str]:
    profiles = service.get("profiles") if isinstance(service, dict) else None
    return [str(p) for p in profiles] if isinstance(profiles, list) else []


def all_profiles(services: Mapping[str, Any]) -> list[str]:
    return sorted({p for s in services.values() for p in _service_profiles(s)})


def dependencies_of(service: Any) -> dict[str, bool]:
    """Services *service* needs, each with whether it is required (depends_on, links, ...)."""
    if not isinstance(service, dict):
        return {}
    deps: dict[str, bool] = {}
    depends = service.get("depends_on")
    if isinstance(depends, dict):
        for name, spec in depends.items():
            deps[name] = not (isinstance(spec, dict) and spec.get("required") is False)
    elif isinstance(depends, list):
        deps.update({str(n): True for n in depends})
    for link in service.get("links") or []:
        if isinstance(link, str):
            deps.setdefault(link.split(":", 1)[0], True)
    for vf in service.get("volumes_from") or []:
        if isinstance(vf, str) and not vf.startswith("container:"):
            name = vf.removeprefix("service:").split(":", 1)[0]
            deps.setdefault(name, True)
    for key in ("network_mode", "ipc", "pid", "uts"):
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            deps.setdefault(value.removeprefix("service:"), True)
    return deps


@dataclass(frozen=True, slots=True)
class Selection:
    tree: Tree                        # enabled services only, unused resources pruned
    disabled: dict[str, Any]          # profile-disabled (or unselected) services


def _closure(services: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in services:
            continue
        seen.add(name)
        todo.extend(dependencies_of(services[name]))
    return seen


def select_services(tree: Tree, profiles: Sequence[str], named: Sequence[str],
                    warnings: list[str] | None = None) -> Selection:
    """Keep the enabled services; if some are *named*, only them and what they depend on.

    As docker compose: naming a service activates its profiles (so it is enabled), but not its
    dependencies' profiles.

    Raises:
        ProfileError: a named service that does not exist, or a required dependency that is disabled.
    """
    services: dict[str, Any] = dict(tree.get("services") or {})
    for name in named:
        if name not in services:
            raise ProfileError("", f"no such service: {name}")
    active = set(profiles)
    for name in named:
        active.update(_service_profiles(services[name]))

    def enabled(svc: Any) -> bool:
        own = _service_profiles(svc)
        return not own or "*" in active or bool(active.intersection(own))

    keep = {n for n, s in services.items() if enabled(s)}
    for name in sorted(keep):
        for dep, required in dependencies_of(services[name]).items():
            if dep in keep or not required or dep not in services:
                continue  # an optional one stays (as docker compose); an undefined one is for consistency
            raise ProfileError(f"services.{name}.depends_on",
                               f'service "{name}" depends on service "{dep}", which is disabled '
                               f"by its profiles {_service_profiles(services[dep])}; enable one of them")
    if named:
        keep = _closure({n: services[n] for n in keep}, named)
    kept = {n: s for n, s in services.items() if n in keep}
    disabled = {n: s for n, s in services.items() if n not in keep}
    return Selection({**tree, "services": kept}, disabled)


def _used_resources(services: Mapping[str, Any]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {"networks": set(), "volumes": set(), "secrets": set(),
                                 "configs": set(), "models": set()}
    for svc in services.values():
        if not isinstance(svc, dict):
            continue
        nets = svc.get("networks")
        if isinstance(nets, dict):
            used["networks"].update(nets)
        elif isinstance(nets, list):
            used["networks"].update(str(n) for n in nets)
        for vol in svc.get("volumes") or []:
            if isinstance(vol, dict) and vol.get("type", "volume") == "volume" and vol.get("source"):
                used["volumes"].add(str(vol["source"]))
            elif isinstance(vol, str) and ":" in vol:
                used["volumes"].add(vol.split(":", 1)[0])
        for kind in ("secrets", "configs"):
            for ref in svc.get(kind) or []:
                if isinstance(ref, dict) and ref.get("source"):
                    used[kind].add(str(ref["source"]))
                elif isinstance(ref, str):
                    used[kind].add(ref)
        models = svc.get("models")
        if isinstance(models, dict):
            used["models"].update(models)
        elif isinstance(models, list):
            used["models"].update(str(m) for m in models)
        build = svc.get("build")
        if isinstance(build, dict):
            for ref in build.get("secrets") or []:
                if isinstance(ref, dict) and ref.get("source"):
                    used["secrets"].add(str(ref["source"]))
                elif isinstance(ref, str):
                    used["secrets"].add(ref)
    return used


def prune_resources(tree: Tree) -> Tree:
    """Drop top-level networks, volumes, secrets, configs and models that no kept service uses
    (as docker compose does for the project it runs)."""
    used = _used_resources(tree.get("services") or {})
    out = dict(tree)
    for kind, names in used.items():
        section = tree.get(kind)
        if not isinstance(section, dict):
            continue
        kept = {k: v for k, v in section.items() if k in names}
        if kept:
            out[kind] = kept
        else:
            out.pop(kind, None)
    return out

"""The project as a dependency graph (networkx): services, networks and volumes. Pure.

An edge u -> v means "u must exist before v". Service-to-service edges carry the depends_on
condition (service_started, service_healthy, service_completed_successfully), whether the
dependency is required, and why it exists (depends_on, links, volumes_from, network_mode, ...).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import networkx as nx

from composer.errors import DependencyCycleError
from composer.project import Project

Node = tuple[str, str]  # ("service" | "network" | "volume", key)

STARTED: Final = "service_started"
HEALTHY: Final = "service_healthy"
COMPLETED: Final = "service_completed_successfully"


@dataclass(frozen=True, slots=True)
class Dependency:
    service: str
    condition: str = STARTED
    required: bool = True
    restart: bool = False
    why: str = "depends_on"


def service_dependencies(svc: Mapping[str, Any]) -> dict[str, Dependency]:
    """Every service *svc* needs before it starts, with the strongest condition asked for."""
    deps: dict[str, Dependency] = {}
    for name, d in (svc.get("depends_on") or {}).items():
        d = d or {}
        deps[name] = Dependency(
            name,
            str(d.get("condition") or STARTED),
            bool(d.get("required", True)),
            bool(d.get("restart")),
            "depends_on",
        )
    for link in svc.get("links") or ():
        name = str(link).split(":", 1)[0]
        deps.setdefault(name, Dependency(name, why="links"))
    for item in svc.get("volumes_from") or ():
        ref = str(item)
        if ref.startswith("container:"):
            continue
        name = ref.removeprefix("service:").split(":", 1)[0]
        deps[name] = replace(deps.get(name, Dependency(name)), why="volumes_from")
    for key in ("network_mode", "ipc", "pid"):
        value = str(svc.get(key) or "")
        if value.startswith("service:"):
            name = value.split(":", 1)[1]
            deps[name] = replace(deps.get(name, Dependency(name)), why=key)  # by id: recreate together
    return deps


def service_networks(project: Project, svc: Mapping[str, Any]) -> list[str]:
    if svc.get("network_mode"):
        return []
    nets = svc.get("networks")
    if nets is None:
        return ["default"] if "default" in project.networks else []
    return [n for n in nets if n in project.networks]


def service_volumes(project: Project, svc: Mapping[str, Any]) -> list[str]:
    out = []
    for vol in svc.get("volumes") or ():
        named = isinstance(vol, Mapping) and vol.get("type", "volume") == "volume" and vol.get("source")
        if named and vol["source"] in project.volumes:
            out.append(str(vol["source"]))
    return out


def build_graph(project: Project) -> nx.DiGraph:
    """The project's graph. Raises DependencyCycleError naming the cycle."""
    g = nx.DiGraph()
    for key in project.networks:
        g.add_node(("network", key))
    for key in project.volumes:
        g.add_node(("volume", key))
    for name in project.services:
        g.add_node(("service", name))
    for name, svc in project.services.items():
        for net in service_networks(project, svc):
            g.add_edge(("network", net), ("service", name))
        for vol in service_volumes(project, svc):
            g.add_edge(("volume", vol), ("service", name))
        for dep in service_dependencies(svc).values():
            if dep.service not in project.services:
                continue  # not enabled (profile) or optional: the planner decides
            g.add_edge(("service", dep.service), ("service", name), dep=dep)
    _check_cycles(g)
    return g


def _check_cycles(g: nx.DiGraph) -> None:
    try:
        cycle = nx.find_cycle(g.reverse(copy=False))  # name it in "depends on" order
    except nx.NetworkXNoCycle:
        return
    names = [v for (_, v), _ in cycle]
    names.append(names[0])
    raise DependencyCycleError("services", "dependency cycle: " + " -> ".join(names))


def service_order(project: Project) -> list[str]:
    """Services, dependencies first; ties broken by name so the order is stable."""
    g = build_graph(project)
    sub = g.subgraph([n for n in g if n[0] == "service"])
    return [n[1] for n in nx.lexicographical_topological_sort(sub)]


def dependency_closure(project: Project, names: Iterable[str]) -> set[str]:
    """*names* and every service they depend on, transitively."""
    g = build_graph(project)
    keep: set[str] = set()
    for name in names:
        if name not in project.services:
            continue
        keep.add(name)
        keep.update(n[1] for n in nx.ancestors(g, ("service", name)) if n[0] == "service")
    return keep


def dependents_closure(project: Project, names: Collection[str]) -> set[str]:
    """*names* and every service that depends on them, transitively (for stop/down order)."""
    g = build_graph(project)
    keep = set(names)
    for name in names:
        if ("service", name) in g:
            keep.update(n[1] for n in nx.descendants(g, ("service", name)) if n[0] == "service")
    return keep

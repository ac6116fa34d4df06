"""The project as a dependency graph: services, networks and volumes. Pure, stdlib only.

(networkx is not used: importing it cost ~200 ms of every command's start-up, and these projects
have tens of nodes.) An edge u -> v means "u must exist before v". Service-to-service edges carry
the depends_on condition (service_started, service_healthy, service_completed_successfully), whether the
dependency is required, and why it exists (depends_on, links, volumes_from, network_mode, ...).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable, Iterable, Mapping

from composer.errors import DependencyCycleError
from composer.project import Project
from runtime.record import record

Node = tuple[str, str]  # ("service" | "network" | "volume", key)
TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    import dataclasses
    from typing import Any, Final, TypeVar

    N = TypeVar("N", bound=Hashable)
else:
    from runtime.lazy import lazy

    dataclasses = lazy("dataclasses")  # replace() only for volumes_from and network_mode: ~12 ms CPU

STARTED: Final = "service_started"
HEALTHY: Final = "service_healthy"
COMPLETED: Final = "service_completed_successfully"


@record(kw_only=False)  # not @dataclass: that compiles 6 methods per class at import (FINDINGS F6)
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
        deps[name] = dataclasses.replace(deps.get(name, Dependency(name)), why="volumes_from")
    for key in ("network_mode", "ipc", "pid"):
        value = str(svc.get(key) or "")
        if value.startswith("service:"):
            name = value.split(":", 1)[1]
            # by id: recreated together
            deps[name] = dataclasses.replace(deps.get(name, Dependency(name)), why=key)
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


@record(kw_only=False)
class DepGraph:
    """Nodes in insertion order; succ[u][v] is the edge u -> v (its Dependency for service edges)."""

    succ: Mapping[Node, Mapping[Node, Dependency | None]]

    def __contains__(self, node: object) -> bool:
        return node in self.succ

    def pred(self) -> dict[Node, list[Node]]:
        out: dict[Node, list[Node]] = {n: [] for n in self.succ}
        for u, vs in self.succ.items():
            for v in vs:
                out[v].append(u)
        return out


def build_graph(project: Project) -> DepGraph:
    """The project's graph. Raises DependencyCycleError naming the cycle."""
    succ: dict[Node, dict[Node, Dependency | None]] = {}
    for key in project.networks:
        succ[("network", key)] = {}
    for key in project.volumes:
        succ[("volume", key)] = {}
    for name in project.services:
        succ[("service", name)] = {}
    for name, svc in project.services.items():
        for net in service_networks(project, svc):
            succ.setdefault(("network", net), {})[("service", name)] = None
        for vol in service_volumes(project, svc):
            succ.setdefault(("volume", vol), {})[("service", name)] = None
        for dep in service_dependencies(svc).values():
            if dep.service not in project.services:
                continue  # not enabled (profile) or optional: the planner decides
            succ[("service", dep.service)][("service", name)] = dep
    g = DepGraph(succ)
    _check_cycles(g)
    return g


def find_cycle(succ: Mapping[N, Iterable[N]]) -> list[N] | None:
    """A cycle of the directed graph *succ* as [a, b, ..., a], or None. Iterative DFS, linear.

    Nodes and edges are visited in insertion order, so the cycle named is stable: the first back
    edge found from the first node (as networkx's find_cycle, which this replaced).
    """
    state: dict[N, int] = {}  # 1 on the DFS stack, 2 done
    for root in succ:
        if root in state:
            continue
        path: list[N] = [root]
        its = [iter(succ.get(root, ()))]
        state[root] = 1
        while its:
            nxt = next(its[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                its.pop()
                continue
            s = state.get(nxt)
            if s == 1:
                cycle = path[path.index(nxt):]
                return [*cycle, nxt]
            if s is None:
                state[nxt] = 1
                path.append(nxt)
                its.append(iter(succ.get(nxt, ())))
    return None


def _check_cycles(g: DepGraph) -> None:
    # name it in "depends on" order: walk the edges backwards (service -> what it needs)
    cycle = find_cycle(g.pred())
    if cycle is None:
        return
    names = [v for _, v in cycle]
    raise DependencyCycleError("services", "dependency cycle: " + " -> ".join(names))


def service_order(project: Project) -> list[str]:
    """Services, dependencies first; ties broken by name so the order is stable."""
    g = build_graph(project)
    indegree = {n: 0 for n in g.succ if n[0] == "service"}
    for u, vs in g.succ.items():
        if u[0] == "service":
            for v in vs:
                indegree[v] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        n = heapq.heappop(ready)
        out.append(n[1])
        for v in g.succ[n]:
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(ready, v)
    return out


def _reach(edges: Mapping[Node, Iterable[Node]], start: Node) -> set[Node]:
    seen: set[Node] = set()
    todo = [start]
    while todo:
        for v in edges.get(todo.pop(), ()):
            if v not in seen:
                seen.add(v)
                todo.append(v)
    return seen


def dependency_closure(project: Project, names: Iterable[str]) -> set[str]:
    """*names* and every service they depend on, transitively."""
    g = build_graph(project)
    pred = g.pred()
    keep: set[str] = set()
    for name in names:
        if name not in project.services:
            continue
        keep.add(name)
        keep.update(n[1] for n in _reach(pred, ("service", name)) if n[0] == "service")
    return keep


def dependents_closure(project: Project, names: Collection[str]) -> set[str]:
    """*names* and every service that depends on them, transitively (for stop/down order)."""
    g = build_graph(project)
    keep = set(names)
    for name in names:
        if ("service", name) in g:
            keep.update(n[1] for n in _reach(g.succ, ("service", name)) if n[0] == "service")
    return keep

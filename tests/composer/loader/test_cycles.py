"""composer.graph without networkx: find_cycle, service_order and the closures agree with networkx (the
implementation they replaced, kept in the venv as the oracle) on generated dependency graphs."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer.errors import DependencyCycleError
from composer.graph import dependency_closure, dependents_closure, find_cycle, service_order
from composer.project import Project

NAMES = [f"s{i}" for i in range(8)]


@st.composite
def dependency_maps(draw: Any, acyclic: bool) -> dict[str, list[str]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True))
    deps: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        pool = names[:i] if acyclic else names
        deps[name] = draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []
    return deps


def _project(deps: dict[str, list[str]]) -> Project:
    services = {n: {"image": "x", "depends_on": {d: {"condition": "service_started"} for d in ds}}
                for n, ds in deps.items()}
    return Project(name="demo", working_dir="/w", config_files=("/w/compose.yaml",),
                   tree={"services": services})


def _nx(deps: dict[str, list[str]]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(deps)
    for n, ds in deps.items():
        g.add_edges_from((d, n) for d in ds)
    return g


@settings(max_examples=200, deadline=None)
@given(dependency_maps(acyclic=False))
def test_find_cycle_finds_a_cycle_exactly_when_networkx_does(deps: dict[str, list[str]]) -> None:
    cycle = find_cycle(deps)
    assert (cycle is None) == nx.is_directed_acyclic_graph(_nx(deps))
    if cycle is not None:
        assert cycle[0] == cycle[-1] and len(set(cycle[:-1])) == len(cycle) - 1
        assert all(b in deps[a] for a, b in zip(cycle, cycle[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(dependency_maps(acyclic=True))
def test_order_and_closures_match_networkx(deps: dict[str, list[str]]) -> None:
    p, g = _project(deps), _nx(deps)
    assert service_order(p) == list(nx.lexicographical_topological_sort(g))
    for name in deps:
        assert dependency_closure(p, [name]) == {name, *nx.ancestors(g, name)}
        assert dependents_closure(p, [name]) == {name, *nx.descendants(g, name)}


def test_cycle_is_named_in_depends_on_order() -> None:
    p = _project({"a": ["b"], "b": ["c"], "c": ["a"]})
    with pytest.raises(DependencyCycleError, match=r"^services: dependency cycle: a -> b -> c -> a$"):
        service_order(p)


def test_a_long_chain_is_linear() -> None:
    deps = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(20000)}
    assert find_cycle(deps) is None  # iterative: no recursion limit
    deps["s0"] = ["s19999"]
    cycle = find_cycle(deps)
    assert cycle is not None and len(cycle) == 20001

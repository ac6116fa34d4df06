from __future__ import annotations

import pytest

from composer.errors import ProfileError
from composer.loader.profiles import active_profiles, prune_resources, select_services

TREE = {
    "services": {
        "web": {"image": "w", "depends_on": {"db": {"condition": "service_started", "required": True}}},
        "db": {"image": "d"},
        "debug": {"image": "x", "profiles": ["dev"]},
        "tools": {"image": "t", "profiles": ["ops", "dev"]},
    }
}


def names(tree: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(tree["services"])


def test_services_with_profiles_are_disabled_by_default() -> None:
    sel = select_services(TREE, (), ())
    assert names(sel.tree) == ["db", "web"]
    assert sorted(sel.disabled) == ["debug", "tools"]


@pytest.mark.parametrize("profiles, expected", [
    (("dev",), ["db", "debug", "tools", "web"]), (("ops",), ["db", "tools", "web"]),
    (("*",), ["db", "debug", "tools", "web"]),
])
def test_active_profiles_enable_services(profiles: tuple[str, ...], expected: list[str]) -> None:
    assert names(select_services(TREE, profiles, ()).tree) == expected


def test_named_service_activates_its_profiles_and_narrows_to_its_dependencies() -> None:
    assert names(select_services(TREE, (), ("tools",)).tree) == ["tools"]
    assert names(select_services(TREE, (), ("web",)).tree) == ["db", "web"]


def test_unknown_named_service_is_an_error() -> None:
    with pytest.raises(ProfileError, match="no such service: nope"):
        select_services(TREE, (), ("nope",))


def test_required_dependency_on_disabled_service_is_an_error() -> None:
    tree = {"services": {"web": {"depends_on": {"db": {"required": True}}}, "db": {"profiles": ["x"]}}}
    with pytest.raises(ProfileError, match='services.web.depends_on: service "web" depends on service "db"'):
        select_services(tree, (), ())
    optional = {"services": {"web": {"depends_on": {"db": {"required": False}}}, "db": {"profiles": ["x"]}}}
    assert names(select_services(optional, (), ()).tree) == ["web"]


def test_profiles_come_from_flags_else_environment() -> None:
    assert active_profiles(("a", "b,c"), {"COMPOSE_PROFILES": "x"}) == ("a", "b", "c")
    assert active_profiles((), {"COMPOSE_PROFILES": "x, y"}) == ("x", "y")
    assert active_profiles((), {}) == ()


def test_unused_resources_are_pruned() -> None:
    tree = {
        "services": {"web": {"networks": {"front": None}, "volumes": [{"type": "volume", "source": "data"},
                                                                       {"type": "bind", "source": "/x"}],
                             "secrets": [{"source": "s"}]}},
        "networks": {"front": {}, "back": {}}, "volumes": {"data": {}, "old": {}},
        "secrets": {"s": {}, "t": {}}, "configs": {"c": {}},
    }
    assert prune_resources(tree) == {
        "services": tree["services"], "networks": {"front": {}}, "volumes": {"data": {}},
        "secrets": {"s": {}},
    }

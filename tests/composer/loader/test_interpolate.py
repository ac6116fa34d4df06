from __future__ import annotations

import pytest

from composer.errors import InterpolationError
from composer.loader.interpolate import TemplateError, Variable, interpolate, substitute, variables_in

ENV = {"SET": "value", "EMPTY": ""}


def sub(text: str) -> str:
    return substitute(text, ENV.get)


@pytest.mark.parametrize("text, expected", [
    ("${SET}", "value"), ("$SET", "value"), ("a$SET-b", "avalue-b"),
    ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"),
    ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}}", "value"), ("${UNSET:-${ALSO:-deep}}", "deep"), ("${UNSET:-a${SET}b}", "avalueb"),
    ("$$SET", "$SET"), ("$${SET}", "${SET}"), ("5$", "5$"), ("$1", "$1"), ("a $ b", "a $ b"),
    ("${SET?}", "value"), ("${EMPTY?}", ""), ("${UNSET}", ""),
])
def test_substitution_forms(text: str, expected: str) -> None:
    assert sub(text) == expected


def test_unused_default_is_not_evaluated() -> None:
    assert sub("${SET:-${UNSET:?boom}}") == "value"


@pytest.mark.parametrize("text, message", [
    ("${UNSET:?need it}", "required variable UNSET is missing a value: need it"),
    ("${EMPTY:?}", "required variable EMPTY is missing a value"),
    ("${UNSET?x}", "required variable UNSET is missing a value: x"),
])
def test_required_variables(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        sub(text)


@pytest.mark.parametrize("text", ["${", "${A B}", "${}", "${A:x}", "${A", "${A:-x"])
def test_malformed_templates(text: str) -> None:
    with pytest.raises(TemplateError):
        sub(text)


def test_values_only_never_keys_and_errors_name_the_path() -> None:
    tree = {"services": {"web": {"labels": {"${SET}": "${SET}"}, "ports": ["${SET}"]}}}
    assert interpolate(tree, ENV, "f.yaml") == {
        "services": {"web": {"labels": {"${SET}": "value"}, "ports": ["value"]}}}
    with pytest.raises(InterpolationError, match=r"^f.yaml: services.web.ports\[1\]: invalid interpolation"):
        interpolate({"services": {"web": {"ports": ["ok", "${"]}}}, ENV, "f.yaml")


def test_unset_variables_warn_once() -> None:
    warnings: list[str] = []
    interpolate({"a": "${NOPE}", "b": ["$NOPE"]}, ENV, "f.yaml", warnings)
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_non_strings_are_untouched() -> None:
    assert interpolate({"a": 1, "b": True, "c": None}, ENV, "f") == {"a": 1, "b": True, "c": None}


def test_variables_are_listed_with_defaults() -> None:
    found = variables_in({"a": "${A:-1} ${B:?err} ${C:+alt} $D ${E:-${F}}"})
    assert found["A"] == Variable("A", default="1")
    assert found["B"] == Variable("B", required=True)
    assert found["C"] == Variable("C", alternate="alt")
    assert found["D"] == Variable("D")
    assert set(found) == {"A", "B", "C", "D", "E", "F"}


def test_typed_paths_are_cast_after_interpolation() -> None:
    tree = {"services": {"web": {"deploy": {"replicas": "${N:-2}"}, "read_only": "${RO}", "cpus": "0.5",
                                 "ports": [{"target": "80"}], "environment": {"N": "${N:-2}"}}},
            "networks": {"n": {"external": "no"}}}
    out = interpolate(tree, {"RO": "true"}, "f.yaml")
    assert out["services"]["web"] == {"deploy": {"replicas": 2}, "read_only": True, "cpus": 0.5,
                                      "ports": [{"target": 80}], "environment": {"N": "2"}}
    assert out["networks"]["n"]["external"] is False


@pytest.mark.parametrize("tree, message", [
    ({"services": {"w": {"read_only": "maybe"}}}, "services.w.read_only: failed to cast to expected type"),
    ({"services": {"w": {"scale": "1_0"}}}, "services.w.scale: failed to cast"),
    ({"services": {"w": {"ports": [{"target": "x"}]}}}, r"services.w.ports\[0\].target: failed to cast"),
])
def test_uncastable_values_are_errors(tree: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InterpolationError, match=message):
        interpolate(tree, {}, "f.yaml")

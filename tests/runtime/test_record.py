"""runtime.record: the spec classes stay frozen keyword-only dataclasses without exec()."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import pickle
from typing import Any

import pytest

from runtime.record import record
from runtime.spec import ContainerSpec, Mount, PortMapping, RestartPolicy


@record
class Pair:
    a: int
    b: tuple[str, ...] = ()
    c: dict[str, str] = dataclasses.field(default_factory=dict)


def test_defaults_factories_and_required_fields() -> None:
    p = Pair(a=1)
    assert (p.a, p.b, p.c) == (1, (), {})
    assert Pair(a=1).c is not Pair(a=1).c  # a fresh dict each time
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'a'"):
        Pair()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        Pair(a=1, z=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Pair(1)  # type: ignore[call-arg]


@record(kw_only=False)
class Point:
    x: int
    y: int = 0


def test_positional_records_take_fields_in_order() -> None:
    assert Point(1, 2) == Point(x=1, y=2) and Point(1).y == 0
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        Point(1, 2, 3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]


def test_frozen_equal_hashable_and_readable() -> None:
    m = Mount(type="bind", target="/x", source="/y")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.target = "/z"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del m.source
    same = Mount(type="bind", target="/x", source="/y")
    assert m == same and hash(m) == hash(same) and len({m, same}) == 1
    assert m != Mount(type="bind", target="/x", source="/other")
    other: object = ("bind", "/x")
    assert m != other
    assert repr(PortMapping(container_port=80)) == (
        "PortMapping(container_port=80, host_port=0, protocol='tcp', host_ip='')")


def test_the_dataclasses_functions_work() -> None:
    spec = ContainerSpec(name="a", image="busybox", mounts=(Mount(type="tmpfs", target="/t"),))
    assert dataclasses.is_dataclass(spec)
    assert [f.name for f in dataclasses.fields(ContainerSpec)][:3] == ["name", "image", "command"]
    d = dataclasses.asdict(spec)
    assert d["mounts"][0]["target"] == "/t" and d["restart"] == {"name": "no", "max_retries": 0}
    other = dataclasses.replace(spec, name="b")
    assert other.name == "b" and other.mounts == spec.mounts and spec.name == "a"
    assert spec.restart == RestartPolicy()


def test_copy_and_pickle_round_trip() -> None:
    spec = ContainerSpec(name="a", image="busybox", env={"K": "V"})
    assert copy.deepcopy(spec) == spec
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_defining_a_record_executes_no_generated_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes a plain dataclass expensive: one exec() of generated source per method."""
    executed: list[Any] = []
    real = builtins.exec

    def counting(source: Any, *args: Any, **kw: Any) -> None:
        executed.append(source)
        real(source, *args, **kw)

    monkeypatch.setattr(builtins, "exec", counting)

    @record
    class Fresh:
        x: int
        y: str = ""

    assert executed == []
    assert Fresh(x=1) == Fresh(x=1, y="")
    dataclasses.dataclass(frozen=True)(type("Plain", (), {"__annotations__": {"x": "int"}}))
    assert executed  # the check can fail: a standard dataclass does exec

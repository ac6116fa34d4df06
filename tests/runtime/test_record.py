"""runtime.record: the spec classes stay frozen keyword-only dataclasses without exec()."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import pickle
import subprocess
import sys
from typing import Any, ClassVar

import pytest

from runtime.record import field, field_names, record
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


def test_defining_and_using_records_imports_no_dataclasses() -> None:
    """dataclasses imports inspect, ast, dis, tokenize (~12 ms CPU, FINDINGS F14): a command that
    only builds, compares and prints records never loads it; the first dataclasses question does."""
    code = (
        "import sys\n"
        "from runtime.record import field, field_names, record\n"
        "@record\n"
        "class R:\n"
        "    a: int\n"
        "    b: dict = field(default_factory=dict)\n"
        "    c: str = field(default='x')\n"
        "r = R(a=1)\n"
        "assert r == R(a=1, b={}, c='x') and repr(r) == \"R(a=1, b={}, c='x')\"\n"
        "assert field_names(R) == ('a', 'b', 'c') and R.c == 'x' and not hasattr(R, 'b')\n"
        "import runtime.spec, runtime.containers, composer.project\n"
        "print('dataclasses' in sys.modules, 'inspect' in sys.modules)\n"
        "import dataclasses as d\n"
        "print([(f.name, f.default is d.MISSING, f.default_factory is d.MISSING) for f in d.fields(r)],\n"
        "      d.fields(r)[1].default_factory is dict, d.fields(r)[2].default)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "False False", "[('a', True, True), ('b', True, False), ('c', False, True)] True x"]


def test_the_fields_are_the_ones_a_dataclass_would_have() -> None:
    @record(kw_only=False)
    class Mine:
        x: int
        y: tuple[str, ...] = ()
        z: dict[str, str] = field(default_factory=dict)

    @dataclasses.dataclass(frozen=True)
    class Theirs:
        x: int
        y: tuple[str, ...] = ()
        z: dict[str, str] = dataclasses.field(default_factory=dict)

    def shape(cls: Any) -> list[tuple[Any, ...]]:
        return [(f.name, f.type, f.default, f.default_factory, f.init, f.kw_only)
                for f in dataclasses.fields(cls)]

    assert shape(Mine) == shape(Theirs)
    assert Mine.__match_args__ == Theirs.__match_args__ == ("x", "y", "z")
    assert dataclasses.replace(Mine(1), z={"k": "v"}) == Mine(1, (), {"k": "v"})
    assert dataclasses.asdict(Mine(1, ("a",))) == {"x": 1, "y": ("a",), "z": {}}
    assert field_names(Mine) == ("x", "y", "z")


def test_what_a_dataclass_refuses_a_record_refuses() -> None:
    with pytest.raises(ValueError, match="mutable default <class 'list'> for field x"):
        @record
        class Shared:
            x: list[int] = []  # noqa: RUF012 - the mistake under test

    with pytest.raises(TypeError, match="non-default argument 'y' follows default argument"):
        @record(kw_only=False)
        class Order:
            x: int = 0
            y: int

    with pytest.raises(TypeError, match="ClassVar"):
        @record
        class Counted:
            n: ClassVar[int] = 0

    with pytest.raises(TypeError, match="no base record"):
        @record
        class Sub(Pair):
            d: int = 0

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=list)


def test_a_record_is_made_while_another_thread_imports_dataclasses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record class defined while dataclasses is half imported by another thread (in
    sys.modules, Field not yet defined): `up`'s worker threads import lazily, and one such class
    once failed with "partially initialized module 'dataclasses' has no attribute 'Field'"."""
    import types

    monkeypatch.setitem(sys.modules, "dataclasses", types.ModuleType("dataclasses"))

    @record
    class Half:
        a: int = 1
        b: tuple[int, ...] = ()

    assert Half(a=2).a == 2 and Half().b == ()

"""``@record``: a frozen, keyword-only dataclass whose methods are built without exec().

``dataclass(frozen=True, kw_only=True)`` generates ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` as source text and compiles each one: ~1.5 ms per
class, ~30 ms CPU for runtime.spec, paid by every command before it does anything (FINDINGS F6).
Here the standard decorator only collects the fields (with every generated method switched off it
compiles nothing) and the methods are shared closures over the field names. The class stays a
real dataclass: ``dataclasses.fields``, ``asdict``, ``replace`` and ``is_dataclass`` work on it,
instances compare and hash by value and refuse assignment with ``FrozenInstanceError``.
``__init__`` fills the instance dict in bulk (3.6 us for a ContainerSpec, 8.3 us generated). No
``__slots__``: making them needs a second class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, kw_only: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(kw_only_default=True, frozen_default=True,
                     field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T] | None = None, /, *, kw_only: bool = True) -> Any:
    """Make *cls* a frozen dataclass, keyword-only unless ``@record(kw_only=False)`` (then fields
    may also be passed by position, in declaration order). No ``__post_init__``, no inheritance."""
    if cls is None:
        return lambda c: _make(c, kw_only)
    return _make(cls, kw_only)


def _make(cls: type[T], kw_only: bool) -> type[T]:
    if cls.__doc__ is None:  # else dataclass() makes one from inspect.signature (tokenize: ~15 ms)
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', {}))})"
    cls = dataclasses.dataclass(init=False, repr=False, eq=False, kw_only=kw_only)(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in fields)
    defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
    factories: tuple[tuple[str, Any], ...] = tuple(
        (f.name, f.default_factory) for f in fields if f.default_factory is not _MISSING)
    required = tuple(f.name for f in fields if f.default is _MISSING and f.default_factory is _MISSING)
    known = frozenset(names)
    qualname = cls.__qualname__
    values: Callable[[Any], tuple[Any, ...]] = (
        attrgetter(*names) if len(names) > 1 else (lambda o: (getattr(o, names[0]),))
    )

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        if args:
            if kw_only or len(args) > len(names):
                most = 1 if kw_only else len(names) + 1
                raise TypeError(f"{qualname}.__init__() takes {most} positional arguments but "
                                f"{len(args) + 1} were given")
            for name, value in zip(names, args, strict=False):
                if name in kw:
                    raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
                kw[name] = value
        if not known.issuperset(kw):
            extra = next(k for k in kw if k not in known)
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {extra!r}")
        for name in required:
            if name not in kw:
                raise TypeError(f"{qualname}.__init__() missing 1 required keyword-only argument: {name!r}")
        # straight into the instance dict (no __slots__): __setattr__ refuses, and a dict update
        # is 4x faster than one object.__setattr__ per field
        d = self.__dict__
        d.update(defaults)
        for name, factory in factories:
            if name not in kw:
                d[name] = factory()
        d.update(kw)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(names, values(self), strict=True))
        return f"{qualname}({inner})"

    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return values(self) == values(other)

    def __hash__(self: Any) -> int:
        return hash(values(self))

    def __setattr__(self: Any, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    for fn in (__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__):
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    return cls

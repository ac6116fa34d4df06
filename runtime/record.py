"""``@record``: a frozen, keyword-only dataclass whose methods are built without exec().

``dataclass(frozen=True, kw_only=True)`` generates ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` as source text and compiles each one: ~1.5 ms per
class, ~30 ms CPU for runtime.spec, paid by every command before it does anything (FINDINGS F6).
Here the fields are read from the class body and the methods are shared closures over the field
names. Not even the ``dataclasses`` module is imported to define a record (it imports ``inspect``,
``ast``, ``dis``, ``tokenize``: ~12 ms CPU, FINDINGS F14): the class stays a real dataclass all the
same, because its ``__dataclass_fields__`` are made by ``dataclasses.dataclass`` the first time
anyone reads them, so ``dataclasses.fields``, ``asdict``, ``replace`` and ``is_dataclass`` work on
it. Instances compare and hash by value and refuse assignment with ``FrozenInstanceError``.
``__init__`` fills the instance dict in bulk (3.6 us for a ContainerSpec, 8.3 us generated). No
``__slots__``: making them needs a second class. Use ``field`` from here (or ``dataclasses.field``
where dataclasses is imported anyway) for factories.
"""

from __future__ import annotations

import sys
from operator import attrgetter

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    # and collections (~1.7 ms) not before `container run` spawned its monitor (cli/run_ahead.py)
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform, overload

    T = TypeVar("T")
else:
    def dataclass_transform(**_):  # noqa: ANN003, ANN202 - a marker for type checkers only
        return lambda decorated: decorated


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


class Field:
    """What ``field()`` leaves in a class body for ``@record`` to read (dataclasses.field's role)."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default, self.default_factory = default, default_factory


if TYPE_CHECKING:
    @overload
    def field(*, default: T) -> T: ...
    @overload
    def field(*, default_factory: Callable[[], T]) -> T: ...


def field(*, default: Any = _MISSING, default_factory: Any = _MISSING) -> Any:
    """A record field with a *default* or a *default_factory* (``dataclasses.field`` without the
    import; only these two arguments)."""
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory)


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of record class *cls*, in order (``dataclasses.fields`` without the import)."""
    return cls.__dict__["__record_fields__"]  # type: ignore[no-any-return]


if TYPE_CHECKING:
    @overload
    def record(cls: type[T], /) -> type[T]: ...
    @overload
    def record(*, kw_only: bool = True) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field, Field))
def record(cls: type[T] | None = None, /, *, kw_only: bool = True) -> Any:
    """Make *cls* a frozen dataclass, keyword-only unless ``@record(kw_only=False)`` (then fields
    may also be passed by position, in declaration order). No ``__post_init__``, no inheritance."""
    if cls is None:
        return lambda c: _make(c, kw_only)
    return _make(cls, kw_only)


class _DataclassAttribute:
    """``__dataclass_fields__`` and ``__dataclass_params__`` until first read: then the real ones,
    made by ``dataclasses.dataclass`` over a copy of the class body, replace both."""

    def __init__(self, name: str, kw_only: bool, body: dict[str, Any]) -> None:
        self.name, self.kw_only, self.body = name, kw_only, body

    def __get__(self, obj: object, owner: type) -> Any:
        import dataclasses

        body = {k: _as_dataclass_field(v) if isinstance(v, Field) else v for k, v in self.body.items()}
        shadow: type = dataclasses.dataclass(init=False, repr=False, eq=False, kw_only=self.kw_only)(
            type(owner.__name__, (), body))
        for name in ("__dataclass_fields__", "__dataclass_params__"):
            setattr(owner, name, shadow.__dict__[name])
        return owner.__dict__[self.name]


def _as_dataclass_field(f: Field) -> Any:
    import dataclasses

    if f.default_factory is not _MISSING:
        return dataclasses.field(default_factory=f.default_factory)
    return dataclasses.field(default=f.default)


def _unpack(value: object) -> tuple[Any, Any] | None:
    """(default, factory) of a field() in a class body, each _MISSING when not given; else None."""
    if isinstance(value, Field):
        return value.default, value.default_factory
    # a dataclasses.Field exists only once that is imported; another thread may be importing it
    # now (in sys.modules, Field not yet defined: then no field() of it can be in a class body)
    dc_field = getattr(sys.modules.get("dataclasses"), "Field", None)
    if dc_field is None or not isinstance(value, dc_field):
        return None
    dc = sys.modules["dataclasses"]
    return (_MISSING if value.default is dc.MISSING else value.default,
            _MISSING if value.default_factory is dc.MISSING else value.default_factory)


def _make(cls: type[T], kw_only: bool) -> type[T]:
    if "__dataclass_fields__" in cls.__dict__ or any(hasattr(b, "__record_fields__") for b in cls.__mro__):
        raise TypeError(f"record {cls.__qualname__}: records take no base record and no second decorator")
    if cls.__doc__ is None:  # as dataclass() would say it, without inspect.signature
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', {}))})"
    annotations: dict[str, Any] = dict(cls.__dict__.get("__annotations__", {}))
    body: dict[str, Any] = {"__annotations__": annotations, "__module__": cls.__module__,
                            "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    names: list[str] = []
    defaults: dict[str, Any] = {}
    factory_list: list[tuple[str, Any]] = []
    required_list: list[str] = []
    for name, annotation in annotations.items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if text.split("[")[0].rsplit(".")[-1] in ("ClassVar", "InitVar", "KW_ONLY"):
            raise TypeError(f"record {cls.__qualname__}: field {name!r}: {text} is not supported")
        names.append(name)
        default = cls.__dict__.get(name, _MISSING)
        factory = _MISSING
        if default is not _MISSING:
            body[name] = default
            unpacked = _unpack(default)
            if unpacked is not None:  # as dataclass(): the class attribute becomes the plain default
                default, factory = unpacked
                if default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, default)
        if factory is not _MISSING:
            factory_list.append((name, factory))
        elif default is _MISSING:
            if not kw_only and (defaults or factory_list):
                raise TypeError(f"non-default argument {name!r} follows default argument")
            required_list.append(name)
        elif default.__class__.__hash__ is None:  # as dataclasses: one list/dict/set for all
            raise ValueError(f"mutable default {type(default)} for field {name} is not allowed: "
                             "use default_factory")
        else:
            defaults[name] = default
    factories, required, known = tuple(factory_list), tuple(required_list), frozenset(names)
    for attribute in ("__dataclass_fields__", "__dataclass_params__"):
        setattr(cls, attribute, _DataclassAttribute(attribute, kw_only, body))
    cls.__record_fields__ = tuple(names)  # type: ignore[attr-defined]
    if "__match_args__" not in cls.__dict__:
        setattr(cls, "__match_args__", () if kw_only else tuple(names))  # noqa: B010 - mypy refuses the plain form
    qualname = cls.__qualname__
    values: Callable[[Any], tuple[Any, ...]] = (
        attrgetter(*names) if len(names) > 1
        else (lambda o: (getattr(o, names[0]),)) if names else (lambda o: ())
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
        raise _frozen(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise _frozen(f"cannot delete field {name!r}")

    for fn in (__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__):
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    return cls


def _frozen(message: str) -> Exception:
    import dataclasses

    return dataclasses.FrozenInstanceError(message)

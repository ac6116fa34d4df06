"""A container's spec as the JSON of its state row, and back: spec_to_json and spec_from_json.

Records are written out without dataclasses (asdict) and read back by the stored keys, not by
the ~50 fields: every `ps` decodes each listed container's spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runtime import spec as S
from runtime.json_accel import dumps, loads
from runtime.record import field_names
from runtime.spec import ContainerSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any, Final


def spec_to_json(spec: ContainerSpec) -> dict[str, Any]:
    out: dict[str, Any] = loads(dumps(asdict(spec)))  # tuples -> lists
    return out


def asdict(obj: Any) -> Any:
    """``dataclasses.asdict`` of a record (records, tuples, lists and dicts inside it), without
    importing dataclasses: its inspect, ast, dis and tokenize cost ~13 ms CPU of every create (F16)."""
    names = getattr(type(obj), "__record_fields__", None)
    if names is not None:
        return {n: asdict(getattr(obj, n)) for n in names}
    if isinstance(obj, (tuple, list)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj


def _tup(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _pairs(v: Mapping[str, Any]) -> dict[str, Any]:
    """Lists of pairs (blkio's (path, rate)) back to tuples of tuples."""
    return {k: tuple(tuple(d) for d in x) if isinstance(x, list) else x for k, x in v.items()}


# the fields that are not a plain value or a list of them (a list becomes a tuple)
_FROM_JSON: Final[dict[str, Callable[[Any], Any]]] = {
    "mounts": lambda v: tuple(S.Mount(**m) for m in v),
    "networks": lambda v: tuple(S.NetworkAttachment(**{k: _tup(x) for k, x in a.items()}) for a in v),
    "ports": lambda v: tuple(S.PortMapping(**p) for p in v),
    "restart": lambda v: S.RestartPolicy(**v),
    "resources": lambda v: S.Resources(**_pairs(v)),
    "healthcheck": lambda v: None if v is None else S.Healthcheck(**{k: _tup(x) for k, x in v.items()}),
    "ulimits": lambda v: {k: tuple(x) for k, x in v.items()},
    "extra_hosts": lambda v: tuple(tuple(x) for x in v),
}


_SPEC_FIELDS: Final = frozenset(field_names(ContainerSpec))


def spec_from_json(d: Mapping[str, Any]) -> ContainerSpec:
    # by the stored keys, not the ~50 fields: every `ps` decodes each listed container's spec
    known = _SPEC_FIELDS
    kw: dict[str, Any] = {}
    for name, v in d.items():
        convert = _FROM_JSON.get(name)
        if convert is not None:
            kw[name] = convert(v)
        elif name in known:
            kw[name] = tuple(v) if isinstance(v, list) else v
    return ContainerSpec(**kw)


# the room a container's attributes may take in an event line (runtime.logs.EVENT_LINE_MAX is 4096:
# the rest is the time, id, action and the action's own attributes)
EVENT_ATTRS_MAX: Final = 3500


def event_attrs(doc: Mapping[str, Any]) -> str:
    """A container's event attributes as docker's daemon gives them (its labels, then image and
    name), encoded once as JSON members without braces for runtime.logs.append_event. Labels too
    long for one event line are left out, the longest first."""
    attrs = {str(k): str(v) for k, v in (doc.get("labels") or {}).items()}
    fixed = {"image": str(doc.get("image") or ""), "name": str(doc.get("name") or "")}
    while True:
        text = dumps({**attrs, **fixed}, separators=(",", ":"))[1:-1]

        if len(text) <= EVENT_ATTRS_MAX or not attrs:
            return text
        del attrs[max(attrs, key=lambda k: len(k) + len(attrs[k]))]

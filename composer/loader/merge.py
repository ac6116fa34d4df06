"""Merge compose trees (the `-f` files, extends, include) by the compose-spec merge rules.

The default strategy merges mappings and appends sequences; the special cases live in MERGE_RULES,
keyed by tree path (`*` matches one key). After merging, sequences in UNIQUE are de-duplicated by
their key (a port's address, a volume's target, an environment variable's name): the later entry
wins and keeps the place of the first. `!reset` removes a key, `!override` replaces instead of
merging. Inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Callable

from composer.errors import MergeError
from composer.loader.markers import Override, Reset, strip_markers

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["MERGE_RULES", "UNIQUE", "enforce_unicity", "go_str", "merge", "merge_all", "path_matches"]

Tree = dict[str, "Any"]
Path = tuple[str, ...]
Merger = Callable[["Any", "Any", Path], "Any"]


def go_str(value: Any) -> str:
    """Format a scalar the way Go's %v does for YAML-decoded values (true, 1, 1.5)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def path_matches(path: Path, pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(path) and all(p in ("*", k) for p, k in zip(parts, path, strict=True))


def _compile(table: dict[str, Any]) -> dict[int, list[tuple[tuple[str, ...], Any]]]:
    """Rules grouped by path length, so a lookup only tries the patterns that can match."""
    out: dict[int, list[tuple[tuple[str, ...], Any]]] = {}
    for pattern, value in table.items():
        parts = tuple(pattern.split("."))
        out.setdefault(len(parts), []).append((parts, value))
    return out


def _lookup(compiled: dict[int, list[tuple[tuple[str, ...], Any]]], path: Path) -> Any:
    for parts, value in compiled.get(len(path), ()):
        if all(p == "*" or p == k for p, k in zip(parts, path, strict=True)):
            return value
    return None


def _where(path: Path) -> str:
    return ".".join(path)


# -- special mergers --------------------------------------------------------------------------

def _replace(base: Any, override: Any, path: Path) -> Any:
    return override


def _to_sequence(value: Any) -> list[Any]:
    """A mapping becomes sorted `k=v` items (`k` when null); a list stays; a scalar is one item."""
    if isinstance(value, dict):
        seq: list[Any] = []
        for k, v in value.items():
            if v is None:
                seq.append(k)
            elif isinstance(v, list):
                seq.extend(f"{k}={go_str(x)}" for x in v)
            else:
                seq.append(f"{k}={go_str(v)}")
        return sorted(seq, key=str)
    if isinstance(value, list):
        return list(value)
    if value is None:
        return []
    return [value]


def _merge_to_sequence(base: Any, override: Any, path: Path) -> Any:
    return _to_sequence(base) + _to_sequence(override)


def _merge_extra_hosts(base: Any, override: Any, path: Path) -> Any:
    left = _to_sequence(base)
    return left + [v for v in _to_sequence(override) if v not in left]


def _to_mapping(value: Any, default: dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return {str(s): (dict(default) if default is not None else None) for s in value}
    return {}


_DEPENDS_DEFAULT: Final = {"condition": "service_started", "required": True}


def _merge_depends_on(base: Any, override: Any, path: Path) -> Any:
    return _merge_mappings(_to_mapping(base, _DEPENDS_DEFAULT), _to_mapping(override, _DEPENDS_DEFAULT), path)


def _merge_as_mapping(base: Any, override: Any, path: Path) -> Any:
    return _merge_mappings(_to_mapping(base, None), _to_mapping(override, None), path)


def _merge_build(base: Any, override: Any, path: Path) -> Any:
    def as_build(v: Any) -> dict[str, Any]:
        return {"context": v} if isinstance(v, str) else dict(v) if isinstance(v, dict) else {}
    return _merge_mappings(as_build(base), as_build(override), path)


def _merge_logging(base: Any, override: Any, path: Path) -> Any:
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    # options merge only when both files name the same driver (or one names none)
    if "driver" not in base or "driver" not in override or base["driver"] == override["driver"]:
        return _merge_mappings(base, override, path)
    return strip_markers(override)


def _merge_ipam_config(base: Any, override: Any, path: Path) -> Any:
    if not isinstance(base, list) or not isinstance(override, list):
        return override
    out: list[Any] = [dict(b) if isinstance(b, dict) else b for b in base]
    for item in override:
        subnet = item.get("subnet") if isinstance(item, dict) else None
        for i, existing in enumerate(out):
            if isinstance(existing, dict) and isinstance(item, dict) and existing.get("subnet") == subnet:
                out[i] = _merge_mappings(existing, item, path)
                break
        else:
            out.append(strip_markers(item))
    return out


MERGE_RULES: Final[dict[str, Merger]] = {
    "networks.*.ipam.config": _merge_ipam_config,
    "networks.*.labels": _merge_to_sequence,
    "volumes.*.labels": _merge_to_sequence,
    "services.*.annotations": _merge_to_sequence,
    "services.*.build": _merge_build,
    "services.*.build.args": _merge_to_sequence,
    "services.*.build.additional_contexts": _merge_to_sequence,
    "services.*.build.extra_hosts": _merge_extra_hosts,
    "services.*.build.labels": _merge_to_sequence,
    "services.*.command": _replace,
    "services.*.depends_on": _merge_depends_on,
    "services.*.deploy.labels": _merge_to_sequence,
    "services.*.dns": _merge_to_sequence,
    "services.*.dns_opt": _merge_to_sequence,
    "services.*.dns_search": _merge_to_sequence,
    "services.*.entrypoint": _replace,
    "services.*.env_file": _merge_to_sequence,
    "services.*.label_file": _merge_to_sequence,
    "services.*.environment": _merge_to_sequence,
    "services.*.extra_hosts": _merge_extra_hosts,
    "services.*.healthcheck.test": _replace,
    "services.*.labels": _merge_to_sequence,
    "services.*.volumes.*.volume.labels": _merge_to_sequence,
    "services.*.logging": _merge_logging,
    "services.*.models": _merge_as_mapping,
    "services.*.networks": _merge_as_mapping,
    "services.*.sysctls": _merge_to_sequence,
    "services.*.tmpfs": _merge_to_sequence,
    "services.*.ulimits.*": _replace,
}


# -- the generic walk -------------------------------------------------------------------------

def _merge_node(base: Any, override: Any, path: Path) -> Any:
    if isinstance(override, Override):
        return strip_markers(override.value)
    merger = _lookup(_MERGE_RULES, path)
    if merger is not None:
        if merger is _replace:  # even a null replaces (`command: null` unsets the command)
            return strip_markers(override)
        if base is None:
            return strip_markers(override)
        if override is None:
            return base
        return merger(base, override, path)
    if override is None:
        return base
    if isinstance(base, dict):
        if not isinstance(override, dict):
            raise MergeError(_where(path), f"cannot override a mapping with {_kind(override)}")
        return _merge_mappings(base, override, path)
    if isinstance(base, list):
        if not isinstance(override, list):
            raise MergeError(_where(path), f"cannot override a sequence with {_kind(override)}")
        return base + strip_markers(override)
    return strip_markers(override)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a sequence"
    return f"the scalar {value!r}"


def _merge_mappings(base: dict[str, Any], override: dict[str, Any], path: Path) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif key not in out:
            out[key] = strip_markers(value)
        else:
            out[key] = _merge_node(out[key], value, (*path, key))
    return out


def merge(base: Tree, override: Tree) -> Tree:
    """Apply one override tree on top of *base*. Returns a new tree, de-duplicated (see UNIQUE).

    Raises:
        MergeError: a mapping overridden by a sequence or scalar, and the like.
    """
    return enforce_unicity(_merge_mappings(base, override, ()))


def merge_all(trees: list[Tree]) -> Tree:
    """Merge *trees* in order (the first is the base)."""
    out: Tree = {}
    for tree in trees:
        out = merge(out, tree)
    return out


# -- unicity ----------------------------------------------------------------------------------

Indexer = Callable[["Any"], str]


def _kv_key(item: Any) -> str:
    return str(item).split("=", 1)[0] if isinstance(item, str) else go_str(item)


def _target_key(item: Any) -> str:
    """A volume or device entry's container path: long syntax's target, short SOURCE:TARGET[:MODE]."""
    if isinstance(item, dict):
        return str(item.get("target", ""))
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return ""


def _port_key(item: Any) -> str:
    """The address a port entry publishes, short or long syntax alike."""
    if isinstance(item, dict):
        return (f"{item.get('host_ip', '0.0.0.0')}:{go_str(item.get('published', ''))}:"
                f"{go_str(item.get('target'))}/{item.get('protocol', 'tcp')}")
    if isinstance(item, int | float):
        return f"0.0.0.0::{go_str(item)}/tcp"
    if not isinstance(item, str):
        return repr(item)
    text, _, proto = item.partition("/")
    proto = proto or "tcp"
    if "-" in text:  # ranges expand to several ports; keep them as written
        return f"{item}"
    if text.count(":") > 2 or "[" in text:  # IPv6 host address
        host, _, rest = text.rpartition("]:") if "]:" in text else ("", "", text)
        published, _, target = rest.rpartition(":")
        return f"{host.lstrip('[')}:{published}:{target}/{proto}"
    parts = text.split(":")
    if len(parts) == 1:
        return f"0.0.0.0::{parts[0]}/{proto}"
    if len(parts) == 2:
        return f"0.0.0.0:{parts[0]}:{parts[1]}/{proto}"
    return f"{parts[0] or '0.0.0.0'}:{parts[1]}:{parts[2]}/{proto}"


def _mount_key(default_dir: str) -> Indexer:
    def key(item: Any) -> str:
        if isinstance(item, dict):
            if "target" in item:
                return str(item["target"])
            return f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"
    return key


def _env_file_key(item: Any) -> str:
    return str(item.get("path", "")) if isinstance(item, dict) else str(item)


UNIQUE: Final[dict[str, Indexer]] = {
    "networks.*.labels": _kv_key,
    "networks.*.ipam.options": _kv_key,
    "services.*.annotations": _kv_key,
    "services.*.build.args": _kv_key,
    "services.*.build.additional_contexts": _kv_key,
    "services.*.build.platforms": _kv_key,
    "services.*.build.tags": _kv_key,
    "services.*.build.labels": _kv_key,
    "services.*.cap_add": _kv_key,
    "services.*.cap_drop": _kv_key,
    "services.*.devices": _target_key,
    "services.*.configs": _mount_key(""),
    "services.*.deploy.labels": _kv_key,
    "services.*.dns": _kv_key,
    "services.*.dns_opt": _kv_key,
    "services.*.dns_search": _kv_key,
    "services.*.environment": _kv_key,
    "services.*.env_file": _env_file_key,
    "services.*.expose": go_str,
    "services.*.labels": _kv_key,
    "services.*.links": _kv_key,
    "services.*.networks.*.aliases": _kv_key,
    "services.*.networks.*.link_local_ips": _kv_key,
    "services.*.ports": _port_key,
    "services.*.profiles": _kv_key,
    "services.*.secrets": _mount_key("/run/secrets"),
    "services.*.sysctls": _kv_key,
    "services.*.tmpfs": _kv_key,
    "services.*.volumes": _target_key,
}


_MERGE_RULES: Final = _compile(MERGE_RULES)
_UNIQUE: Final = _compile(UNIQUE)


def enforce_unicity(tree: Tree) -> Tree:
    """Drop redefinitions in keyed sequences: the last definition wins, at the first's place."""
    return _unique(tree, ())  # type: ignore[no-any-return]


def _unique(node: Any, path: Path) -> Any:
    if isinstance(node, dict):
        return {k: _unique(v, (*path, k)) for k, v in node.items()}
    if isinstance(node, list):
        indexer = _lookup(_UNIQUE, path)
        if indexer is not None:
            seq: list[Any] = []
            index: dict[str, int] = {}
            for entry in node:
                key = indexer(entry)
                if key in index:
                    seq[index[key]] = entry
                else:
                    index[key] = len(seq)
                    seq.append(entry)
            return seq
    return node

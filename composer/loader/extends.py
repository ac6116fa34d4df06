"""`extends`: a service starts from another (same file or another file) and is merged on top of it.

Chains are followed; a cycle is an error naming it. A base service from another file has its relative
paths rebased on that file's directory, so they keep meaning what they meant there. Reading another
file goes through *read_tree* (parse + interpolate, given by the caller): this module does no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from composer.errors import ExtendsError
from composer.loader.canonical import is_windows_abs
from composer.loader.markers import Override, Reset, strip_markers
from composer.loader.merge import _merge_node, enforce_unicity

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["apply_extends", "rebase_service_paths"]

Tree = dict[str, "Any"]
ReadTree = Callable[[str], Tree]  # absolute path -> interpolated tree


def apply_extends(tree: Tree, source: str, read_tree: ReadTree) -> Tree:
    """Resolve every `extends` in *tree* (the file *source*). Returns a new tree.

    Raises:
        ExtendsError: an unknown base service or file, or a cycle.
    """
    services = tree.get("services")
    if not isinstance(services, dict) or not any(
            isinstance(s, dict) and "extends" in s for s in services.values()):
        return tree
    cache: dict[str, Tree] = {source: tree}
    resolved = {
        name: _resolve(name, svc, source, tree, read_tree, cache, [(name, source)])
        if isinstance(svc, dict) and "extends" in svc else svc
        for name, svc in services.items()
    }
    return {**tree, "services": resolved}


def _resolve(name: str, service: Tree, source: str, tree: Tree, read_tree: ReadTree,
             cache: dict[str, Tree], chain: list[tuple[str, str]]) -> Tree:
    ext = service.get("extends")
    if isinstance(ext, Override | Reset):
        ext = ext.value
    where = f"{source}: services.{name}.extends"
    if isinstance(ext, str):
        base_name, base_file = ext, None
    elif isinstance(ext, dict) and isinstance(ext.get("service"), str):
        base_name, base_file = ext["service"], ext.get("file")
    else:
        raise ExtendsError(where, "expected a service name or a mapping with service (and file)")
    if base_file is not None and not isinstance(base_file, str):
        raise ExtendsError(where, "file must be a string")
    base_source = source
    base_tree = tree
    if base_file is not None:  # "" too: docker compose reads the directory, and fails
        base_source = os.path.normpath(os.path.join(_dir_of(source), base_file))
        if base_source not in cache:
            try:
                cache[base_source] = read_tree(base_source)
            except FileNotFoundError:
                raise ExtendsError(where, f"cannot read {base_source}: no such file") from None
            except IsADirectoryError:
                raise ExtendsError(where, f"cannot read {base_source}: is a directory; "
                                          "expected a compose file") from None
        base_tree = cache[base_source]
    base_services = base_tree.get("services")
    base = base_services.get(base_name) if isinstance(base_services, dict) else None
    if not isinstance(base, dict):
        raise ExtendsError(f"{source}: services.{name}", f'cannot extend service "{name}": service '
                                                        f'"{base_name}" not found in {base_source}')
    link = (base_name, base_source)
    if link in chain:
        cycle = " -> ".join(n for n, _ in [*chain[chain.index(link):], link])
        raise ExtendsError(where, f"circular reference: extends cycle {cycle}")
    if "extends" in base:
        base = _resolve(base_name, base, base_source, base_tree, read_tree, cache, [*chain, link])
    base = strip_markers(base)
    if base_source != source and _dir_of(base_source) != _dir_of(source):
        base = rebase_service_paths(base, _dir_of(base_source))
    own = {k: v for k, v in service.items() if k != "extends"}
    merged = _merge_node(base, own, ("services", name))
    return enforce_unicity({"services": {name: merged}})["services"][name]  # type: ignore[no-any-return]


def _dir_of(source: str) -> str:
    return os.path.dirname(source) if source not in ("-", "") else "."


def _abs(base_dir: str, path: str) -> str:
    if os.path.isabs(path) or path.startswith("~") or "://" in path:
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def _is_local_path(path: str) -> bool:
    return path.startswith((".", "/", "~")) or path in (".", "..")


def rebase_service_paths(service: Tree, base_dir: str) -> Tree:
    """Make a service's relative paths absolute against *base_dir* (build, env_file, binds, ...)."""
    out = dict(service)
    build = out.get("build")
    if isinstance(build, str) and "://" not in build and not build.startswith("git@"):
        out["build"] = _abs(base_dir, build)
    elif isinstance(build, dict) and isinstance(build.get("context"), str):
        ctx = build["context"]
        if "://" not in ctx and not ctx.startswith("git@"):
            out["build"] = {**build, "context": _abs(base_dir, ctx)}
    elif isinstance(build, dict) and "context" not in build:
        out["build"] = {**build, "context": base_dir}
    env_file = out.get("env_file")
    if isinstance(env_file, str):
        out["env_file"] = _abs(base_dir, env_file)
    elif isinstance(env_file, list):
        out["env_file"] = [
            _abs(base_dir, e) if isinstance(e, str)
            else {**e, "path": _abs(base_dir, e["path"])}
            if isinstance(e, dict) and isinstance(e.get("path"), str)
            else e
            for e in env_file
        ]
    for key in ("label_file",):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _abs(base_dir, value)
        elif isinstance(value, list):
            out[key] = [_abs(base_dir, v) if isinstance(v, str) else v for v in value]
    volumes = out.get("volumes")
    if isinstance(volumes, list):
        rebased: list[Any] = []
        for v in volumes:
            if isinstance(v, str):
                src, sep, rest = v.partition(":")
                if sep and _is_local_path(src):
                    v = f"{_abs(base_dir, src)}:{rest}"
            elif (isinstance(v, dict) and v.get("type", "volume") == "bind"
                  and isinstance(v.get("source"), str) and not is_windows_abs(v["source"])):
                v = {**v, "source": _abs(base_dir, v["source"])}
            rebased.append(v)
        out["volumes"] = rebased
    return out

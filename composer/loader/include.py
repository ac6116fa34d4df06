"""`include`: other compose projects pulled into this one, each loaded on its own terms (its own
project directory and `.env`), with relative paths made absolute against its directory.

A resource the including file also defines is a conflict unless both definitions are equal. Loading an
included project is the caller's job (*load_included*), so this module stays pure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from composer.errors import IncludeError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["IncludeSpec", "RESOURCES", "apply_include", "parse_include"]

Tree = dict[str, "Any"]
RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    paths: tuple[str, ...]          # absolute
    project_directory: str          # absolute
    env_files: tuple[str, ...]      # absolute; explicit ones must exist
    explicit_env: bool
    where: str = field(default="", compare=False)  # "<file>: include[i]", for errors about it


# (spec, chain of including files) -> the included project's tree, paths already absolute
LoadIncluded = Callable[[IncludeSpec], Tree]


def parse_include(entries: Any, source: str, base_dir: str) -> list[IncludeSpec]:
    """Read the `include` section (short and long syntax) of the file *source*.

    Raises:
        IncludeError: an entry that is neither a path nor a mapping with `path`.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise IncludeError(f"{source}: include", "expected a list of paths or mappings")
    specs: list[IncludeSpec] = []
    for i, entry in enumerate(entries):
        where = f"{source}: include[{i}]"
        raw_paths: Any
        if isinstance(entry, str):
            raw_paths, project_dir, env = [entry], None, None
        elif isinstance(entry, dict):
            raw = entry.get("path")
            # docker compose accepts a mapping without a path (or an empty list): nothing to load,
            # but its env files are still read
            raw_paths = [raw] if isinstance(raw, str) else [] if raw is None else raw
            project_dir, env = entry.get("project_directory"), entry.get("env_file")
            unknown = set(entry) - {"path", "project_directory", "env_file"}
            if unknown:
                raise IncludeError(where, f"unknown key {sorted(unknown)[0]!r}; expected path, "
                                          "project_directory or env_file")
        else:
            raise IncludeError(where, "expected a path or a mapping with path")
        if not isinstance(raw_paths, list) or not all(isinstance(p, str) for p in raw_paths):
            raise IncludeError(where, "path must be a string or a list of strings")
        paths = tuple(os.path.normpath(os.path.join(base_dir, p)) for p in raw_paths)
        if project_dir is not None and not isinstance(project_dir, str):
            raise IncludeError(where, "project_directory must be a string")
        pdir = (os.path.normpath(os.path.join(base_dir, project_dir)) if project_dir
                else os.path.dirname(paths[0]) if paths else base_dir)
        env_list = [env] if isinstance(env, str) else env
        if env_list is not None and (not isinstance(env_list, list)
                                     or not all(isinstance(e, str) for e in env_list)):
            raise IncludeError(where, "env_file must be a string or a list of strings")
        env_files = (tuple(os.path.normpath(os.path.join(base_dir, e)) for e in env_list)
                     if env_list else (os.path.join(pdir, ".env"),))
        specs.append(IncludeSpec(paths, pdir, env_files, explicit_env=bool(env_list), where=where))
    return specs


def apply_include(tree: Tree, source: str, base_dir: str, load_included: LoadIncluded) -> Tree:
    """Load every included project and add its resources to *tree* (without the `include` key).

    Raises:
        IncludeError: a resource defined both here and in an included project, differently.
    """
    specs = parse_include(tree.get("include"), source, base_dir)
    out = {k: v for k, v in tree.items() if k != "include"}
    if not specs:
        return out
    for spec in specs:
        included = load_included(spec)
        for kind in RESOURCES:
            theirs = included.get(kind)
            if not isinstance(theirs, Mapping):
                continue
            ours = dict(out.get(kind) or {})
            for name, value in theirs.items():
                if name in ours and ours[name] != value:
                    raise IncludeError(f"{source}: {kind}.{name}", "conflicts with imported resource "
                                       f"from {spec.paths[0]}")
                ours[name] = value
            out[kind] = ours
    return out

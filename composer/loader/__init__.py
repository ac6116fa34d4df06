"""The compose loader: compose files in, a canonical Project out.

A pipeline of small pure stages over a plain tree, in this order: discover files (I/O edge) → read
`.env` → parse each file → project name → interpolate each file → include → extends → merge the
files → validate against the schema → canonical long form (defaults, absolute paths) → profiles and
service selection → cross-reference checks → Project. Inputs are explicit in LoadOptions: the loader
never reads os.environ, never chdirs, never prints. Warnings go to ``LoadOptions.warnings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from composer.errors import ConfigError
from composer.project import Project
from runtime.record import field, record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["LoadOptions", "LoadResult", "load_project", "load"]


@record  # frozen, keyword-only; built without exec (this module is on every command's path)
class LoadOptions:
    files: tuple[str, ...] = ()                 # -f, in order; "-" is stdin_text
    project_name: str | None = None             # -p
    project_directory: str | None = None        # --project-directory
    env_files: tuple[str, ...] = ()             # --env-file (replaces the project's .env)
    profiles: tuple[str, ...] = ()              # --profile (else COMPOSE_PROFILES)
    environ: Mapping[str, str] = field(default_factory=dict)   # the shell's environment
    cwd: str = "."
    services: tuple[str, ...] = ()              # named on the command line
    interpolate: bool = True
    normalize: bool = True
    resolve_paths: bool = True
    consistency: bool = True
    stdin_text: str | None = None
    warnings: list[str] | None = None           # the loader appends warnings here
    cache_dir: str | None = None                # markers of trees found valid (skips jsonschema)
    project_cache: str | None = None            # loaded projects (load_project only; see cache.py)


@record
class LoadResult:
    project: Project
    raw_trees: tuple[dict[str, Any], ...]       # each file as parsed, before interpolation
    model: Mapping[str, Any]                    # canonical, before profiles (all services, no pruning)
    environment: Mapping[str, str]              # what interpolation saw (shell + .env + project name)


def load_project(opts: LoadOptions) -> Project:
    """Load the project *opts* describe.

    With *opts.project_cache*, a project loaded before from the same inputs (options, environment,
    file contents) is read back instead: no yaml, dotenv, jsonschema or loader stage is imported.

    Raises:
        ConfigError (and subclasses): the first problem found, as `<file>: <tree path>: <what>`.
    """
    if opts.project_cache is None or "-" in opts.files or opts.stdin_text is not None:
        return load(opts).project
    from composer.loader import cache

    name = cache.key(_cache_options(opts), opts.environ)
    hit = cache.lookup(opts.project_cache, name, opts.environ)
    if hit is not None:
        value, warnings, named = hit
        if opts.warnings is not None:
            opts.warnings.extend(warnings)
        return _project_from(value, opts.environ, named)
    warnings = opts.warnings if opts.warnings is not None else []
    first = len(warnings)
    with cache.recording() as deps:
        project = load(_with_warnings(opts, warnings)).project
    cache.store(opts.project_cache, name, _project_to(project), deps, warnings[first:],
                cache.named_volatiles(deps, opts.environ))
    return project


def _cache_options(opts: LoadOptions) -> tuple[object, ...]:
    """Every option the loaded project depends on (not environ: the cache hashes it apart)."""
    return (opts.files, opts.project_name, opts.project_directory, opts.env_files, opts.profiles,
            os.path.abspath(opts.cwd), opts.services, opts.interpolate, opts.normalize,
            opts.resolve_paths, opts.consistency, opts.cache_dir is not None)


def _with_warnings(opts: LoadOptions, warnings: list[str]) -> LoadOptions:
    if opts.warnings is warnings:
        return opts
    from dataclasses import replace

    return replace(opts, warnings=warnings)


def _project_to(p: Project) -> tuple[object, ...]:
    return (p.name, p.working_dir, p.config_files, p.tree, dict(p.environment), p.disabled_services)


def _project_from(value: tuple[object, ...], environ: Mapping[str, str], named: frozenset[str]) -> Project:
    """The cached project, its environment brought up to date with the shell's volatile variables
    that no file names (so that only the shell set them: as it does now). Those a file names had
    the same value for the entry to be found, and may come from a .env: kept."""
    name, working_dir, config_files, tree, environment, disabled = value
    from composer.loader.cache import VOLATILE

    fresh = [k for k in VOLATILE if k not in named]
    environment = {k: v for k, v in environment.items() if k not in fresh}  # type: ignore[attr-defined]
    environment.update((k, environ[k]) for k in fresh if k in environ)
    return Project(name=name, working_dir=working_dir, config_files=config_files,  # type: ignore[arg-type]
                   tree=tree, environment=environment, disabled_services=disabled)  # type: ignore[arg-type]


def load(opts: LoadOptions) -> LoadResult:
    """As load_project, with what `config --variables/--environment` also need."""
    from composer.loader import discovery, environment, naming
    from composer.loader.profiles import active_profiles, prune_resources, select_services

    warnings: list[str] = opts.warnings if opts.warnings is not None else []
    cwd = os.path.abspath(opts.cwd)
    shell = dict(opts.environ)
    shell.setdefault("PWD", cwd)  # docker compose provides PWD even when the shell did not

    # .env first: it may name the files (COMPOSE_FILE) and the project (COMPOSE_PROJECT_NAME)
    first_dir = (os.path.normpath(os.path.join(cwd, opts.project_directory)) if opts.project_directory
                 else _dir_of_first(opts.files, cwd))
    env_paths, explicit = environment.env_file_paths(opts.env_files, cwd, first_dir)
    dotenv = environment.read_env_files(env_paths, explicit, shell)
    env = environment.project_environment(shell, dotenv)
    found = discovery.discover(opts.files, opts.project_directory, cwd, env)
    warnings.extend(found.warnings)
    working_dir = found.working_dir
    if not explicit and working_dir != first_dir:
        # the files are elsewhere (parent search, COMPOSE_FILE): their directory's .env completes the
        # one read first, which wins (as docker compose)
        env_paths, _ = environment.env_file_paths((), cwd, working_dir)
        late = environment.read_env_files(env_paths, False, {**dotenv, **shell})
        env = environment.project_environment(shell, {**late, **dotenv})

    raw = [_read_file(f, opts.stdin_text, cwd) for f in found.files]
    sources = [_source_name(f, cwd) for f in found.files]

    name = naming.project_name(opts.project_name, env, [_interpolated_name(t, env, s, opts)
                                                        for t, s in zip(raw, sources, strict=True)],
                               working_dir)
    env = {**env, "COMPOSE_PROJECT_NAME": name}

    trees = [_file_stage(t, s, env, working_dir, opts, warnings, chain=())
             for t, s in zip(raw, sources, strict=True)]
    merged = _merge_files(trees, sources)
    if not merged:
        raise ConfigError(sources[0], "empty compose file")
    merged.pop("name", None)
    tree: dict[str, Any] = {"name": name, **merged}

    from composer.loader.canonical import canonicalize
    from composer.loader.validate import check_consistency, validate_schema

    validate_schema(tree, sources[0], opts.cache_dir)
    try:
        canonical = canonicalize(tree, working_dir=working_dir, environ=env, resolve_paths=opts.resolve_paths)
    except ConfigError as exc:
        if len(sources) != 1 or exc.where.startswith(sources[0]):
            raise  # the files are merged by now: one of several would be a guess
        raise type(exc)(f"{sources[0]}: {exc.where}" if exc.where else sources[0], exc.what) from None
    if not opts.normalize:
        canonical = _denormalize(canonical, tree)
    selection = select_services(canonical, active_profiles(opts.profiles, env), opts.services, warnings)
    final = prune_resources(selection.tree) if opts.normalize else selection.tree
    if opts.consistency:
        check_consistency(_without_optional_disabled_deps(final, selection.disabled), sources[0])
    project = Project(
        name=name,
        working_dir=working_dir,
        config_files=tuple(found.files),
        tree=final,
        environment=env,
        disabled_services=selection.disabled,
    )
    return LoadResult(project=project, raw_trees=tuple(raw), environment=env, model=canonical)


def _merge_files(trees: list[dict[str, Any]], sources: list[str]) -> dict[str, Any]:
    """Merge the -f files in order; a merge error names the file that could not be applied."""
    from composer.errors import MergeError
    from composer.loader.merge import merge

    out: dict[str, Any] = {}
    for tree, source in zip(trees, sources, strict=True):
        try:
            out = merge(out, tree)
        except MergeError as exc:
            raise MergeError(f"{source}: {exc.where}", exc.what) from None
    return out


def _without_optional_disabled_deps(tree: dict[str, Any], disabled: Mapping[str, Any]) -> dict[str, Any]:
    """The view consistency checks get: a `required: false` dependency on a profile-disabled service
    is fine (docker compose keeps it in the output and starts without it)."""
    services = {}
    for name, svc in (tree.get("services") or {}).items():
        deps = svc.get("depends_on") if isinstance(svc, dict) else None
        if isinstance(deps, dict):
            deps = {d: c for d, c in deps.items()
                    if not (d in disabled and isinstance(c, dict) and c.get("required") is False)}
            svc = {**svc, "depends_on": deps}
        services[name] = svc
    return {**tree, "services": services}


# -- stages with I/O at their edge -------------------------------------------------------------

def _dir_of_first(files: tuple[str, ...], cwd: str) -> str:
    for f in files:
        if f != "-":
            return os.path.dirname(os.path.normpath(os.path.join(cwd, f)))
    return cwd


def _source_name(path: str, cwd: str) -> str:
    return os.path.join(cwd, "-") if path == "-" else path


def _read_file(path: str, stdin_text: str | None, cwd: str) -> dict[str, Any]:
    from composer.loader.cache import watch
    from composer.loader.yamlparse import parse_yaml

    if path == "-":
        if stdin_text is None:  # a caller that did not read stdin itself (ctx.load_project)
            import sys

            stdin_text = sys.stdin.read()
        return parse_yaml(stdin_text, _source_name(path, cwd))
    watch(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(path, "no such file or directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read compose file: {exc}") from None
    return parse_yaml(text, path)


def _interpolated_name(tree: dict[str, Any], env: Mapping[str, str], source: str,
                       opts: LoadOptions) -> dict[str, Any]:
    """Only the `name:` of a file, interpolated: the project name is needed before the rest."""
    from composer.loader.interpolate import interpolate

    if "name" not in tree:
        return {}
    value = tree["name"]
    if not isinstance(value, str):  # the schema's rule, checked here: the name is needed first
        raise ConfigError(f"{source}: name", "must be a string")
    if opts.interpolate:
        value = interpolate(value, env, source, None, path="name")
    return {"name": value}


def _file_stage(raw: dict[str, Any], source: str, env: Mapping[str, str], working_dir: str,
                opts: LoadOptions, warnings: list[str], *, chain: tuple[str, ...]) -> dict[str, Any]:
    """One file: interpolate, include, extends. Markers (!reset, !override) stay for the merge."""
    from composer.loader.cache import watch
    from composer.loader.extends import apply_extends
    from composer.loader.include import apply_include
    from composer.loader.interpolate import interpolate

    tree = interpolate(raw, env, source, warnings) if opts.interpolate else raw
    if "version" in tree:
        warnings.append(f"{source}: the attribute `version` is obsolete, it will be ignored, "
                        "please remove it to avoid potential confusion")
        tree = {k: v for k, v in tree.items() if k != "version"}
    def read_other(path: str) -> dict[str, Any]:
        watch(path)
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        if os.path.isdir(path):
            raise IsADirectoryError(path)
        other = _read_file(path, None, working_dir)
        return interpolate(other, env, path, warnings) if opts.interpolate else other

    # extends sees this file's own services only (docker compose cannot extend an included one)
    tree = apply_extends(tree, source, read_other)
    if "include" in tree:  # relative to the (included) project's working directory, as compose-go
        tree = apply_include(tree, source, working_dir,
                             lambda spec: _load_included(spec, env, opts, warnings, (*chain, source)))
    return tree


def _load_included(spec: Any, parent_env: Mapping[str, str], opts: LoadOptions, warnings: list[str],
                   chain: tuple[str, ...]) -> dict[str, Any]:
    from composer.errors import IncludeError
    from composer.loader import environment
    from composer.loader.cache import watch
    from composer.loader.extends import rebase_service_paths
    from composer.loader.merge import merge_all

    for path in spec.paths:
        if path in chain:
            cycle = " -> ".join([*chain[chain.index(path):], path])
            raise IncludeError(chain[-1], f"include cycle detected: {cycle}")
        where = spec.where or chain[-1]
        watch(path)
        if os.path.isdir(path):
            raise IncludeError(where, f"included file {path} is a directory; expected a file")
        if not os.path.isfile(path):
            raise IncludeError(where, f"included file {path} not found")
    dotenv = environment.read_env_files(spec.env_files, spec.explicit_env, parent_env)
    if not spec.paths:
        return {}
    env = {**dotenv, **parent_env}  # the including project's variables win
    trees = [_file_stage(_read_file(p, None, spec.project_directory), p, env, spec.project_directory,
                         opts, warnings, chain=chain) for p in spec.paths]
    merged = merge_all(trees)
    merged.pop("name", None)
    return _rebase_tree(merged, spec.project_directory, rebase_service_paths)


def _rebase_tree(tree: dict[str, Any], base_dir: str, rebase_service: Any) -> dict[str, Any]:
    """An included project's relative paths, made absolute against its project directory."""
    out = dict(tree)
    services = tree.get("services")
    if isinstance(services, dict):
        out["services"] = {n: rebase_service(s, base_dir) if isinstance(s, dict) else s
                           for n, s in services.items()}
    for kind in ("secrets", "configs"):
        section = tree.get(kind)
        if isinstance(section, dict):
            out[kind] = {
                n: {**d, "file": os.path.normpath(os.path.join(base_dir, d["file"]))}
                if isinstance(d, dict) and isinstance(d.get("file"), str) else d
                for n, d in section.items()
            }
    return out


def _denormalize(canonical: dict[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """--no-normalize: drop what normalisation adds (the implicit default network, the services'
    implicit attachment to it, resource names, the default Dockerfile), as docker compose does."""
    out = dict(canonical)
    for kind in ("networks", "volumes", "secrets", "configs"):
        src_section = source.get(kind) or {}
        section = {}
        for key, value in (out.get(kind) or {}).items():
            if key == "default" and kind == "networks" and key not in src_section:
                continue
            src = src_section.get(key)
            if isinstance(value, dict) and "name" in value and not (isinstance(src, dict) and "name" in src):
                value = {k: v for k, v in value.items() if k != "name"}
            section[key] = value
        if section:
            out[kind] = section
        else:
            out.pop(kind, None)
    src_services = source.get("services") or {}
    services = {}
    for name, svc in (out.get("services") or {}).items():
        src = src_services.get(name) or {}
        if isinstance(svc, dict):
            if "networks" not in src:
                svc = {k: v for k, v in svc.items() if k != "networks"}
            build, src_build = svc.get("build"), src.get("build")
            if isinstance(build, dict) and not (isinstance(src_build, dict) and "dockerfile" in src_build):
                svc = {**svc, "build": {k: v for k, v in build.items() if k != "dockerfile"}}
        services[name] = svc
    out["services"] = services
    return out

"""Which compose files a project is made of, and its working directory (as docker compose finds them)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from composer.errors import ConfigError
from composer.loader.cache import watch
from runtime.record import record

__all__ = ["CANDIDATES", "OVERRIDES", "Discovered", "discover", "find_default_files"]

CANDIDATES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDES = ("compose.override.yaml", "compose.override.yml",
             "docker-compose.override.yml", "docker-compose.override.yaml")
STDIN = "-"


@record(kw_only=False)
class Discovered:
    files: tuple[str, ...]      # absolute paths, or "-" for stdin
    working_dir: str           # absolute
    warnings: tuple[str, ...] = ()


def find_default_files(start: str) -> tuple[list[str], list[str]]:
    """Search *start* and its parents for the first directory holding a compose file.

    Returns the files (the main file then its override, if any) and warnings.
    """
    directory = os.path.abspath(start)
    while True:
        present = [n for n in CANDIDATES if _isfile(os.path.join(directory, n))]
        if present:
            warnings = []
            if len(present) > 1:
                warnings.append(f"Found multiple config files with supported names: "
                                f"{', '.join(os.path.join(directory, n) for n in present)}")
                warnings.append(f"Using {os.path.join(directory, present[0])}")
            files = [os.path.join(directory, present[0])]
            overrides = [n for n in OVERRIDES if _isfile(os.path.join(directory, n))]
            if overrides:
                files.append(os.path.join(directory, overrides[0]))
            return files, warnings
        parent = os.path.dirname(directory)
        if parent == directory:
            return [], []
        directory = parent


def _isfile(path: str) -> bool:
    watch(path)  # absent names matter too: a compose.yaml created later changes the project
    return os.path.isfile(path)


def discover(files: Sequence[str], project_directory: str | None, cwd: str,
             environ: Mapping[str, str]) -> Discovered:
    """-f files, else COMPOSE_FILE (split by COMPOSE_PATH_SEPARATOR), else a search upwards.

    Raises:
        ConfigError: no file found, or a named file that does not exist.
    """
    project_dir = os.path.normpath(os.path.join(cwd, project_directory)) if project_directory else None
    warnings: list[str] = []
    chosen: list[str]
    if files:
        chosen = [f if f == STDIN else os.path.normpath(os.path.join(cwd, f)) for f in files]
    elif environ.get("COMPOSE_FILE"):
        sep = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        chosen = [os.path.normpath(os.path.join(cwd, f)) for f in environ["COMPOSE_FILE"].split(sep) if f]
    else:
        chosen, warnings = find_default_files(project_dir or cwd)
        if not chosen:
            raise ConfigError("", "no configuration file provided: not found")
    for f in chosen:
        if f != STDIN:
            watch(f)
        if f != STDIN and not os.path.exists(f):
            raise ConfigError(f, "no such file or directory")
        if f != STDIN and os.path.isdir(f):
            raise ConfigError(f, "is a directory; expected a compose file")
    if project_dir is not None:
        working_dir = project_dir
    elif chosen[0] == STDIN:
        working_dir = os.path.abspath(cwd)
    else:
        working_dir = os.path.dirname(chosen[0])
    return Discovered(tuple(chosen), working_dir, tuple(warnings))

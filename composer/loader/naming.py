"""The project name: -p > COMPOSE_PROJECT_NAME > the last top-level `name:` > the directory's name."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from composer.errors import ConfigError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["normalize_project_name", "project_name", "check_project_name"]

_INVALID = re.compile(r"[^a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """Lower-case, drop characters outside [a-z0-9_-], strip leading `_`/`-` (compose-go's rule)."""
    return _INVALID.sub("", name.lower()).lstrip("_-")


def check_project_name(name: str, source: str) -> str:
    """An explicitly given name must already be normal; an empty one is an error too."""
    if not name:
        raise ConfigError(source, "project name must not be empty")
    if normalize_project_name(name) != name:
        raise ConfigError(
            source,
            f'invalid project name "{name}": must consist only of lowercase alphanumeric characters, '
            "hyphens, and underscores as well as start with a letter or number",
        )
    return name


def project_name(explicit: str | None, environ: Mapping[str, str], trees: Sequence[Mapping[str, Any]],
                 working_dir: str) -> str:
    """Choose the project name. *trees* are the interpolated files in order; *environ* includes `.env`.

    Raises:
        ConfigError: an explicit (-p or COMPOSE_PROJECT_NAME) name that is not valid.
    """
    if explicit is not None:
        return check_project_name(explicit, "-p")
    env_name = environ.get("COMPOSE_PROJECT_NAME")
    if env_name:
        return check_project_name(env_name, "COMPOSE_PROJECT_NAME")
    from_file = ""
    for tree in trees:
        name = tree.get("name")
        if isinstance(name, str | int | float) and not isinstance(name, bool) and str(name):
            from_file = str(name)
    from_file = normalize_project_name(from_file)
    if from_file:
        return from_file
    base = normalize_project_name(os.path.basename(os.path.normpath(working_dir)))
    if not base:
        raise ConfigError(working_dir, "project name must not be empty; set one with -p or name:")
    return base

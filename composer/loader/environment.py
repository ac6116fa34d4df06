"""The environment a project is interpolated with: the shell's, completed by `.env` (or --env-file).

As docker compose: the shell wins over the files; later files win over earlier ones; a file's values
may refer (`${X}`) to the shell and to values defined above them; single-quoted values are literal.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

from composer.errors import ConfigError

__all__ = ["env_file_paths", "parse_env_text", "read_env_files", "project_environment"]


def parse_env_text(text: str, source: str, lookup: Mapping[str, str]) -> dict[str, str]:
    """Parse dotenv *text*; `${X}` refers to *lookup* first, then to values above in the file.

    Raises:
        ConfigError: a line that is not `KEY=VALUE`, or a required variable missing.
    """
    # imported here: only a project with an env file pays for them (~40 ms with yaml, F3)
    from dotenv.parser import parse_stream

    from composer.loader.interpolate import TemplateError, substitute

    values: dict[str, str] = {}

    def get(name: str) -> str | None:
        return lookup.get(name, values.get(name))

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = binding.original.string.rstrip("\n")
            raise ConfigError(source,
                              f"line {binding.original.line}: unexpected line {line!r}; expected KEY=VALUE")
        if binding.key is None:
            continue
        if binding.value is None:  # a bare `KEY` takes the shell's value, if any
            if binding.key in lookup:
                values[binding.key] = lookup[binding.key]
            continue
        raw = binding.original.string.split("=", 1)[1].lstrip() if "=" in binding.original.string else ""
        if raw.startswith("'"):
            values[binding.key] = binding.value
            continue
        try:
            values[binding.key] = substitute(binding.value, get)
        except TemplateError as exc:
            raise ConfigError(source, f"line {binding.original.line}: {exc}") from None
    return values


def env_file_paths(env_files: Sequence[str], cwd: str, project_dir: str) -> tuple[list[str], bool]:
    """The env files to read and whether they were named explicitly (then they must exist)."""
    if env_files:
        return [os.path.normpath(os.path.join(cwd, f)) for f in env_files], True
    return [os.path.join(project_dir, ".env")], False


def read_env_files(paths: Sequence[str], explicit: bool, shell: Mapping[str, str]) -> dict[str, str]:
    """Read and merge env files in order (I/O edge of this module)."""
    from composer.loader.cache import watch

    merged: dict[str, str] = {}
    for path in paths:
        watch(path)
        if os.path.isdir(path):
            if explicit:
                raise ConfigError(path, "env file is a directory; expected a file")
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            if explicit:
                raise ConfigError(path, "couldn't find env file") from None
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(path, f"cannot read env file: {exc}") from None
        merged.update(parse_env_text(text, path, {**merged, **shell}))
    return merged


def project_environment(shell: Mapping[str, str], dotenv: Mapping[str, str]) -> dict[str, str]:
    """The environment of interpolation: `.env` values completed and overridden by the shell."""
    return {**dotenv, **shell}

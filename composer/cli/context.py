"""What every command gets: parsed global flags, the environment, the cwd, and lazy handles; and
each_ref, a verb applied to several names as podman applies it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name): `version` needs no typing (5 ms)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from composer.project import Project
    from runtime.engine import Engine


class Context:
    # a plain class: a dataclass would compile its methods at every start-up (FINDINGS F6)
    def __init__(self, *, args: argparse.Namespace, environ: Mapping[str, str], cwd: str) -> None:
        self.args = args
        self.environ = environ
        self.cwd = cwd
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Context(args={self.args!r}, cwd={self.cwd!r})"

    def engine(self) -> Engine:
        if self._engine is None:
            from runtime.engine import Engine

            self._engine = Engine()
        return self._engine

    def load_project(self, services: Sequence[str] = (), **options: Any) -> Project:
        """Load the project named by the global flags (file discovery, .env, profiles, ...).

        *services* named on the command line are enabled with their dependencies even when their
        profile is not. *options* are the loader's (interpolate=, normalize=, resolve_paths=, ...).
        """
        from composer.loader import LoadOptions, load_project
        from runtime.paths import Paths

        a = self.args
        cache = f"{Paths.from_env(self.environ).rundir}/cache"  # schema verdicts, loaded projects
        opts = LoadOptions(
            files=tuple(a.files),
            project_name=a.project_name,
            project_directory=a.project_directory,
            env_files=tuple(a.env_files),
            profiles=tuple(a.profiles),
            environ=self.environ,
            cwd=self.cwd,
            services=tuple(services),
            **{"cache_dir": f"{cache}/valid", "project_cache": f"{cache}/project", **options},

        )
        return load_project(opts)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def each_ref(refs: Iterable[str], fn: Callable[[str], object], *, echo: bool = True) -> int:
    """Apply *fn* to every ref (as podman: go on after an error, report it, exit with the last
    error's code at the end); *echo*: print each ref done."""
    import sys

    from runtime.errors import EngineError

    code = 0
    for ref in refs:
        try:
            fn(ref)
            if echo:
                print(ref, flush=True)
        except EngineError as exc:
            print(f"Error: {exc}", file=sys.stderr, flush=True)
            code = exc.exit_code
    return code

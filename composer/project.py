"""The loaded project: what the loader hands to every command.

``tree`` is the canonical form, the same document `docker compose config --format json` prints
(short syntax expanded, defaults filled, paths absolute). Commands read services from it; specgen
turns each into a runtime ContainerSpec.
"""

from __future__ import annotations

from collections.abc import Mapping

from runtime.record import field, record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any


@record  # not @dataclass: no exec'd methods (~2 ms per class on every command's start, F6)
class Project:
    name: str
    working_dir: str
    config_files: tuple[str, ...]
    tree: Mapping[str, Any]                       # canonical, as `docker compose config --format json`
    environment: Mapping[str, str] = field(default_factory=dict)   # what interpolation saw
    disabled_services: Mapping[str, Any] = field(default_factory=dict)  # canonical, profile-disabled

    @property
    def services(self) -> Mapping[str, Any]:
        return self.tree.get("services", {})  # type: ignore[no-any-return]

    @property
    def networks(self) -> Mapping[str, Any]:
        return self.tree.get("networks", {})  # type: ignore[no-any-return]

    @property
    def volumes(self) -> Mapping[str, Any]:
        return self.tree.get("volumes", {})  # type: ignore[no-any-return]

    @property
    def secrets(self) -> Mapping[str, Any]:
        return self.tree.get("secrets", {})  # type: ignore[no-any-return]

    @property
    def configs(self) -> Mapping[str, Any]:
        return self.tree.get("configs", {})  # type: ignore[no-any-return]

"""The Engine: the composition root of runtime/ and its whole public API.

composer/ and the CLI nouns talk to the runtime only through an Engine and the specs in
runtime.spec. Each manager lives in its own module and is imported on first use, so a command pays
only for what it touches (pyroute2 is imported only when networking is).
"""

from __future__ import annotations

from functools import cached_property

from runtime.paths import Paths
from runtime.state import Store

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Iterator

    from runtime.containers import ContainerManager
    from runtime.events import Event
    from runtime.images import ImageStore
    from runtime.network import NetworkManager
    from runtime.pods import PodManager
    from runtime.volumes import VolumeManager


class Engine:
    def __init__(self, paths: Paths | None = None) -> None:
        self.paths = paths or Paths.from_env()
        self.store = Store(self.paths.db)

    @cached_property
    def images(self) -> ImageStore:
        from runtime.images import ImageStore

        return ImageStore(self.paths, self.store)

    @cached_property
    def volumes(self) -> VolumeManager:
        from runtime.volumes import VolumeManager

        return VolumeManager(self.paths, self.store)

    @cached_property
    def networks(self) -> NetworkManager:
        from runtime.network import NetworkManager

        return NetworkManager(self.paths, self.store)

    @cached_property
    def containers(self) -> ContainerManager:
        from runtime.containers import ContainerManager

        return ContainerManager(self)

    @cached_property
    def pods(self) -> PodManager:
        from runtime.pods import PodManager

        return PodManager(self)

    def events(self, *, since: int | None = None, until: int | None = None) -> Iterator[Event]:
        """The containers' events (runtime.events.read_events): new ones, or from *since* to
        *until* (ns since the epoch) and then new ones until *until*."""
        from runtime.events import read_events

        return read_events(self.paths.rundir, since=since, until=until)

    def close(self) -> None:
        self.store.close()

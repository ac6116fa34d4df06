"""PodManager: a pod groups containers (a compose project) and owns their cgroup parent.

A pod is a row of kind "pod"; its containers are the container rows whose "pod" is its name
(ContainerSpec.pod), and their cgroups live under ``composer/<pod>/`` (``composer/engine-<hex>/<pod>/``
for an engine with a non-default root: see ``runtime.cgroups.engine_scope``).
"""

from __future__ import annotations

import builtins
import contextlib
import os

from runtime.errors import Conflict, EngineError, InvalidSpec, NotFound
from runtime.logs import rfc3339_nano
from runtime.spec import PodInfo, PodSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any, Final

    from runtime.engine import Engine

KIND: Final = "pod"


class PodManager:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    def _scope(self) -> tuple[str, ...]:
        try:
            from runtime.cgroups import engine_scope
        except ImportError:
            return ()
        return engine_scope(self.engine.paths.root)

    def _containers(self, name: str) -> tuple[str, ...]:
        return tuple(cid for cid, doc in self.store.read().list("container") if doc.get("pod") == name)

    def _info(self, pid: str, doc: dict[str, Any]) -> PodInfo:
        return PodInfo(
            name=doc["name"],
            id=pid,
            labels=dict(doc.get("labels", {})),
            containers=self._containers(doc["name"]),
            created_at=doc.get("created_at", ""),
            cgroup_parent="/".join(["composer", *self._scope(), doc["name"]]),
        )

    def create(self, spec: PodSpec) -> PodInfo:
        """Create the pod and its cgroup parent. Raises Conflict if the name is taken."""
        if not spec.name or "/" in spec.name or spec.name in (".", ".."):
            raise InvalidSpec(f"pod {spec.name!r}: expected a plain name")
        pid = os.urandom(32).hex()  # as secrets.token_hex; secrets imports hashlib, hmac (~10 ms)
        doc = {"name": spec.name, "labels": dict(spec.labels), "created_at": rfc3339_nano()}
        self.store.put_new(KIND, pid, doc, spec.name, f'pod name "{spec.name}" is already in use')
        try:
            from runtime.cgroups import Cgroup

            Cgroup.create([*self._scope(), spec.name], devices=None)  # each container restricts its own
        except ImportError:
            pass
        except BaseException:
            with self.store.transaction() as tx:
                tx.delete(KIND, pid)
            raise
        return self._info(pid, doc)

    def _find(self, name: str) -> tuple[str, dict[str, Any]]:
        tx = self.store.read()
        hit = tx.by_name(KIND, name)
        if hit is None:
            doc = tx.get(KIND, name)
            if doc is None:
                raise NotFound(f"no pod with name or ID {name} found")
            return name, doc
        return hit

    def get(self, name: str) -> PodInfo:
        return self._info(*self._find(name))

    def exists(self, name: str) -> bool:
        """Is there a pod named (or with the id) *name*? One lookup: no member list, no cgroup."""
        tx = self.store.read()
        return tx.by_name(KIND, name) is not None or tx.get(KIND, name) is not None

    def list(self) -> builtins.list[PodInfo]:
        return [self._info(pid, doc) for pid, doc in self.store.read().list(KIND)]

    def stop(self, name: str, timeout: float | None = None) -> PodInfo:
        """Stop every container of the pod."""
        pid, doc = self._find(name)
        for cid in self._containers(doc["name"]):
            self.engine.containers.stop(cid, timeout)
        return self._info(pid, doc)

    def remove(self, name: str, force: bool = False) -> None:
        """Remove the pod; with *force* its containers too, else it must have none."""
        pid, doc = self._find(name)
        members = self._containers(doc["name"])
        if members and not force:
            raise Conflict(
                f"pod {doc['name']}: has {len(members)} containers; remove them first or use force"
            )
        for cid in members:
            with contextlib.suppress(NotFound):
                self.engine.containers.remove(cid, force=True)
        try:
            from runtime.cgroups import Cgroup
        except ImportError:
            Cgroup = None  # type: ignore[assignment,misc]  # noqa: N806
        if Cgroup is not None:
            with contextlib.suppress(NotFound):
                cg = Cgroup.open([*self._scope(), doc["name"]])
                try:
                    cg.remove()
                except EngineError:
                    raise
                except OSError as exc:
                    raise EngineError(f"pod {doc['name']}: cannot remove its cgroup: {exc.strerror}") from exc
        with self.store.transaction() as tx:
            tx.delete(KIND, pid)

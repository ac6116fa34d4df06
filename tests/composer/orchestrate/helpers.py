"""Helpers for the orchestration tests: projects from the real `docker compose config`, a fake engine."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from composer.project import Project
from runtime.errors import Conflict, ExecError, NotFound
from runtime.spec import ContainerInfo, ContainerSpec, NetworkSpec, PodSpec, VolumeSpec
from tests.composer.fixturelib import DOCKER_COMPOSE

COMPOSE_BIN = DOCKER_COMPOSE  # the real binary: .venv/bin/docker-compose's wrapper loses the exit status

# web needs app; app needs db healthy and migrate completed; migrate needs db healthy
APP = """
services:
  web:
    image: busybox
    depends_on: {app: {condition: service_started}}
  app:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  migrate:
    image: busybox
    depends_on: {db: {condition: service_healthy}}
    configs: [tok]
  db:
    image: busybox
    volumes: [data:/data]
    healthcheck: {test: ["CMD", "true"]}
volumes: {data: {}}
configs: {tok: {content: hunter2}}
"""


def load(tmp_path: Path, text: str, name: str = "demo", env: Mapping[str, str] | None = None) -> Project:
    """The canonical project, as docker compose itself prints it (the loader's contract)."""
    f = tmp_path / "compose.yaml"
    f.write_text(text)
    out = subprocess.run(
        [str(COMPOSE_BIN), "-p", name, "-f", str(f), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=tmp_path,
    )
    tree = json.loads(out.stdout)
    return Project(
        name=tree["name"],
        working_dir=str(tmp_path),
        config_files=(str(f),),
        tree=tree,
        environment=dict(env or {}),
    )


def compose_hashes(project_file: Path, name: str = "demo") -> dict[str, str]:
    out = subprocess.run(
        [str(COMPOSE_BIN), "-p", name, "-f", str(project_file), "config", "--hash", "*"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


@dataclass
class FakeContainers:
    """In-memory containers with the ContainerManager's methods; records every call in order."""

    calls: list[tuple[str, str]]
    lock: threading.Lock
    items: dict[str, ContainerInfo] = field(default_factory=dict)
    health: dict[str, list[str]] = field(default_factory=dict)  # service -> health per poll
    exit_codes: dict[str, int] = field(default_factory=dict)  # service -> exits at once
    fail_start: set[str] = field(default_factory=set)
    fail_stop: set[str] = field(default_factory=set)  # services whose stop raises
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _find(self, ref: str) -> ContainerInfo:
        for c in self.items.values():
            if ref in (c.id, c.name):
                return c
        raise NotFound(f"no such container {ref}")

    def create(self, spec: ContainerSpec, replaces: str = "") -> ContainerInfo:
        with self.lock:
            if any(c.name == spec.name for c in self.items.values()):
                raise Conflict(f"container name {spec.name} is in use")
            cid = f"{next(self._ids):064x}"
            info = ContainerInfo(
                id=cid,
                name=spec.name,
                image=spec.image,
                image_id="sha256:x",
                labels=dict(spec.labels),
                status="created",
                created_at="2026-01-01T00:00:00Z",
                spec=spec,
            )
            self.items[cid] = info
            self.calls.append(("create", spec.name))
            return info

    def start(self, ref: str) -> None:
        with self.lock:
            c = self._find(ref)
            self.calls.append(("start", c.name))
            svc = c.labels.get("com.docker.compose.service", "")
            if svc in self.fail_start:
                raise Conflict(f"container {c.name}: exec failed")
            if svc in self.exit_codes:
                self.items[c.id] = replace(c, status="exited", exit_code=self.exit_codes[svc])
            else:
                health = "starting" if svc in self.health else ""
                self.items[c.id] = replace(c, status="running", health=health)  # type: ignore[arg-type]

    def stop(self, ref: str, timeout: float | None = None) -> None:
        with self.lock:
            c = self._find(ref)
            self.calls.append(("stop", c.name))
            if c.labels.get("com.docker.compose.service") in self.fail_stop:
                raise ExecError(f"container {c.name}: cannot stop")
            self.items[c.id] = replace(c, status="exited", exit_code=0)

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        with self.lock:
            c = self._find(ref)
            self.calls.append(("remove", c.name))
            del self.items[c.id]

    def rename(self, ref: str, new: str) -> None:
        with self.lock:
            c = self._find(ref)
            if any(o.name == new and o.id != c.id for o in self.items.values()):
                raise Conflict(f"container name {new} is in use")
            self.calls.append(("rename", f"{c.name} {new}"))
            self.items[c.id] = replace(c, name=new)

    def get(self, ref: str) -> ContainerInfo:
        with self.lock:
            return self._find(ref)

    def list(self, *, all: bool = True, labels: Mapping[str, str] | None = None) -> list[ContainerInfo]:
        with self.lock:
            out = []
            for c in list(self.items.values()):
                if labels and any(c.labels.get(k) != v for k, v in labels.items()):
                    continue
                svc = c.labels.get("com.docker.compose.service", "")
                if c.status == "running" and self.health.get(svc):
                    c = replace(c, health=self.health[svc].pop(0))  # type: ignore[arg-type]
                    self.items[c.id] = c
                out.append(c)
            return out


@dataclass
class FakeObjects:
    """Networks, volumes, pods: named objects."""

    kind: str
    calls: list[tuple[str, str]]
    names: dict[str, Any] = field(default_factory=dict)
    dropped: dict[str, frozenset[str]] = field(default_factory=dict)  # drop_bridge's *leaving*

    def create(self, spec: NetworkSpec | VolumeSpec | PodSpec) -> Any:
        if spec.name in self.names:
            raise Conflict(f"{self.kind} {spec.name} exists")
        self.calls.append((f"create_{self.kind}", spec.name))
        self.names[spec.name] = spec
        return spec

    def exists(self, name: str) -> bool:
        return name in self.names

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """NetworkManager.batch(): recorded, so tests see which operations ran inside it."""
        self.calls.append((f"{self.kind}_batch", "begin"))
        yield
        self.calls.append((f"{self.kind}_batch", "end"))

    def get(self, name: str) -> Any:
        if name not in self.names:
            raise NotFound(f"no such {self.kind} {name}")
        return self.names[name]

    def drop_bridge(self, name: str, leaving: frozenset[str]) -> bool:
        """NetworkManager.drop_bridge: recorded, with the containers it was told are leaving."""
        self.calls.append(("drop_bridge", name))
        self.dropped[name] = frozenset(leaving)
        return True

    def remove(self, name: str, force: bool = False) -> None:
        if name not in self.names:
            raise NotFound(f"no such {self.kind} {name}")
        self.calls.append((f"remove_{self.kind}", name))
        del self.names[name]


@dataclass
class FakeImages:
    calls: list[tuple[str, str]]
    present: set[str] = field(default_factory=set)

    def resolve(self, ref: str) -> str:
        if ref not in self.present:
            raise NotFound(f"no such image {ref}")
        return ref

    def pull(self, ref: str) -> None:
        self.calls.append(("pull", ref))
        self.present.add(ref)


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        lock = threading.Lock()
        self.containers = FakeContainers(self.calls, lock)
        self.networks = FakeObjects("network", self.calls)
        self.volumes = FakeObjects("volume", self.calls)
        self.pods = FakeObjects("pod", self.calls)
        self.images = FakeImages(self.calls)

"""What the compose verbs share: find the project (file or -p NAME), its containers, run a plan."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from composer import labels as L
from composer.cli.context import Context
from composer.cli.humanize import human_duration
from composer.cli.humanize import parse_time as epoch_of
from composer.errors import ComposerError, ConfigError, ProjectError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import argparse
    from datetime import datetime
    from typing import Any

    from composer.plan import Plan
    from composer.progress import Progress
    from composer.project import Project
    from runtime.engine import Engine
    from runtime.spec import ContainerInfo


def load_or_name(
    ctx: Context, services: Sequence[str] = (), *, need_file: bool = False
) -> tuple[Project | None, str]:
    """The loaded project, or (None, name) when only `-p NAME` is given and there is no compose file."""
    if not need_file and _name_only(ctx):
        return None, _normalize(ctx.args.project_name)
    try:
        project = ctx.load_project(services=services)
        return project, project.name
    except ConfigError as exc:
        name = ctx.args.project_name
        if not need_file and name and not ctx.args.files and "no configuration file provided" in str(exc):
            return None, _normalize(name)
        raise


def _name_only(ctx: Context) -> bool:
    """`-p NAME` and certainly no compose file: decided with a few stat calls, before the loader and
    its yaml/dotenv imports (an env file may name the files, so its presence means "ask the loader")."""
    import os

    from composer.loader.discovery import find_default_files

    a = ctx.args
    if not a.project_name or a.files or a.env_files or ctx.environ.get("COMPOSE_FILE"):
        return False
    start = os.path.join(ctx.cwd, a.project_directory) if a.project_directory else ctx.cwd
    if os.path.exists(os.path.join(start, ".env")):
        return False
    return not find_default_files(start)[0]


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def project_containers(
    engine: Engine,
    project: str,
    services: Iterable[str] = (),
    *,
    all: bool = True,
    oneoff: bool | None = False,
) -> list[ContainerInfo]:
    """The project's containers found by label, service then number order."""
    wanted = set(services)
    out = []
    for c in engine.containers.list(all=True, labels={L.PROJECT: project}):
        if wanted and c.labels.get(L.SERVICE) not in wanted:
            continue
        is_oneoff = c.labels.get(L.ONEOFF) == "True"
        if oneoff is not None and is_oneoff != oneoff:
            continue
        if not all and c.status not in ("running", "restarting", "paused"):
            continue
        out.append(c)
    out.sort(key=lambda c: (c.labels.get(L.SERVICE, ""), _num(c), c.name))
    return out


def _num(c: ContainerInfo) -> int:
    try:
        return int(c.labels.get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        return 0


def check_services(project: Project | None, services: Sequence[str]) -> None:
    if project is None:
        return
    for s in services:
        if s not in project.services:
            raise ProjectError(project.name, f"no such service: {s}")


def progress_for(ctx: Context) -> Progress:
    from composer.progress import from_args

    return from_args(ctx.args.progress, ctx.args.ansi, ctx.environ)


def files_root(engine: Engine, project: str) -> Path:
    return Path(engine.paths.root) / "projects" / project


def remove_project_files(engine: Engine, project: str) -> None:
    from runtime.trees import remove_tree  # not shutil's rmtree: shutil imports zlib, bz2, lzma (~3 ms)

    remove_tree(files_root(engine, project))


def run_plan(ctx: Context, plan: Plan, project: Project | None, **kw: Any) -> None:
    """Run *plan* on orchestrate's thread driver, which never imports trio (bench/FINDINGS.md F9).
    The compose verbs that run plans (up, down, stop, start, run) share it."""
    from composer.orchestrate import apply_plan

    engine = ctx.engine()
    kw.setdefault("progress", progress_for(ctx))
    apply_plan(plan, engine, project=project, files_root=files_root(engine, plan.project),
               parallel=ctx.args.parallel, **kw)


def lock(ctx: Context, project: str) -> Any:
    from composer.project_lock import project_lock

    return project_lock(ctx.engine().paths.lock(f"project-{project}"), project)


def add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-t",
        "--timeout",
        type=float,
        default=None,
        dest="stop_timeout",
        help="specify a shutdown timeout in seconds",
    )


# ---- human time ----------------------------------------------------------------------------------


def parse_time(text: str) -> datetime | None:
    """A time the user typed (--since, --until): anything datetime.fromisoformat reads, with
    nanoseconds cut to micro and UTC when it names no zone. Our own RFC 3339 stamps (ps's columns)
    go through humanize.parse_time (epoch_of): the same epoch, without a datetime per row."""
    from datetime import UTC, datetime

    if not text:
        return None
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", t)
    if m and m.group(2):
        t = m.group(1) + m.group(2)[:7] + m.group(3)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def ago(stamp: str, now: float | None = None) -> str:
    when = epoch_of(stamp)
    if not when:
        return ""
    return human_duration((now or time.time()) - when) + " ago"


def since_to_epoch(text: str | None, now: float | None = None) -> float | None:
    """--since/--until: an RFC 3339 time, a Unix timestamp, or a relative duration ("10m")."""
    if not text:
        return None
    from composer.units import duration_seconds

    try:
        return float(text)
    except ValueError:
        pass
    dt = parse_time(text)
    if dt is not None:
        return dt.timestamp()
    try:
        return (now or time.time()) - duration_seconds(text)
    except ValueError:
        raise ComposerError(
            f"invalid time {text!r}; expected RFC 3339, a Unix time or a duration like 10m"
        ) from None


def status_text(c: ContainerInfo, now: float | None = None) -> str:
    """docker's STATUS column (moby container/state.go State.String): "Up 3 minutes (healthy)",
    "Restarting (1) 2 seconds ago" (since it died), "Exited (0) 2 seconds ago", "Dead", "Created"."""
    now = now or time.time()
    if c.status == "restarting":
        end = epoch_of(c.finished_at)
        since = f"{human_duration(now - end)} ago" if end else "ago"
        return f"Restarting ({c.exit_code or 0}) {since}"
    if c.status in ("running", "paused"):
        start = epoch_of(c.started_at)
        up = human_duration(now - start) if start else ""
        text = f"Up {up}".rstrip()
        if c.status == "paused":
            text += " (Paused)"
        elif c.health:
            text += f" ({'health: starting' if c.health == 'starting' else c.health})"
        return text
    if c.status == "dead":
        return "Dead"
    if c.status == "exited":
        end = epoch_of(c.finished_at)
        when = f" {human_duration(now - end)} ago" if end else ""
        return f"Exited ({c.exit_code if c.exit_code is not None else 0}){when}"
    return c.status.capitalize()

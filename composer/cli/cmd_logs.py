"""`composer logs`: the project's container logs, prefixed `web-1  | ` and coloured per service.

The follower used here also serves attached `up` (cmd_up imports LogPrinter and follow_containers).
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context

if TYPE_CHECKING:
    from runtime.spec import ContainerInfo, LogRecord

HELP = {"logs": "View output from containers"}

# docker compose's rainbow: cyan, yellow, green, magenta, blue, then the bright ones
_COLORS = ("36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="follow log output")
    parser.add_argument("-n", "--tail", default="all", help="number of lines from the end of the logs")
    parser.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    parser.add_argument("--since", default=None, help="logs since a timestamp or relative time (e.g. 42m)")
    parser.add_argument("--until", default=None, help="logs before a timestamp or relative time")
    parser.add_argument("--no-color", action="store_true", help="produce monochrome output")
    parser.add_argument("--no-log-prefix", action="store_true", help="don't print the prefix")
    parser.add_argument("--index", type=int, default=None, help="index of the container (replica)")
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def short_name(c: ContainerInfo) -> str:
    """The prefix docker compose prints: `<service>-<n>` (the container name for one-offs)."""
    svc, num = c.labels.get(L.SERVICE), c.labels.get(L.CONTAINER_NUMBER)
    if svc and num and c.labels.get(L.ONEOFF) != "True" and c.name.endswith(f"{svc}-{num}"):
        return f"{svc}-{num}"
    return c.name


@dataclass
class LogPrinter:
    """Formats records as docker compose does. One lock: lines of different containers never mix."""

    names: Sequence[str]
    color: bool
    prefix: bool = True
    timestamps: bool = False
    out: TextIO | None = None

    def __post_init__(self) -> None:
        self.width = max((len(n) for n in self.names), default=0)
        self._lock = threading.Lock()
        services = sorted({n.rsplit("-", 1)[0] for n in self.names})
        self._colors = {s: _COLORS[i % len(_COLORS)] for i, s in enumerate(services)}

    def head(self, name: str) -> str:
        if not self.prefix:
            return ""
        text = f"{name:<{self.width}}  | "
        if self.color:
            code = self._colors.get(name.rsplit("-", 1)[0], _COLORS[0])
            return f"\x1b[{code}m{text}\x1b[0m"
        return text

    def line(self, name: str, rec: LogRecord) -> None:
        text = rec.text.decode(errors="replace")
        stamp = f"{rec.time} " if self.timestamps else ""
        err = not self.prefix and rec.stream == "stderr" and self.out is None  # run: keep the streams apart
        self.write(f"{self.head(name)}{stamp}{text}\n", sys.stderr if err else None)

    def write(self, text: str, stream: TextIO | None = None) -> None:
        out = stream or self.out or sys.stdout
        with self._lock:
            try:
                out.write(text)
                out.flush()
            except BrokenPipeError:
                pass


def use_color(ctx: Context, no_color: bool) -> bool:
    from composer.progress import use_color as uc

    return not no_color and uc(ctx.args.ansi, sys.stdout, ctx.environ)


def _tail(value: str) -> int | None:
    if value in ("all", "", "-1"):
        return None
    try:
        return max(0, int(value))
    except ValueError:
        from composer.errors import UsageError

        raise UsageError(f"invalid --tail {value!r}; expected a number or all") from None


def follow_containers(
    engine: Any,
    containers: Iterable[ContainerInfo],
    printer: LogPrinter,
    *,
    follow: bool,
    tail: int | None = None,
    since: float | None = None,
    until: float | None = None,
    events: queue.Queue[tuple[str, ContainerInfo]] | None = None,
) -> list[threading.Thread]:
    """Start one reader thread per container; each puts ("exit", container) on *events* when done."""
    from runtime.logs import join_partials

    threads = []
    for c in containers:
        name = short_name(c)

        def pump(c: ContainerInfo = c, name: str = name) -> None:
            try:
                records = engine.containers.logs(c.id, follow=follow, tail=tail, since=since, until=until)
                for rec in join_partials(records):
                    printer.line(name, rec)
            except Exception as exc:  # noqa: BLE001 - one broken log must not stop the others
                printer.write(f"{name}: cannot read logs: {exc}\n")
            finally:
                if events is not None:
                    events.put(("exit", c))

        t = threading.Thread(target=pump, name=f"logs-{name}", daemon=True)
        t.start()
        threads.append(t)
    return threads


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    containers = C.project_containers(engine, pname, args.services, oneoff=None)
    if args.index is not None:
        containers = [c for c in containers if c.labels.get(L.CONTAINER_NUMBER) == str(args.index)]
    printer = LogPrinter(
        [short_name(c) for c in containers],
        use_color(ctx, args.no_color),
        prefix=not args.no_log_prefix,
        timestamps=args.timestamps,
    )
    since, until = C.since_to_epoch(args.since), C.since_to_epoch(args.until)
    if not args.follow:
        # one listing merged by time, so lines of different services read in the order they happened
        from runtime.logs import join_partials

        merged: list[tuple[str, int, str, Any]] = []
        for c in containers:
            records = engine.containers.logs(c.id, tail=_tail(args.tail), since=since, until=until)
            merged.extend((rec.time, i, short_name(c), rec) for i, rec in enumerate(join_partials(records)))
        for _, _, cname, rec in sorted(merged, key=lambda m: (m[0], m[1])):
            printer.line(cname, rec)
        return 0
    threads = follow_containers(
        engine, containers, printer, follow=args.follow, tail=_tail(args.tail), since=since, until=until
    )
    for t in threads:
        while t.is_alive():
            t.join(0.2)  # short joins: Ctrl-C stays responsive
    return 0


def attach_names(containers: Sequence[ContainerInfo]) -> Mapping[str, ContainerInfo]:
    return {short_name(c): c for c in containers}

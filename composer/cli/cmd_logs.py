"""`composer logs`: the project's container logs, prefixed `web-1  | ` and coloured per service.

The follower used here also serves attached `up` (cmd_up imports LogPrinter and follow_containers).
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any, TextIO

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
    """Formats records as docker compose's log consumer (cmd/formatter/logs.go) does. One lock:
    lines of different containers never mix.

    *lazy* (attached `up`): a name takes the next colour and widens the prefix column when it first
    prints, as docker compose registers its presenters, so lines printed before a longer name
    appears keep their narrower column. *split_streams* (attached `up`): a container's stderr
    lines go to our stderr, as docker compose's attach writes them. *muted* drops log lines (status
    lines still print): docker compose's consumer writes nothing once its context is cancelled.
    *clock* (attached `up --timestamps`): a line's stamp is the time it is printed, in the local
    zone, as docker compose's consumer stamps it; otherwise it is the record's, as the engine's.
    """

    names: Sequence[str]
    color: bool
    prefix: bool = True
    timestamps: bool = False
    out: TextIO | None = None
    lazy: bool = False
    split_streams: bool = False
    muted: bool = False
    clock: bool = False

    def __post_init__(self) -> None:
        self.width = 0
        self._lock = threading.Lock()
        # a colour per container (docker compose's presenters: web-1 and web-2 differ), in turn
        self._colors: dict[str, str] = {}
        for name in self.names:
            self.add(name)

    def add(self, name: str) -> None:
        """A container attached later: widen the prefix column, give it the next colour. A hook's
        source (`web-1 ->`) takes its container's colour, as docker compose's child presenters."""
        root, space, _ = name.partition(" ")
        if space:
            self.add(root)
        with self._lock:
            self.width = max(self.width, len(name))
            if name not in self._colors:
                self._colors[name] = self._colors[root] if space else _COLORS[self._turn() % len(_COLORS)]

    def _turn(self) -> int:
        return sum(1 for n in self._colors if " " not in n)

    def attached(self, name: str) -> None:
        """A container is followed: registered now, unless names register when they first print."""
        if not self.lazy:
            self.add(name)

    def head(self, name: str) -> str:
        if name not in self._colors:
            self.add(name)
        if not self.prefix:
            return ""
        text = f"{name:<{self.width}}  | "
        if self.color:
            code = self._colors.get(name, _COLORS[0])
            return f"\x1b[{code}m{text}\x1b[0m"
        return text

    def line(self, name: str, rec: LogRecord) -> None:
        if self.muted:
            return
        text = rec.text.decode(errors="replace")
        stamp = f"{now_stamp() if self.clock else rec.time} " if self.timestamps else ""
        # run: keep the streams apart
        err = rec.stream == "stderr" and (self.split_streams or (not self.prefix and self.out is None))
        self.write(f"{self.head(name)}{stamp}{text}\n", sys.stderr if err else None)

    def log(self, name: str, text: str) -> None:
        """A line that is no container record (a hook's output, docker compose's HookEventLog)."""
        if not self.muted:
            self.write(f"{self.head(name)}{text}\n")

    def status(self, name: str, text: str) -> None:
        """docker compose's status line (cmd/formatter/logs.go): goterm's RESET_LINE (`\\r` and
        erase the line, written whatever the output is), `<name> <text>` and the newline, all in
        the name's colour; no `|`. A name not seen yet is registered, widening the column."""
        if name not in self._colors:
            self.add(name)
        line = f"\r\x1b[K{name} {text}\n"
        if self.color:
            line = f"\x1b[{self._colors.get(name, _COLORS[0])}m{line}\x1b[0m"
        self.write(line)

    def write(self, text: str, stream: TextIO | None = None) -> None:
        out = stream or self.out or sys.stdout
        with self._lock:
            try:
                out.write(text)
                out.flush()
            except BrokenPipeError:
                pass


def now_stamp() -> str:
    """Now as Go's RFC3339NanoFixed in the local zone (`2006-01-02T15:04:05.000000000Z07:00`):
    nine digits always, `Z` for UTC, else the offset."""
    ns = time.time_ns()
    t = time.localtime(ns // 1_000_000_000)
    off = t.tm_gmtoff or 0
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', t)}.{ns % 1_000_000_000:09d}{zone}"


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


def _epoch(stamp: str) -> float | None:
    from composer.cli.humanize import parse_time

    return parse_time(stamp) or None


_UP = ("running", "paused")
_DOWN = ("exited", "dead", "restarting")  # restarting: died, the monitor runs it again after a pause


def diff_looks(
    before: Mapping[str, ContainerInfo], after: Mapping[str, ContainerInfo]
) -> list[tuple[str, ContainerInfo]]:
    """What happened between two looks at the engine (id -> info), in docker's actions: create,
    start, die, pause, unpause, health_status: <h>, destroy (`logs -f` follows containers by
    looking; `events` reads the event log). It is inferred from the stamps (a new started_at is a
    start even if the container is down again), so a short-lived container still shows its start
    and die."""
    out: list[tuple[str, ContainerInfo]] = []
    for cid, c in after.items():
        old = before.get(cid)
        if old is None:
            out.append(("create", c))
            ran = bool(c.started_at) and c.status != "created"
            if c.status in _UP or ran:
                out.append(("start", c))
            if c.status in _DOWN and ran:
                out.append(("die", c))
        else:
            was_up = old.status in _UP
            started = old.restart_count != c.restart_count or bool(
                c.started_at and old.started_at != c.started_at)
            if started:
                if was_up:
                    out.append(("die", c))  # the run seen last time ended before this one
                out.append(("start", c))
                # runs that began and ended between the looks: the restart policy's restarts each
                # count one, and a start of a stopped or new container one more
                restarts = c.restart_count - old.restart_count
                starts = restarts + (old.status in ("created", "exited", "dead"))
                for _ in range(starts - 1):
                    out += [("die", c), ("start", c)]
            elif old.status == "paused" and c.status == "running":
                out.append(("unpause", c))
            elif old.status == "running" and c.status == "paused":
                out.append(("pause", c))
            elif not was_up and c.status in _UP:
                out.append(("start", c))
            # "created" after a run: stopped, and a new monitor waits at the gate (restart, start)
            if (c.status in _DOWN or c.status == "created") and (was_up or started):
                out.append(("die", c))
        if c.health and c.health != (old.health if old else ""):
            out.append((f"health_status: {c.health}", c))
    for cid, c in before.items():
        if cid not in after:
            out.append(("destroy", c))
    return out


def watch_step(watched: set[str], before: Mapping[str, ContainerInfo],
               after: Mapping[str, ContainerInfo]) -> list[tuple[str, ContainerInfo]]:
    """What `logs -f` does between two looks, as docker compose v2.40's monitor (pkg/compose/
    monitor.go) does on engine events; updates *watched* (the ids it waits for) in place.

    Returns ("start", c): follow it from its start; ("exit", c) / ("restarting", c): print
    "exited with code N" (with " (restarting)" when the restart policy runs it again). A container
    joins *watched* when created or started and leaves when it dies for good. Unlike docker compose,
    a container that disappears (removed while stopped) also leaves: docker's set would wait for it
    forever."""
    out: list[tuple[str, ContainerInfo]] = []
    events = diff_looks(before, after)
    for i, (action, c) in enumerate(events):
        if action in ("create", "start"):
            watched.add(c.id)
            if action == "start":
                out.append(("start", c))
        elif action == "die":
            # it runs again: now, or a start of it comes later in this step (died, restarted, ...)
            again = c.status in ("running", "restarting", "paused") or any(
                a == "start" and o.id == c.id for a, o in events[i + 1:])
            if again:
                out.append(("restarting", c))
            else:
                watched.discard(c.id)
                out.append(("exit", c))
        elif action == "destroy":
            watched.discard(c.id)
    # stopped while it waited to run again: no die (its run had ended), but it is over
    seen = {c.id for _, c in events}
    for cid, c in after.items():
        old = before.get(cid)
        if (cid in watched and cid not in seen and old is not None and old.status == "restarting"
                and c.status in ("exited", "dead")):
            watched.discard(cid)
            out.append(("exit", c))
    return out


class ProjectFollower:
    """`logs -f` over a project, as docker compose v2.40: follows the containers there are, follows
    the ones that start later (scale, recreate, start) from their start, prints "<name> exited with
    code N" when one dies, and ends when every container it watches has died (containers stopped
    when it began are watched too: it then waits for them, as docker compose does).

    There is no event bus (no daemon): the engine is listed every *interval* seconds, a few ms of
    CPU per look for a 10-container project.

    Attached `up` uses it as docker compose's monitor (pkg/compose/monitor.go) and attach: it
    follows the output of the *attach* services only (None: all it lists), reports and waits for
    the exits of the *watch* services only (None: all it lists), and hears each exit through
    *on_exit* (container, exit code, restarting), after its status line.
    """

    def __init__(self, engine: Any, project: str, services: Sequence[str], printer: LogPrinter, *,
                 tail: int | None = None, since: float | None = None, until: float | None = None,
                 oneoff: bool | None = False, index: int | None = None, interval: float = 0.5,
                 attach: Collection[str] | None = None, watch: Collection[str] | None = None,
                 on_exit: Callable[[ContainerInfo, int, bool], None] | None = None,
                 restarted: Callable[[str], bool] | None = None) -> None:
        self.engine, self.project, self.services = engine, project, tuple(services)
        # whether a container seen stopped was stopped to be started again by someone else (up
        # --watch's restarts): then it is "restarting", and stays watched
        self.restarted = restarted
        self.printer, self.tail, self.since, self.until = printer, tail, since, until
        self.oneoff, self.index, self.interval = oneoff, index, interval
        self.attach, self.watch, self.on_exit = attach, watch, on_exit
        self.readers: dict[str, threading.Thread] = {}
        self.followed: dict[str, str] = {}  # id -> started_at its reader began with
        self.last: dict[str, str] = {}  # id -> time of the last record printed
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._unwatched: set[str] = set()
        self._began = time.time_ns()
        self._dies: dict[str, int] = {}  # id -> how many of its ends were reported

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()

    def _wake_on_events(self) -> None:
        """Look again as soon as the engine logs an event of the project (a start, a die, ...),
        not only every *interval*: status lines come when the exit happens, and restarts a few
        tenths of a second apart are seen one by one, as docker compose's monitor sees them."""
        events = getattr(self.engine, "events", None)
        if events is None:
            return

        def pump() -> None:
            try:
                for ev in events():
                    if self._stop.is_set():
                        return
                    if ev.attributes.get(L.PROJECT) == self.project:
                        self._poke.set()
            except Exception:  # noqa: BLE001 - no event log: the interval's looks still run
                return

        threading.Thread(target=pump, name="events", daemon=True).start()

    def _wait(self) -> bool:
        """Wait for the next look; False once stopped."""
        self._poke.wait(self.interval)
        self._poke.clear()
        return not self._stop.is_set()

    def _list(self) -> list[ContainerInfo]:
        out = C.project_containers(self.engine, self.project, self.services, oneoff=self.oneoff)
        if self.index is not None:
            out = [c for c in out if c.labels.get(L.CONTAINER_NUMBER) == str(self.index)]
        return out

    def _attach(self, c: ContainerInfo, since: float | None, tail: int | None) -> None:
        from runtime.logs import join_partials

        if self.attach is not None and c.labels.get(L.SERVICE) not in self.attach:
            return  # watched, not attached: its exit counts, its output does not show
        self.followed[c.id] = c.started_at
        if not self._watches(c):
            self._unwatched.add(c.id)
        name = short_name(c)
        self.printer.attached(name)
        # a reader of an earlier run may have read into this one before it ended (same log file):
        # lines up to the last one printed for this container are not printed again
        after = self.last.get(c.id, "")

        def pump() -> None:
            try:
                records = self.engine.containers.logs(c.id, follow=True, tail=tail, since=since,
                                                      until=self.until)
                for rec in join_partials(records):
                    if after and rec.time <= after:  # fixed-width RFC 3339: compares as text
                        continue
                    self.printer.line(name, rec)
                    self.last[c.id] = rec.time
            except Exception as exc:  # noqa: BLE001 - one broken log must not stop the others
                self.printer.write(f"{name}: cannot read logs: {exc}\n")

        t = threading.Thread(target=pump, name=f"logs-{name}", daemon=True)
        t.start()
        self.readers[c.id] = t

    def _alive(self) -> set[str]:
        return {cid for cid, t in self.readers.items() if t.is_alive()}

    def run(self, initial: Sequence[ContainerInfo] | None = None) -> None:
        """Follow until every watched container has died (or stop() / --until)."""
        containers = self._list() if initial is None else list(initial)
        for c in containers:
            self._attach(c, self.since, self.tail)
        watched = {c.id for c in containers if self._watches(c)}
        snap = {c.id: c for c in containers}
        self._wake_on_events()
        while watched and self._wait():
            if self.until is not None and time.time() >= self.until:
                break
            now = {c.id: c for c in self._list()}
            for what, c in watch_step(watched, snap, now):
                if what == "start":
                    self._start(c)
                elif self._watches(c):
                    again = what == "restarting" or (self.restarted is not None and self.restarted(c.id))
                    if again:
                        watched.add(c.id)
                    self._exited(c, restarting=again)
            watched -= {cid for cid, c in now.items() if not self._watches(c)}
            snap = now
        self._join()

    def _watches(self, c: ContainerInfo) -> bool:
        return self.watch is None or c.labels.get(L.SERVICE) in self.watch

    def _start(self, c: ContainerInfo) -> None:
        if c.id in self._alive() or self.followed.get(c.id) == c.started_at:
            return  # its reader follows this run already (a restart inside one monitor)
        started = _epoch(c.started_at)
        since = max(started, self.since) if started and self.since else started or self.since
        self._attach(c, since, self.tail)

    def _exited(self, c: ContainerInfo, *, restarting: bool) -> None:
        reader = self.readers.get(c.id)
        if reader is not None and not restarting:
            reader.join(2.0)  # its last lines before the status line
        code = self._exit_code(c, restarting)
        suffix = " (restarting)" if restarting else ""
        self.printer.status(short_name(c), f"exited with code {code}{suffix}")
        if self.on_exit is not None:
            self.on_exit(c, code, restarting)

    def _exit_code(self, c: ContainerInfo, restarting: bool) -> int:
        """The code of the run that ended. A container running again after a restart shows none
        (and one seen ended may have run several times since the last look): the engine's die
        events (docker compose reads the code from them) say it, the n-th die since the follow
        began for the n-th end reported."""
        nth = self._dies.get(c.id, 0)
        self._dies[c.id] = nth + 1
        if not restarting and c.exit_code is not None:
            return c.exit_code
        events = getattr(self.engine, "events", None)
        if events is not None:
            try:
                codes = [e.attributes.get("exitCode", "0") for e in events(since=self._began,
                                                                            until=time.time_ns())
                         if e.id == c.id and e.action == "die"]
            except Exception:  # noqa: BLE001 - an unreadable event log: the state's code, or 0
                codes = []
            if nth < len(codes) and codes[nth].lstrip("-").isdigit():
                return int(codes[nth])
        return c.exit_code if c.exit_code is not None else 0

    def _join(self) -> None:
        # the readers of containers it does not watch are left behind (they may run on)
        for t in [t for cid, t in self.readers.items() if cid not in self._unwatched]:
            while t.is_alive() and not self._stop.is_set():
                t.join(0.2)  # short joins: Ctrl-C stays responsive



def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if args.index and len(args.services) != 1:
        from composer.errors import UsageError

        raise UsageError("--index requires one service to be selected")
    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    # as docker compose: no one-off containers; with a compose file, only the services it enables
    # and does not keep quiet (attach: false), unless named
    services = list(args.services) or ([s for s, svc in project.services.items()
                                        if svc.get("attach", True) is not False]
                                       if project is not None else [])
    containers = C.project_containers(engine, pname, services, oneoff=False)
    if args.index:
        containers = [c for c in containers if c.labels.get(L.CONTAINER_NUMBER) == str(args.index)]
        if not containers:
            from composer.errors import ComposerError

            raise ComposerError(f'service "{args.services[0]}" is not running container #{args.index}')
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
    follower = ProjectFollower(engine, pname, services, printer, tail=_tail(args.tail), since=since,
                               until=until, index=args.index)
    follower.run(containers)
    return 0


def attach_names(containers: Sequence[ContainerInfo]) -> Mapping[str, ContainerInfo]:
    return {short_name(c): c for c in containers}

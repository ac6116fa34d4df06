"""Pure parts of the reading verbs: which containers `logs -f` attaches to, and `events` lines in
docker compose's format (cmd/compose/events.go: json.Marshal of a map; api.Event.String)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from composer import labels as L
from composer.cli.cmd_events import event_line, go_time
from composer.cli.cmd_logs import LogPrinter
from runtime.spec import ContainerInfo

ID = "ab" * 32


def info(name: str = "p-web-1", status: str = "running", started: str = "2026-01-02T03:04:05.5Z",
         cid: str = ID, **kw: Any) -> ContainerInfo:
    labels = {L.PROJECT: "p", L.SERVICE: name.split("-")[1], L.CONTAINER_NUMBER: name.rsplit("-", 1)[1],
              "org.example.team": "blue"}
    return ContainerInfo(id=cid, name=name, image="busybox", image_id="sha256:x", labels=labels,
                         status=status, created_at="2026-01-02T03:04:05.000000001Z",  # type: ignore[arg-type]
                         started_at=started, **kw)


# ---- logs -f: what the follower does between two looks ---------------------------------------


def _step(watched: set[str], before: list[ContainerInfo],
          after: list[ContainerInfo]) -> list[tuple[str, str]]:
    from composer.cli.cmd_logs import watch_step

    got = watch_step(watched, {c.id: c for c in before}, {c.id: c for c in after})
    return [(what, c.name) for what, c in got]


def test_a_container_started_later_is_followed_and_watched() -> None:
    watched: set[str] = set()
    assert _step(watched, [], [info()]) == [("start", "p-web-1")]
    assert watched == {ID}


def test_a_death_for_good_ends_the_watch_a_restart_does_not() -> None:
    watched = {ID}
    assert _step(watched, [info()], [info(status="restarting", exit_code=1)]) == [("restarting", "p-web-1")]
    assert watched == {ID}
    again = info(started="2026-01-02T03:09:00Z")
    assert _step(watched, [info(status="restarting")], [again]) == [("start", "p-web-1")]
    # died, ran again and died again between two looks: one restart, then the end
    gone = info(status="exited", exit_code=2, started="2026-01-02T03:10:00Z")
    assert _step(watched, [again], [gone]) == [("restarting", "p-web-1"), ("start", "p-web-1"),
                                               ("exit", "p-web-1")]
    assert watched == set()


def test_a_container_stopped_while_it_waits_to_restart_ends_the_watch() -> None:
    watched = {ID}
    waiting = info(status="restarting", exit_code=2)
    assert _step(watched, [waiting], [info(status="exited", exit_code=2)]) == [("exit", "p-web-1")]
    assert watched == set()


def test_a_stopped_container_stays_watched_until_it_dies_or_goes() -> None:
    stopped = info(status="exited")
    watched = {ID}
    assert _step(watched, [stopped], [stopped]) == []
    assert watched == {ID}  # docker compose waits for it too
    assert _step(watched, [stopped], []) == []
    assert watched == set()  # removed: nothing left to wait for


def test_up_stamps_lines_with_the_local_time_of_printing_as_go_rfc3339nanofixed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from composer.cli.cmd_logs import now_stamp

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        monkeypatch.setattr(time, "time_ns", lambda: 1767323045_000000500)
        assert now_stamp() == "2026-01-02T08:34:05.000000500+05:30"
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        assert now_stamp() == "2026-01-02T03:04:05.000000500Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_printer_widens_for_a_later_name_and_prints_status_lines() -> None:
    import io

    p = LogPrinter(["web-1"], color=False, out=io.StringIO())
    assert p.head("web-1") == "web-1  | "
    p.add("worker-10")
    assert p.head("web-1") == "web-1      | "
    p.status("web-1", "exited with code 3")
    assert p.out.getvalue() == "\r\x1b[Kweb-1 exited with code 3\n"  # type: ignore[union-attr]
    c = LogPrinter(["web-1"], color=True, out=io.StringIO())
    c.status("web-1", "exited with code 0")
    assert c.out.getvalue() == "\x1b[36m\r\x1b[Kweb-1 exited with code 0\n\x1b[0m"  # type: ignore[union-attr]


# ---- events ---------------------------------------------------------------------------------


ATTRS = {L.PROJECT: "p", L.SERVICE: "web", L.ONEOFF: "False", "org.example.team": "blue",
         "image": "busybox", "name": "p-web-1"}


def _shown(attrs: dict[str, str] | None = None, services: tuple[str, ...] = ()) -> Any:
    from composer.cli.cmd_events import compose_event

    return compose_event("p", services, ATTRS if attrs is None else attrs)


def test_events_json_is_go_json_of_compose_fields() -> None:
    service, attrs = _shown({**ATTRS, "exitCode": "3", "execDuration": "1"})
    line = event_line(1767323046_250000000, "die", ID, service, attrs, True)
    doc = json.loads(line)
    assert list(doc) == ["action", "attributes", "id", "service", "time", "type"]  # Go sorts map keys
    assert (doc["action"], doc["id"], doc["service"], doc["type"]) == ("die", ID, "web", "container")
    # compose labels stripped, the others kept, the action's own too
    assert doc["attributes"] == {"execDuration": "1", "exitCode": "3", "image": "busybox",
                                 "name": "p-web-1", "org.example.team": "blue"}
    assert list(doc["attributes"]) == sorted(doc["attributes"])
    assert " " not in line.replace("p-web-1", "")  # no spaces between tokens, as Go
    assert doc["time"] == go_time(1767323046_250000000)


def test_events_of_the_project_and_its_named_services_only() -> None:
    assert _shown() is not None
    assert _shown({**ATTRS, L.PROJECT: "other"}) is None
    assert _shown({**ATTRS, L.ONEOFF: "True"}) is None  # `run`'s containers: docker compose skips them
    assert _shown(services=("db",)) is None
    assert _shown(services=("db", "web")) == ("web", {"image": "busybox", "name": "p-web-1",
                                                      "org.example.team": "blue"})


def test_events_json_escapes_html_as_go() -> None:
    assert '"x":"\\u003ca\\u0026b\\u003e"' in event_line(0, "start", ID, "web", {"x": "<a&b>"}, True)


def test_events_text_line() -> None:
    line = event_line(1767323045_500000000, "start", ID, "web", _shown()[1], False)
    stamp, rest = line[:26], line[27:]
    assert rest == f"container start {ID} (image=busybox, name=p-web-1, org.example.team=blue)"
    assert stamp.endswith(".500000") and stamp[4] == "-" and stamp[10] == " "


S = 1_000_000_000


@pytest.mark.parametrize(("value", "want"), [
    ("10m", (1767323045 - 600) * S),  # a duration counts back from now, to the second
    ("-1h", (1767323045 + 3600) * S),
    ("1.5s", 1767323044 * S),
    ("0s", 1767323045 * S),
    ("0", 0),  # not a duration: a Unix time
    ("1767000000", 1767000000 * S),
    ("1767000000.25", 1767000000_250000000),
    ("2026-01-02T03:04:05Z", 1767323045 * S),
    ("2026-01-02T03:04:05.000000007+01:00", 1767319445_000000007),
    ("2026-01-02", 1767312000 * S),  # no zone: the local one (the expected times are UTC's)
    ("2026-01-02T03", 1767322800 * S),
])
def test_docker_timestamps(value: str, want: int) -> None:
    from composer.cli.cmd_events import docker_timestamp

    if value.count("-") == 2 and not value.endswith("Z"):
        want -= time.localtime(1767323045).tm_gmtoff * S
    assert docker_timestamp(value, 1767323045_700000000) == want


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "10x"])
def test_docker_timestamps_refused(value: str) -> None:
    from composer.cli.cmd_events import docker_timestamp
    from composer.errors import ComposerError

    with pytest.raises(ComposerError, match=value):
        docker_timestamp(value, 0)


@pytest.mark.parametrize(("ns", "tz", "want"), [
    (1767323045_000000000, "UTC", "2026-01-02T03:04:05Z"),
    (1767323045_120000000, "UTC", "2026-01-02T03:04:05.12Z"),
    (1767323045_000000007, "Asia/Kolkata", "2026-01-02T08:34:05.000000007+05:30"),
])
def test_go_time(ns: int, tz: str, want: str) -> None:
    # in a child: the local zone is read once per process
    code = f"from composer.cli.cmd_events import go_time; print(go_time({ns}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TZ": tz}, timeout=60)
    assert out.stdout.strip() == want, out.stderr


def _names(events: list[tuple[str, ContainerInfo]]) -> list[str]:
    return [a for a, _ in events]


def test_a_short_life_between_two_looks_still_shows_start_and_die() -> None:
    from composer.cli.cmd_logs import diff_looks as diff_events

    created = info(status="created", started="")
    ran = info(status="exited", exit_code=0, finished_at="2026-01-02T03:04:06Z")
    assert _names(diff_events({ID: created}, {ID: ran})) == ["start", "die"]
    assert _names(diff_events({}, {ID: ran})) == ["create", "start", "die"]
    assert _names(diff_events({}, {ID: created})) == ["create"]


def test_a_restart_between_two_looks_is_a_die_and_a_start() -> None:
    from composer.cli.cmd_logs import diff_looks as diff_events

    first, second = info(), info(started="2026-01-02T03:05:00Z")
    assert _names(diff_events({ID: first}, {ID: second})) == ["die", "start"]
    assert _names(diff_events({ID: first}, {ID: first})) == []
    restarting = info(status="restarting")
    assert _names(diff_events({ID: first}, {ID: restarting})) == ["die"]
    assert _names(diff_events({ID: restarting}, {ID: second})) == ["start"]
    paused = info(status="paused")
    assert _names(diff_events({ID: first}, {ID: paused})) == ["pause"]
    assert _names(diff_events({ID: paused}, {ID: first})) == ["unpause"]


def test_restarts_between_two_looks_each_show_a_die_and_a_start() -> None:
    # the restart policy ran it twice more after its first run, all before the next look: docker
    # compose's monitor, on events, prints two "(restarting)" lines and the end
    created = info(status="created", started="")
    done = info(status="exited", exit_code=3, started="2026-01-02T03:09:00Z", restart_count=2)
    watched = {ID}
    assert [what for what, _ in _step(watched, [created], [done])] == [
        "start", "restarting", "start", "restarting", "start", "exit"]
    running = info(restart_count=1)
    later = info(status="running", started="2026-01-02T03:09:00Z", restart_count=3)
    assert _names(_diff({ID: running}, {ID: later})) == ["die", "start", "die", "start"]


def _diff(before: dict[str, ContainerInfo],
          after: dict[str, ContainerInfo]) -> list[tuple[str, ContainerInfo]]:
    from composer.cli.cmd_logs import diff_looks

    return diff_looks(before, after)


def test_a_look_between_stop_and_start_of_a_restart_still_sees_the_death() -> None:
    from composer.cli.cmd_logs import diff_looks as diff_events

    running, between = info(), info(status="created")  # the new monitor waits at its start gate
    assert _names(diff_events({ID: running}, {ID: between})) == ["die"]
    assert _names(diff_events({ID: between}, {ID: info(started="2026-01-02T03:09:00Z")})) == ["start"]


class _FakeContainers:
    """A recording fake of engine.containers: scripted listings, logs of one line that end at once."""

    def __init__(self, looks: list[list[ContainerInfo]]) -> None:
        self.looks = looks
        self.log_calls: list[tuple[str, float | None, int | None]] = []

    def list(self, *, all: bool = True, labels: Any = None) -> list[ContainerInfo]:
        return self.looks.pop(0) if len(self.looks) > 1 else self.looks[0]

    def logs(self, cid: str, *, follow: bool, tail: int | None, since: float | None,
             until: float | None) -> Any:
        from runtime.spec import LogRecord

        self.log_calls.append((cid, since, tail))
        return iter([LogRecord(time="2026-01-02T03:04:05Z", stream="stdout", text=cid[:2].encode())])


class _FakeEngine:
    def __init__(self, looks: list[list[ContainerInfo]]) -> None:
        self.containers = _FakeContainers(looks)


def test_the_follower_looks_again_when_the_engine_logs_an_event_of_the_project() -> None:
    import io
    import threading
    import time

    from composer.cli.cmd_logs import ProjectFollower
    from runtime.events import Event

    web = info()
    engine = _FakeEngine([[info(status="exited", exit_code=3)]])
    other = Event(time=1, id="ef" * 32, action="die", attributes={L.PROJECT: "q"})
    die = Event(time=2, id=ID, action="die", attributes={L.PROJECT: "p", "exitCode": "3"})

    def live() -> Any:
        yield other  # another project's: no look for it
        time.sleep(0.3)
        yield die
        threading.Event().wait()  # a live stream: nothing more

    def events(since: int | None = None, until: int | None = None) -> Any:
        return iter([other, die]) if until is not None else live()

    engine.events = events  # type: ignore[attr-defined]
    out = io.StringIO()
    follower = ProjectFollower(engine, "p", (), LogPrinter(["web-1"], color=False, out=out),
                               interval=30)  # looks only on events within this test's time
    started = time.monotonic()
    done = threading.Thread(target=follower.run, args=([web],), daemon=True)
    done.start()
    done.join(10)
    assert not done.is_alive(), "the follower waited for its interval"
    assert 0.3 <= time.monotonic() - started < 10
    assert out.getvalue().endswith("\r\x1b[Kweb-1 exited with code 3\n")


def test_the_follower_attaches_a_later_container_from_its_start_and_reports_it() -> None:
    import io

    from composer.cli.cmd_logs import ProjectFollower

    web = info()
    db = info("p-db-1", cid="cd" * 32, started="2026-01-02T03:04:07.25Z")
    dead = [info(status="exited", exit_code=0),
            info("p-db-1", status="exited", exit_code=4, cid="cd" * 32, started=db.started_at)]
    engine = _FakeEngine([[web, db], dead])
    out = io.StringIO()
    exits: list[tuple[str, int, bool]] = []
    follower = ProjectFollower(engine, "p", (), LogPrinter(["web-1"], color=False, out=out), tail=5,
                               interval=0.01,
                               on_exit=lambda c, code, again: exits.append((c.name, code, again)))
    follower.run([web])
    lines = out.getvalue().split("\n")[:-1]  # splitlines would split the status lines' "\r" too
    assert sorted(lines) == ["\r\x1b[Kdb-1 exited with code 4", "\r\x1b[Kweb-1 exited with code 0",
                             "db-1   | cd", "web-1  | ab"]
    assert lines.index("db-1   | cd") < lines.index("\r\x1b[Kdb-1 exited with code 4")
    assert engine.containers.log_calls[0] == (ID, None, 5)
    assert engine.containers.log_calls[1] == ("cd" * 32, 1767323047.25, 5)  # from its start, --tail kept
    assert sorted(exits) == [("p-db-1", 4, False), ("p-web-1", 0, False)]  # heard after the status lines


# ---- the CLI uses the project cache -----------------------------------------------------------

_CLI_PROBE = (
    "import sys\nfrom composer.cli.main import main\n"
    "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
    "heavy = [m for m in ('yaml', 'dotenv', 'jsonschema', 'composer.loader.canonical') if m in sys.modules]\n"
    "print('@@', rc, ' '.join(heavy))"
)


@pytest.mark.parametrize("verb", [["ps"], ["logs"], ["top"], ["images"], ["events", "--until", "0s"]])
def test_reading_verbs_on_an_unchanged_project_load_nothing(verb: list[str], tmp_path: Any,
                                                              engine_paths: Any) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n    env_file: [w.env]\n")
    (tmp_path / "w.env").write_text("A=1\n")

    def probe() -> list[str]:
        out = subprocess.run([sys.executable, "-c", _CLI_PROBE, *verb], capture_output=True, text=True,
                             cwd=tmp_path, env=dict(os.environ), timeout=60)
        marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
        assert marks, out.stderr
        return marks[-1].split()[1:]

    first = probe()
    assert first[0] == "0" and "yaml" in first[1:]
    assert probe() == ["0"]  # a hit: no parser, no validator, no loader stage
    (tmp_path / "w.env").write_text("A=2\n")  # a file the service reads changed: loaded again
    assert "yaml" in probe()[1:]


def test_a_reattached_container_does_not_print_what_its_last_reader_printed() -> None:
    import io

    from composer.cli.cmd_logs import ProjectFollower
    from runtime.spec import LogRecord

    first, second = info(), info(started="2026-01-02T03:09:00Z")
    done = info(status="exited", started=second.started_at)
    engine = _FakeEngine([[second], [done]])
    # the same file both times: the first reader read into the second run before it ended
    lines = [LogRecord(time="2026-01-02T03:04:06.000000000Z", stream="stdout", text=b"run 1"),
             LogRecord(time="2026-01-02T03:09:01.000000000Z", stream="stdout", text=b"run 2")]
    engine.containers.logs = lambda cid, **kw: iter(lines)  # type: ignore[method-assign]
    out = io.StringIO()
    ProjectFollower(engine, "p", (), LogPrinter(["web-1"], color=False, out=out),
                    interval=0.01).run([first])
    got = out.getvalue().split("\n")[:-1]
    assert sorted(got) == ["\r\x1b[Kweb-1 exited with code 0",
                           "\r\x1b[Kweb-1 exited with code 0 (restarting)",
                           "web-1  | run 1", "web-1  | run 2"]  # once each


@pytest.mark.parametrize(("n", "binary", "decimal"), [
    (0, "0B", "0B"), (1023, "1023B", "1.02kB"), (1536, "1.5KiB", "1.54kB"),
    (25_276_510_208, "23.54GiB", "25.3GB"), (1024 * 1000, "1000KiB", "1.02MB")])
def test_stats_sizes_as_go_units(n: int, binary: str, decimal: str) -> None:
    from composer.cli.stats import bytes_size, human_size

    assert (bytes_size(n), human_size(n)) == (binary, decimal)


def test_streamed_stats_redraw_over_the_last() -> None:
    from composer.cli.stats import streamed

    assert streamed("A\nB\n") == "\x1b[HA \x1b[K\nB \x1b[K\n \x1b[K\n\x1b[J"

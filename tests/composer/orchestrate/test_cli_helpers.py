"""The pure parts of the compose verbs: ps/status columns, log prefixes, events, progress, the lock."""

from __future__ import annotations

import io
import multiprocessing
import time
from pathlib import Path

import pytest

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.cmd_logs import LogPrinter, short_name
from composer.cli.cmd_ps import project_summaries, ps_json
from composer.errors import ProjectError
from composer.progress import Progress, choose_mode, use_color
from composer.project_lock import project_lock
from runtime.spec import ContainerInfo, LogRecord, PortMapping


def _c(name: str = "demo-web-1", status: str = "running", **kw: object) -> ContainerInfo:
    svc, num = name.split("-")[1], name.split("-")[-1]
    base = dict(
        id=f"id-{name}",
        name=name,
        image="busybox",
        image_id="sha256:1",
        labels={
            L.PROJECT: name.split("-")[0],
            L.SERVICE: svc,
            L.CONTAINER_NUMBER: num,
            L.CONFIG_FILES: "/w/compose.yaml",
        },
        status=status,
        created_at="2026-01-01T00:00:00.123456789Z",
        started_at="2026-01-01T00:00:01Z",
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
    )
    base.update(kw)
    return ContainerInfo(**base)  # type: ignore[arg-type]


def test_status_column_reads_like_docker() -> None:
    start = C.parse_time("2026-01-01T00:00:01Z").timestamp()  # type: ignore[union-attr]
    assert C.status_text(_c(), now=start + 125) == "Up 2 minutes"
    assert C.status_text(_c(health="healthy"), now=start + 3) == "Up 3 seconds (healthy)"
    assert C.status_text(_c(health="starting"), now=start + 3) == "Up 3 seconds (health: starting)"
    assert (
        C.status_text(_c(status="exited", exit_code=3, finished_at="2026-01-01T00:00:05Z"), now=start + 64)
        == "Exited (3) About a minute ago"
    )
    assert C.status_text(_c(status="created")) == "Created"
    assert C.status_text(_c(status="dead")) == "Dead"
    dying = _c(status="restarting", exit_code=1, finished_at="2026-01-01T00:00:05Z")
    assert C.status_text(dying, now=start + 7) == "Restarting (1) 3 seconds ago"  # since it died
    doc = ps_json(_c(command=("sh", "-c", 'echo "a b"')), trunc=False)
    assert doc["Command"] == '"sh -c \'echo \\"a b\\"\'"'  # moby quotes an argument with a space
    assert ps_json(_c())["Command"] == '"httpd -f -p 8080 -h…"'
    assert ps_json(_c())["ID"] == "id-demo-web-1"[:12]


def test_human_duration_rounds_hours_as_go() -> None:
    from composer.cli.humanize import human_duration

    assert human_duration(9000) == "3 hours"  # 2.5 h: Go's int(h + 0.5), not round-half-even
    assert human_duration(5399) == "About an hour"


def test_ports_column_and_json() -> None:
    c = _c(
        ports=(
            (PortMapping(container_port=8080, host_port=18080), 18080),
            (PortMapping(container_port=53, host_port=5353, protocol="udp", host_ip="127.0.0.1"), 5353),
        )
    )
    doc = ps_json(c)
    assert doc["Ports"] == "127.0.0.1:5353->53/udp, 0.0.0.0:18080->8080/tcp, [::]:18080->8080/tcp"
    assert doc["Publishers"][1] == {
        "URL": "0.0.0.0",
        "TargetPort": 8080,
        "PublishedPort": 18080,
        "Protocol": "tcp",
    }
    assert (doc["Name"], doc["Service"], doc["State"], doc["Project"]) == (
        "demo-web-1",
        "web",
        "running",
        "demo",
    )


def test_ps_mounts_name_an_anonymous_volume_by_its_name() -> None:
    from runtime.spec import ContainerSpec, Mount

    spec = ContainerSpec(name="demo-web-1", image="busybox", mounts=(
        Mount(type="volume", target="/data"), Mount(type="bind", source="/srv", target="/srv")))
    c = _c(spec=spec, mounts=(("/data", "f" * 64),))
    assert ps_json(c)["Mounts"] == "f" * 14 + "…,/srv"
    assert ps_json(c, trunc=False)["Mounts"] == "f" * 64 + ",/srv"


def test_ls_summarises_projects() -> None:
    rows = project_summaries([_c(), _c("demo-db-1", "exited"), _c("other-x-1", "exited")], show_all=False)
    # without -a docker compose lists (and counts) the running containers only
    assert rows == [{"Name": "demo", "Status": "running(1)", "ConfigFiles": "/w/compose.yaml"}]
    rows = project_summaries([_c(), _c("demo-db-1", "exited")], show_all=True)
    assert rows[0]["Status"] == "exited(1), running(1)"
    assert [r["Name"] for r in project_summaries([_c("other-x-1", "exited")], show_all=True)] == ["other"]


def test_log_prefix_is_padded_and_coloured_per_service() -> None:
    out = io.StringIO()
    names = [short_name(_c()), short_name(_c("demo-database-1"))]
    p = LogPrinter(names, color=False, out=out)
    p.line("web-1", LogRecord(time="2026-01-01T00:00:00Z", stream="stdout", text=b"hello"))
    assert out.getvalue() == "web-1       | hello\n"
    coloured = LogPrinter(names, color=True, out=io.StringIO())
    assert coloured.head("web-1") != coloured.head("database-1")
    assert coloured.head("web-1").startswith("\x1b[") and "web-1       | " in coloured.head("web-1")
    plain = LogPrinter(names, color=False, prefix=False, timestamps=True, out=io.StringIO())
    plain.line("web-1", LogRecord(time="T", stream="stdout", text=b"x"))
    assert plain.out.getvalue() == "T x\n"  # type: ignore[union-attr]


def test_progress_plain_json_and_tty_frames() -> None:
    out = io.StringIO()
    p = Progress("plain", out)
    p.event("Container", "demo-web-1", "Started")
    assert out.getvalue() == " Container demo-web-1  Started\n"
    j = io.StringIO()
    Progress("json", j).event("Network", "demo_default", "Created")
    assert j.getvalue() == '{"id": "Network demo_default", "status": "Created", "error": false}\n'
    now = [0.0]
    t = Progress("tty", io.StringIO(), clock=lambda: now[0])
    t.event("Network", "demo_default", "Creating")
    now[0] = 1.5
    t.event("Network", "demo_default", "Created")
    now[0] = 2.0
    t.event("Container", "demo-web-1", "Starting")
    now[0] = 2.5
    assert t.frame() == [
        "[+] Running 1/2",
        " ✔ Network demo_default  Created  1.5s",
        " ⠿ Container demo-web-1  Starting  0.5s",
    ]
    assert "\x1b[2A" in t.stream.getvalue()  # type: ignore[attr-defined]  # redrawn in place
    q = io.StringIO()
    Progress("quiet", q).event("Container", "x", "Started")
    assert q.getvalue() == ""


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_mode_and_colour_choice() -> None:
    assert choose_mode("auto", _Tty(), {}) == "tty"
    assert choose_mode("auto", io.StringIO(), {}) == "plain"
    assert choose_mode("auto", _Tty(), {"COMPOSE_PROGRESS": "quiet"}) == "quiet"
    assert choose_mode("json", _Tty(), {}) == "json"
    assert use_color("auto", _Tty(), {}) is True
    assert use_color("auto", _Tty(), {"NO_COLOR": "1"}) is False
    assert use_color("always", io.StringIO(), {}) is True


def _hold(path: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with project_lock(Path(path), "demo"):
        ready.set()
        time.sleep(1.0)


def test_project_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "project-demo.lock"
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold, args=(str(lock), ready))
    proc.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(
                ProjectError, match="project demo: another composer command is working on this project"
            ),
            project_lock(lock, "demo", timeout=0.2),
        ):
            pass
        t0 = time.monotonic()
        with project_lock(lock, "demo", timeout=10):
            assert time.monotonic() - t0 > 0.1  # waited for the other holder
    finally:
        proc.join(10)


def test_since_accepts_durations_and_times() -> None:
    assert C.since_to_epoch("10m", now=1000.0) == 400.0
    assert C.since_to_epoch("1700000000") == 1700000000.0
    assert C.since_to_epoch("2026-01-01T00:00:00Z") == C.parse_time("2026-01-01T00:00:00Z").timestamp()  # type: ignore[union-attr]


def test_epoch_of_an_rfc3339_stamp_is_datetimes_without_datetime() -> None:
    """humanize.parse_time does the calendar arithmetic itself: the same epoch as datetime for
    every zone, fraction and date, and 0.0 (not an exception) for a date that does not exist."""
    import random
    from datetime import datetime

    from composer.cli.humanize import parse_time

    rng = random.Random(4)
    for _ in range(2000):
        when = datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                        rng.randint(0, 59), rng.randint(0, 59))
        zone = rng.choice(["", "Z", "+02:00", "-05:30", "+14:00"])
        frac = rng.choice(["", ".5", ".123456789"])
        text = when.isoformat() + frac + zone
        expected = datetime.fromisoformat(when.isoformat() + (zone or "Z").replace("Z", "+00:00")).timestamp()
        # a float's precision: ~3e-5 s at year 9999's epoch
        assert abs(parse_time(text) - expected - (float("0" + frac) if frac else 0.0)) < 1e-3, text
    leap = datetime.fromisoformat("2024-02-29T00:00:00+00:00").timestamp()
    assert parse_time("2024-02-29T00:00:00Z") == leap
    for junk in ("", "junk", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z"):
        assert parse_time(junk) == 0.0, junk


def _pub(url: str, target: int, published: int, proto: str = "tcp") -> dict[str, object]:
    return {"URL": url, "TargetPort": target, "PublishedPort": published, "Protocol": proto}


def test_ports_cell_is_docker_clis_displayable_ports() -> None:
    from composer.cli.docker_format import displayable_ports

    pubs = [_pub("0.0.0.0", 8001, 8001), _pub("::", 8000, 8000), _pub("0.0.0.0", 8000, 8000),
            _pub("::", 8001, 8001), _pub("", 3000, 0), _pub("", 3001, 0), _pub("0.0.0.0", 80, 8080),
            _pub("", 5000, 0, "udp"), _pub("0.0.0.0", 8003, 8003)]
    # a run broken by a gap is printed at once; the groups left follow in the order they began
    assert displayable_ports(pubs) == (
        "0.0.0.0:8000-8001->8000-8001/tcp, 3000-3001/tcp, 5000/udp, 0.0.0.0:8003->8003/tcp, "
        "[::]:8000-8001->8000-8001/tcp, 0.0.0.0:8080->80/tcp")


def test_tabwriter_pads_as_gos() -> None:
    from composer.cli.docker_format import tabwriter

    want = "NAME      X         LAST\na                   \n"  # padded up to the last cell
    assert tabwriter([["NAME", "X", "LAST"], ["a", "", ""]]) == want
    assert tabwriter([["a-long-name", "b"]], minwidth=4, padding=2) == "a-long-name  b\n"


def test_json_of_the_row_is_go_json_of_a_map_keys_sorted() -> None:
    """`stats --format '{{json .}}'` is docker's formatter.MarshalJSON, json.Marshal of a map: the
    same keys in the same (sorted) order as `--format json`, whatever order the row was built in."""
    from composer.cli import stats as S

    row = {"Name": "p-web-1", "ID": "abc", "CPUPerc": "0.00%", "BlockIO": "0B / 0B"}
    assert S.render("{{json .}}", [row]) == S.render("json", [row])
    assert S.render("json", [row]).startswith('{"BlockIO":"0B / 0B","CPUPerc":"0.00%","ID":"abc"')


def test_a_method_called_with_the_wrong_number_of_args_is_a_template_error() -> None:
    """`ps --format '{{.Label}}'`: Go's 'wrong number of args for Label', not a Python TypeError."""
    from composer.cli.go_template import render_rows
    from composer.cli.go_text_template import TemplateError

    rows, labels = [{"Name": "p-web-1"}], [{"a": "1"}]
    assert render_rows('{{.Label "a"}}', rows, ["Name"], {}, labels) == "1\n"
    for fmt in ("{{.Label}}", '{{.Label "a" "b"}}', 'table {{.Label}}'):
        with pytest.raises(TemplateError, match="wrong number of args for Label"):
            render_rows(fmt, rows, ["Name"], {}, labels)


def test_go_json_escapes_line_and_paragraph_separators_always() -> None:
    from composer.cli.docker_format import go_json
    from composer.cli.go_text_template import go_json as template_json

    assert go_json({"a": "x\u2028<y>\u2029"}) == '{"a":"x\\u2028\\u003cy\\u003e\\u2029"}'
    assert template_json({"a": "x\u2028<y>"}) == '{"a":"x\\u2028<y>"}'  # SetEscapeHTML(false)


def test_a_field_docker_has_no_title_for_heads_its_column_with_no_value() -> None:
    """compose ps's Health, ExitCode, Names... have no title in docker compose's SubHeaderContext:
    Go prints the missing map key as <no value>."""
    from composer.cli.go_template import render_rows

    rows = [{"Name": "p-web-1", "Health": "", "ExitCode": 0}]
    out = render_rows("table {{.Name}}\t{{.Health}}\t{{.ExitCode}}", rows, ["Name", "Health", "ExitCode"],
                      {"Name": "NAME"})
    assert out.splitlines() == ["NAME      <no value>   <no value>", "p-web-1                0"]

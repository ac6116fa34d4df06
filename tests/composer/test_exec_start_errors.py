"""Errors in docker compose's words and codes: `port SERVICE X` reads X as Go's
strconv.ParseUint(X, 10, 16) before anything else (cmd/compose/port.go), and an exec whose process
cannot start says what docker's daemon says of runc's error (moby daemon/errors.go
setExitCodeFromError: 127 for a missing command, file or directory, 126 for one that cannot be
run), through `exec` and `container exec` alike, on real containers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import compose_project, composer_cli, composer_ok

OCI = "OCI runtime exec failed: exec failed: unable to start container process: "

COMPOSE = """\
name: execerr
services:
  web:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
"""


@pytest.mark.parametrize(("arg", "why"), [
    ("notanumber", "invalid syntax"), ("", "invalid syntax"), ("+80", "invalid syntax"),
    ("0x50", "invalid syntax"), ("-1", "invalid syntax"), ("65536", "value out of range"),
    ("99999x", "value out of range"),  # Go stops at the digit that overflows
])
def test_port_reads_its_port_as_go_parseuint(tmp_path: Path, arg: str, why: str) -> None:
    res = composer_cli("-p", "execerr-none", "port", "web", "--", arg, cwd=tmp_path)
    assert (res.returncode, res.stderr) == (1, f'strconv.ParseUint: parsing "{arg}": {why}\n'), res.stdout


@pytest.fixture
def proj(tmp_path: Path, engine_paths: tuple[Path, Path], busybox_image: str) -> Iterator[Path]:
    yield from compose_project(tmp_path, COMPOSE, "execerr")


@pytest.mark.privileged
def test_an_exec_that_cannot_start_says_dockers_words_with_its_code(proj: Path) -> None:
    composer_ok(proj, "up", "-d")
    cases = [
        (("nosuchcmd",), 127, 'exec: "nosuchcmd": executable file not found in $PATH: unknown'),
        (("/nosuch",), 127, 'exec: "/nosuch": stat /nosuch: no such file or directory: unknown'),
        (("/etc",), 126, 'exec: "/etc": is a directory: unknown: permission denied'),
        (("/etc/passwd",), 126, 'exec: "/etc/passwd": permission denied: unknown'),
        (("-w", "/nosuch", "true"), 127,
         'chdir to cwd ("/nosuch") set in config.json failed: no such file or directory: unknown'),
    ]
    for argv, code, why in cases:
        *flags, command = argv
        for line in (("exec", "-T", *flags, "web", command),
                     ("container", "exec", *flags, "execerr-web-1", command)):
            res = composer_cli(*line, cwd=proj)
            assert (res.returncode, res.stderr) == (code, f"{OCI}{why}\n"), line
    # the user is the daemon's to look up, before runc: its own words, 126
    res = composer_cli("exec", "-T", "-u", "nosuch", "web", "true", cwd=proj)
    why = "unable to find user nosuch: no matching entries in passwd file\n"
    assert (res.returncode, res.stderr) == (126, why)

"""main.fast_args: `ps`, `ls`, `version`, `up`, `create`, `down`, `container run` and `container
create` parse without argparse, into exactly what argparse would return.

Every command line below is parsed both ways: the fast parser either returns argparse's namespace
(every attribute, defaults included) or None, and then main() hands the line to argparse, whose
help and error messages therefore stay word for word what they were.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import itertools
import subprocess
import sys
from typing import Any

import pytest

from composer.cli import cmd_container, cmd_down, cmd_ps, cmd_up, cmd_version
from composer.cli.main import build_parser, fast_args

# lines the fast path must take (what people and scripts type)
TAKEN = [
    ["ps"], ["ls"], ["-p", "demo", "ps"], ["--project-name", "demo", "ps", "-a"],
    ["-f", "a.yml", "-f", "b.yml", "ps", "web", "db"], ["--file=a.yml", "--env-file", "x.env", "ps", "-q"],
    ["--profile", "p1", "--profile", "p2", "ps", "--services"], ["--project-directory", "d", "ps"],
    ["--parallel", "3", "--dry-run", "--ansi", "never", "--progress", "plain", "ps"],
    ["--compatibility", "ps", "--format", "json"], ["ps", "--format=json", "--no-trunc"],
    ["ps", "--status", "running", "--status=exited", "--filter", "status=paused"],
    ["ps", "--no-orphans"], ["ps", "--orphans", "--no-orphans", "--orphans"],
    ["ps", "-a", "web"], ["ps", "web", "-a"], ["ps", "web", "db", "--all", "--quiet"],
    ["ls", "-a", "-q"], ["ls", "--all", "--format", "json", "--filter", "name=x"],
    ["-p", "x", "-v", "ps"], ["--version", "ls"], ["--file=", "ps"], ["--parallel", "+7", "ps"],
    ["--parallel=1_0", "ps"], ["ps", "--format", "yaml"],
    ["ps", "-aq"], ["up", "-dV"], ["-p", "x", "ps", "-qa", "web"],
    ["version"], ["version", "--short"], ["-f", "x.yml", "version", "-f", "json"],
    ["version", "--format=pretty"],
    ["up", "-d"], ["-p", "x", "up", "-d", "--wait", "--wait-timeout", "30"], ["up", "web", "db"],
    ["up", "-d", "--force-recreate", "--remove-orphans", "-t", "1.5", "--scale", "web=3", "web"],
    ["up", "--no-start", "--no-deps", "-V", "--pull", "never", "--no-build", "-y", "--quiet-pull"],
    ["up", "--attach", "web", "--no-attach=db", "--exit-code-from", "web", "--abort-on-container-exit"],
    ["up", "--no-log-prefix", "--no-color", "--timestamps", "--attach-dependencies", "--build"],
    ["up", "--abort-on-container-failure", "--no-recreate", "--timeout=3", "--renew-anon-volumes"],
    ["up", "--wait-timeout", "1e1", "--detach", "--yes"], ["up", "--menu", "web"],
    ["create", "--force-recreate", "web"], ["create", "--pull=always", "--scale", "a=2", "--build"],
    ["down"], ["-p", "x", "down", "-v", "-t", "1"],
    ["down", "--volumes", "--rmi", "local", "--remove-orphans"],
    ["down", "--timeout", "0", "web"], ["down", "--rmi=all", "web", "db"],
    ["container", "run", "--rm", "busybox", "true"], ["container", "run", "-it", "img"],
    ["container", "run", "-d", "--name", "web", "-p", "8080:80", "-e", "A=1", "-e", "B", "img"],
    ["container", "run", "--rm", "img", "sh", "-c", "echo -n x; exit 3", "--rm", "-d"],
    ["container", "run", "-v", "/a:/b:ro", "--tmpfs", "/t", "--cap-add", "NET_ADMIN", "--cap-drop=ALL",
     "--privileged", "--read-only", "-u", "1:2", "-w", "/w", "--init", "-m", "64m", "--cpus", "0.5",
     "--pids-limit", "20", "--restart", "on-failure:3", "--health-cmd", "true", "--entrypoint", "sh",
     "--label", "k=v", "-h", "host", "--network", "n1", "--net=n2", "--network-alias", "al", "img"],
    ["container", "run", "--cpu-shares", "512", "--stop-timeout", "2.5", "--health-retries", "3",
     "--ulimit", "nofile=10", "--sysctl", "net.ipv4.ip_forward=1", "--security-opt", "seccomp=unconfined",
     "--dns", "1.1.1.1", "--add-host", "a:1.2.3.4", "-P", "--expose", "80", "--pod", "p", "-ti", "img"],
    ["container", "create", "--name", "c", "img", "sleep", "60"], ["container", "create", "-i", "img"],
    ["-p", "x", "container", "run", "--rm", "img"],
]
# lines left to argparse: help, errors, abbreviations, joined flags, "--", "-" values...
LEFT = [
    ["ps", "-h"], ["ps", "--help"], ["-h", "ps"], ["ps", "-ah"], ["ps", "--al"], ["--proj", "x", "ps"],
    ["--project-n", "x", "ps"], ["ps", "--", "web"], ["-f", "-", "ps"], ["-fa.yml", "ps"], ["-p=x", "ps"],
    ["ps", "--status", "bogus"], ["ps", "--status"], ["--ansi", "sometimes", "ps"], ["--parallel", "x", "ps"],
    ["--parallel", "-1", "ps"], ["ps", "web", "-a", "db"], ["ps", "-"], ["ls", "web"], ["ps", "-x"],
    ["ps", "--all=1"], ["--dry-run=yes", "ps"], ["-p", "x", "ls", "-p", "y"], ["ps", "--format"],
    ["ps", "-1"], ["--file", "--", "ps"], ["--no-orphans", "ps"],
    ["version", "-f", "yaml"], ["version", "--short=1"], ["version", "x"], ["version", "-h"],
    ["up", "-dt", "1"], ["up", "--pull", "sometimes"], ["up", "--wait-timeout", "x"], ["up", "-t", "-1"],
    ["up", "--det"], ["up", "--help"], ["up", "web", "-d", "db"], ["create", "-d"], ["down", "-vt", "1"],
    ["down", "--rmi", "none"], ["down", "--volumes=1"], ["down", "--", "web"],
    ["container", "run"], ["container", "run", "--help"], ["container", "run", "-dp", "80", "img"],
    ["container", "run", "--pids-limit", "x", "img"], ["container", "run", "--", "img"],
    ["container", "run", "-e", "-x", "img"], ["container", "--rm", "run", "img"], ["container", "ls"],
    ["container", "run", "--nam", "x", "img"], ["container", "create", "--rm", "img"],
    ["container", "run", "--name"], ["container"], ["container", "run", "img", "--", "-x"],
]
FAST_ARGS = {**cmd_ps.FAST_ARGS, **cmd_version.FAST_ARGS, **cmd_up.FAST_ARGS, **cmd_down.FAST_ARGS,
             "container": cmd_container.FAST_ARGS.get("container")}


def _command(argv: list[str]) -> str:
    return next(w for w in argv if w in FAST_ARGS)


@functools.cache
def _parser(command: str) -> argparse.ArgumentParser:
    return build_parser(only=command)


def _argparse(argv: list[str]) -> dict[str, Any] | str:
    """argparse's namespace as a dict, or what it printed when it exited (help, an error)."""
    parser = _parser(_command(argv))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ns = parser.parse_args(argv)
        except SystemExit as exc:
            return f"exit {exc.code}: {out.getvalue()}{err.getvalue()}"
    d = dict(vars(ns))
    d.pop("_module")
    return d


def _fast(argv: list[str]) -> dict[str, Any] | None:
    command = _command(argv)
    return fast_args(argv, command, FAST_ARGS[command])


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_plain_lines_parse_without_argparse_as_argparse_does(argv: list[str]) -> None:
    fast = _fast(argv)
    assert fast is not None
    assert fast == _argparse(argv)


@pytest.mark.parametrize("argv", LEFT, ids=" ".join)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert _fast(argv) is None


def test_every_combination_of_a_few_words_parses_alike_or_is_left_to_argparse() -> None:
    """Each fast answer equals argparse's; of what the fast path leaves, argparse accepts only lines
    with a "-" word (a value or a service named "-")."""
    words = ["-a", "-q", "web", "--no-orphans", "--format", "json", "-p", "x", "--status", "running", "-",
             "-d", "-t", "2", "-v"]
    checked = 0
    for n in range(4):
        for tail in itertools.product(words, repeat=n):
            for argv in (["ps", *tail], ["-p", "n", "ps", *tail], ["ls", *tail], ["up", *tail],
                         ["down", *tail], ["container", "run", *tail], ["container", "create", *tail]):
                fast, slow = _fast(argv), _argparse(argv)
                if fast is not None:
                    assert fast == slow, argv
                    checked += 1
                elif isinstance(slow, dict):
                    assert "-" in argv, argv  # a "-" value or service: argparse's to judge
    assert checked > 100


def test_the_command_line_gets_the_same_answer_both_ways(tmp_path: Any, engine_paths: Any) -> None:
    """Through main(): a fast line and the same line made to go through argparse (`-a -q` ->
    `--al`) print the same, and an error still reads as argparse's."""
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "composer", "-p", "nosuch", *argv], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    assert run("ps", "-a", "-q").stdout == run("ps", "--al", "-q").stdout
    assert run("ps", "--format", "json").returncode == 0
    bad = run("ps", "--status", "bogus")
    assert bad.returncode == 2 and "invalid choice: 'bogus'" in bad.stderr
    assert run("ps", "--help").stdout.startswith("usage: composer ps")

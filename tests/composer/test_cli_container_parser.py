"""`composer container <verb>` builds only that verb's parser; `composer container --help` lists all."""

from __future__ import annotations

import argparse

import pytest

from composer.cli.cmd_container import VERBS, chosen_verb
from composer.cli.main import build_parser
from tests.conftest import composer_cli


def _verbs(parser: argparse.ArgumentParser) -> set[str]:
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    container = top.choices["container"]
    sub = next(a for a in container._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_chosen_verb() -> None:
    assert chosen_verb("container", ["container", "ls", "-a"]) == "ls"
    argv = ["-f", "x.yaml", "--progress", "plain", "container", "run", "-i", "img"]
    assert chosen_verb("container", argv) == "run"
    assert chosen_verb("container", ["container", "--help"]) is None
    assert chosen_verb("container", ["container", "bogus"]) is None
    assert chosen_verb("container", ["-q", "tests/x.py"]) is None  # not our command line: build all


@pytest.mark.parametrize("argv", [["container", "ls", "-q"], ["container", "run", "--rm", "img", "true"]])
def test_only_the_chosen_verb_is_built(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["composer", *argv])
    parser = build_parser(only="container")
    assert _verbs(parser) == {argv[1]}
    args = parser.parse_args(argv)
    assert args.container_cmd == argv[1]


def test_without_a_verb_every_verb_is_listed() -> None:
    res = composer_cli("container", "--help")
    assert res.returncode == 0
    assert all(v in res.stdout for v in VERBS)
    res = composer_cli("container", "ls", "--help")
    assert res.returncode == 0 and "--no-trunc" in res.stdout


def test_no_sysctls_means_no_security_defaults_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom composer.cli.cmd_container import _check_sysctls\n"
        "from runtime.spec import ContainerSpec\n"
        "_check_sysctls(ContainerSpec(name='x', image='i'))\n"
        "print('runtime.security.defaults' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("ip", "port", "want"),
    [
        ("", 8080, "0.0.0.0:8080"),
        ("127.0.0.1", 80, "127.0.0.1:80"),
        ("::1", 8080, "[::1]:8080"),
        ("::", 1, "[::]:1"),
    ],
)
def test_host_address_brackets_ipv6_as_docker(ip: str, port: int, want: str) -> None:
    from composer.cli.container_output import host_address

    assert host_address(ip, port) == want

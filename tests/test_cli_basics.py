import subprocess
import sys

from composer import __version__
from tests.conftest import composer_cli


def test_version_flag_prints_the_version() -> None:
    out = composer_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"composer version v{__version__}"


def test_version_flag_imports_no_heavy_module() -> None:
    code = (
        "import sys; from composer.cli.main import main; main(['--version']);"
        "heavy = {'networkx', 'jsonschema', 'trio', 'pyroute2', 'yaml'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_a_usage_error() -> None:
    out = composer_cli("no-such-command")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_command_word_skips_global_options_and_their_values() -> None:
    from composer.cli.main import command_word

    assert command_word(["-f", "a.yml", "-p", "x", "--dry-run", "up", "-d"]) == "up"
    assert command_word(["--project-directory", "d", "--profile", "p", "ps"]) == "ps"
    assert command_word(["--file=a.yml", "logs", "-f"]) == "logs"
    assert command_word(["-f", "a.yml"]) is None


def test_a_command_imports_only_its_own_module() -> None:
    code = (
        "import sys; from composer.cli.main import build_parser; build_parser(only='version');"
        "print(sorted(m for m in sys.modules if m.startswith('composer.cli.cmd_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['composer.cli.cmd_version']"


def test_compose_ansi_is_read_when_ansi_is_not_given() -> None:
    from composer.cli.main import _global_given

    assert _global_given(["--ansi", "auto", "up"], "--ansi")
    assert _global_given(["-p", "x", "--ansi=never", "up"], "--ansi")
    assert not _global_given(["-p", "--ansi", "up"], "--ansi")  # -p's value
    assert not _global_given(["run", "web", "ls", "--ansi"], "--ansi")  # the command's words

"""`composer version`."""

from __future__ import annotations

from composer import __version__

TYPE_CHECKING = False  # as typing.TYPE_CHECKING: importing typing costs 5 ms
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context

HELP = {"version": "Show the composer version information"}

# add_arguments as main.fast_args reads it (no argparse for a plain `composer version`)
FAST_ARGS = {
    "version": {
        "options": {"-f": ("format", "store", ("pretty", "json")),
                    "--format": ("format", "store", ("pretty", "json")), "--short": ("short", "true", None)},
        "defaults": {"format": "pretty", "short": False},
        "positional": None,
    },
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", choices=["pretty", "json"], default="pretty")
    parser.add_argument("--short", action="store_true", help="shows only the version number")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    """As docker compose's: the number bare with --short, with its "v" otherwise."""
    if args.short:
        print(__version__)
    elif args.format == "json":
        print(f'{{"version":"v{__version__}"}}')
    else:
        print(f"composer version v{__version__}")
    return 0

"""`composer version`."""

from __future__ import annotations

import argparse
import json

from composer import __version__
from composer.cli.context import Context

HELP = {"version": "Show the composer version information"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", choices=["pretty", "json"], default="pretty")
    parser.add_argument("--short", action="store_true", help="shows only the version number")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if args.short:
        print(__version__)
    elif args.format == "json":
        print(json.dumps({"version": __version__}))
    else:
        print(f"composer version {__version__}")
    return 0

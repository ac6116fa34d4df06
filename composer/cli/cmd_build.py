"""`composer build`: docker compose's flags, and the refusal `up --build` gives (no builder yet)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context

HELP = {"build": "Build or rebuild services"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    # docker compose 2.40.3's flags, so that a line written for it fails on the one point that
    # matters (no builder) rather than on argparse's "unrecognized arguments"
    a = parser.add_argument
    a("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="set build-time variables")
    a("--builder", help="set builder to use")
    a("--check", action="store_true", help="check build configuration")
    a("-m", "--memory", help="set memory limit for the build container")
    a("--no-cache", action="store_true", help="do not use cache when building the image")
    a("--print", action="store_true", dest="print_bake", help="print equivalent bake file")
    a("--provenance", help="add a provenance attestation")
    a("--pull", action="store_true", help="always attempt to pull a newer version of the image")
    a("--push", action="store_true", help="push service images")
    a("-q", "--quiet", action="store_true", help="suppress the build output")
    a("--sbom", help="add a SBOM attestation")
    a("--ssh", help="SSH authentications used when building service images")
    a("--with-dependencies", action="store_true", help="also build dependencies (transitively)")
    a("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.errors import UsageError

    raise UsageError("build is not supported yet")  # the words of `up --build` (cmd_up.run)

"""`composer attach SERVICE`: docker compose's attach (pkg/compose/attach_service.go), which is
docker's `attach` of the service's container chosen as exec chooses it."""

from __future__ import annotations

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse

    from composer.cli.context import Context

HELP = {"attach": "Attach local standard input, output, and error streams to a service's running container"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detach-keys", default="",
                        help="override the key sequence for detaching from a container")
    parser.add_argument("--index", type=int, default=None,
                        help="index of the container if service has multiple replicas")
    parser.add_argument("--no-stdin", action="store_true", help="do not attach STDIN")
    # a Go bool flag, true by default: --sig-proxy=false turns it off (cli/pflag.py reads the value)
    parser.add_argument("--sig-proxy", action="store_true", default=True,
                        help="proxy all received signals to the process (default true)")
    parser.add_argument("service", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.cli.cmd_exec import service_container
    from composer.cli.container_attach import attach_running

    # getSpecifiedContainer(oneOffInclude, all=false): a running (or paused) one, by number
    c = service_container(ctx, args.service, args.index)
    return attach_running(ctx.engine().containers, c.id,
                          stdin=not args.no_stdin, sig_proxy=args.sig_proxy, detach_keys=args.detach_keys)

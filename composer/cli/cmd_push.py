"""`composer push [SERVICE...]`: the services' images to their registries (docker compose's
pkg/compose/push.go); and `composer publish`, which composer cannot do yet."""

from __future__ import annotations

from composer.cli import _compose as C

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from typing import Any

    from composer.cli.context import Context
    from composer.project import Project

HELP = {"push": "Push service images", "publish": "Publish compose application"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    if name == "publish":  # docker compose 2.40.3's flags: the refusal comes from run, not argparse
        a("--app", action="store_true", help="published compose application (includes referenced images)")
        a("--oci-version", help="OCI image/artifact specification version")
        a("--resolve-image-digests", action="store_true", help="pin image tags to digests")
        a("--with-env", action="store_true",
          help="include environment variables in the published OCI artifact")
        a("-y", "--yes", action="store_true", dest="assume_yes", help='assume "yes" as answer to all prompts')
        a("repository", metavar="REPOSITORY[:TAG]")
        return
    a("--ignore-push-failures", action="store_true",
      help="push what it can and ignores images with push failures")
    a("--include-deps", action="store_true", help="also push images of services declared as dependencies")
    a("-q", "--quiet", action="store_true", help="push without printing progress information")
    a("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    if name == "publish":
        from composer.errors import ComposerError

        # The artifact itself (the files as layers of an OCI 1.1 manifest, 1.0 as a fallback) is
        # within the registry client's reach; what compose does around it is not here yet: the
        # secret scanner and its prompts, env_file and extends files rewritten into the YAML,
        # --resolve-image-digests and --app (images copied beside the artifact)
        raise ComposerError("publish is not supported yet")
    return _push(args, ctx)


def push_tags(service: Mapping[str, Any]) -> list[str]:
    """The names docker compose pushes for a service: its image and its build's tags, when it has
    both a build section and an image name; none otherwise (compose's "Skipped")."""
    build, image = service.get("build"), service.get("image")
    if not build or not image:
        return []
    return [image, *(build.get("tags") or [])] if isinstance(build, dict) else [image]


def _selected(project: Project, services: list[str], include_deps: bool) -> list[str]:
    if not services:
        return sorted(project.services)
    if not include_deps:
        return list(dict.fromkeys(services))
    from composer.graph import dependency_closure

    return sorted(dependency_closure(project, services))


def _push(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from composer.errors import ComposerError
    from runtime.errors import EngineError

    project = ctx.load_project(services=args.services)
    C.check_services(project, args.services)
    progress = None if args.quiet else C.progress_for(ctx)
    images = ctx.engine().images
    failures = []
    for service in _selected(project, args.services, args.include_deps):
        tags = push_tags(project.services[service])
        if not tags and progress is not None:
            progress.event("Service", service, "Skipped")
        for tag in tags:
            if progress is not None:
                progress.event("Image", tag, "Pushing")
            if ctx.args.dry_run:
                continue
            try:
                images.push(tag)
            except EngineError as exc:
                if progress is not None:
                    progress.event("Image", tag, "Error", error=True)
                if not args.ignore_push_failures:
                    raise ComposerError(f"service {service}: push of {tag}: {exc}") from None
                failures.append(f"Pushing {service}: {exc}")
                continue
            if progress is not None:
                progress.event("Image", tag, "Pushed")
    for line in failures:  # compose's TailMsgf: after the progress block
        print(line, file=sys.stderr)
    return 0

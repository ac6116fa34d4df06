"""`composer down`: stop and remove the project's containers, networks, (volumes), pod.

Works from labels, so `composer down -p NAME` needs no compose file.
"""

from __future__ import annotations

import contextlib
import sys

from composer import labels as L
from composer.cli import _compose as C
from composer.cli.context import Context

TYPE_CHECKING = False  # argparse only for mypy: up and down parse with main.fast_args
if TYPE_CHECKING:
    import argparse

HELP = {"down": "Stop and remove containers, networks"}


FAST_ARGS = {  # main.fast_args: what add_arguments declares, without argparse (~15 ms CPU)
    "down": {
        "options": {"-v": ("remove_volumes", "true", None), "--volumes": ("remove_volumes", "true", None),
                    "--rmi": ("rmi", "store", ("local", "all")),
                    "--remove-orphans": ("remove_orphans", "true", None),
                    "-t": ("stop_timeout", "float", None), "--timeout": ("stop_timeout", "float", None)},
        "defaults": {"remove_volumes": False, "rmi": "", "remove_orphans": False, "stop_timeout": None},
        "positional": "services",
    },
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--volumes",
        action="store_true",
        dest="remove_volumes",
        help="remove named volumes declared in the volumes section and anonymous volumes",
    )
    parser.add_argument("--rmi", choices=["local", "all"], default="", help="remove images used by services")
    parser.add_argument("--remove-orphans", action="store_true")
    C.add_timeout(parser)
    parser.add_argument("services", nargs="*", metavar="SERVICE")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.plan import DownOptions, teardown
    from composer.specgen import network_name, volume_name

    project, pname = C.load_or_name(ctx, args.services)
    C.check_services(project, args.services)
    engine = ctx.engine()
    with C.lock(ctx, pname):
        containers = C.project_containers(engine, pname, oneoff=None)
        if project is not None:
            networks = [
                network_name(project, k) for k, n in project.networks.items() if not n.get("external")
            ]
            volumes = [volume_name(project, k) for k, v in project.volumes.items() if not v.get("external")]
        else:
            networks = [n.name for n in engine.networks.list(labels={L.PROJECT: pname})]
            volumes = [v.name for v in _volumes(engine, pname)]
        networks = [n for n in networks if _exists(engine.networks, n)]
        volumes = [v for v in volumes if _exists(engine.volumes, v)]
        images: list[str] = []
        if args.rmi == "all":
            images = sorted(
                {c.image for c in containers}
                | (
                    {str(s["image"]) for s in project.services.values() if s.get("image")}
                    if project
                    else set()
                )
            )
        elif args.rmi == "local" and project is not None:  # images compose would have built: no image: key
            images = sorted(f"{pname}-{k}" for k, s in project.services.items() if not s.get("image"))
        known = None if project is None else {*project.services, *project.disabled_services}
        orphans = (
            []
            if project is None or args.remove_orphans
            else sorted(
                c.name
                for c in containers
                if c.labels.get(L.SERVICE) not in project.services
                and c.labels.get(L.SERVICE) not in project.disabled_services
                and c.labels.get(L.ONEOFF) != "True"
            )
        )
        plan = teardown(
            pname,
            containers,
            known_services=known,
            networks=networks,
            volumes=volumes,
            images=images,
            # a kept orphan still lives in the pod: removing it (force) would kill the orphan
            pod=not orphans and _pod_exists(engine, pname),
            options=DownOptions(
                services=tuple(args.services),
                remove_orphans=args.remove_orphans,
                volumes=args.remove_volumes,
                images=args.rmi,
            ),
        )
        if ctx.args.dry_run:
            sys.stdout.write(plan.render())
            return 0
        if orphans:
            C.progress_for(ctx).message(
                f"WARN[0000] found orphan containers ({', '.join(orphans)}) for this project. "
                "If you removed or renamed this service in your compose file, you can run this command "
                "with the --remove-orphans flag to clean it up"
            )
        C.run_plan(ctx, plan, project, stop_timeout=args.stop_timeout, remove_volumes=args.remove_volumes)
        if not args.services:
            # a down killed after a network's row went, before its bridge did: this project's
            # network is no longer found, so no removal of it would finish the job (one read if not)
            engine.networks.repair()
            # a pod monitor started ahead for a container that never came (an up or run killed
            # amid its set-up) would wait out its grace: it goes now (one serving any stays)
            from runtime import zygote

            with contextlib.suppress(zygote.Unavailable):
                zygote.retire_warm(str(engine.paths.rundir), pname)
            if args.remove_volumes:  # the data a killed removal had not deleted (its row is gone)
                engine.volumes.empty_trash()
        if not args.services and not orphans:  # a kept orphan may still use its secrets/configs
            C.remove_project_files(engine, pname)
    return 0


def _volumes(engine: object, project: str) -> list:  # type: ignore[type-arg]
    try:
        return list(engine.volumes.list(labels={L.PROJECT: project}))  # type: ignore[attr-defined]
    except ImportError:
        return []


def _exists(manager: object, name: str) -> bool:
    try:
        manager.get(name)  # type: ignore[attr-defined]
        return True
    except ImportError:
        return False
    except Exception:  # noqa: BLE001 - NotFound and friends
        return False


def _pod_exists(engine: object, name: str) -> bool:
    try:
        return bool(engine.pods.exists(name))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no pod, or no pod support yet
        return False

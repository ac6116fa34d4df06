"""`composer image ...`: the local image store (podman-like: import, load, save, ls, inspect, rm,
tag, prune)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from composer.cli.context import Context
from composer.cli.humanize import human_duration as _human_duration
from composer.cli.humanize import human_size, parse_time

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any

    from runtime.images import ImageStore
    from runtime.spec import ImageInfo

HELP = {"image": "Manage images: import, load, save, pull, push, ls, inspect, rm, tag, prune"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="image_cmd", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("import", help="create an image from a rootfs tarball")
    p.add_argument("-c", "--change", action="append", default=[], dest="changes", metavar="INSTRUCTION",
                   help="apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ...)")
    p.add_argument("-m", "--message", default="", help="commit message for the imported image")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("source", metavar="FILE", help="tarball path, or - for stdin")
    p.add_argument("reference", metavar="REF", nargs="?", help="name for the image")

    p = sub.add_parser("load", help="load images from a docker-archive or oci-archive")
    p.add_argument("-i", "--input", dest="input_file", metavar="FILE", default="-",
                   help="read from FILE instead of stdin")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress output")

    p = sub.add_parser("save", help="save images to an archive")
    p.add_argument("-o", "--output", dest="output_file", metavar="FILE", required=True)
    p.add_argument("--format", dest="archive_format", choices=["docker-archive", "oci-archive"],
                   default="docker-archive")
    p.add_argument("refs", nargs="+", metavar="REF")

    for alias in ("ls", "list"):
        p = sub.add_parser(alias, help="list images")
        p.add_argument("-q", "--quiet", action="store_true", help="print only the image ids")
        p.add_argument("--format", dest="out_format", choices=["table", "json"], default="table")
        p.add_argument("--digests", action="store_true", help="show digests")
        p.add_argument("--no-trunc", action="store_true", help="do not truncate ids")
        p.add_argument("--filter", action="append", default=[], dest="filters", metavar="FILTER",
                       help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE]")

    p = sub.add_parser("inspect", help="show image details as JSON")
    p.add_argument("--format", "-f", dest="out_format", default="json",
                   help="json (default), or a template such as {{.Id}} or {{json .Config}}")
    p.add_argument("refs", nargs="+", metavar="REF")

    for alias in ("rm", "remove"):
        p = sub.add_parser(alias, help="remove images")
        p.add_argument("-f", "--force", action="store_true", help="untag even when a container uses it")
        p.add_argument("refs", nargs="+", metavar="REF")

    p = sub.add_parser("pull", help="pull an image from a registry")
    p.add_argument("--tls-verify", dest="tls_verify", default=None, type=_bool,
                   help="require HTTPS and verify certificates (default: true, false for loopback)")
    p.add_argument("--arch", default=None, help="architecture to choose from a manifest list")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("reference", metavar="REF")

    p = sub.add_parser("push", help="push an image to a registry")
    p.add_argument("--tls-verify", dest="tls_verify", default=None, type=_bool,
                   help="require HTTPS and verify certificates (default: true, false for loopback)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.add_argument("src", metavar="SOURCE")
    p.add_argument("dst", metavar="DESTINATION", nargs="?")

    p = sub.add_parser("exists", help="exit 0 when the image is present, 1 when not")
    p.add_argument("reference", metavar="REF")

    p = sub.add_parser("tag", help="add a name to an image")
    p.add_argument("src", metavar="SOURCE")
    p.add_argument("dst", metavar="TARGET", nargs="+")

    p = sub.add_parser("prune", help="remove unused images")
    p.add_argument("-a", "--all", dest="prune_all", action="store_true",
                   help="remove every unused image, not only the unnamed ones")
    p.add_argument("-f", "--force", action="store_true", help="do not ask (composer never asks)")


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    images = ctx.engine().images
    cmd = "ls" if args.image_cmd == "list" else "rm" if args.image_cmd == "remove" else args.image_cmd
    handler = {
        "import": _import, "load": _load, "save": _save, "ls": _ls, "inspect": _inspect,
        "rm": _rm, "tag": _tag, "prune": _prune, "pull": _pull, "push": _push,
        "exists": _exists,
    }[cmd]
    return handler(images, args)


def _import(images: ImageStore, args: argparse.Namespace) -> int:
    if args.source == "-":
        tmp = images.spool(sys.stdin.buffer)
        try:
            info = images.import_tarball(tmp, args.reference, changes=args.changes, message=args.message)
        finally:
            Path(tmp).unlink(missing_ok=True)
    else:
        info = images.import_tarball(args.source, args.reference, changes=args.changes, message=args.message)
    print(info.id.removeprefix("sha256:") if args.quiet else info.id)
    return 0


def _load(images: ImageStore, args: argparse.Namespace) -> int:
    if args.input_file == "-":
        tmp = images.spool(sys.stdin.buffer)
        try:
            infos = images.load(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)
    else:
        infos = images.load(args.input_file)
    if not args.quiet:
        for info in infos:
            print("Loaded image: " + (", ".join(info.refs) or info.id))
    return 0


def _save(images: ImageStore, args: argparse.Namespace) -> int:
    images.save(args.refs, args.output_file, args.archive_format)
    return 0


def _split_ref(ref: str) -> tuple[str, str, str]:
    """(repository, tag, digest) for the table."""
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "<none>", digest


def _matches(info: ImageInfo, filters: Sequence[str]) -> bool:
    """podman's ``image ls --filter``: every filter must hold."""
    import fnmatch

    from composer.errors import UsageError

    for f in filters:
        kind, eq, value = f.partition("=")
        if not eq:
            raise UsageError(f"image ls: invalid filter {f!r}; expected KIND=VALUE")
        if kind == "dangling":
            if (value.lower() in ("true", "1")) != (not info.refs):
                return False
        elif kind == "reference":
            names = [n for r in info.refs for n in (r, _familiar(r))]
            pattern = value if ":" in value.rsplit("/", 1)[-1] else value + ":*"
            if not any(fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(n.split(":")[0], value)
                       for n in names):
                return False
        elif kind == "label":
            k, has_v, v = value.partition("=")
            labels = info.config.get("Labels") or {}
            if not isinstance(labels, Mapping) or k not in labels or (has_v and labels[k] != v):
                return False
        else:
            raise UsageError(f"image ls: unsupported filter {kind!r}; expected dangling, reference or label")
    return True


def _familiar(ref: str) -> str:
    """docker.io/library/busybox:latest -> busybox:latest; localhost/x:1 -> x:1."""
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _ls(images: ImageStore, args: argparse.Namespace) -> int:
    infos = [i for i in images.list() if _matches(i, args.filters)]
    if args.quiet:
        seen = set()
        for info in infos:
            short = info.id.removeprefix("sha256:")[: None if args.no_trunc else 12]
            if short not in seen:
                seen.add(short)
                print(short)
        return 0
    if args.out_format == "json":
        print(json.dumps([_ls_json(images, i) for i in infos], indent=4))
        return 0
    header = ["REPOSITORY", "TAG", *(["DIGEST"] if args.digests else []), "IMAGE ID", "CREATED", "SIZE"]
    rows = []
    for info in infos:
        short = info.id.removeprefix("sha256:")[: None if args.no_trunc else 12]
        digest = images.record(info.id)[1].get("manifest", "") if args.digests else ""
        for ref in info.refs or ("<none>",):
            repo, tag, _ = _split_ref(ref) if ref != "<none>" else ("<none>", "<none>", "")
            rows.append([repo, tag, *([digest] if args.digests else []), short,
                         human_duration(info.created), human_size(info.size)])
    print(render_table(header, rows), end="")
    return 0


def _ls_json(images: ImageStore, info: ImageInfo) -> dict[str, Any]:
    _, doc, cfg = images.record(info.id)
    return {
        "Id": info.id.removeprefix("sha256:"),
        "Digest": doc.get("manifest", ""),
        "Names": list(info.refs),
        "Labels": (cfg.get("config") or {}).get("Labels"),
        "Size": info.size,
        "Created": info.created,
        "Dangling": not info.refs,
    }


def inspect_json(images: ImageStore, ref: str) -> dict[str, Any]:
    """One image as podman's ``image inspect`` shows it."""
    info, doc, cfg = images.record(ref)
    digest = doc.get("manifest", "")
    repos = sorted({_split_ref(r)[0] for r in info.refs})
    dirs = list(info.layer_dirs)
    return {
        "Id": info.id.removeprefix("sha256:"),
        "Digest": digest,
        "RepoTags": list(info.refs),
        "RepoDigests": [f"{r}@{digest}" for r in repos],
        "Parent": "",
        "Comment": next((h.get("comment", "") for h in cfg.get("history", []) if h.get("comment")), ""),
        "Created": info.created,
        "Config": dict(info.config),
        "Version": "",
        "Author": cfg.get("author", ""),
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", ""),
        "Size": info.size,
        "VirtualSize": info.size,
        "GraphDriver": {"Name": "overlay", "Data": {
            "UpperDir": dirs[-1] if dirs else "",
            "LowerDir": ":".join(reversed(dirs[:-1])),
        }},
        "RootFS": {"Type": "layers", "Layers": list(info.layers)},
        "Labels": (info.config.get("Labels") or None),
        "Annotations": {},
        "ManifestType": "application/vnd.oci.image.manifest.v1+json",
        "User": info.config.get("User", ""),
        "History": cfg.get("history", []),
        "LayerDirs": dirs,
    }


def _inspect(images: ImageStore, args: argparse.Namespace) -> int:
    from runtime.errors import NotFound

    found, missing = [], None
    for ref in args.refs:
        try:
            found.append(inspect_json(images, ref))
        except NotFound as exc:
            missing = missing or exc
    print_inspect(found, args.out_format)
    if missing is not None:
        raise missing
    return 0


def print_inspect(docs: Sequence[Mapping[str, Any]], fmt: str) -> None:
    """A JSON array (the default), or *fmt* as docker's inspect --format runs it on each object."""
    from composer.cli.go_text_template import GoMap
    from composer.cli.go_text_template import print_inspect as print_docs

    # labels, options and the like are Go maps in docker's types: printed map[k:v], keys sorted
    print_docs([{k: GoMap(v) if k in _MAPS and isinstance(v, dict) else v for k, v in d.items()}
                for d in docs], fmt)


_MAPS = frozenset({"Labels", "Options", "Annotations", "Containers"})


def _rm(images: ImageStore, args: argparse.Namespace) -> int:
    from runtime.errors import EngineError

    failed: EngineError | None = None
    for ref in args.refs:
        try:
            for line in images.remove(ref, force=args.force):
                print(line)
        except EngineError as exc:
            print(str(exc), file=sys.stderr)
            failed = failed or exc
    if failed is None:
        return 0
    from runtime.errors import NotFound

    return 1 if isinstance(failed, NotFound) else 2  # as podman rmi: 1 missing, 2 in use


def _exists(images: ImageStore, args: argparse.Namespace) -> int:
    from runtime.errors import NotFound

    try:
        images.resolve(args.reference)
    except NotFound:
        return 1
    return 0


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _progress(quiet: bool) -> Any:
    return None if quiet else (lambda line: print(line, file=sys.stderr))


def _pull(images: ImageStore, args: argparse.Namespace) -> int:
    info = images.pull(args.reference, tls_verify=args.tls_verify, arch=args.arch,
                       progress=_progress(args.quiet))
    print(info.id.removeprefix("sha256:"))
    return 0


def _push(images: ImageStore, args: argparse.Namespace) -> int:
    digest = images.push(args.src, args.dst, tls_verify=args.tls_verify, progress=_progress(args.quiet))
    if not args.quiet:
        print(f"Writing manifest to image destination: {digest}", file=sys.stderr)
    return 0


def _tag(images: ImageStore, args: argparse.Namespace) -> int:
    for dst in args.dst:
        images.tag(args.src, dst)
    return 0


def _prune(images: ImageStore, args: argparse.Namespace) -> int:
    for image_id in images.prune(all=args.prune_all):
        print(image_id.removeprefix("sha256:"))
    return 0


# ---- podman-like human output (cmd_volume uses these too) ----------------------------------


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by at least two spaces (as podman's tabwriter output)."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in [list(header), *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def human_duration(when: str, now: datetime | None = None) -> str:
    """``3 minutes ago`` for an RFC 3339 time."""
    t = parse_time(when)
    if not t:
        return when or "unknown"
    return _human_duration((now or datetime.now(UTC)).timestamp() - t) + " ago"

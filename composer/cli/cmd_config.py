"""`composer config`: parse, resolve and render the compose file in canonical form (as docker compose)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping

from composer.cli.context import Context
from composer.loader.hashing import go_json, html_escape, service_hash, sorted_tree

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HELP", "add_arguments", "run", "service_hash"]

HELP = {"config": "Parse, resolve and render compose file in canonical format"}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", dest="output_format", choices=["yaml", "json"], default=None,
                        help="format the output (default yaml; a table for --variables)")
    parser.add_argument("-o", "--output", dest="output_file", metavar="FILE", help="save to file")
    parser.add_argument("-q", "--quiet", action="store_true", help="only validate the configuration")
    parser.add_argument("--services", dest="list_services", action="store_true",
                        help="print the service names, one per line")
    parser.add_argument("--volumes", dest="list_volumes", action="store_true",
                        help="print the volume names, one per line")
    parser.add_argument("--networks", dest="list_networks", action="store_true",
                        help="print the network names, one per line")
    parser.add_argument("--images", dest="list_images", action="store_true",
                        help="print the image names, one per line")
    parser.add_argument("--profiles", dest="list_profiles", action="store_true",
                        help="print the profile names, one per line")
    parser.add_argument("--hash", dest="hash_services", metavar="SERVICE",
                        help="print the service config hash, one per line ('*' for all)")
    parser.add_argument("--variables", dest="list_variables", action="store_true",
                        help="print model variables and default values")
    parser.add_argument("--environment", dest="list_environment", action="store_true",
                        help="print environment used for interpolation")
    parser.add_argument("--no-interpolate", dest="no_interpolate", action="store_true")
    parser.add_argument("--no-normalize", dest="no_normalize", action="store_true")
    parser.add_argument("--no-path-resolution", dest="no_path_resolution", action="store_true")
    parser.add_argument("--no-consistency", dest="no_consistency", action="store_true")
    parser.add_argument("--resolve-image-digests", dest="resolve_image_digests", action="store_true",
                        help="pin image tags to digests (not supported: ignored with a warning)")
    parser.add_argument("config_services", nargs="*", metavar="SERVICE")


def _warn(lines: list[str]) -> None:
    for line in lines:
        print(f"WARN[0000] {line}", file=sys.stderr)


def run(name: str, args: argparse.Namespace, ctx: Context) -> int:
    from composer.loader import LoadOptions, load
    from composer.loader.render import render

    warnings: list[str] = []
    if args.resolve_image_digests:
        warnings.append("--resolve-image-digests is not supported by composer; images are printed as written")
    a = ctx.args
    opts = LoadOptions(
        files=tuple(a.files), project_name=a.project_name, project_directory=a.project_directory,
        env_files=tuple(a.env_files), profiles=tuple(a.profiles), environ=ctx.environ, cwd=ctx.cwd,
        # as docker compose: --services, --volumes, --networks and --hash ignore named services
        services=() if (args.list_services or args.list_volumes or args.list_networks
                        or args.hash_services is not None) else tuple(args.config_services),
        interpolate=not args.no_interpolate,
        normalize=not args.no_normalize, resolve_paths=not args.no_path_resolution,
        consistency=not args.no_consistency,
        stdin_text=sys.stdin.read() if "-" in a.files else None, warnings=warnings,
    )
    if args.list_variables:
        return _print_variables(opts, warnings, args.output_format)
    args.output_format = args.output_format or "yaml"
    try:
        result = load(opts)
    finally:
        _warn(warnings)
    project = result.project
    out: str
    if args.quiet:
        return 0
    if args.list_services:
        out = _lines(dependency_order(project.services))
    elif args.list_volumes:
        out = _lines(sorted(project.volumes))
    elif args.list_networks:
        out = _lines(sorted(project.networks))
    elif args.list_images:
        out = _lines([_image_of(project.name, n, project.services[n])
                      for n in dependency_order(project.services)])
    elif args.list_profiles:
        from composer.loader.profiles import all_profiles

        out = _lines(all_profiles({**project.services, **project.disabled_services}))
    elif args.list_environment:
        out = _lines([f"{k}={v}" for k, v in sorted(result.environment.items())])
    elif args.hash_services is not None:
        wanted = (sorted(project.services) if args.hash_services == "*"
                  else [s.strip() for s in args.hash_services.split(",") if s.strip()])
        from composer.errors import UsageError

        lines = []
        for svc in wanted:
            if svc not in project.services:
                raise UsageError(f"no such service: {svc}")
            lines.append(f"{svc} {service_hash(project.services[svc])}")
        out = _lines(lines)
    elif args.no_interpolate:  # docker compose prints the raw model here: all services, sorted keys
        out = render_model(_model_view(result.model), args.output_format)
    else:
        out = render(dict(project.tree), args.output_format)  # byte-equal to docker compose's
        if not args.no_interpolate:  # the output must read back to the same model: `$` is literal
            out = out.replace("$", "$$")
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as fh:
            fh.write(out)
    else:
        sys.stdout.write(out)
    return 0


def dependency_order(services: Mapping[str, Any]) -> list[str]:
    """Service names, each after the services it depends on (ties alphabetical), as docker compose
    walks them."""
    from composer.loader.profiles import dependencies_of

    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen or name not in services or name in stack:
            return
        for dep in sorted(dependencies_of(services[name])):
            visit(dep, (*stack, name))
        seen.add(name)
        done.append(name)

    for name in sorted(services):
        visit(name, ())
    return done


def render_model(model: Mapping[str, Any], fmt: str) -> str:
    """A plain model as Go marshals a map: keys sorted (JSON indented by 2, YAML by yaml.v3)."""
    from composer.loader import render as render_module

    if fmt == "json":
        return go_json(model, indent=2)
    emit = getattr(render_module, "_yaml_lines", None)
    if emit is None:
        import yaml

        return str(yaml.safe_dump(sorted_tree(model), sort_keys=True, default_flow_style=False))
    return "".join(emit(sorted_tree(model), 0))


def _model_view(model: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical tree without the zero values the canonical stage fills in for rendering
    (docker compose's raw model has no `command: null`, `ipam: {}`, empty deploy sections)."""
    out = dict(model)
    nets = {}
    for name, net in (model.get("networks") or {}).items():
        if isinstance(net, Mapping) and net.get("ipam") == {}:
            net = {k: v for k, v in net.items() if k != "ipam"}
        nets[name] = net
    if "networks" in model:
        out["networks"] = nets
    services = {}
    for name, svc in (model.get("services") or {}).items():
        if isinstance(svc, Mapping):
            svc = {k: v for k, v in svc.items() if not (k in ("command", "entrypoint") and v is None)}
            deploy = svc.get("deploy")
            if isinstance(deploy, Mapping):
                svc["deploy"] = {k: v for k, v in deploy.items()
                                 if not (k in ("placement", "resources") and v == {})}
        services[name] = svc
    out["services"] = services
    return out


_YAML_PLAIN_UNSAFE = frozenset(["yes", "no", "on", "off", "y", "n", "true", "false", "null", "~"])


def _variables_document(variables: list[Any], fmt: str) -> str:
    fields = [("Name", "name"), ("DefaultValue", "default"), ("PresenceValue", "alternate"),
              ("Required", "required")]
    if fmt == "json":
        doc = {v.name: {k: getattr(v, attr) for k, attr in fields} for v in variables}  # struct order
        return html_escape(json.dumps(doc, indent=4, ensure_ascii=False)) + "\n\n"  # as docker compose
    out = []
    for v in variables:
        out.append(f"{v.name}:\n")
        for key, attr in fields:
            value = getattr(v, attr)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif (not value or value.lower() in _YAML_PLAIN_UNSAFE or value[0] in "!&*-?:,[]{}#|>@`'\"% "
                  or value.replace(".", "", 1).isdigit() or ": " in value or value != value.strip()):
                text = json.dumps(value)
            else:
                text = value
            out.append(f"    {key.lower()}: {text}\n")
    return "".join(out)


def _lines(items: Any) -> str:
    return "".join(f"{i}\n" for i in items)


def _image_of(project: str, name: str, service: Mapping[str, Any]) -> str:
    image = service.get("image")
    return str(image) if image else f"{project}-{name}"


def _print_variables(opts: Any, warnings: list[str], fmt: str | None) -> int:
    """NAME, REQUIRED, DEFAULT VALUE, ALTERNATE VALUE of every variable the files refer to (or the
    same as a JSON/YAML map, as docker compose prints its Go structs)."""
    from dataclasses import replace

    from composer.loader import load
    from composer.loader.interpolate import variables_in

    result = load(replace(opts, interpolate=False, consistency=False))
    _warn(warnings)
    found: dict[str, Any] = {}
    for tree in result.raw_trees:
        for var_name, var in variables_in(tree).items():
            found.setdefault(var_name, var)
    ordered = sorted(found.values(), key=lambda v: v.name)
    if fmt is not None:
        sys.stdout.write(_variables_document(ordered, fmt))
        return 0
    rows = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE")]
    rows += [(v.name, "true" if v.required else "false", v.default, v.alternate)
             for v in sorted(found.values(), key=lambda v: v.name)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        cells = [r[i].ljust(max(widths[i] + 3, 20)) for i in range(3)]
        sys.stdout.write("".join(cells) + r[3] + "\n")
    return 0

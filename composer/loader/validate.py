"""Validation stages: the compose-spec JSON schema, cross-reference checks, unsupported keys.

validate_schema() runs on the merged tree (before the canonical form); check_consistency() on
the canonical tree, where every reference has one shape. Both raise with a location that names
the file and the tree path, and one lower-case line saying what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from composer.errors import ConfigError, DependencyCycleError, SchemaError
from composer.loader import units

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import Any, Final

    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError

__all__ = ["validate_schema", "check_consistency", "tree_path"]


# --- schema ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    """Load the schema from the package and compile it once (jsonschema is imported lazily)."""
    from importlib.resources import files

    from jsonschema import Draft7Validator, FormatChecker

    schema = _inline_refs(json.loads(files("composer").joinpath("schema/compose-spec.json").read_text()))
    checker = FormatChecker()

    @checker.checks("duration", raises=units.UnitError)  # type: ignore[untyped-decorator]
    def _is_duration(value: object) -> bool:
        if isinstance(value, str):
            units.parse_duration(value)
        return True

    return Draft7Validator(schema, format_checker=checker)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace every local `$ref` by its definition (the schema has no recursion).

    jsonschema resolves each $ref through the referencing registry on every use; inlined, a
    200-service project validates about a third faster. Definitions stay for error messages.
    """
    definitions = schema.get("definitions", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/") and len(node) == 1:
                return inline(definitions[ref.rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {**{k: inline(v) for k, v in schema.items() if k != "definitions"}, "definitions": definitions}


def tree_path(parts: Iterable[Any]) -> str:
    """("services", "web", "ports", 0) -> "services.web.ports[0]"."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


_TYPE_NAMES: Final[dict[str, str]] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _expected_types(err: ValidationError) -> list[str]:
    """The JSON types a (possibly oneOf) schema accepts, for an 'expected ...' message."""
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    found: list[str] = []

    def walk(s: Any) -> None:
        if not isinstance(s, Mapping):
            return
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[-1]
            walk(_validator().schema["definitions"].get(name))
            return
        t = s.get("type")
        for one in [t] if isinstance(t, str) else t or []:
            if one not in found:
                found.append(one)
        for alt in s.get("oneOf", []) + s.get("anyOf", []):
            walk(alt)

    walk(schema)
    return found


def _message(err: ValidationError) -> str:
    v = err.validator
    inst = err.instance
    if v == "additionalProperties":
        allowed = set(err.schema.get("properties") or {})
        patterns = list(err.schema.get("patternProperties") or {})
        extras = [k for k in inst if k not in allowed and not any(re.search(p, k) for p in patterns)]
        if len(extras) == 1:
            return f"additional property {extras[0]!r} not allowed"
        return "additional properties " + ", ".join(repr(e) for e in sorted(extras)) + " not allowed"
    if v == "type" or (v == "oneOf" and not err.context):
        types = _expected_types(err) or ([err.validator_value] if v == "type" else [])
        names = [_TYPE_NAMES.get(t, t) for t in types if isinstance(t, str)]
        want = " or ".join(names) if names else "another type"
        return f"expected {want}, got {_show(inst)}"
    if v == "oneOf":
        types = _expected_types(err)
        names = [_TYPE_NAMES.get(t, t) for t in types]
        return f"invalid value {_show(inst)}; expected {' or '.join(names)}"
    if v == "enum":
        opts = ", ".join(repr(o) for o in err.validator_value)
        return f"invalid value {_show(inst)}; expected one of {opts}"
    if v == "required":
        missing = [r for r in err.validator_value if r not in inst]
        return f"missing required property {missing[0]!r}" if missing else "missing required property"
    if v == "pattern":
        return f"invalid value {_show(inst)}; does not match pattern {err.validator_value!r}"
    if v == "uniqueItems":
        return "list items must be unique"
    if v == "format":
        return f"invalid {err.validator_value} {_show(inst)}"
    if v in ("minimum", "maximum"):
        op = ">=" if v == "minimum" else "<="
        return f"invalid value {_show(inst)}; must be {op} {err.validator_value}"
    return str(err.message).lower()


def _most_specific(err: ValidationError) -> ValidationError:
    """Descend oneOf branches: prefer the alternative whose type matched the value."""
    from jsonschema.exceptions import best_match

    while err.validator in ("oneOf", "anyOf") and err.context:
        # Drop branches that only failed on the type: they are not what the author meant.
        typed = [e for e in err.context if e.validator != "type" or e.relative_path]
        if not typed:
            return err
        deeper = best_match(typed)
        if deeper is None:
            return err
        err = deeper
    return err


def _deduplicated(tree: Mapping[str, Any]) -> Any:
    """The tree as compose validates it: keyed lists (cap_add, environment...) already deduplicated.

    compose enforces unicity before the schema, so `cap_add: [A, A]` is accepted while
    `security_opt: [a, a]` (not a keyed list) fails uniqueItems.
    """
    from composer.loader.merge import enforce_unicity

    try:
        return enforce_unicity(dict(tree))
    except Exception:  # malformed entries: let the schema report them
        return tree


# --- structural rules the schema cannot express (compose-go's validation package) ---------------


def _check_structure(tree: Mapping[str, Any], source: str) -> None:
    for kind in ("volumes", "networks"):
        for name, res in (tree.get(kind) or {}).items():
            if isinstance(res, Mapping) and res.get("external") is True and kind == "volumes":
                for key in res:
                    if key not in ("name", "external") and not str(key).startswith("x-"):
                        raise SchemaError(
                            _loc(source, f"{kind}.{name}"),
                            f'conflicting parameters "external" and {key!r} specified',
                        )
    for kind, keys in (("configs", ("file", "environment", "content")), ("secrets", ("file", "environment"))):
        for name, res in (tree.get(kind) or {}).items():
            if not isinstance(res, Mapping):
                continue
            present = [k for k in keys if k in res]
            where = _loc(source, f"{kind}.{name}")
            if len(present) > 1:
                raise SchemaError(where, f"{'|'.join(keys)} attributes are mutually exclusive")
            if not present and "driver" not in res and "external" not in res:
                raise SchemaError(where, f"one of {'|'.join(keys)} must be set")
    for name, svc in (tree.get("services") or {}).items():
        if not isinstance(svc, Mapping):
            continue
        where = f"services.{name}"
        for i, port in enumerate(svc.get("ports") or []):
            if isinstance(port, Mapping) and "host_ip" in port and not _is_ip(port["host_ip"]):
                raise SchemaError(
                    _loc(source, f"{where}.ports[{i}].host_ip"), f"invalid ip address {port['host_ip']!r}"
                )
        for i, vol in enumerate(svc.get("volumes") or []):
            if isinstance(vol, Mapping) and vol.get("type") == "bind" and not vol.get("source"):
                raise SchemaError(_loc(source, f"{where}.volumes[{i}]"), "a bind mount needs a source")
        for i, trigger in enumerate((svc.get("develop") or {}).get("watch") or []):
            if isinstance(trigger, Mapping) and trigger.get("path") == "":
                raise SchemaError(_loc(source, f"{where}.develop.watch[{i}].path"), "value can't be blank")
        requests = [("gpus", svc.get("gpus"))]
        reservations = _dig(svc.get("deploy"), ("resources", "reservations", "devices"))
        requests.append(("deploy.resources.reservations.devices", reservations))
        for path, devices in requests:
            for i, dev in enumerate(devices if isinstance(devices, list) else []):
                if isinstance(dev, Mapping) and "count" in dev and "device_ids" in dev:
                    raise SchemaError(
                        _loc(source, f"{where}.{path}[{i}]"),
                        '"count" and "device_ids" attributes are exclusive',
                    )


def validate_schema(tree: Mapping[str, Any], source: str, cache_dir: str | None = None) -> None:
    """Validate a merged tree against composer's compose-spec schema (Draft 7).

    With *cache_dir*, a tree found valid before (same schema, same validator code) is not validated
    again: importing jsonschema and validating cost 200-500 ms of every command that reads a file.

    Raises:
        SchemaError: where = f"{source}: services.web.ports[0]", what = one lower-case line.
    """
    key = _valid_key(tree) if cache_dir else None
    if key and os.path.exists(os.path.join(str(cache_dir), key)):
        return
    from jsonschema.exceptions import best_match

    errors = list(_validator().iter_errors(_deduplicated(tree)))
    if not errors:
        _check_structure(tree, source)
        if key:
            _mark_valid(str(cache_dir), key)
        return
    err = best_match(errors)
    assert err is not None
    err = _most_specific(err)
    path = tree_path(err.absolute_path)
    where = f"{source}: {path}" if source and path else source or path
    raise SchemaError(where, _message(err))


def _tagged(value: Any) -> Any:
    """*value* as JSON that keeps what JSON would merge: non-string keys, tuples, other types."""
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        return {"{": [[type(k).__name__, k if isinstance(k, str) else repr(k), _tagged(v)] for k, v in items]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return {"?": f"{type(value).__name__}:{value!r}"}


@lru_cache(maxsize=1)
def _validator_fingerprint() -> bytes:
    """The schema's bytes and the validating code's (this module, the duration format checker in
    units.py, the de-duplication in merge.py): changing any invalidates every cached verdict."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    code = [os.path.join(here, name) for name in ("validate.py", "units.py", "merge.py")]
    for path in (os.path.join(here, os.pardir, "schema", "compose-spec.json"), *code):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.digest()


def _valid_key(tree: Mapping[Any, Any]) -> str | None:
    try:
        text = json.dumps(_tagged(tree), separators=(",", ":"), allow_nan=True)
        return hashlib.sha256(_validator_fingerprint() + text.encode()).hexdigest()
    except (OSError, ValueError, TypeError, RecursionError):
        return None  # no cache rather than a wrong verdict


def _mark_valid(cache_dir: str, key: str) -> None:
    """Write the marker atomically (a reader sees it whole or not at all); failures only cost speed."""
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(cache_dir, f".tmp-{os.getpid()}-{key}")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.replace(tmp, os.path.join(cache_dir, key))
    except OSError:
        pass


# --- consistency ----------------------------------------------------------------------------


def _loc(source: str, path: str) -> str:
    return f"{source}: {path}" if source else path


def _check_refs(name: str, svc: Mapping[str, Any], tree: Mapping[str, Any], source: str) -> None:
    where = _loc(source, f"services.{name}")
    networks = tree.get("networks") or {}
    if svc.get("network_mode") and svc.get("networks"):
        raise ConfigError(where, "network_mode and networks are mutually exclusive")
    for net in svc.get("networks") or {}:
        if net not in networks and net != "default":
            raise ConfigError(f"{where}.networks", f"undefined network {net!r}")
    volumes = tree.get("volumes") or {}
    for i, v in enumerate(svc.get("volumes") or []):
        if v.get("type") == "volume" and v.get("source") and v["source"] not in volumes:
            raise ConfigError(f"{where}.volumes[{i}]", f"undefined volume {v['source']!r}")
    for kind in ("secrets", "configs"):
        declared = tree.get(kind) or {}
        for i, ref in enumerate(svc.get(kind) or []):
            if ref.get("source") not in declared:
                raise ConfigError(f"{where}.{kind}[{i}]", f"undefined {kind[:-1]} {ref.get('source')!r}")
    for i, ref in enumerate((svc.get("build") or {}).get("secrets") or []):
        if ref.get("source") not in (tree.get("secrets") or {}):
            raise ConfigError(f"{where}.build.secrets[{i}]", f"undefined secret {ref.get('source')!r}")
    for i, ref in enumerate(svc.get("secrets") or []):
        secret = (tree.get("secrets") or {}).get(ref.get("source")) or {}
        if not (secret.get("file") or secret.get("environment") or secret.get("external")):
            raise ConfigError(
                f"{where}.secrets[{i}]",
                f"secret {ref.get('source')!r} must declare either file or environment",
            )
    models = tree.get("models") or {}
    for model in svc.get("models") or {}:
        if model not in models:
            raise ConfigError(f"{where}.models", f"undefined model {model!r}")
    platforms = (svc.get("build") or {}).get("platforms")
    if svc.get("platform") and platforms and svc["platform"] not in platforms:
        raise ConfigError(
            f"{where}.build.platforms", f"must include the service platform {svc['platform']!r}"
        )
    if not svc.get("image") and not svc.get("build") and not svc.get("provider"):
        raise ConfigError(where, "neither an image nor a build context specified")


def _check_services_named(
    name: str, svc: Mapping[str, Any], services: Mapping[str, Any], source: str
) -> None:
    where = _loc(source, f"services.{name}")
    for dep in svc.get("depends_on") or {}:
        if dep not in services:
            raise ConfigError(f"{where}.depends_on", f"depends on undefined service {dep!r}")
    for link in svc.get("links") or []:
        target = str(link).split(":")[0]
        if target not in services:
            raise ConfigError(f"{where}.links", f"undefined service {target!r}")
    for vf in svc.get("volumes_from") or []:
        if not str(vf).startswith("container:") and str(vf).split(":")[0] not in services:
            raise ConfigError(f"{where}.volumes_from", f"undefined service {str(vf).split(':')[0]!r}")
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = svc.get(key)
        if isinstance(ref, str) and ref.startswith("service:") and ref[8:] not in services:
            raise ConfigError(f"{where}.{key}", f"undefined service {ref[8:]!r}")


# (service key, deploy path, what compose calls them): both set and different is an error.
_DEPLOY_TWINS: Final = (
    ("scale", ("replicas",), "deploy.replicas"),
    ("mem_limit", ("resources", "limits", "memory"), "deploy.resources.limits.memory"),
    ("cpus", ("resources", "limits", "cpus"), "deploy.resources.limits.cpus"),
    ("pids_limit", ("resources", "limits", "pids"), "deploy.resources.limits.pids"),
    ("mem_reservation", ("resources", "reservations", "memory"), "deploy.resources.reservations.memory"),
)


def _dig(tree: Any, path: Sequence[str]) -> Any:
    for p in path:
        if not isinstance(tree, Mapping):
            return None
        tree = tree.get(p)
    return tree


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _check_values(name: str, svc: Mapping[str, Any], source: str) -> None:
    where = _loc(source, f"services.{name}")
    for key, path, label in _DEPLOY_TWINS:
        a, b = svc.get(key), _dig(svc.get("deploy"), path)
        if a is not None and b is not None and _number(a) != _number(b):
            raise ConfigError(where, f"can't set distinct values on {key!r} and {label!r}")
    scale = svc.get("scale", _dig(svc.get("deploy"), ("replicas",)))
    try:
        many = scale is not None and int(scale) > 1
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.scale", f"invalid scale {scale!r}; expected an integer") from None
    if many and svc.get("container_name"):
        raise ConfigError(
            f"{where}.container_name",
            f"container_name {svc['container_name']!r} cannot be used with scale {scale}",
        )
    for i, port in enumerate(svc.get("ports") or []):
        # compose accepts any target and published value here (the engine rejects them later);
        # only a missing target is a configuration error.
        if port.get("target") is None:
            raise ConfigError(f"{where}.ports[{i}]", "missing a target port")
        if "host_ip" in port and not _is_ip(port["host_ip"]):
            raise ConfigError(f"{where}.ports[{i}].host_ip", f"invalid ip address {port['host_ip']!r}")
    for i, vol in enumerate(svc.get("volumes") or []):
        if isinstance(vol, Mapping) and not vol.get("target"):  # as compose-go: the engine needs one
            raise ConfigError(f"{where}.volumes[{i}]", "missing a mount target")
    for trigger in _dig(svc.get("develop"), ("watch",)) or []:
        # compose-go's check as docker compose 2.40 has it: only rebuild and restart need no target
        if trigger.get("action") not in ("rebuild", "restart") and not trigger.get("target"):
            raise ConfigError(f"{where}.develop.watch", "target is required for non-rebuild actions")
    hc = svc.get("healthcheck") or {}
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in hc:
            try:
                units.parse_duration(hc[key])
            except units.UnitError as exc:
                raise ConfigError(f"{where}.healthcheck.{key}", str(exc)) from None


def _is_ip(value: Any) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def _check_cycles(services: Mapping[str, Mapping[str, Any]], source: str) -> None:
    from composer.graph import find_cycle

    names = find_cycle({name: list(svc.get("depends_on") or {}) for name, svc in services.items()})
    if names is None:
        return
    raise DependencyCycleError(
        _loc(source, f"services.{names[0]}.depends_on"), "dependency cycle " + " -> ".join(names)
    )


def check_consistency(tree: Mapping[str, Any], source: str) -> None:
    """Cross-reference checks on the canonical tree, matching what docker compose rejects.

    Undefined networks/volumes/secrets/configs, references to unknown services (depends_on,
    links, volumes_from, network_mode/ipc/pid/uts/cgroup `service:`), dependency cycles, port
    and duration values, scale vs deploy twins, container_name with scale > 1.

    Raises:
        ConfigError: the first problem, located as f"{source}: services.web.<key>".
        DependencyCycleError: a depends_on cycle, named `a -> b -> a`.
    """
    services: Mapping[str, Mapping[str, Any]] = tree.get("services") or {}
    for name in sorted(services):
        svc = services[name]
        _check_refs(name, svc, tree, source)
        _check_services_named(name, svc, services, source)
        _check_values(name, svc, source)
    _check_cycles(services, source)

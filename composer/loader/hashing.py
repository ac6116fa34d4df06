"""com.docker.compose.config-hash: the hash docker compose labels containers with, so that composer
and docker compose agree on which containers are up to date.

It is the sha256 of the service's JSON exactly as Go marshals compose-go's ServiceConfig (struct
field order, compact, HTML characters escaped, integral floats without a fraction), without build,
pull_policy, scale, deploy.replicas, depends_on and profiles (docker compose's ServiceHash).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from runtime.digest import sha256  # CPython's own: hashlib's OpenSSL costs `up` ~3 ms to import

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

__all__ = ["go_json", "service_hash", "sorted_tree", "volume_hash"]

_REMOVED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def service_hash(service: Mapping[str, Any]) -> str:
    """The config hash of one canonical service (as `docker compose config --hash`)."""
    from composer.loader.render import to_json_tree

    svc = {k: v for k, v in service.items() if k not in _REMOVED}
    if isinstance(svc.get("deploy"), Mapping):
        svc["deploy"] = {k: v for k, v in svc["deploy"].items() if k != "replicas"}
    doc = to_json_tree({"name": "x", "services": {"s": svc}})["services"]["s"]
    return sha256(go_json(doc).encode()).hexdigest()


def volume_hash(name: str, volume: Mapping[str, Any]) -> str:
    """docker compose's VolumeHash, its label on the volumes it makes: compose-go's VolumeConfig as
    Go marshals it (name, driver with "local" for none, driver_opts, external, labels; empty ones
    left out), for the volume *volume* of the file whose name on the engine is *name*."""
    doc: dict[str, Any] = {"name": name, "driver": volume.get("driver") or "local"}
    for key in ("driver_opts", "labels"):
        value = _string_map(volume.get(key))
        if value:
            doc[key] = dict(sorted(value.items()))
    if volume.get("external"):
        doc["external"] = True
    doc = {k: doc[k] for k in ("name", "driver", "driver_opts", "external", "labels") if k in doc}
    return sha256(go_json(doc).encode()).hexdigest()


def _string_map(value: Any) -> dict[str, str]:
    """A mapping or a `KEY=VALUE` list as compose-go's map[string]string holds it."""
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(_go_numbers(v)) for k, v in value.items()}
    if isinstance(value, list):
        return dict((str(x).split("=", 1) + [""])[:2] for x in value)
    return {}


def go_json(value: Any, indent: int | None = None) -> str:
    """JSON as Go's encoding/json writes it: compact (or indented, keys sorted as Go sorts a map),
    HTML characters escaped, integral floats without a fraction."""
    value = _go_numbers(value)
    if indent is None:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(sorted_tree(value), indent=indent, ensure_ascii=False)
    return html_escape(text)


def html_escape(text: str) -> str:
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def sorted_tree(value: Any) -> Any:
    """*value* with every mapping's keys sorted, as Go prints a map."""
    if isinstance(value, Mapping):
        return {k: sorted_tree(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_tree(v) for v in value]
    return value

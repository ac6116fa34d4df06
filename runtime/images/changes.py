"""Dockerfile-style ``--change`` instructions applied to an image config (as ``podman import``).

Pure: a config dict goes in, a new one comes out. Supported: CMD, ENTRYPOINT, ENV, WORKDIR, USER,
EXPOSE, LABEL, STOPSIGNAL, VOLUME.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping, Sequence

from runtime.errors import InvalidSpec

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

DEFAULT_PATH: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Config = dict[str, "Any"]


def _exec_form(instr: str, arg: str) -> list[str]:
    """JSON array form, else the shell form wrapped in /bin/sh -c (as docker)."""
    text = arg.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    if not text:
        raise InvalidSpec(f"change {instr} needs an argument")
    return ["/bin/sh", "-c", text]


def _pairs(instr: str, arg: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` pairs, or the legacy ``K V`` form."""
    words = shlex.split(arg)
    if not words:
        raise InvalidSpec(f"change {instr} needs an argument")
    if "=" not in words[0]:
        key, _, value = arg.strip().partition(" ")
        return [(key, value.strip())]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise InvalidSpec(f"change {instr}: expected KEY=VALUE, got {w!r}")
        out.append((key, value))
    return out


def _cmd(cfg: Config, arg: str) -> None:
    cfg["Cmd"] = _exec_form("CMD", arg)


def _entrypoint(cfg: Config, arg: str) -> None:
    cfg["Entrypoint"] = _exec_form("ENTRYPOINT", arg)


def _env(cfg: Config, arg: str) -> None:
    env = list(cfg.get("Env") or [])
    for key, value in _pairs("ENV", arg):
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    cfg["Env"] = env


def _label(cfg: Config, arg: str) -> None:
    labels = dict(cfg.get("Labels") or {})
    labels.update(_pairs("LABEL", arg))
    cfg["Labels"] = labels


def _expose(cfg: Config, arg: str) -> None:
    ports = dict(cfg.get("ExposedPorts") or {})
    for p in arg.split():
        port, _, proto = p.partition("/")
        proto = proto or "tcp"
        if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp", "sctp"):
            raise InvalidSpec(f"change EXPOSE: invalid port {p!r}")
        ports[f"{int(port)}/{proto}"] = {}
    cfg["ExposedPorts"] = ports


def _volume(cfg: Config, arg: str) -> None:
    text = arg.strip()
    paths = json.loads(text) if text.startswith("[") else text.split()
    vols = dict(cfg.get("Volumes") or {})
    for p in paths:
        vols[str(p)] = {}
    cfg["Volumes"] = vols


def _single(key: str) -> Callable[[Config, str], None]:
    def apply(cfg: Config, arg: str) -> None:
        if not arg.strip():
            raise InvalidSpec(f"change {key.upper()} needs an argument")
        cfg[key] = arg.strip()

    return apply


RULES: Final[Mapping[str, Callable[[Config, str], None]]] = {
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ENV": _env,
    "LABEL": _label,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "WORKDIR": _single("WorkingDir"),
    "USER": _single("User"),
    "STOPSIGNAL": _single("StopSignal"),
}


def apply_changes(config: Mapping[str, Any], changes: Sequence[str]) -> Config:
    """Apply *changes* (``"CMD [\\"sh\\"]"``, ``"ENV A=1"``, ...) to a copy of *config*.

    Raises:
        InvalidSpec: an unknown instruction or a malformed argument.
    """
    cfg: Config = json.loads(json.dumps(dict(config)))
    for change in changes:
        instr, _, arg = change.strip().partition(" ")
        if "=" in instr and not arg:  # podman accepts "CMD=..." as well
            instr, _, arg = change.strip().partition("=")
        rule = RULES.get(instr.upper())
        if rule is None:
            raise InvalidSpec(f"change {change!r}: unsupported instruction {instr!r}; expected one of "
                              + ", ".join(RULES))
        rule(cfg, arg)
    return cfg

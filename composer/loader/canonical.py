"""Canonical form: the long syntax docker compose prints with `config --format json`.

A tree goes in, a NEW tree comes out (inputs are never mutated). Every short syntax becomes its
long form, defaults are filled in, values take the types compose prints (durations as Go
strings, byte sizes as decimal strings), env files are read and merged into `environment`,
relative paths are made absolute against the working directory, resources gain their `name`,
and top-level networks/volumes/secrets/configs no service uses are dropped, as compose does.

The result keeps service-level `x-` keys and `models` (YAML shows them); render() drops what the
JSON form omits. The rules live in one table per level (SERVICE_RULES), keyed by service key.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping
from decimal import Decimal

from composer.errors import ConfigError, SchemaError
from composer.loader import units

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["canonicalize", "go_str", "resolve_relative_paths", "PATH_RULES"]

Tree = dict[str, "Any"]


# --- small value helpers ----------------------------------------------------------------------


def go_str(value: Any) -> str:
    """A scalar as Go's fmt.Sprint prints it (true, 1.5, 1e+06), which is how compose stringifies."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if value is None:
        return ""
    return str(value)


def _go_float(f: float) -> str:
    """%v of a float64: shortest digits, exponent form when the exponent is < -4 or >= 6."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits))
    dp = len(ds) + exp  # position of the decimal point in the digit string
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= len(ds):
        return f"{neg}{ds}{'0' * (dp - len(ds))}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def _where(source: str, path: str) -> str:
    return f"{source}: {path}" if source else path


def _mapping(value: Any, *, keep_none: bool, where: str) -> dict[str, Any]:
    """A list of `K=V`/`K` or a mapping, as a mapping of strings (None kept when keep_none)."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            out[str(k)] = None if v is None and keep_none else go_str(v)
    elif isinstance(value, list):
        for item in value:
            k, sep, v = go_str(item).partition("=")
            if k and k[-1].isspace():
                raise ConfigError(where, f"variable {k.strip()!r} is declared with a trailing space")
            out[k] = v if sep else (None if keep_none else "")
    elif value is not None:
        raise SchemaError(where, f"expected a mapping or a list, got {value!r}")
    return out


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [go_str(v) for v in value or []]


def _split_command(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [go_str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        raise ConfigError(where, f"invalid command line {value!r}: {str(exc).lower()}") from None


def _duration(value: Any, where: str) -> str:
    try:
        return units.normalize_duration(value)
    except units.UnitError as exc:
        raise ConfigError(where, str(exc)) from None


def _bytes(value: Any, where: str) -> str:
    try:
        return str(units.parse_bytes(value))
    except units.UnitError as exc:
        raise ConfigError(where, str(exc)) from None


def _float(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(where, f"invalid value {value!r}; expected a number") from None


def _int(value: Any, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(where, f"invalid value {value!r}; expected an integer") from None


def _file_mode(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"0{value:o}"
    try:
        return f"0{int(str(value), 8):o}"
    except ValueError:
        raise ConfigError(where, f"invalid file mode {value!r}; expected an octal number") from None


class _Ctx:
    """What the rules need besides the value: where files are, and the variables."""

    def __init__(self, working_dir: str, environ: Mapping[str, str], resolve_paths: bool, source: str):
        self.working_dir = working_dir
        self.environ = environ
        self.resolve_paths = resolve_paths
        self.source = source

    def path(self, p: str) -> str:
        """A host path: `~` from HOME, relative against working_dir (both only when resolving)."""
        if not self.resolve_paths:
            return p
        if p == "~" or p.startswith("~/"):
            home = self.environ.get("HOME", "")
            if home:
                p = home + p[1:]
        if posixpath.isabs(p):
            return p  # kept as written, trailing slash included (compose only cleans joined paths)
        return posixpath.normpath(posixpath.join(self.working_dir, p))


# --- service rules ----------------------------------------------------------------------------


def _build(value: Any, ctx: _Ctx, where: str) -> dict[str, Any]:
    b: dict[str, Any] = {"context": value} if isinstance(value, str) else dict(value)
    b.setdefault("context", ".")
    if b.get("dockerfile") is None and b.get("dockerfile_inline") is None:
        b["dockerfile"] = "Dockerfile"
    ctx_path = str(b["context"])
    if not _is_remote_context(ctx_path):
        b["context"] = ctx.path(ctx_path)
    if "args" in b:
        args = _mapping(b["args"], keep_none=True, where=f"{where}.args")
        resolved = {}
        for k, v in args.items():
            if v is None:
                if k in ctx.environ:
                    resolved[k] = ctx.environ[k]
                continue  # compose drops build args it cannot resolve
            resolved[k] = v
        b["args"] = resolved
    if "labels" in b:
        b["labels"] = _mapping(b["labels"], keep_none=False, where=f"{where}.labels")
    if "additional_contexts" in b:
        ac = _mapping(b["additional_contexts"], keep_none=False, where=f"{where}.additional_contexts")
        b["additional_contexts"] = {
            k: (v if _is_remote_context(v) or ":" in v.split("/")[0] else ctx.path(v)) for k, v in ac.items()
        }
    for key in ("cache_from", "cache_to", "tags", "platforms"):
        if key in b:
            b[key] = _string_list(b[key])
    if "extra_hosts" in b:
        b["extra_hosts"] = _extra_hosts(b["extra_hosts"], f"{where}.extra_hosts")
    if "shm_size" in b:
        b["shm_size"] = _bytes(b["shm_size"], f"{where}.shm_size")
    if "secrets" in b:
        # build secrets get no default target (only service secrets get /run/secrets/<name>)
        b["secrets"] = [
            _file_ref(s, secret=False, where=f"{where}.secrets[{i}]") for i, s in enumerate(b["secrets"])
        ]
    if "ssh" in b:
        b["ssh"] = _ssh(b["ssh"], ctx)
    if "ulimits" in b:
        b["ulimits"] = _ulimits(b["ulimits"])
    for key in ("provenance", "sbom"):  # string-or-bool in the spec, a string in compose's model
        if key in b:
            b[key] = go_str(b[key])
    return b


def _is_remote_context(p: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/)", p))


def _ssh(value: Any, ctx: _Ctx) -> list[str]:
    """build.ssh as compose prints it: `id`, or `id: /absolute/path` (its SSHKey string form)."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        for item in value:
            key, sep, path = str(item).partition("=")
            pairs.append((key, path if sep else None))
    return [k if p is None or p == "" else f"{k}: {ctx.path(str(p))}" for k, p in pairs]


def _ulimits(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, Mapping):
            out[k] = {"soft": v.get("soft", 0), "hard": v.get("hard", 0)}
        else:
            out[k] = v
    return out


def _extra_hosts(value: Any, where: str) -> list[str]:
    pairs: list[str] = []
    if isinstance(value, Mapping):
        for host, ips in value.items():
            for ip in ips if isinstance(ips, list) else [ips if ips is not None else ""]:
                pairs.append(f"{host}={_unbracket(go_str(ip))}")
    else:
        for item in value:
            s = go_str(item)
            for sep in ("=", ":"):
                host, found, ips = s.partition(sep)
                if found:
                    break
            else:
                raise ConfigError(where, f"invalid additional host {s!r}; missing ip")
            if not host or ":" in host or "=" in host:
                raise ConfigError(where, f"bad host name {host!r}")
            pairs.extend(f"{host}={_unbracket(ip)}" for ip in ips.split(","))
    return sorted(pairs)


def _unbracket(ip: str) -> str:
    return ip[1:-1] if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]" else ip


def _ports(value: Any, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        w = f"{where}[{i}]"
        if isinstance(entry, Mapping):
            p = dict(entry)
            p.setdefault("mode", "ingress")
            p.setdefault("protocol", "tcp")
            if "published" in p:
                p["published"] = go_str(p["published"])
                if p["published"] == "":
                    del p["published"]
            if "target" in p and isinstance(p["target"], str):
                try:
                    p["target"] = int(p["target"])
                except ValueError:
                    raise ConfigError(w, f"invalid target port {p['target']!r}") from None
            out.append(p)
            continue
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            raise SchemaError(w, f"invalid port {entry!r}")
        try:
            bindings = units.parse_port_spec(str(entry))
        except units.UnitError as exc:
            raise ConfigError(w, str(exc)) from None
        for b in bindings:
            p = {"mode": "ingress"}
            if b.host_ip:
                p["host_ip"] = b.host_ip
            p["target"] = b.target
            if b.published:
                p["published"] = b.published
            p["protocol"] = b.protocol
            out.append(p)
    return out


_BIND_OPTS: Final = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}


_WINDOWS_ABS: Final = re.compile(r"^(?:[A-Za-z]:|[\\/]{2}[^\\/]+[\\/]+[^\\/]+)[\\/]")


def is_windows_abs(path: str) -> bool:
    """`C:\\x`, `c:/x` or `\\\\host\\share\\x`: compose-go keeps such a bind source as written (a
    Windows client may talk to a Linux engine), where it would resolve another relative path."""
    return bool(_WINDOWS_ABS.match(path))


def _parse_volume(spec: str, where: str) -> dict[str, Any]:
    """Short volume syntax `[source:]target[:opts]` as compose-go's format.ParseVolume."""
    if not spec:
        raise ConfigError(where, "invalid empty volume spec")
    fields: list[str] = []
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    buf = ""
    depth = 0
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if ch == ":" and depth == 0 and not (len(buf) == 1 and buf.isalpha()):
            fields.append(buf)
            buf = ""
        else:
            buf += ch
        i += 1
    fields.append(buf)
    if any(f == "" for f in fields):
        raise ConfigError(where, f"invalid volume {spec!r}: empty section between colons")
    if len(fields) > 3:
        raise ConfigError(where, f"invalid volume {spec!r}: too many colons")
    vol: dict[str, Any] = {}
    if len(fields) == 1:
        vol["target"] = fields[0]
    else:
        vol["source"], vol["target"] = fields[0], fields[1]
    bind: dict[str, Any] = {}
    volume: dict[str, Any] | None = None
    read_only = False
    if len(fields) == 3:
        for opt in fields[2].split(","):
            if opt == "ro":
                read_only = True
            elif opt == "rw":
                read_only = False
            elif opt == "nocopy":
                volume = {"nocopy": True}
            elif opt in _BIND_OPTS:
                bind["propagation"] = opt
            elif opt in ("z", "Z"):
                bind["selinux"] = opt
    src = vol.get("source", "")
    out: dict[str, Any] = {}
    # compose-go's isFilePath: a Windows drive letter ("C:") makes a path too
    drive = len(src) > 1 and src[1] == ":" and src[0].isalpha()
    if src and (src[0] in "./~" or src.startswith("\\\\") or drive):
        out["type"] = "bind"
        out.update(vol)
        if read_only:
            out["read_only"] = True
        out["bind"] = {**bind, "create_host_path": True}
        if volume is not None:
            out["volume"] = volume
    else:
        out["type"] = "volume"
        out.update(vol)
        if read_only:
            out["read_only"] = True
        if bind:
            out["bind"] = bind
        out["volume"] = volume if volume is not None else {}
    return out


def parse_short_volume(spec: str) -> dict[str, Any]:
    """One `[source:]target[:opts]` as compose-go's format.ParseVolume (`run -v`); ConfigError
    with an empty *where* when it is none."""
    return _parse_volume(spec, "")


def _volumes(value: Any, ctx: _Ctx, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        w = f"{where}[{i}]"
        if isinstance(entry, str):
            v = _parse_volume(entry, w)
        elif isinstance(entry, Mapping):
            v = copy.deepcopy(dict(entry))
        else:
            raise SchemaError(w, f"invalid volume {entry!r}")
        if "target" in v and v["target"]:
            v["target"] = posixpath.normpath(str(v["target"]))
            if v["target"].startswith("//"):
                v["target"] = "/" + v["target"].lstrip("/")
        if v.get("type") == "bind" and v.get("source") and not is_windows_abs(str(v["source"])):
            v["source"] = ctx.path(str(v["source"]))
        if v.get("type") == "tmpfs" and isinstance(v.get("tmpfs"), Mapping):
            t = dict(v["tmpfs"])
            if "size" in t:
                t["size"] = _bytes(t["size"], f"{w}.tmpfs.size")
            if "mode" in t and isinstance(t["mode"], str):
                t["mode"] = int(t["mode"], 8)
            v["tmpfs"] = t
        if isinstance(v.get("volume"), Mapping) and "labels" in v["volume"]:
            v["volume"] = {**v["volume"], "labels": _mapping(v["volume"]["labels"], keep_none=False, where=w)}
        out.append(v)
    return out


def _file_ref(value: Any, *, secret: bool, where: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"source": value} if isinstance(value, str) else dict(value)
    if secret and "target" not in ref:
        ref["target"] = f"/run/secrets/{ref.get('source')}"
    if "mode" in ref and ref["mode"] is not None:
        ref["mode"] = _file_mode(ref["mode"], f"{where}.mode")
    for key in ("uid", "gid"):
        if key in ref:
            ref[key] = go_str(ref[key])
    return ref


def _depends_on(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, list):
        return {str(k): {"condition": "service_started", "required": True} for k in value}
    out: dict[str, Any] = {}
    for k, d in value.items():
        if not isinstance(d, Mapping):
            raise SchemaError(f"{where}.{k}", f"expected a mapping, got {d!r}")
        dep = dict(d)
        dep.setdefault("condition", "service_started")
        dep.setdefault("required", True)
        if dep.get("restart") is False:
            del dep["restart"]
        out[k] = dep
    return out


def _healthcheck(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    h = dict(value)
    if isinstance(h.get("test"), str):
        h["test"] = ["CMD-SHELL", h["test"]]
    for key in ("timeout", "interval", "start_period", "start_interval"):
        if h.get(key) is not None:
            h[key] = _duration(h[key], f"{where}.{key}")
    if h.get("disable") is False:
        del h["disable"]
    if "retries" in h:
        try:
            retries = int(h["retries"])
        except (TypeError, ValueError):
            retries = -1
        if retries < 0:
            raise ConfigError(f"{where}.retries", f"invalid value {h['retries']!r}; expected a count >= 0")
        h["retries"] = retries
    return h


def _devices(value: Any, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, d in enumerate(value):
        if isinstance(d, Mapping):
            out.append(dict(d))
            continue
        parts = str(d).split(":")
        if len(parts) > 3 or not parts[0]:
            raise ConfigError(f"{where}[{i}]", f"invalid device {d!r}")
        dev: dict[str, Any] = {"source": parts[0], "target": parts[0], "permissions": "rwm"}
        if len(parts) >= 2:
            if len(parts) == 2 and set(parts[1]) <= set("rwm") and parts[1]:
                dev["permissions"] = parts[1]
            else:
                dev["target"] = parts[1]
        if len(parts) == 3:
            dev["permissions"] = parts[2]
        out.append(dev)
    return out


def _deploy(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    d = copy.deepcopy(dict(value))
    if "labels" in d:
        d["labels"] = _mapping(d["labels"], keep_none=False, where=f"{where}.labels")
    res = d.get("resources") or {}
    for kind in ("limits", "reservations"):
        r = res.get(kind)
        if isinstance(r, Mapping):
            r = dict(r)
            if "cpus" in r:
                r["cpus"] = _float(r["cpus"], f"{where}.resources.{kind}.cpus")
            if "memory" in r:
                r["memory"] = _bytes(r["memory"], f"{where}.resources.{kind}.memory")
            if isinstance(r.get("pids"), str):
                r["pids"] = _int(r["pids"], f"{where}.resources.{kind}.pids")
            if isinstance(r.get("devices"), list):
                r["devices"] = [_device_request(x) for x in r["devices"]]
            res = {**res, kind: r}
    d["resources"] = res
    for key in ("update_config", "rollback_config"):
        if isinstance(d.get(key), Mapping):
            u = dict(d[key])
            for dk in ("delay", "monitor"):
                if dk in u:
                    u[dk] = _duration(u[dk], f"{where}.{key}.{dk}")
            d[key] = u
    if isinstance(d.get("restart_policy"), Mapping):
        rp = dict(d["restart_policy"])
        for dk in ("delay", "window"):
            if dk in rp:
                rp[dk] = _duration(rp[dk], f"{where}.restart_policy.{dk}")
        d["restart_policy"] = rp
    d["placement"] = d.get("placement") or {}
    return d


def _device_request(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    r = dict(value)
    if isinstance(r.get("count"), str):
        r["count"] = -1 if r["count"].lower() == "all" else int(r["count"])
    if "count" not in r and "device_ids" not in r:
        r["count"] = -1
    if isinstance(r.get("options"), (Mapping, list)):
        r["options"] = _mapping(r["options"], keep_none=False, where="options")
    return r


def _provider(value: Mapping[str, Any]) -> dict[str, Any]:
    """provider.options is a MultiOptions in compose: every value becomes a list of strings."""
    p = dict(value)
    if isinstance(p.get("options"), Mapping):
        p["options"] = {
            k: [go_str(x) for x in v] if isinstance(v, list) else [go_str(v)] for k, v in p["options"].items()
        }
    return p


def _logging(value: Mapping[str, Any]) -> dict[str, Any]:
    lg = dict(value)
    if isinstance(lg.get("options"), Mapping):
        lg["options"] = {k: go_str(v) for k, v in lg["options"].items()}
    return lg


def _networks(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {str(n): None for n in value}
    return dict(value or {})


def _hook(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    h = dict(value)
    if "command" in h:
        h["command"] = _split_command(h["command"], f"{where}.command")
    if "environment" in h:
        h["environment"] = _mapping(h["environment"], keep_none=True, where=f"{where}.environment")
    return h


def _develop(value: Mapping[str, Any], ctx: _Ctx, where: str) -> dict[str, Any]:
    d = dict(value)
    watch = []
    for i, trigger in enumerate(d.get("watch") or []):
        t = dict(trigger)
        if "path" in t:
            t["path"] = ctx.path(str(t["path"]))
        for key in ("ignore", "include"):
            if key in t:
                t[key] = _string_list(t[key])
        if isinstance(t.get("exec"), Mapping):
            t["exec"] = _hook(t["exec"], f"{where}.watch[{i}].exec")
        watch.append(t)
    if "watch" in d:
        d["watch"] = watch
    return d


def _blkio(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    b = copy.deepcopy(dict(value))
    if "weight" in b:  # compose-go's uint16: "500" is read as 500, "abc" fails to decode
        b["weight"] = _int(b["weight"], f"{where}.weight")
    for i, dev in enumerate(b.get("weight_device") or []):
        if isinstance(dev, dict) and "weight" in dev:
            dev["weight"] = _int(dev["weight"], f"{where}.weight_device[{i}].weight")
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        for i, dev in enumerate(b.get(key) or []):
            if "rate" in dev:
                dev["rate"] = _bytes(dev["rate"], f"{where}.{key}[{i}].rate")
    return b


def _service_networks(value: Any) -> dict[str, Any]:
    nets = _networks(value)
    for name, cfg in nets.items():
        if isinstance(cfg, Mapping) and isinstance(cfg.get("driver_opts"), Mapping):
            nets[name] = {**cfg, "driver_opts": {k: go_str(v) for k, v in cfg["driver_opts"].items()}}
    return nets


Rule = Callable[["Any", _Ctx, str], "Any"]

# One line per service key that needs more than a copy. The default keeps the value as it is.
SERVICE_RULES: Final[dict[str, Rule]] = {
    "build": _build,
    "command": lambda v, c, w: _split_command(v, w),
    "entrypoint": lambda v, c, w: _split_command(v, w),
    "annotations": lambda v, c, w: _mapping(v, keep_none=False, where=w),
    "sysctls": lambda v, c, w: _mapping(v, keep_none=False, where=w),
    "ports": lambda v, c, w: _ports(v, w),
    "volumes": _volumes,
    "depends_on": lambda v, c, w: _depends_on(v, w),
    "healthcheck": lambda v, c, w: _healthcheck(v, w),
    "networks": lambda v, c, w: _service_networks(v),
    "develop": _develop,
    "provider": lambda v, c, w: _provider(v),
    "models": lambda v, c, w: _networks(v),
    "blkio_config": lambda v, c, w: _blkio(v, w),
    "group_add": lambda v, c, w: _string_list(v),
    "post_start": lambda v, c, w: [_hook(h, f"{w}[{i}]") for i, h in enumerate(v)],
    "pre_stop": lambda v, c, w: [_hook(h, f"{w}[{i}]") for i, h in enumerate(v)],
    "dns": lambda v, c, w: _string_list(v),
    "dns_search": lambda v, c, w: _string_list(v),
    "tmpfs": lambda v, c, w: _string_list(v),
    "expose": lambda v, c, w: _string_list(v),
    "extra_hosts": lambda v, c, w: _extra_hosts(v, w),
    "devices": lambda v, c, w: _devices(v, w),
    "secrets": lambda v, c, w: [_file_ref(s, secret=True, where=f"{w}[{i}]") for i, s in enumerate(v)],
    "configs": lambda v, c, w: [_file_ref(s, secret=False, where=f"{w}[{i}]") for i, s in enumerate(v)],
    "ulimits": lambda v, c, w: _ulimits(v),
    "mem_limit": lambda v, c, w: _bytes(v, w),
    "mem_reservation": lambda v, c, w: _bytes(v, w),
    "memswap_limit": lambda v, c, w: _bytes(v, w),
    "mem_swappiness": lambda v, c, w: _bytes(v, w),
    "shm_size": lambda v, c, w: _bytes(v, w),
    "stop_grace_period": lambda v, c, w: _duration(v, w),
    "cpus": lambda v, c, w: _float(v, w),
    "deploy": lambda v, c, w: _deploy(v, w),
    "logging": lambda v, c, w: _logging(v),
    "pull_policy": lambda v, c, w: "missing" if v == "if_not_present" else v,
    "gpus": lambda v, c, w: [{"count": -1}] if v == "all" else [_device_request(x) for x in v],
    "storage_opt": lambda v, c, w: {k: go_str(x) for k, x in v.items()},
}


# --- environment ------------------------------------------------------------------------------


def _watch(path: str) -> None:
    from composer.loader.cache import watch

    watch(path)


def _read_env_file(path: str, lookup: Mapping[str, str], where: str) -> dict[str, str]:
    """A dotenv file, parsed as the project's .env is (single quotes literal, ${X} expanded)."""
    from composer.loader.cache import watch
    from composer.loader.environment import parse_env_text

    watch(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(
            where, f"cannot read {path}: {exc.strerror.lower() if exc.strerror else exc}"
        ) from None
    return parse_env_text(text, where, lookup)


def _read_raw_env_file(path: str, lookup: Mapping[str, str], where: str) -> dict[str, str]:
    """format: raw — KEY=VALUE lines taken verbatim (no quotes, no ${}), `#` lines skipped."""
    from composer.loader.cache import watch

    watch(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise ConfigError(
            where, f"cannot read {path}: {exc.strerror.lower() if exc.strerror else exc}"
        ) from None
    out: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
        elif key in lookup:
            out[key] = lookup[key]
    return out


def _labels(svc: Mapping[str, Any], ctx: _Ctx, where: str) -> dict[str, str] | None:
    """labels with label_file contents merged under them (files in order, labels win)."""
    files = svc.get("label_file")
    labels = svc.get("labels")
    if labels is None and files is None:
        return None
    merged: dict[str, str] = {}
    for i, f in enumerate(_string_list(files)):
        path = ctx.path(f)
        full = path if posixpath.isabs(path) else posixpath.join(ctx.working_dir, path)
        merged.update(_read_env_file(full, {}, f"{where}.label_file[{i}]"))
    merged.update(_mapping(labels, keep_none=False, where=f"{where}.labels"))
    return merged


def _environment(svc: Mapping[str, Any], ctx: _Ctx, where: str) -> dict[str, Any] | None:
    env_files = svc.get("env_file")
    env = svc.get("environment")
    if env is None and env_files is None:
        return None
    merged: dict[str, Any] = {}
    if env_files is not None:
        files = [env_files] if isinstance(env_files, str) else env_files
        for i, f in enumerate(files):
            spec = {"path": f, "required": True} if isinstance(f, str) else dict(f)
            path = ctx.path(str(spec["path"])) if ctx.resolve_paths else str(spec["path"])
            full = path if posixpath.isabs(path) else posixpath.join(ctx.working_dir, path)
            _watch(full)
            if not os.path.exists(full):
                if spec.get("required", True):
                    raise ConfigError(f"{where}.env_file[{i}]", f"env file {full} not found")
                continue
            fmt = spec.get("format")
            if fmt == "raw":
                merged.update(_read_raw_env_file(full, ctx.environ, f"{where}.env_file[{i}]"))
            elif fmt:  # docker compose registers only "raw" besides its default parser
                raise ConfigError(f"{where}.env_file[{i}].format", f"unsupported env_file format {fmt!r}")
            else:
                merged.update(_read_env_file(full, ctx.environ, f"{where}.env_file[{i}]"))
    for k, v in _mapping(env, keep_none=True, where=f"{where}.environment").items():
        # An unresolved `environment: [K]` stays null even over an env_file value, as in compose.
        merged[k] = ctx.environ.get(k) if v is None else v
    return merged


# --- relative paths, per file ------------------------------------------------------------------


def _abs(value: Any, ctx: _Ctx) -> Any:
    return ctx.path(value) if isinstance(value, str) and value else value


def _abs_context(value: Any, ctx: _Ctx) -> Any:
    if (
        not isinstance(value, str)
        or "://" in value
        or value.startswith("service:")
        or _is_remote_context(value)
    ):
        return value
    return _abs(value, ctx)


def _abs_env_file(value: Any, ctx: _Ctx) -> Any:
    if isinstance(value, str):
        return _abs(value, ctx)
    if isinstance(value, Mapping) and "path" in value:
        return {**value, "path": _abs(value["path"], ctx)}
    return value


def _abs_bind_mount(value: Any, ctx: _Ctx) -> Any:
    if isinstance(value, Mapping) and value.get("type") == "bind" and value.get("source"):
        if is_windows_abs(str(value["source"])):
            return value
        return {**value, "source": _abs(value["source"], ctx)}
    if isinstance(value, str):  # short syntax: only a source that is a path (., /, ~) is a bind
        vol = value.split(":", 1)
        if len(vol) == 2 and vol[0][:1] in (".", "~"):
            return f"{_abs(vol[0], ctx)}:{vol[1]}"
    return value


def _abs_local_bind_volume(value: Any, ctx: _Ctx) -> Any:
    if not isinstance(value, Mapping) or value.get("driver") != "local":
        return value
    opts = value.get("driver_opts")
    if isinstance(opts, Mapping) and opts.get("o") == "bind" and "device" in opts:
        return {**value, "driver_opts": {**opts, "device": _abs(opts["device"], ctx)}}
    return value


PathRule = Callable[["Any", _Ctx], "Any"]

# compose-go's paths.ResolveRelativePaths table: which values are host paths, per tree path.
PATH_RULES: Final[dict[str, PathRule]] = {
    "services.*.build.context": _abs_context,
    "services.*.build.additional_contexts.*": _abs_context,
    "services.*.env_file": lambda v, c: (
        [_abs_env_file(x, c) for x in v] if isinstance(v, list) else _abs(v, c)
    ),
    "services.*.label_file": lambda v, c: [_abs(x, c) for x in v] if isinstance(v, list) else _abs(v, c),
    "services.*.extends.file": _abs,
    "services.*.develop.watch.*.path": _abs,
    "services.*.volumes.*": _abs_bind_mount,
    "configs.*.file": _abs,
    "secrets.*.file": _abs,
    "volumes.*": _abs_local_bind_volume,
}


def _match(path: tuple[str, ...], pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(path) and all(p == "*" or p == k for p, k in zip(parts, path, strict=True))


def _resolve_paths(node: Any, path: tuple[str, ...], ctx: _Ctx) -> Any:
    for pattern, rule in PATH_RULES.items():
        if _match(path, pattern):
            return rule(node, ctx)
    if isinstance(node, Mapping):
        return {k: _resolve_paths(v, (*path, str(k)), ctx) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_paths(v, (*path, "*"), ctx) for v in node]
    return node


def resolve_relative_paths(
    tree: Mapping[str, Any], *, working_dir: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Make one file's host paths absolute against its own directory (a NEW tree).

    For files whose directory differs from the project's (include, extends): apply this to each
    file before merging, since canonicalize() resolves what is left against the project dir.
    A `build` given as a string is a context too.
    """
    ctx = _Ctx(working_dir, environ, True, "")
    out = _resolve_paths(tree, (), ctx)
    for svc in (out.get("services") or {}).values():
        if isinstance(svc, dict) and isinstance(svc.get("build"), str):
            svc["build"] = _abs_context(svc["build"], ctx)
    return out  # type: ignore[no-any-return]


# --- the service and the project --------------------------------------------------------------

_NAMESPACE_KEYS: Final = ("network_mode", "ipc", "pid", "uts", "cgroup")


def _service(name: str, svc: Mapping[str, Any], ctx: _Ctx) -> dict[str, Any]:
    where = _where(ctx.source, f"services.{name}")
    out: dict[str, Any] = {}
    for key, value in svc.items():
        if key in ("environment", "env_file", "labels", "label_file"):
            continue
        rule = SERVICE_RULES.get(key)
        out[key] = rule(value, ctx, f"{where}.{key}") if rule and value is not None else copy.deepcopy(value)
    env = _environment(svc, ctx, where)
    if env is not None:
        out["environment"] = env
    labels = _labels(svc, ctx, where)
    if labels is not None:
        out["labels"] = labels
    out.setdefault("command", None)
    out.setdefault("entrypoint", None)

    # Implicit dependencies, in compose's order: links, shared namespaces, volumes_from.
    deps: dict[str, Any] = dict(out.get("depends_on") or {})
    for link in out.get("links") or []:
        parts = str(link).split(":")
        target = parts[0] if len(parts) == 2 else str(link)
        deps.setdefault(target, {"condition": "service_started", "restart": True, "required": True})
    for key in _NAMESPACE_KEYS:
        ref = out.get(key)
        if isinstance(ref, str) and ref.startswith("service:"):
            deps.setdefault(ref[8:], {"condition": "service_started", "restart": True, "required": True})
    for vf in out.get("volumes_from") or []:
        if not str(vf).startswith("container:"):
            deps.setdefault(str(vf).split(":")[0], {"condition": "service_started", "required": True})
    if deps:
        out["depends_on"] = deps

    if "network_mode" not in out and "provider" not in out and not out.get("networks"):
        out["networks"] = {"default": None}
    return out


def _resource(kind: str, key: str, value: Any, project: str, ctx: _Ctx) -> dict[str, Any]:
    where = _where(ctx.source, f"{kind}.{key}")
    r: dict[str, Any] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else {}
    ext = r.get("external")
    if isinstance(ext, Mapping):
        r["external"] = True
        if "name" in ext:
            if "name" in r and r["name"] != ext["name"]:
                raise ConfigError(where, "name and external.name conflict; only use name")
            r.setdefault("name", ext["name"])
    if r.get("name") is None:
        r["name"] = key if r.get("external") is True else f"{project}_{key}"
    if "labels" in r:
        r["labels"] = _mapping(r["labels"], keep_none=False, where=f"{where}.labels")
    if isinstance(r.get("driver_opts"), Mapping):
        r["driver_opts"] = {k: go_str(v) for k, v in r["driver_opts"].items()}
    if kind == "networks":
        r["ipam"] = r.get("ipam") or {}
    if kind in ("secrets", "configs") and r.get("file"):
        r["file"] = ctx.path(str(r["file"]))
    if kind == "volumes" and ctx.resolve_paths:
        r = _abs_local_bind_volume(r, ctx)
    return r


def _used(services: Mapping[str, Mapping[str, Any]]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {"networks": set(), "volumes": set(), "secrets": set(), "configs": set()}
    for svc in services.values():
        used["networks"].update(svc.get("networks") or {})
        for v in svc.get("volumes") or []:
            if v.get("type") == "volume" and v.get("source"):
                used["volumes"].add(v["source"])
        for s in svc.get("secrets") or []:
            used["secrets"].add(s.get("source"))
        for s in (svc.get("build") or {}).get("secrets") or []:
            used["secrets"].add(s.get("source"))
        for c in svc.get("configs") or []:
            used["configs"].add(c.get("source"))
    return used


def canonicalize(
    tree: Mapping[str, Any],
    *,
    working_dir: str,
    environ: Mapping[str, str],
    resolve_paths: bool = True,
    source: str = "",
) -> dict[str, Any]:
    """Return the canonical long-syntax form of a merged, validated compose tree.

    Args:
        tree: the merged tree; tree["name"] is the project name (set by the pipeline).
        working_dir: the project directory relative paths are resolved against.
        environ: the variables (environment + .env) used for `environment: [A]` and build args.
        resolve_paths: False keeps relative paths as written (`config --no-path-resolution`).
        source: prefix for error locations (a file name), empty for none.

    Raises:
        ConfigError: a value that the schema accepts but does not parse (a port, a duration...).
    """
    ctx = _Ctx(working_dir, environ, resolve_paths, source)
    project = str(tree.get("name") or "")
    out: dict[str, Any] = {}
    if project:
        out["name"] = project
    services = {name: _service(name, svc or {}, ctx) for name, svc in (tree.get("services") or {}).items()}
    out["services"] = services
    used = _used(services)
    for kind in ("networks", "volumes", "secrets", "configs"):
        declared = dict(tree.get(kind) or {})
        if kind == "networks" and "default" in used["networks"]:
            declared.setdefault("default", None)
        res = {k: _resource(kind, k, v, project, ctx) for k, v in declared.items() if k in used[kind]}
        if res:
            out[kind] = res
    for key, value in tree.items():
        if key.startswith("x-") or key == "models":
            out[key] = copy.deepcopy(value)
    return out

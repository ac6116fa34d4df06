"""Render a canonical tree exactly as `docker compose config` prints it (YAML or JSON).

docker compose serialises Go structs: known keys come in struct field order, Go maps come
sorted, zero values of non-pointer fields are omitted, and a few fields differ between the YAML
and the JSON encoders (JSON keeps `command: null`, an empty `ipam: {}`; JSON drops `x-` keys
below the top level and `models`). That knowledge lives in one table, STRUCTS, written from
compose-go v2.9.1's types (the version docker compose v2.40.3 embeds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from json.encoder import py_encode_basestring as _py_encode_string

from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final, Literal

__all__ = ["render", "to_json_tree", "to_yaml_tree"]


@record(kw_only=False)
class _Field:
    key: str
    child: str | None  # struct name, "[T]" list of T, "{T}" map of T, or None for a plain value
    pointer: bool  # *T in Go: a zero value (false, 0, {}) is still printed
    json_always: bool  # no omitempty on the json tag: printed even when empty/null
    yaml_always: bool  # no omitempty on the yaml tag


def _fields(spec: str) -> tuple[_Field, ...]:
    """Parse "key[=Child][*][~][!][!!]" tokens; * pointer, ~ yaml always, ! json always, !! both."""
    out = []
    for tok in spec.split():
        yaml_only = tok.endswith("~")
        tok = tok.rstrip("~")
        both = tok.endswith("!!")
        tok = tok.rstrip("!") if both else tok
        jal = tok.endswith("!")
        tok = tok.rstrip("!")
        ptr = tok.endswith("*")
        tok = tok.rstrip("*")
        key, _, child = tok.partition("=")
        out.append(_Field(key, child or None, ptr, jal or both, both or yaml_only))
    return tuple(out)


class _Table(dict[str, tuple[_Field, ...]]):
    """Struct name -> its fields, each parsed on first use: parsing the whole table at import
    was ~2 ms of every `up` (the config hash), which looks at a handful of structs."""

    def __init__(self, specs: Mapping[str, str]) -> None:
        super().__init__()
        self.specs = specs

    def __missing__(self, name: str) -> tuple[_Field, ...]:
        fields = self[name] = _fields(self.specs[name])
        return fields

    def __contains__(self, name: object) -> bool:
        return name in self.specs


# Go struct field order (compose-go v2.9.1 types). Keys not listed are extensions (x-...).
STRUCTS: Final[_Table] = _Table(
    {
        "Project": "name services={Service}!! networks={Network} volumes={Volume_} secrets={FileObj} "
        "configs={FileObj} models={Model}",
        "Service": "profiles annotations attach* build=Build* develop=Develop* blkio_config=Blkio* "
        "cap_add cap_drop cgroup_parent cgroup cpu_count cpu_percent cpu_period cpu_quota "
        "cpu_rt_period cpu_rt_runtime cpus cpuset cpu_shares command*! configs=[FileRef] "
        "container_name credential_spec=CredSpec* depends_on={Dependency} deploy=Deploy* "
        "device_cgroup_rules devices=[Device] dns dns_opt dns_search dockerfile domainname "
        "entrypoint*! provider=Provider* environment env_file=[EnvFile] expose extends=Extends* "
        "external_links extra_hosts group_add gpus=[DeviceRequest] hostname "
        "healthcheck=Healthcheck* image init* ipc isolation labels label_file links "
        "logging=Logging* log_driver log_opt mem_limit mem_reservation memswap_limit "
        "mem_swappiness mac_address models={ServiceModel} net network_mode "
        "networks={ServiceNetwork} oom_kill_disable oom_score_adj pid pids_limit platform "
        "ports=[Port] privileged pull_policy read_only restart runtime scale* secrets=[FileRef] "
        "security_opt shm_size stdin_open stop_grace_period* stop_signal storage_opt sysctls "
        "tmpfs tty ulimits={Ulimit} use_api_socket user userns_mode uts volume_driver "
        "volumes=[Volume] volumes_from working_dir post_start=[Hook] pre_stop=[Hook]",
        "Provider": "type options",
        "Build": "context dockerfile dockerfile_inline entitlements args provenance sbom ssh labels "
        "cache_from cache_to no_cache additional_contexts pull extra_hosts isolation network "
        "target secrets=[FileRef] shm_size tags ulimits={Ulimit} platforms privileged",
        "Blkio": "weight weight_device=[BlkioWeight] device_read_bps=[BlkioRate] "
        "device_read_iops=[BlkioRate] device_write_bps=[BlkioRate] device_write_iops=[BlkioRate]",
        "BlkioWeight": "path!! weight!!",
        "BlkioRate": "path!! rate!!",
        "Device": "source target permissions",
        "Logging": "driver options",
        "Deploy": "mode replicas* labels update_config=Update* rollback_config=Update* "
        "resources=Resources! restart_policy=RestartPolicy* placement=Placement! endpoint_mode",
        "Update": "parallelism* delay failure_action monitor max_failure_ratio order",
        "Resources": "limits=Resource* reservations=Resource*",
        "Resource": "cpus memory pids devices=[DeviceRequest] generic_resources=[GenericResource]",
        "GenericResource": "discrete_resource_spec=Discrete*",
        "Discrete": "kind!! value!!",
        "RestartPolicy": "condition delay* max_attempts* window*",
        "Placement": "constraints preferences max_replicas_per_node",
        "ServiceNetwork": "aliases driver_opts gw_priority interface_name ipv4_address "
        "ipv6_address link_local_ips mac_address priority",
        "Port": "name mode host_ip target published protocol app_protocol",
        "Volume": "type source target read_only consistency bind=Bind* volume=VolumeOpts* "
        "tmpfs=Tmpfs* image=ImageOpts*",
        "Bind": "selinux propagation create_host_path recursive",
        "VolumeOpts": "labels nocopy subpath",
        "Tmpfs": "size mode",
        "ImageOpts": "subpath",
        "FileRef": "source target uid gid mode*",
        "Ulimit": "single soft~ hard~",
        "Network": "name driver driver_opts ipam=Ipam! external internal attachable labels "
        "enable_ipv4* enable_ipv6*",
        "Ipam": "driver config=[IpamPool]",
        "IpamPool": "subnet gateway ip_range aux_addresses",
        "Volume_": "name driver driver_opts external labels",  # top-level volumes (VolumeConfig)
        "CredSpec": "config file registry",
        "FileObj": "name file environment content external labels driver driver_opts template_driver",
        "Dependency": "condition restart required!!",
        "Extends": "file service",
        "Healthcheck": "test timeout* interval* retries* start_period* start_interval* disable",
        "Develop": "watch=[Trigger]",
        "Trigger": "path!! action!! target exec=Hook! include ignore initial_sync",
        "Hook": "command! user privileged working_dir environment",
        "DeviceRequest": "capabilities driver count device_ids options",
        "EnvFile": "path required!! format",
        "Model": "name model context_size runtime_flags",
        "ServiceModel": "endpoint_var model_var",
    }
)


# Go structs without json tags: encoding/json prints the field names as they are.
_JSON_KEYS: Final[dict[str, dict[str, str]]] = {
    "BlkioWeight": {"path": "Path", "weight": "Weight"},
    "BlkioRate": {"path": "Path", "rate": "Rate"},
}


def _is_zero(value: Any) -> bool:
    return (
        value is None or value is False or value == 0 and not isinstance(value, bool) or value in ("", [], {})
    )


def _shape(value: Any, typ: str | None, fmt: str, top: bool = False) -> Any:
    """Order keys and drop what the encoder omits, following the type table."""
    if typ is None:
        if isinstance(value, Mapping):
            return {k: _shape(value[k], None, fmt) for k in sorted(value)}
        if isinstance(value, list):
            return [_shape(v, None, fmt) for v in value]
        return value
    if typ.startswith("["):
        return [_shape(v, typ[1:-1], fmt) for v in value] if isinstance(value, list) else value
    if typ.startswith("{"):
        if not isinstance(value, Mapping):
            return value
        return {k: (None if value[k] is None else _shape(value[k], typ[1:-1], fmt)) for k in sorted(value)}
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    rename = _JSON_KEYS.get(typ, {}) if fmt == "json" else {}
    for f in STRUCTS[typ]:
        if f.key not in value:
            # A Go field without omitempty is printed even when the tree lacks it: a struct as
            # its zero value ({} or {"command": null}), anything else as null.
            if f.json_always if fmt == "json" else f.yaml_always:
                if f.child in STRUCTS:
                    out[f.key] = _shape({}, f.child, fmt)
                elif f.child is None and f.key in ("command", "entrypoint"):
                    out[f.key] = None
            continue
        v = value[f.key]
        always = f.json_always if fmt == "json" else f.yaml_always
        if v is None and not always:
            continue
        if not f.pointer and not always and _is_zero(v):
            continue
        out[rename.get(f.key, f.key)] = _shape(v, f.child, fmt)
    extensions = sorted(k for k in value if k.startswith("x-"))
    if fmt == "yaml" or top:
        for k in extensions:
            out[k] = _shape(value[k], None, fmt)
    if fmt == "json" and top:
        out.pop("models", None)
        out = {k: out[k] for k in sorted(out)}  # the project is marshalled as a Go map
    return out


def to_yaml_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The tree docker compose's YAML encoder prints: struct order, zero values omitted."""
    return _shape(tree, "Project", "yaml", top=True)  # type: ignore[no-any-return]


def to_json_tree(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The tree `docker compose config --format json` prints, as plain dicts (json.loads equal)."""
    return _shape(tree, "Project", "json", top=True)  # type: ignore[no-any-return]


def render(tree: Mapping[str, Any], fmt: Literal["yaml", "json"], *, escape_dollar: bool = False) -> str:
    """Print a canonical tree as docker compose prints it; YAML ends with a newline, JSON not.

    escape_dollar doubles every `$` as `docker compose config` does after interpolation (so the
    output loads back to the same values); pass it unless --no-interpolate.
    """
    text = _json(to_json_tree(tree)) if fmt == "json" else "".join(_yaml_lines(to_yaml_tree(tree), 0))
    return text.replace("$", "$$") if escape_dollar else text


# --- JSON: Go's encoding/json MarshalIndent -------------------------------------------------


_HTML_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
try:  # the C accelerator, as json.dumps uses it
    from json.encoder import c_encode_basestring as _c_encode_string  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _c_encode_string = None
_encode_string: Final = _c_encode_string or _py_encode_string
_HTML: Final = str.maketrans(_HTML_ESCAPES)  # a table, not a regex: no compile at start-up


def _json_scalar(value: Any) -> str:
    if isinstance(value, str):
        # Go escapes HTML characters in strings, and keeps other non-ASCII text as is.
        return _encode_string(value).translate(_HTML)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))  # Go prints a whole float without a fraction
    return json.dumps(value)


def _json_lines(value: Any, indent: int, out: list[str]) -> None:
    """MarshalIndent(v, "", "  "): the same text as json.dumps(indent=2), written iteratively
    (json.dumps with indent runs the pure-Python encoder, several times slower)."""
    if isinstance(value, Mapping) and value:
        pad = "  " * (indent + 1)
        out.append("{\n")
        for i, (k, v) in enumerate(value.items()):
            out.append(f"{pad}{_json_scalar(str(k))}: ")
            _json_lines(v, indent + 1, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append("  " * indent + "}")
    elif isinstance(value, list) and value:
        pad = "  " * (indent + 1)
        out.append("[\n")
        for i, v in enumerate(value):
            out.append(pad)
            _json_lines(v, indent + 1, out)
            out.append(",\n" if i < len(value) - 1 else "\n")
        out.append("  " * indent + "]")
    elif isinstance(value, Mapping):
        out.append("{}")
    elif isinstance(value, list):
        out.append("[]")
    else:
        out.append(_json_scalar(value))


def _json(tree: Any) -> str:
    out: list[str] = []
    _json_lines(tree, 0, out)
    return "".join(out)


# --- YAML: gopkg.in/yaml.v3 with SetIndent(2) -------------------------------------------------

_OLD_BOOLS: Final = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ]
)
_NULLS: Final = frozenset(["", "~", "null", "Null", "NULL"])
_SPECIAL_FLOATS: Final = frozenset(
    [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"]
)


@lru_cache(maxsize=1)
def _scalar_patterns() -> tuple[re.Pattern[str], ...]:
    """Go int, YAML float, base 60, timestamp: compiled on first use (printing YAML), not by the
    config hash of every `up`, which imports this module (~4 ms CPU)."""
    return (
        re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$"),
        re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"),
        re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"),
        re.compile(
            r"^\d{4}-\d{1,2}-\d{1,2}(?:[Tt ]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?(?:Z|[+-]\d{1,2}(?::\d{2})?)?)?$"
        ),
    )


def _resolves_to_non_string(s: str) -> bool:
    """True when a plain scalar s would read back as null/bool/number/timestamp in yaml.v3."""
    go_int, yaml_float, base60, timestamp = _scalar_patterns()
    if s in _NULLS or s in _OLD_BOOLS or s in _SPECIAL_FLOATS or base60.match(s):
        return True
    first = s[0]
    if first == ".":
        return bool(yaml_float.match(s))
    if first.isdigit() or first in "+-":
        if timestamp.match(s):
            return True
        plain = s.replace("_", "")
        return bool(go_int.match(plain) or yaml_float.match(plain))
    return False


def _plain_allowed(s: str) -> bool:
    """libyaml's analysis of a block-context plain scalar (no flow context here)."""
    if s[0] in " \t" or s[-1] in " \t":
        return False
    if s.startswith(("---", "...")):
        return False
    if s[0] in "#,[]{}&*!|>'\"%@`":
        return False
    if s[0] in "-?:" and (len(s) == 1 or s[1] in " \t"):
        return False
    if ": " in s or ":\t" in s or s.endswith(":") or " #" in s or "\t#" in s:
        return False
    return _non_printable().search(s) is None


# libyaml's IS_PRINTABLE, negated (a tab is not printable, so it forces double quotes). Compiled
# on first use: its charset costs ~8 ms CPU to compile, and the config hash of every `up` imports
# this module without printing any YAML.
_NON_PRINTABLE_RE: Final = "[^\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"


@lru_cache(maxsize=1)
def _non_printable() -> re.Pattern[str]:
    return re.compile(_NON_PRINTABLE_RE)


def _printable(c: str) -> bool:
    return _non_printable().match(c) is None


def _double_quoted(s: str) -> str:
    out = []
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\0":
            out.append("\\0")
        elif not _printable(c) or c == "\ufeff":
            out.append(f"\\x{o:02X}" if o <= 0xFF else f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        from composer.loader.canonical import go_str

        text = go_str(value)
        return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
    return _string_scalar(str(value))


@lru_cache(maxsize=8192)  # keys and many values repeat across services
def _string_scalar(s: str) -> str:
    if s == "" or _resolves_to_non_string(s):
        return _double_quoted(s)
    if _plain_allowed(s):
        return s
    if _non_printable().search(s) is None:
        return "'" + s.replace("'", "''") + "'"
    return _double_quoted(s)


def _key(k: Any) -> str:
    s = str(k)
    if "\n" in s:
        return _double_quoted(s)
    return _scalar(s)


def _literal(s: str, indent: int) -> list[str]:
    """A multi-line string as a literal block; the caller has written the header position."""
    if not s.endswith("\n"):
        chomp = "-"
    elif s.endswith("\n\n") or s == "\n":
        chomp = "+"
    else:
        chomp = ""
    ind = "" if not s[:1].isspace() else str(2)
    body = s[:-1] if s.endswith("\n") else s
    pad = " " * indent
    lines = [f"|{ind}{chomp}\n"]
    lines += [(pad + line if line else "") + "\n" for line in body.split("\n")]
    return lines


def _inline(value: Any, indent: int) -> tuple[str, list[str]] | None:
    """The text after `key: ` / `- ` when the value fits there, plus any continuation lines."""
    if isinstance(value, Mapping):
        return ("{}", []) if not value else None
    if isinstance(value, list):
        return ("[]", []) if not value else None
    if (
        isinstance(value, str)
        and "\n" in value
        and _non_printable().search(value.replace("\n", "").replace("\t", "")) is None  # tabs: fine here
        and not value.endswith(" ")  # libyaml: a trailing space or a space before a break
        and " \n" not in value  # rules out the literal style
    ):
        head, *rest = _literal(value, indent)
        return head.rstrip("\n"), rest
    return _scalar(value), []


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            inline = _inline(v, indent + 2)
            if inline is not None:
                lines.append(f"{pad}{_key(k)}: {inline[0]}\n")
                lines += inline[1]
            else:
                lines.append(f"{pad}{_key(k)}:\n")
                lines += _yaml_lines(v, indent + 2)
    elif isinstance(value, list):
        for v in value:
            inline = _inline(v, indent + 2)
            if inline is not None:
                lines.append(f"{pad}- {inline[0]}\n")
                lines += inline[1]
            else:
                sub = _yaml_lines(v, indent + 2)
                lines.append(f"{pad}- {sub[0][indent + 2 :]}")
                lines += sub[1:]
    else:
        lines.append(f"{pad}{_scalar(value)}\n")
    return lines

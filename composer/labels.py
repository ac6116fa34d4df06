"""The com.docker.compose.* labels, and the config hash docker compose puts in them.

Labels are how composer finds what a project runs without its compose file (`ps -p NAME`,
`down -p NAME`), and how tools that read docker compose's labels understand composer's containers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from composer import __version__

PREFIX: Final = "com.docker.compose."
PROJECT: Final = PREFIX + "project"
SERVICE: Final = PREFIX + "service"
CONTAINER_NUMBER: Final = PREFIX + "container-number"
CONFIG_HASH: Final = PREFIX + "config-hash"
ONEOFF: Final = PREFIX + "oneoff"
WORKING_DIR: Final = PREFIX + "project.working_dir"
CONFIG_FILES: Final = PREFIX + "project.config_files"
ENVIRONMENT_FILE: Final = PREFIX + "project.environment_file"
DEPENDS_ON: Final = PREFIX + "depends_on"
IMAGE: Final = PREFIX + "image"
VERSION: Final = PREFIX + "version"
NETWORK: Final = PREFIX + "network"
VOLUME: Final = PREFIX + "volume"
SLUG: Final = PREFIX + "slug"

# ---- config hash ---------------------------------------------------------------------------------
# docker compose hashes json.Marshal(ServiceConfig) of Go structs: keys come in struct-field order
# (not sorted), maps come sorted, and a few fields are cleared first (pkg/compose/hash.go). The tables
# below are the json names in compose-go's struct order, so the hash matches `docker compose config
# --hash` whatever order the loader kept. Keys not listed (future fields) follow, sorted.

_SERVICE_ORDER: Final = [
    "profiles",
    "annotations",
    "attach",
    "build",
    "develop",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "cgroup",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "cpuset",
    "cpu_shares",
    "command",
    "configs",
    "container_name",
    "credential_spec",
    "depends_on",
    "deploy",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "dockerfile",
    "domainname",
    "entrypoint",
    "provider",
    "environment",
    "env_file",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "group_add",
    "gpus",
    "hostname",
    "healthcheck",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "log_driver",
    "log_opt",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "mem_swappiness",
    "mac_address",
    "models",
    "net",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "privileged",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
    "pre_start",
    "post_start",
    "pre_stop",
]

_FILE_REF: Final = ("source", "target", "uid", "gid", "mode")
_DEVICE_REQUEST: Final = ("capabilities", "driver", "count", "device_ids", "options")
_UPDATE: Final = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")
_RESOURCE: Final = ("cpus", "memory", "pids", "devices", "generic_resources")

# path pattern -> key order; "*" is a list item or a map value
_ORDERS: Final[dict[tuple[str, ...], tuple[str, ...]]] = {
    (): tuple(_SERVICE_ORDER),
    ("healthcheck",): ("test", "timeout", "interval", "retries", "start_period", "start_interval", "disable"),
    ("ports", "*"): ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol"),
    ("volumes", "*"): (
        "type",
        "source",
        "target",
        "read_only",
        "consistency",
        "bind",
        "volume",
        "tmpfs",
        "image",
    ),
    ("volumes", "*", "bind"): ("selinux", "propagation", "create_host_path", "recursive"),
    ("volumes", "*", "volume"): ("labels", "nocopy", "subpath"),
    ("volumes", "*", "tmpfs"): ("size", "mode"),
    ("volumes", "*", "image"): ("subpath",),
    ("deploy",): (
        "mode",
        "replicas",
        "labels",
        "update_config",
        "rollback_config",
        "resources",
        "restart_policy",
        "placement",
        "endpoint_mode",
    ),
    ("deploy", "update_config"): _UPDATE,
    ("deploy", "rollback_config"): _UPDATE,
    ("deploy", "resources"): ("limits", "reservations"),
    ("deploy", "resources", "limits"): _RESOURCE,
    ("deploy", "resources", "reservations"): _RESOURCE,
    ("deploy", "resources", "limits", "devices", "*"): _DEVICE_REQUEST,
    ("deploy", "resources", "reservations", "devices", "*"): _DEVICE_REQUEST,
    ("deploy", "restart_policy"): ("condition", "delay", "max_attempts", "window"),
    ("deploy", "placement"): ("constraints", "preferences", "max_replicas_per_node"),
    ("networks", "*"): (
        "aliases",
        "driver_opts",
        "gw_priority",
        "interface_name",
        "ipv4_address",
        "ipv6_address",
        "link_local_ips",
        "mac_address",
        "priority",
    ),
    ("secrets", "*"): _FILE_REF,
    ("configs", "*"): _FILE_REF,
    ("logging",): ("driver", "options"),
    ("ulimits", "*"): ("single", "soft", "hard"),
    ("gpus", "*"): _DEVICE_REQUEST,
    ("env_file", "*"): ("path", "required", "format"),
}

# Keys whose value is a Go struct (ordered by the table); every other mapping is a Go map (sorted).
_STRUCTS: Final = frozenset(_ORDERS)

_HASH_EXCLUDED: Final = ("build", "pull_policy", "scale", "depends_on", "profiles")


def _ordered(node: Any, path: tuple[str, ...]) -> Any:
    if isinstance(node, Mapping):
        if path in _STRUCTS:
            order = _ORDERS[path]
            rank = {k: i for i, k in enumerate(order)}
            keys = sorted(
                (k for k in node if not str(k).startswith("x-")), key=lambda k: (rank.get(k, len(order)), k)
            )
        else:
            keys = sorted(node)
        out: dict[str, Any] = {}
        for k in keys:
            sub = (*path, k)
            if sub not in _STRUCTS and (*path, "*") in _STRUCTS:
                sub = (*path, "*")
            out[k] = _ordered(node[k], sub)
        return out
    if isinstance(node, list | tuple):
        return [_ordered(v, (*path, "*")) for v in node]
    return node


def _go_json(value: Any) -> str:
    """json.Marshal's text: compact, raw UTF-8, and <, >, & escaped as Go's HTML-safe encoder does."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def config_hash(service: Mapping[str, Any]) -> str:
    """The com.docker.compose.config-hash of one canonical service (as `docker compose config --hash`).

    Args:
        service: the service's canonical mapping, as `docker compose config --format json` prints it.
    """
    svc = {k: v for k, v in service.items() if k not in _HASH_EXCLUDED and k != "name"}
    deploy = svc.get("deploy")
    if isinstance(deploy, Mapping) and "replicas" in deploy:
        svc["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    return hashlib.sha256(_go_json(_ordered(svc, ())).encode()).hexdigest()


# ---- label sets ----------------------------------------------------------------------------------


def project_labels(project: str) -> dict[str, str]:
    return {PROJECT: project}


def service_labels(
    *,
    project: str,
    service: str,
    number: int,
    config_hash: str,
    image: str,
    working_dir: str,
    config_files: Sequence[str],
    depends_on: Mapping[str, Any],
    oneoff: bool = False,
) -> dict[str, str]:
    """The labels docker compose puts on a service container."""
    deps = ",".join(
        f"{name}:{(d or {}).get('condition', 'service_started')}:{str(bool((d or {}).get('restart'))).lower()}"  # noqa: E501
        for name, d in sorted(depends_on.items())
    )
    return {
        PROJECT: project,
        SERVICE: service,
        CONTAINER_NUMBER: str(number),
        CONFIG_HASH: config_hash,
        ONEOFF: "True" if oneoff else "False",
        WORKING_DIR: working_dir,
        CONFIG_FILES: ",".join(config_files),
        DEPENDS_ON: deps,
        IMAGE: image,
        VERSION: __version__,
    }


def network_labels(project: str, network: str) -> dict[str, str]:
    return {PROJECT: project, NETWORK: network, VERSION: __version__}


def volume_labels(project: str, volume: str) -> dict[str, str]:
    return {PROJECT: project, VOLUME: volume, VERSION: __version__}

"""Write compose-spec.json, composer's JSON schema (Draft 7) of the compose file format.

Written from the compose-spec specification text (services, networks, volumes, secrets, configs,
include, models, extensions), not copied from the upstream schema. Number-like fields accept
strings too, because the values arrive after interpolation and compose casts them later.
Run `python -m composer.schema.build_schema` after editing; the JSON file is what ships.
"""

from __future__ import annotations

import json
from pathlib import Path

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

X: dict[str, Any] = {"^x-": {}}  # extension keys are allowed wherever a mapping is closed


def obj(
    props: dict[str, Any], *, required: list[str] | None = None, ext: bool = True, **kw: Any
) -> dict[str, Any]:
    """A closed mapping: only *props* (and x- keys when ext) are allowed."""
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if ext:
        out["patternProperties"] = dict(X)
    if required:
        out["required"] = required
    out.update(kw)
    return out


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


S = {"type": "string"}
B = {"type": ["boolean", "string"]}
INT = {"type": ["integer", "string"]}
NUM = {"type": ["number", "string"]}
STRS = {"type": "array", "items": S}
USTRS = {"type": "array", "items": S, "uniqueItems": True}
DUR = {"type": "string", "format": "duration"}
BYTES = {"type": ["number", "string"]}


def named_map(value: dict[str, Any]) -> dict[str, Any]:
    """A mapping of user-chosen names (services, networks...) to *value*."""
    return {
        "type": "object",
        "patternProperties": {"^[a-zA-Z0-9._-]+$": value},
        "additionalProperties": False,
    }


DEFINITIONS: dict[str, Any] = {
    "string_or_list": {"oneOf": [S, ref("list_of_strings")]},
    "list_of_strings": USTRS,
    "list_or_dict": {
        "oneOf": [
            {
                "type": "object",
                "patternProperties": {".+": {"type": ["string", "number", "boolean", "null"]}},
                "additionalProperties": False,
            },
            USTRS,
        ]
    },
    "extra_hosts": {
        "oneOf": [
            {
                "type": "object",
                "patternProperties": {".+": {"oneOf": [S, STRS]}},
                "additionalProperties": False,
            },
            USTRS,
        ]
    },
    "command": {"oneOf": [{"type": "null"}, S, STRS]},
    "env_file": {
        "oneOf": [
            S,
            {
                "type": "array",
                "items": {
                    "oneOf": [
                        S,
                        obj({"path": S, "format": S, "required": B}, required=["path"], ext=False),
                    ]
                },
            },
        ]
    },
    "label_file": {"oneOf": [S, STRS]},
    "labels": ref("list_or_dict"),
    "blkio_limit": obj({"path": S, "rate": BYTES}, ext=False),
    "blkio_weight": obj({"path": S, "weight": INT}, ext=False),
    "file_ref": {
        "type": "array",
        "items": {
            "oneOf": [
                S,
                obj({"source": S, "target": S, "uid": S, "gid": S, "mode": NUM}),
            ]
        },
    },
    "ulimits": {
        "type": "object",
        "patternProperties": {
            "^.+$": {
                "oneOf": [
                    INT,
                    obj({"hard": INT, "soft": INT}, required=["soft", "hard"]),
                ]
            }
        },
        "additionalProperties": False,
    },
    "healthcheck": obj(
        {
            "disable": B,
            "interval": DUR,
            "retries": NUM,
            "test": {"oneOf": [S, STRS]},
            "timeout": DUR,
            "start_period": DUR,
            "start_interval": DUR,
        }
    ),
    "device_request": obj(
        {
            "capabilities": ref("list_of_strings"),
            "count": {"type": ["string", "integer"]},
            "device_ids": ref("list_of_strings"),
            "driver": S,
            "options": ref("list_or_dict"),
        }
    ),
    "devices": {
        "type": "array",
        "items": {
            "allOf": [ref("device_request"), {"required": ["capabilities"]}]
        },  # $ref siblings are ignored in draft 7
    },
    "gpus": {
        "oneOf": [{"type": "string", "enum": ["all"]}, {"type": "array", "items": ref("device_request")}]
    },
    "resource_limits": obj({"cpus": NUM, "memory": S, "pids": INT}),
    "resource_reservations": obj(
        {
            "cpus": NUM,
            "memory": S,
            "devices": ref("devices"),
            "generic_resources": {
                "type": "array",
                "items": obj(
                    {"discrete_resource_spec": obj({"kind": S, "value": NUM})},
                ),
            },
        }
    ),
    "update_config": obj(
        {
            "parallelism": INT,
            "delay": DUR,
            "failure_action": S,
            "monitor": DUR,
            "max_failure_ratio": NUM,
            "order": {"type": "string", "enum": ["start-first", "stop-first"]},
        }
    ),
    "deployment": {
        "type": ["object", "null"],
        "properties": {
            "mode": S,
            "endpoint_mode": S,
            "replicas": INT,
            "labels": ref("list_or_dict"),
            "rollback_config": ref("update_config"),
            "update_config": ref("update_config"),
            "resources": obj(
                {"limits": ref("resource_limits"), "reservations": ref("resource_reservations")}
            ),
            "restart_policy": obj({"condition": S, "delay": DUR, "max_attempts": INT, "window": DUR}),
            "placement": obj(
                {
                    "constraints": STRS,
                    "preferences": {"type": "array", "items": obj({"spread": S})},
                    "max_replicas_per_node": INT,
                }
            ),
        },
        "patternProperties": dict(X),
        "additionalProperties": False,
    },
    "build": {
        "oneOf": [
            S,
            obj(
                {
                    "context": S,
                    "dockerfile": S,
                    "dockerfile_inline": S,
                    "entitlements": STRS,
                    "args": ref("list_or_dict"),
                    "ssh": ref("list_or_dict"),
                    "labels": ref("list_or_dict"),
                    "cache_from": STRS,
                    "cache_to": STRS,
                    "no_cache": B,
                    "additional_contexts": ref("list_or_dict"),
                    "network": S,
                    "provenance": {"type": ["string", "boolean"]},
                    "sbom": {"type": ["string", "boolean"]},
                    "pull": B,
                    "target": S,
                    "shm_size": BYTES,
                    "extra_hosts": ref("extra_hosts"),
                    "isolation": S,
                    "privileged": B,
                    "secrets": ref("file_ref"),
                    "tags": STRS,
                    "ulimits": ref("ulimits"),
                    "platforms": STRS,
                }
            ),
        ]
    },
    "service_hook": obj(
        {
            "command": ref("command"),
            "user": S,
            "privileged": B,
            "working_dir": S,
            "environment": ref("list_or_dict"),
        },
        required=["command"],
    ),
    "develop": obj(
        type=["object", "null"],
        props={
            "watch": {
                "type": "array",
                "items": obj(
                    {
                        "path": S,
                        "action": {
                            "type": "string",
                            "enum": ["rebuild", "sync", "restart", "sync+restart", "sync+exec"],
                        },
                        "target": S,
                        "exec": ref("service_hook"),
                        "include": ref("string_or_list"),
                        "ignore": ref("string_or_list"),
                        "initial_sync": {"type": "boolean"},
                    },
                    required=["path", "action"],
                ),
            }
        },
    ),
    "port": {
        "oneOf": [
            {"type": "number"},
            S,
            obj(
                {
                    "name": S,
                    "mode": S,
                    "host_ip": S,
                    "target": INT,
                    "published": {"type": ["string", "integer"]},
                    "protocol": S,
                    "app_protocol": S,
                }
            ),
        ]
    },
    "service_volume": {
        "oneOf": [
            S,
            obj(
                {
                    "type": {
                        "type": "string",
                        "enum": ["bind", "volume", "tmpfs", "cluster", "npipe", "image"],
                    },
                    "source": S,
                    "target": S,
                    "read_only": B,
                    "consistency": S,
                    "bind": obj(
                        {
                            "propagation": S,
                            "create_host_path": B,
                            "recursive": {
                                "type": "string",
                                "enum": ["enabled", "disabled", "writable", "readonly"],
                            },
                            "selinux": {"type": "string", "enum": ["z", "Z"]},
                        }
                    ),
                    "volume": obj({"labels": ref("list_or_dict"), "nocopy": B, "subpath": S}),
                    "tmpfs": obj({"size": {"type": ["integer", "string"]}, "mode": NUM}),
                    "image": obj({"subpath": S}),
                },
                required=["type"],
            ),
        ]
    },
    "service_network": obj(
        {
            "aliases": ref("list_of_strings"),
            "interface_name": S,
            "ipv4_address": S,
            "ipv6_address": S,
            "link_local_ips": ref("list_of_strings"),
            "mac_address": S,
            "driver_opts": {"type": "object", "patternProperties": {"^.+$": {"type": ["string", "number"]}}},
            "priority": NUM,
            "gw_priority": NUM,
        },
        type=["object", "null"],
    ),
    "depends_on": {
        "oneOf": [
            ref("list_of_strings"),
            {
                "type": "object",
                "patternProperties": {
                    "^[a-zA-Z0-9._-]+$": obj(
                        {
                            # a string is cast by interpolation ("false", "yes"); kept with --no-interpolate
                            "restart": {"type": ["boolean", "string"]},
                            "required": {"type": "boolean"},
                            "condition": {
                                "type": "string",
                                "enum": [
                                    "service_started",
                                    "service_healthy",
                                    "service_completed_successfully",
                                ],
                            },
                        },
                        required=["condition"],
                    )
                },
                "additionalProperties": False,
            },
        ]
    },
    "logging": obj(
        {
            "driver": S,
            "options": {
                "type": "object",
                "patternProperties": {"^.+$": {"type": ["string", "number", "null"]}},
            },
        }
    ),
}

SERVICE: dict[str, Any] = obj(
    {
        "annotations": ref("list_or_dict"),
        "attach": B,
        "build": ref("build"),
        "blkio_config": obj(
            {
                "device_read_bps": {"type": "array", "items": ref("blkio_limit")},
                "device_read_iops": {"type": "array", "items": ref("blkio_limit")},
                "device_write_bps": {"type": "array", "items": ref("blkio_limit")},
                "device_write_iops": {"type": "array", "items": ref("blkio_limit")},
                "weight": INT,
                "weight_device": {"type": "array", "items": ref("blkio_weight")},
            },
            ext=False,
        ),
        "cap_add": ref("list_of_strings"),
        "cap_drop": ref("list_of_strings"),
        "cgroup": {"type": "string", "enum": ["host", "private"]},
        "cgroup_parent": S,
        "command": ref("command"),
        "configs": ref("file_ref"),
        "container_name": {"type": "string", "pattern": "[a-zA-Z0-9][a-zA-Z0-9_.-]+"},
        "cpu_count": INT,
        "cpu_percent": INT,
        "cpu_shares": NUM,
        "cpu_quota": NUM,
        "cpu_period": NUM,
        "cpu_rt_period": NUM,
        "cpu_rt_runtime": NUM,
        "cpus": NUM,
        "cpuset": S,
        "credential_spec": obj({"config": S, "file": S, "registry": S}),
        "depends_on": ref("depends_on"),
        "deploy": ref("deployment"),
        "develop": ref("develop"),
        "device_cgroup_rules": ref("list_of_strings"),
        "devices": {
            "type": "array",
            "items": {"oneOf": [S, obj({"source": S, "target": S, "permissions": S}, required=["source"])]},
        },
        "dns": ref("string_or_list"),
        "dns_opt": USTRS,
        "dns_search": ref("string_or_list"),
        "domainname": S,
        "entrypoint": ref("command"),
        "env_file": ref("env_file"),
        "label_file": ref("label_file"),
        "environment": ref("list_or_dict"),
        "expose": {"type": "array", "items": {"type": ["string", "number"]}, "uniqueItems": True},
        "extends": {"oneOf": [S, obj({"service": S, "file": S}, required=["service"], ext=False)]},
        "provider": obj({"type": S, "options": {"type": "object"}}, required=["type"]),
        "external_links": USTRS,
        "extra_hosts": ref("extra_hosts"),
        "gpus": ref("gpus"),
        "group_add": {"type": "array", "items": {"type": ["string", "number"]}, "uniqueItems": True},
        "healthcheck": ref("healthcheck"),
        "hostname": S,
        "image": S,
        "init": B,
        "ipc": S,
        "isolation": S,
        "labels": ref("list_or_dict"),
        "links": USTRS,
        "logging": ref("logging"),
        "mac_address": S,
        "mem_limit": BYTES,
        "mem_reservation": BYTES,
        "mem_swappiness": INT,
        "memswap_limit": {"type": ["number", "string"]},
        "models": {
            "oneOf": [
                ref("list_of_strings"),
                {
                    "type": "object",
                    "patternProperties": {
                        "^[a-zA-Z0-9._-]+$": obj({"endpoint_var": S, "model_var": S}, type=["object", "null"])
                    },
                    "additionalProperties": False,
                },
            ]
        },
        "network_mode": S,
        "networks": {
            "oneOf": [
                ref("list_of_strings"),
                {
                    "type": "object",
                    "patternProperties": {"^[a-zA-Z0-9._-]+$": ref("service_network")},
                    "additionalProperties": False,
                },
            ]
        },
        "oom_kill_disable": B,
        "oom_score_adj": {
            "oneOf": [{"type": "string"}, {"type": "integer", "minimum": -1000, "maximum": 1000}]
        },
        "pid": {"type": ["string", "null"]},
        "pids_limit": NUM,
        "platform": S,
        "ports": {"type": "array", "items": ref("port")},
        "post_start": {"type": "array", "items": ref("service_hook")},
        "pre_stop": {"type": "array", "items": ref("service_hook")},
        "privileged": B,
        "profiles": ref("list_of_strings"),
        "pull_policy": {
            "type": "string",
            "pattern": "^(always|never|build|if_not_present|missing|refresh|daily|weekly"
            "|every_([0-9]+[wdhms])+)$",
        },
        "pull_refresh_after": S,
        "read_only": B,
        "restart": S,
        "runtime": S,
        "scale": {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
        "security_opt": USTRS,
        "shm_size": BYTES,
        "secrets": ref("file_ref"),
        "sysctls": ref("list_or_dict"),
        "stdin_open": B,
        "stop_grace_period": DUR,
        "stop_signal": S,
        "storage_opt": {"type": "object"},
        "tmpfs": ref("string_or_list"),
        "tty": B,
        "ulimits": ref("ulimits"),
        "use_api_socket": {"type": "boolean"},
        "user": S,
        "uts": S,
        "userns_mode": S,
        "volumes": {"type": "array", "items": ref("service_volume"), "uniqueItems": True},
        "volumes_from": USTRS,
        "working_dir": S,
    }
)

EXTERNAL = {"oneOf": [B, obj({"name": S}, ext=False)]}
DRIVER_OPTS = {"type": "object", "patternProperties": {"^.+$": {"type": ["string", "number"]}}}

NETWORK = obj(
    {
        "name": S,
        "driver": S,
        "driver_opts": DRIVER_OPTS,
        "ipam": obj(
            {
                "driver": S,
                "config": {
                    "type": "array",
                    "items": obj(
                        {
                            "subnet": S,
                            "ip_range": S,
                            "gateway": S,
                            "aux_addresses": {
                                "type": "object",
                                "patternProperties": {"^.+$": S},
                                "additionalProperties": False,
                            },
                        }
                    ),
                },
                "options": {
                    "type": "object",
                    "patternProperties": {"^.+$": S},
                    "additionalProperties": False,
                },
            }
        ),
        "external": EXTERNAL,
        "internal": B,
        "enable_ipv4": B,
        "enable_ipv6": B,
        "attachable": B,
        "labels": ref("list_or_dict"),
    },
    type=["object", "null"],
)

VOLUME = obj(
    {
        "name": S,
        "driver": S,
        "driver_opts": DRIVER_OPTS,
        "external": EXTERNAL,
        "labels": ref("list_or_dict"),
    },
    type=["object", "null"],
)

SECRET = obj(
    {
        "name": S,
        "environment": S,
        "file": S,
        "external": EXTERNAL,
        "labels": ref("list_or_dict"),
        "driver": S,
        "driver_opts": DRIVER_OPTS,
        "template_driver": S,
    }
)

CONFIG = obj(
    {
        "name": S,
        "content": S,
        "environment": S,
        "file": S,
        "external": EXTERNAL,
        "labels": ref("list_or_dict"),
        "template_driver": S,
    }
)

INCLUDE = {
    "oneOf": [
        S,
        obj(
            {
                "path": ref("string_or_list"),
                "env_file": ref("string_or_list"),
                "project_directory": S,
            },
            ext=False,
        ),
    ]
}

MODEL = obj({"name": S, "model": S, "context_size": INT, "runtime_flags": STRS}, required=["model"])

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "composer/compose-spec.json",
    "title": "compose file (composer's schema of the compose-spec)",
    "type": "object",
    "properties": {
        "version": {"type": "string", "description": "obsolete; ignored with a warning"},
        "name": {"type": "string"},  # normalised and checked by the pipeline, as compose does
        "include": {"type": "array", "items": INCLUDE},
        "services": {**named_map(ref("service")), "type": ["object", "null"]},
        "models": named_map(ref("model")),
        "networks": {**named_map(ref("network")), "type": ["object", "null"]},
        "volumes": {**named_map(ref("volume")), "type": ["object", "null"]},
        "secrets": named_map(ref("secret")),
        "configs": named_map(ref("config")),
    },
    "patternProperties": dict(X),
    "additionalProperties": False,
    "definitions": {
        **DEFINITIONS,
        "service": SERVICE,
        "network": NETWORK,
        "volume": VOLUME,
        "secret": SECRET,
        "config": CONFIG,
        "model": MODEL,
    },
}


def main() -> None:
    target = Path(__file__).with_name("compose-spec.json")
    target.write_text(json.dumps(SCHEMA, indent=2) + "\n")


if __name__ == "__main__":
    main()

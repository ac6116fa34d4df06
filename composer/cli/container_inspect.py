"""`composer container inspect`'s document, in the shape of docker's ContainerJSON (moby
api/types/container InspectResponse) so that the `--format` templates and jq paths of docker scripts
read the same values: Name with its leading "/", times as RFC 3339 with "0001-01-01T00:00:00Z" for
never, Config merged with the image's config as docker's daemon merges it at create (Env, Cmd,
Entrypoint, User, WorkingDir, ExposedPorts, Healthcheck, StopSignal, Labels), HostConfig, Mounts and
NetworkSettings with docker's keys and types (ints, null for unset lists, maps as maps).
"""

from __future__ import annotations

from composer.cli.go_text_template import GoMap, GoStruct

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from runtime.spec import ContainerDetails, ContainerSpec, Healthcheck

NEVER = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as docker prints a time that never was
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
_UP = ("running", "paused", "restarting")


def inspect_json(d: ContainerDetails) -> dict[str, Any]:
    """One container as docker's ``inspect`` shows it (plus podman's ImageName and Pod)."""
    from runtime.spec import ContainerSpec

    info = d.info
    spec = info.spec or ContainerSpec(name=info.name, image=info.image)
    img = d.image_config
    config = _config(d, spec, img)
    argv = [*(config["Entrypoint"] or []), *(config["Cmd"] or [])]
    up = info.status in _UP
    return {
        "Id": info.id,
        "Created": info.created_at or NEVER,
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": GoStruct({
            "Status": info.status, "Running": up, "Paused": info.status == "paused",
            "Restarting": info.status == "restarting", "OOMKilled": info.oom_killed,
            "Dead": info.status == "dead", "Pid": info.pid if up else 0,
            "ExitCode": info.exit_code or 0, "Error": info.error,
            "StartedAt": info.started_at or NEVER, "FinishedAt": info.finished_at or NEVER,
            "Health": _health(d.health),
        }, omitempty=["Health"]),
        "Image": info.image_id if info.image_id.startswith("sha256:") or not info.image_id
        else f"sha256:{info.image_id}",
        "ResolvConfPath": d.resolv_path,
        "HostnamePath": d.hostname_path,
        "HostsPath": d.hosts_path,
        "LogPath": d.log_path,
        "Name": "/" + info.name,
        "RestartCount": info.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(d, spec),
        "GraphDriver": {"Name": "overlay", "Data": GoMap({
            "MergedDir": f"{d.container_dir}/rootfs", "UpperDir": f"{d.container_dir}/upper",
            "WorkDir": f"{d.container_dir}/work"}) if d.container_dir else None},
        "Mounts": _mounts(d, spec),
        "Config": config,
        "NetworkSettings": _network_settings(d, spec, config),
        "ImageName": info.image,
        "Pod": info.pod or "",
    }


def _health(doc: Mapping[str, Any] | None) -> GoStruct | None:
    if doc is None:
        return None
    return GoStruct({"Status": doc.get("Status") or "starting",
                     "FailingStreak": int(doc.get("FailingStreak") or 0),
                     "Log": [dict(x) for x in doc.get("Log") or []]})


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _healthcheck(spec: ContainerSpec, img: Mapping[str, Any]) -> GoStruct | None:
    hc: Healthcheck | None = spec.healthcheck
    if hc is None:
        raw = img.get("Healthcheck")
        return GoStruct(dict(raw), omitempty=list(raw)) if isinstance(raw, dict) and raw else None
    if hc.test[:1] == ("NONE",):
        return GoStruct({"Test": ["NONE"]})
    return GoStruct({
        "Test": list(hc.test), "Interval": _ns(hc.interval), "Timeout": _ns(hc.timeout),
        "StartPeriod": _ns(hc.start_period), "StartInterval": _ns(hc.start_interval), "Retries": hc.retries,
    }, omitempty=["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"])


def _exposed(spec: ContainerSpec, img: Mapping[str, Any]) -> list[str]:
    from composer.cli.docker_format import exposed_ports

    keys = [str(k) for k in img.get("ExposedPorts") or {}]
    keys += [f"{port}/{proto}" for port, proto in exposed_ports(spec.expose)]
    keys += [f"{p.container_port}/{p.protocol}" for p in spec.ports]
    return [k if "/" in k else f"{k}/tcp" for k in dict.fromkeys(keys)]


def _config(d: ContainerDetails, spec: ContainerSpec, img: Mapping[str, Any]) -> GoStruct:
    """Config as docker's daemon merges the image's config into the container's (daemon/commit.go
    merge), which is also what composer's runtime runs (runtime/executor/oci.py)."""
    env = {k: v for k, _, v in (str(e).partition("=") for e in img.get("Env") or [])}
    own = [f"{k}={v}" for k, v in spec.env.items()]
    entrypoint = list(spec.entrypoint) if spec.entrypoint is not None else img.get("Entrypoint") or None
    if spec.command is not None:
        cmd: list[str] | None = list(spec.command)
    elif spec.entrypoint is not None:  # a given entrypoint resets the image's Cmd, as docker's
        cmd = None
    else:
        cmd = list(img.get("Cmd") or []) or None
    labels = GoMap({**(img.get("Labels") or {}), **d.info.labels})
    exposed = _exposed(spec, img)
    stop_signal = spec.stop_signal or str(img.get("StopSignal") or "")
    return GoStruct({
        "Hostname": spec.hostname or d.info.id[:12],
        "Domainname": spec.domainname or "",
        "User": spec.user or str(img.get("User") or ""),
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": GoMap({k: {} for k in exposed}) if exposed else None,
        "Tty": spec.tty, "OpenStdin": spec.stdin_open, "StdinOnce": False,
        "Env": own + [f"{k}={v}" for k, v in env.items() if k not in spec.env],
        "Cmd": cmd,
        "Healthcheck": _healthcheck(spec, img),
        "Image": d.info.image,
        "Volumes": GoMap({str(k): {} for k in img["Volumes"]}) if img.get("Volumes") else None,
        "WorkingDir": spec.working_dir or str(img.get("WorkingDir") or ""),
        "Entrypoint": list(entrypoint) if entrypoint else None,
        "OnBuild": None,
        "Labels": labels,
        "StopSignal": stop_signal,
        # docker shows it only when it was set: composer's default is docker's, 10 s
        "StopTimeout": int(spec.stop_timeout) if spec.stop_timeout != 10 else None,
    }, omitempty=["ExposedPorts", "Healthcheck", "OnBuild", "StopSignal", "StopTimeout"])


def _mount_point(m: Any, d: ContainerDetails) -> GoStruct:
    if m.type == "volume":
        name = dict(d.info.mounts).get(m.target, m.source)
        return GoStruct({"Type": "volume", "Name": name, "Source": d.volume_dirs.get(m.target, ""),
                         "Destination": m.target, "Driver": "local", "Mode": "ro" if m.read_only else "",
                         "RW": not m.read_only, "Propagation": ""}, omitempty=["Type", "Name", "Driver"])
    return GoStruct({"Type": "bind", "Source": m.source, "Destination": m.target,
                     "Mode": "ro" if m.read_only else "", "RW": not m.read_only,
                     "Propagation": m.propagation}, omitempty=["Type", "Name", "Driver"])


def _mounts(d: ContainerDetails, spec: ContainerSpec) -> list[GoStruct]:
    # a tmpfs is in HostConfig.Tmpfs, not in Mounts, as docker lists --tmpfs
    return [_mount_point(m, d) for m in spec.mounts if m.type in ("bind", "volume")]


def _tmpfs_options(m: Any) -> str:
    opts = [] if not m.read_only else ["ro"]
    if m.tmpfs_size is not None:
        opts.append(f"size={m.tmpfs_size}")
    if m.tmpfs_mode is not None:
        opts.append(f"mode={m.tmpfs_mode:o}")
    return ",".join(opts)


def _port_bindings(spec: ContainerSpec) -> GoMap:
    out: dict[str, list[dict[str, str]]] = {}
    for p in spec.ports:
        out.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""})
    return GoMap(out)


def _network_mode(spec: ContainerSpec) -> str:
    mode = spec.network_mode or "bridge"
    if mode == "bridge" and spec.networks:  # as docker compose sets it: the first network's name
        return sorted(spec.networks, key=lambda a: -a.priority)[0].network
    return mode


def _host_config(d: ContainerDetails, spec: ContainerSpec) -> GoStruct:
    r = spec.resources
    binds = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}"
             for m in spec.mounts if m.type == "bind"]
    volumes = [GoStruct({"Type": "volume", "Source": dict(d.info.mounts).get(m.target, m.source),
                         "Target": m.target, "ReadOnly": m.read_only}, omitempty=["ReadOnly"])
               for m in spec.mounts if m.type == "volume"]
    tmpfs = GoMap({m.target: _tmpfs_options(m) for m in spec.mounts if m.type == "tmpfs"})
    security = [] if spec.seccomp == "default" else [f"seccomp={spec.seccomp}"]
    if spec.no_new_privileges:
        security.append("no-new-privileges")
    swap = r.memory_swap if r.memory_swap is not None else (2 * r.memory if r.memory else 0)
    return GoStruct({
        "Binds": binds or None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "k8s-file", "Config": GoMap(
            {"max-size": str(spec.log_max_size), "max-file": str(spec.log_max_file)}
            if spec.log_max_size else {})},
        "NetworkMode": _network_mode(spec),
        "PortBindings": _port_bindings(spec),
        "RestartPolicy": {"Name": spec.restart.name, "MaximumRetryCount": spec.restart.max_retries},
        "AutoRemove": spec.volatile,
        "VolumeDriver": "",
        "VolumesFrom": list(spec.volumes_from) or None,
        "ConsoleSize": [0, 0],
        "CapAdd": list(spec.cap_add) or None,
        "CapDrop": list(spec.cap_drop) or None,
        "CgroupnsMode": spec.cgroupns_mode or "private",
        "Dns": list(spec.dns),
        "DnsOptions": list(spec.dns_opt),
        "DnsSearch": list(spec.dns_search),
        "ExtraHosts": [f"{h}:{a}" for h, a in spec.extra_hosts] or None,
        "GroupAdd": list(spec.group_add) or None,
        "IpcMode": spec.ipc_mode or "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": spec.pid_mode or "",
        "Privileged": spec.privileged,
        "PublishAllPorts": False,
        "ReadonlyRootfs": spec.read_only,
        "SecurityOpt": security or None,
        "Tmpfs": tmpfs,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": spec.shm_size if spec.shm_size is not None else DEFAULT_SHM_SIZE,
        "Sysctls": GoMap(spec.sysctls),
        "Runtime": "composer",
        "Isolation": "",
        "CpuShares": r.cpu_shares or 0,
        "Memory": r.memory or 0,
        "NanoCpus": int(round((r.cpus or 0) * 1e9)),
        "CgroupParent": "",
        "BlkioWeight": r.blkio_weight or 0,
        "BlkioWeightDevice": [{"Path": p, "Weight": w} for p, w in r.blkio_weight_device],
        "BlkioDeviceReadBps": [{"Path": p, "Rate": n} for p, n in r.blkio_read_bps],
        "BlkioDeviceWriteBps": [{"Path": p, "Rate": n} for p, n in r.blkio_write_bps],
        "BlkioDeviceReadIOps": [{"Path": p, "Rate": n} for p, n in r.blkio_read_iops],
        "BlkioDeviceWriteIOps": [{"Path": p, "Rate": n} for p, n in r.blkio_write_iops],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpusetCpus": r.cpuset or "",
        "CpusetMems": "",
        "Devices": [_device(x) for x in spec.devices],
        "MemoryReservation": r.memory_reservation or 0,
        "MemorySwap": swap,
        "MemorySwappiness": None,
        "OomKillDisable": r.oom_kill_disable,
        "PidsLimit": r.pids_limit if r.pids_limit and r.pids_limit > 0 else None,
        "Ulimits": [{"Name": k, "Hard": h, "Soft": s} for k, (s, h) in spec.ulimits.items()] or None,
        "Mounts": volumes,
        "MaskedPaths": list(spec.masked_paths) if spec.masked_paths is not None else None,
        "ReadonlyPaths": list(spec.readonly_paths) if spec.readonly_paths is not None else None,
        "Init": spec.init,
    }, omitempty=["Tmpfs", "Sysctls", "Mounts"])


def _device(raw: str) -> dict[str, str]:
    host, _, rest = raw.partition(":")
    target, _, perms = rest.partition(":")
    if target and not target.startswith("/"):  # /dev/x:rwm
        target, perms = "", target
    return {"PathOnHost": host, "PathInContainer": target or host, "CgroupPermissions": perms or "rwm"}


def _published(d: ContainerDetails, exposed: Sequence[str]) -> GoMap:
    """NetworkSettings.Ports of a running container: every exposed port, null when unpublished;
    the default address bound on v4 and v6, as docker lists it. Empty when it is stopped."""
    if d.info.status not in _UP:
        return GoMap()
    out: dict[str, list[dict[str, str]] | None] = dict.fromkeys(exposed)
    for asked, host_port in d.info.ports:
        key = f"{asked.container_port}/{asked.protocol}"
        for ip in [asked.host_ip] if asked.host_ip else ["0.0.0.0", "::"]:
            out.setdefault(key, None)
            out[key] = [*(out[key] or []), {"HostIp": ip, "HostPort": str(host_port)}]
    return GoMap(out)


def _dns_names(d: ContainerDetails, aliases: Sequence[str], config: Mapping[str, Any]) -> list[str]:
    """What peers resolve it by, in docker's order (buildEndpointDNSNames): the container name, the
    aliases, the short id, the hostname."""
    names = [d.info.name, *aliases, d.info.id[:12], str(config.get("Hostname") or "")]
    return list(dict.fromkeys(n for n in names if n))


def _network_settings(d: ContainerDetails, spec: ContainerSpec, config: Mapping[str, Any]) -> dict[str, Any]:
    asked = {a.network: a for a in spec.networks}
    networks = {}
    for e in d.endpoints:
        a = asked.get(e.network)
        ipam = None
        if a is not None and (a.ipv4_address or a.ipv6_address):
            ipam = GoStruct({"IPv4Address": a.ipv4_address or "", "IPv6Address": a.ipv6_address or ""},
                            omitempty=["IPv4Address", "IPv6Address"])
        networks[e.network] = {
            "IPAMConfig": ipam, "Links": None, "Aliases": list(e.aliases) or None,
            "MacAddress": e.mac, "DriverOpts": None, "GwPriority": a.priority if a else 0,
            "NetworkID": e.network_id, "EndpointID": e.endpoint_id, "Gateway": e.gateway4,
            "IPAddress": e.ipv4, "IPPrefixLen": e.prefix4, "IPv6Gateway": e.gateway6,
            "GlobalIPv6Address": e.ipv6, "GlobalIPv6PrefixLen": e.prefix6,
            "DNSNames": _dns_names(d, e.aliases, config) if e.network != "bridge" else None,
        }
    # docker 28's top-level fields describe the default "bridge" network; composer's single network
    # of a `container run` stands for it
    first = d.endpoints[0] if len(d.endpoints) == 1 else None
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": d.sandbox_key,
        "Ports": _published(d, list(config["ExposedPorts"] or {})),
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": first.endpoint_id if first else "",
        "Gateway": first.gateway4 if first else "",
        "GlobalIPv6Address": first.ipv6 if first else "",
        "GlobalIPv6PrefixLen": first.prefix6 if first else 0,
        "IPAddress": first.ipv4 if first else "",
        "IPPrefixLen": first.prefix4 if first else 0,
        "IPv6Gateway": first.gateway6 if first else "",
        "MacAddress": first.mac if first else "",
        "Networks": GoMap(networks),
    }

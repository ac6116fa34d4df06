"""The ContainerSpec of `composer container run/create` flags (build_spec), from the parsed
arguments and the flag parsers of container_flags.
"""

from __future__ import annotations

from collections.abc import Mapping

from composer.cli import container_flags as F

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from composer.cli.context import Context
    from runtime.spec import ContainerSpec, PortMapping

DEFAULT_NETWORK = "composer"   # podman's is "podman": one bridge for containers run without --network


def build_spec(args: argparse.Namespace, ctx: Context, image_config: Mapping[str, Any] | None = None,
               ) -> ContainerSpec:
    """The ContainerSpec of ``container run/create`` flags. Pure apart from reading --env-file."""
    from runtime.spec import (
        ContainerSpec,
        Healthcheck,
        NetworkAttachment,
        PortMapping,
        Resources,
        RestartPolicy,
    )

    env: dict[str, str] = {}
    for path in args.ctr_env_files:
        env.update(F.read_env_file(path, ctx.environ))
    env.update(F.parse_env(args.env, ctx.environ))
    mounts = [F.parse_volume(v, ctx.cwd) for v in args.volumes] + [F.parse_tmpfs(t) for t in args.tmpfs]
    ports: list[PortMapping] = [p for raw in args.publish for p in F.parse_publish(raw)]
    if args.publish_all:
        exposed = list((image_config or {}).get("ExposedPorts") or {}) + list(args.expose)
        taken = {(p.container_port, p.protocol) for p in ports}
        for item in exposed:
            num, _, proto = str(item).partition("/")
            first, _, last = num.partition("-")
            if not first.isdigit() or not (last or first).isdigit():
                raise F.UsageError(f"invalid exposed port {item!r}; expected PORT[-PORT][/PROTOCOL]")
            for port in range(int(first), int(last or first) + 1):  # a range: each port, as docker -P
                key: tuple[int, Any] = (port, proto or "tcp")
                if key not in taken:
                    ports.append(PortMapping(container_port=port, protocol=key[1]))
                    taken.add(key)
    ulimits = dict(F.parse_ulimit(u) for u in args.ulimit)
    sysctls = {}
    for item in args.sysctl:
        k, eq, v = item.partition("=")
        if not eq or not k:
            raise F.UsageError(f"invalid sysctl {item!r}; expected NAME=VALUE")
        sysctls[k] = v
    restart_name, retries = F.parse_restart(args.restart)
    health = None
    if args.no_healthcheck:
        health = Healthcheck(test=("NONE",))
    elif args.health_cmd:
        kw: dict[str, Any] = {}
        if args.health_interval:
            kw["interval"] = F.parse_duration(args.health_interval, "health interval")
        if args.health_timeout:
            kw["timeout"] = F.parse_duration(args.health_timeout, "health timeout")
        if args.health_retries is not None:
            kw["retries"] = args.health_retries
        if args.health_start_period:
            kw["start_period"] = F.parse_duration(args.health_start_period, "health start period")
        health = Healthcheck(test=("CMD-SHELL", args.health_cmd), **kw)
    network = ",".join(args.network) or "bridge"  # repeated --network flags join as NAME,NAME
    networks: tuple[NetworkAttachment, ...] = ()
    network_mode = network
    if network not in ("bridge", "none", "host") and not network.startswith("container:"):
        names = [n for n in network.split(",") if n]
        networks = tuple(NetworkAttachment(network=n, aliases=tuple(args.network_alias),
                                           ipv4_address=args.ip if i == 0 else None,
                                           priority=len(names) - i)
                         for i, n in enumerate(names))
        network_mode = "bridge"
    elif network == "bridge":
        networks = (NetworkAttachment(network=DEFAULT_NETWORK, aliases=tuple(args.network_alias),
                                      ipv4_address=args.ip),)
    resources = Resources(
        memory=F.parse_bytes(args.memory, "memory") if args.memory else None,
        memory_reservation=F.parse_bytes(args.memory_reservation, "memory reservation")
        if args.memory_reservation else None,
        memory_swap=F.parse_bytes(args.memory_swap, "memory swap") if args.memory_swap else None,
        cpus=args.cpus, cpu_shares=args.cpu_shares, cpuset=args.cpuset_cpus,
        pids_limit=args.pids_limit,
    )
    security = F.parse_security_opts(args.security_opt)
    command = tuple(args.cmd_args) if args.cmd_args else None
    return ContainerSpec(
        name=args.name or F.random_name(), image=args.image, command=command,
        entrypoint=F.parse_entrypoint(args.entrypoint), env=env, working_dir=args.workdir,
        user=args.user, group_add=tuple(args.group_add), hostname=args.hostname,
        labels=F.parse_labels(args.label), pod=args.pod, mounts=tuple(mounts),
        read_only=args.read_only, privileged=args.privileged, cap_add=tuple(args.cap_add),
        cap_drop=tuple(args.cap_drop), sysctls=sysctls, ulimits=ulimits, devices=tuple(args.device),
        init=args.init, tty=args.tty, console_size=_console_size(args.tty),
        stdin_open=args.interactive, stop_signal=args.stop_signal,
        stop_timeout=float(args.stop_timeout) if args.stop_timeout is not None else 10.0,
        restart=RestartPolicy(name=restart_name, max_retries=retries),  # type: ignore[arg-type]
        healthcheck=health, resources=resources,
        shm_size=F.parse_bytes(args.shm_size, "shm size") if args.shm_size else None,
        cgroupns_mode=args.cgroupns,
        network_mode=network_mode, networks=networks, ports=tuple(ports), expose=tuple(args.expose),
        dns=tuple(args.dns), dns_search=tuple(args.dns_search), dns_opt=tuple(args.dns_option),
        extra_hosts=tuple(F.parse_add_host(h) for h in args.add_host),
        volatile=bool(getattr(args, "auto_remove", False)),  # as podman: --rm storage skips syncs
        **security,
    )


def _console_size(tty: bool) -> tuple[int, int] | None:
    """docker's run -t on a terminal: the container's terminal starts at our window's size."""
    if not tty:
        return None
    from composer.cli.container_attach import terminal_size

    return terminal_size()

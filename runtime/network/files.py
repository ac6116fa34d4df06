"""The /etc/hosts and /etc/resolv.conf a container sees: pure renderers and an in-place writer."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from runtime.record import record

# the DNS resolver's records and control socket in its directory (dnsctl.py, resolver.py)
DNS_RECORDS, DNS_CTL = "records", "ctl.sock"
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")  # as docker, when the host has only local resolvers


@record(kw_only=False)
class HostEntry:
    address: str
    names: tuple[str, ...]


def host_line(entry: HostEntry) -> str | None:
    """One hosts line (names deduplicated, in order), or None without names."""
    names = list(dict.fromkeys(n for n in entry.names if n))
    return f"{entry.address}\t{' '.join(names)}" if names else None


def render_hosts(own: Sequence[HostEntry], peers: Iterable[HostEntry],
                 extra: Sequence[tuple[str, str]]) -> str:
    """localhost lines, extra_hosts, the container's own names, then its peers (docker's order:
    extra_hosts come before its own line, so a lookup that takes the first match gets them)."""
    return join_hosts([host_line(e) for e in own], [host_line(e) for e in peers], extra)


def join_hosts(own: Iterable[str | None], peers: Iterable[str | None],
               extra: Sequence[tuple[str, str]]) -> str:
    """render_hosts from lines made once by host_line (a peer's line is the same in every
    container's file: rendering it once per refresh, not once per file, keeps a refresh O(n))."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines.extend(f"{addr}\t{host}" for host, addr in extra)
    lines.extend(line for line in own if line)
    lines.extend(line for line in peers if line)
    return "\n".join(lines) + "\n"


def nameservers(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1])
    return out


def _field(text: str, key: str) -> list[str]:
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == key:
            return parts[1:]
    return []


def render_resolv(dns: Sequence[str], search: Sequence[str], options: Sequence[str],
                  host_text: str, upstream_text: str = "") -> str:
    """The container's resolv.conf: the spec's servers, else the host's minus loopback ones.

    Inside a network namespace 127.x is the container itself, not the host's stub resolver, so
    loopback servers are dropped; if none remain, the upstream (systemd-resolved's) or Google's.
    """
    servers = list(dns)
    if not servers:
        servers = [s for s in nameservers(host_text) if not is_loopback(s)]
    if not servers:
        servers = [s for s in nameservers(upstream_text) if not is_loopback(s)] or list(FALLBACK_NAMESERVERS)
    search = list(search) or _field(host_text, "search") or _field(host_text, "domain")
    options = list(options) or _field(host_text, "options")
    lines = [f"nameserver {s}" for s in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def is_loopback(server: str) -> bool:
    return server.startswith("127.") or server == "::1"


def write_in_place(path: str, text: str) -> None:
    """Rewrite *path* keeping its inode: it is bind-mounted into running containers.

    Written over in place and then cut to length (pwrite + ftruncate) rather than opened with
    O_TRUNC: truncating to zero costs ~0.3-1.5 ms on ext4 and a peer's file is rewritten each time
    a container comes or goes. Unchanged content is not written at all.
    """
    data = text.encode()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size == len(data) and os.pread(fd, size + 1, 0) == data:
            return
        view, offset = memoryview(data), 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        if size > len(data):
            os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""

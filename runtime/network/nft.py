"""composer's own nftables table: rendered from state as a whole, applied in one `nft -f` transaction.

The script deletes and re-adds only our table, so each change is atomic and never touches other
tools' tables. Pure rendering here; the one subprocess call is in apply().
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import MissingTool, NetworkError

DEFAULT_RUNDIR = Path("/run/composer")
WILDCARDS = ("0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class BridgeRules:
    bridge: str
    subnets: tuple[str, ...]   # v4 and v6 CIDRs
    internal: bool


@dataclass(frozen=True, slots=True)
class PortRule:
    protocol: str      # tcp | udp
    host_ip: str       # "" = every local address
    host_port: int
    address: str       # the container's address (v4 or v6)
    container_port: int


def table_name(rundir: Path) -> str:
    """"composer" for the real run dir; a per-run-dir name otherwise so test engines never clash."""
    if Path(rundir) == DEFAULT_RUNDIR:
        return "composer"
    return "composer_" + hashlib.sha256(str(rundir).encode()).hexdigest()[:8]


def _fam(cidr_or_addr: str) -> str:
    return "ip6" if ":" in cidr_or_addr else "ip"


def render(table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule]) -> str:
    """The whole table. Empty *bridges* and *ports*: just delete it."""
    head = [f"table inet {table} {{}}", f"delete table inet {table}"]
    if not bridges and not ports:
        return "\n".join(head) + "\n"
    port_lines: list[str] = []
    for p in ports:
        fam = _fam(p.address)
        match = f"meta nfproto {'ipv6' if fam == 'ip6' else 'ipv4'}"
        if p.host_ip:
            if _fam(p.host_ip) != fam:
                continue
            if p.host_ip not in WILDCARDS:  # 0.0.0.0 / :: mean every address of that family
                match += f" {fam} daddr {p.host_ip}"
        dest = f"[{p.address}]" if fam == "ip6" else p.address
        port_lines.append(f"{match} {p.protocol} dport {p.host_port} dnat {fam} to {dest}:{p.container_port}")
    post: list[str] = []
    fwd: list[str] = ["ct status dnat accept"]  # published ports are reachable from everywhere
    names = [b.bridge for b in bridges]
    for b in bridges:
        br = f'"{b.bridge}"'
        post.append(f"oifname {br} ip saddr 127.0.0.0/8 masquerade")  # 127.0.0.1 -> published port
        for s in b.subnets:
            fam = _fam(s)
            post.append(f"oifname {br} ct status dnat {fam} saddr {s} masquerade")  # hairpin
            if not b.internal:
                post.append(f"{fam} saddr {s} oifname != {br} masquerade")
        if b.internal:
            fwd.append(f"iifname {br} oifname != {br} drop")
            fwd.append(f"oifname {br} iifname != {br} drop")
        others = [n for n in names if n != b.bridge]
        if others:
            fwd.append(f"iifname {br} oifname {{ {', '.join(chr(34) + o + chr(34) for o in others)} }} drop")
    body = [
        f"table inet {table} {{",
        "  chain ports {",
        *(f"    {line}" for line in port_lines),
        "  }",
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    fib daddr type local jump ports",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump ports",
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        *(f"    {line}" for line in post),
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        *(f"    {line}" for line in fwd),
        "  }",
        "}",
    ]
    return "\n".join(head + body) + "\n"


def nft_available() -> bool:
    return shutil.which("nft") is not None


def apply(script: str) -> None:
    """Run *script* as one nft transaction."""
    exe = shutil.which("nft")
    if exe is None:
        raise MissingTool("nft", "nftables")
    proc = subprocess.run([exe, "-f", "-"], input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.strip().splitlines()[:3])
        raise NetworkError(f"nftables: cannot apply composer rules: {msg}")

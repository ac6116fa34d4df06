"""composer's own nftables table: rendered from state as a whole, applied in one nft transaction.

The script deletes and re-adds only our table, so each change is atomic and never touches other
tools' tables. Pure rendering here; apply() hands the script to libnftables in process (the library
the `nft` command is built on: ~1 ms a transaction) and falls back to an `nft -f` process (~20 ms:
bench F8) where only the command is installed.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import threading
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
    return _table(table, bridges, _port_lines(ports))


def _port_lines(ports: Sequence[PortRule]) -> list[str]:
    port_lines: list[str] = []
    for p in ports:
        fam = _fam(p.address)
        match = f"meta nfproto {'ipv6' if fam == 'ip6' else 'ipv4'}"
        if p.host_ip == "::1":  # the kernel drops ::1 traffic DNATed off lo: a relay serves it
            continue
        if p.host_ip:
            if _fam(p.host_ip) != fam:
                continue
            if p.host_ip not in WILDCARDS:  # 0.0.0.0 / :: mean every address of that family
                match += f" {fam} daddr {p.host_ip}"
        if fam == "ip6" and p.host_ip in ("", "::"):
            match += " ip6 daddr != ::1"  # left to the relay on [::1] (see manager.relay_rules)
        dest = f"[{p.address}]" if fam == "ip6" else p.address
        port_lines.append(f"{match} {p.protocol} dport {p.host_port} dnat {fam} to {dest}:{p.container_port}")
    return port_lines


def render_ports(table: str, ports: Sequence[PortRule]) -> str:
    """Only the published ports, into the table render() made: half the kernel work of replacing
    the whole table (no hooks re-registered), for the common change (a container comes or goes).
    Fails as a transaction, changing nothing, when the table is missing."""
    lines = [f"flush chain inet {table} ports"]
    lines += [f"add rule inet {table} ports {line}" for line in _port_lines(ports)]
    return "\n".join(lines) + "\n"


def _table(table: str, bridges: Sequence[BridgeRules], port_lines: list[str]) -> str:
    head = [f"table inet {table} {{}}", f"delete table inet {table}"]
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


LIBRARY = "libnftables.so.1"


class _Lib:
    """One libnftables context per process, made on first use (dlopen ~1.5 ms)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(LIBRARY, use_errno=True)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            raise OSError("nft_ctx_new failed")
        # output and errors go to buffers we read, not to this process's stdout/stderr
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        self.lib, self.ctx = lib, ctx
        self.lock = threading.Lock()  # a context (and its error buffer) is not thread-safe

    def run(self, script: str) -> str | None:
        """Run *script*; None on success, else the library's error text."""
        with self.lock:
            if self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode()) == 0:
                return None
            return (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")


_lib: _Lib | None = None
_lib_failed = False
use_library = True  # tests turn it off to exercise the `nft -f` path


_lib_lock = threading.Lock()


def _library() -> _Lib | None:
    global _lib, _lib_failed
    if not use_library:
        return None
    with _lib_lock:
        if _lib is None and not _lib_failed:
            try:
                _lib = _Lib()
            except (OSError, AttributeError):
                _lib_failed = True
    return _lib


def nft_available() -> bool:
    return shutil.which("nft") is not None or _library() is not None


def apply(script: str) -> None:
    """Run *script* as one nft transaction."""
    lib = _library()
    if lib is not None:
        err = lib.run(script)
        if err is not None:
            msg = " ".join(line for line in err.strip().splitlines()[:3])
            raise NetworkError(f"nftables: cannot apply composer rules: {msg}")
        return
    exe = shutil.which("nft")
    if exe is None:
        raise MissingTool("nft", "nftables")
    proc = subprocess.run([exe, "-f", "-"], input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.strip().splitlines()[:3])
        raise NetworkError(f"nftables: cannot apply composer rules: {msg}")

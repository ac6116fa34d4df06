"""composer's own nftables table: rendered from state as a whole, applied in one nft transaction.

The script deletes and re-adds only our table, so each change is atomic and never touches other
tools' tables. Pure rendering here; apply() hands the script to libnftables in process (the library
the `nft` command is built on: ~1 ms a transaction) and falls back to an `nft -f` process (~20 ms:
bench F8) where only the command is installed.
"""

from __future__ import annotations

import _thread  # a lock is all it takes: threading's import costs ~0.5-1 ms
import ctypes
import os
from collections.abc import Callable, Sequence

from runtime.errors import MissingTool, NetworkError
from runtime.network.nftlite import DEFAULT_RUNDIR, table_name  # noqa: F401 - its callers' name for it
from runtime.network.nftlite import which as _which
from runtime.record import record

WILDCARDS = ("0.0.0.0", "::")


@record(kw_only=False)
class BridgeRules:
    bridge: str
    subnets: tuple[str, ...]   # v4 and v6 CIDRs
    internal: bool
    resolver: str = ""  # the gateway the DNS resolver listens on (a dns-enabled network)


@record(kw_only=False)
class PortRule:
    protocol: str      # tcp | udp
    host_ip: str       # "" = every local address
    host_port: int
    address: str       # the container's address (v4 or v6)
    container_port: int


def _fam(cidr_or_addr: str) -> str:
    return "ip6" if ":" in cidr_or_addr else "ip"


COMMENT_MAX = 128  # nft refuses a longer comment


def owner_comment(root: str, mntns: int) -> str:
    """The comment on an engine's table naming the engine: the mount namespace (*mntns*, its
    inode) in which its state root is *root*, so that another engine can tell the table of one
    whose state is gone (leftover_reason). "" when it cannot be said in a comment."""
    text = f"composer mntns={mntns} root={os.path.abspath(root)}"
    if len(text) > COMMENT_MAX or not text.isprintable() or '"' in text or "\\" in text:
        return ""
    return text


def render(table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule], comment: str = "") -> str:
    """The whole table, carrying *comment* (owner_comment). Empty *bridges* and *ports*: just
    delete it."""
    head = [f"table inet {table} {{}}", f"delete table inet {table}"]
    if not bridges and not ports:
        return "\n".join(head) + "\n"
    return _table(table, bridges, ports, comment)


# Published ports are elements of four maps (host address or wildcard, v4 or v6) that four
# constant rules look up, so a container coming or going adds or deletes its own elements: one
# small transaction whatever the number of containers (a rule per port made every change re-add
# them all: 9 ms at 30 containers, 14 ms at 100, bench F8).
MAPS = {
    "at4": "ip daddr . meta l4proto . th dport : ip daddr . th dport",
    "any4": "meta l4proto . th dport : ip daddr . th dport",
    "at6": "ip6 daddr . meta l4proto . th dport : ip6 daddr . th dport",
    "any6": "meta l4proto . th dport : ip6 daddr . th dport",
}
PORT_RULES = (
    "meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @at4",
    "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @any4",
    "meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @at6",
    # ::1 is left to the relay (see manager.relay_rules): the kernel drops ::1 traffic DNATed off lo
    "meta nfproto ipv6 ip6 daddr != ::1 dnat ip6 to meta l4proto . th dport map @any6",
)


def port_element(p: PortRule) -> tuple[str, str, str] | None:
    """(map, key, data) of one published port, or None when DNAT does not serve it (the host
    address is ::1, or of the other family than the container's address)."""
    fam = _fam(p.address)
    if p.host_ip == "::1" or (p.host_ip and _fam(p.host_ip) != fam):
        return None
    v = "6" if fam == "ip6" else "4"
    proto_port = f"{p.protocol} . {p.host_port}"
    if p.host_ip and p.host_ip not in WILDCARDS:  # 0.0.0.0 / :: mean every address of that family
        return f"at{v}", f"{p.host_ip} . {proto_port}", f"{p.address} . {p.container_port}"
    return f"any{v}", proto_port, f"{p.address} . {p.container_port}"


def render_port_change(table: str, add: Sequence[PortRule] = (), remove: Sequence[PortRule] = ()) -> str:
    """Add and delete published ports in the table render() made, as one transaction. It fails,
    changing nothing, when the table is missing, an element to delete is not there, or one to add
    is there with another address: the caller then renders the whole table from state."""
    lines = []
    for verb, rules in (("delete", remove), ("add", add)):
        for p in rules:
            el = port_element(p)
            if el is not None:
                item = f"{el[1]} : {el[2]}" if verb == "add" else el[1]
                lines.append(f"{verb} element inet {table} {el[0]} {{ {item} }}")
    return "\n".join(lines) + "\n" if lines else ""


def _table(table: str, bridges: Sequence[BridgeRules], ports: Sequence[PortRule], comment: str) -> str:
    head = [f"table inet {table} {{}}", f"delete table inet {table}"]
    elements: dict[str, list[str]] = {name: [] for name in MAPS}
    for p in ports:
        el = port_element(p)
        if el is not None:
            elements[el[0]].append(f"{el[1]} : {el[2]}")
    maps: list[str] = []
    for name, typeof in MAPS.items():
        maps.append(f"  map {name} {{")
        maps.append(f"    typeof {typeof};")
        if elements[name]:
            maps.append(f"    elements = {{ {', '.join(elements[name])} }}")
        maps.append("  }")
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
    # the resolver listens on the host: only its own network (and the host) may ask it, never
    # another project's containers (the forward chain does not see traffic to the host)
    dns = [f'ip daddr {b.resolver} meta l4proto {{ tcp, udp }} th dport 53 '
           f'iifname != {{ "lo", "{b.bridge}" }} drop' for b in bridges if b.resolver]
    inp = ["  chain input {", "    type filter hook input priority filter; policy accept;",
           *(f"    {line}" for line in dns), "  }"] if dns else []
    body = [
        f"table inet {table} {{",
        *([f'  comment "{comment}"'] if comment else []),
        *maps,
        "  chain ports {",
        *(f"    {line}" for line in PORT_RULES),
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
        *inp,
        "}",
    ]
    return "\n".join(head + body) + "\n"


# ---- other engines' leftover tables --------------------------------------------------------
# Several engines (each COMPOSER_RUNDIR) may share a host, each with its table. One whose state
# was removed without a `down`, or whose command died between deleting a bridge and its rules,
# leaves a table behind; its masquerade of a subnet that a live network now uses (`saddr S oifname
# != its dead bridge`) rewrites that network's traffic on its own bridge once br_netfilter passes
# bridged packets through it, and its DNAT maps still claim host ports. Network set-up removes such
# tables, and only those a live engine would not miss.


@record(kw_only=False)
class TableListing:
    name: str
    handle: int | None   # of this incarnation: a table rendered again meanwhile has another
    comment: str
    bridges: tuple[str, ...]   # the interfaces its rules name


def is_engine_table(name: str) -> bool:
    """Whether *name* is a composer engine's table (table_name's two forms)."""
    tail = name[len("composer_"):]
    return name == "composer" or (name.startswith("composer_") and len(tail) == 8
                                  and all(ch in "0123456789abcdef" for ch in tail))


def parse_table(name: str, text: str) -> TableListing:
    """What leftover_reason needs of `nft -a -t list table inet NAME`'s output."""
    handle: int | None = None
    comment = ""
    bridges: list[str] = []
    for i, line in enumerate(text.splitlines()):
        line = line.strip()
        if i == 0 and "# handle " in line:
            tail = line.rsplit("# handle ", 1)[1].strip()
            handle = int(tail) if tail.isdigit() else None
        elif line.startswith('comment "'):
            comment = line[len('comment "'):].rsplit('"', 1)[0]
        elif "ifname" in line:  # "lo" too (the resolver's rule): every host has it, no bridge of ours
            bridges += [w for j, w in enumerate(line.split('"')) if j % 2 and w not in bridges and w != "lo"]
    return TableListing(name, handle, comment, tuple(bridges))


def comment_owner(comment: str) -> tuple[int, str] | None:
    """(mount namespace, state root) of owner_comment's text; None for another text."""
    head, sep, root = comment.partition(" root=")
    if not sep or not head.startswith("composer mntns=") or not head[15:].isdigit():
        return None
    return int(head[15:]), root


def leftover_reason(t: TableListing, *, mntns: int, owned: Callable[[str], bool],
                    link_exists: Callable[[str], bool], state_exists: Callable[[str], bool]) -> str:
    """Why table *t* of another engine is a leftover to remove, "" to keep it. Leftover: its
    engine's state is gone (its comment names a state root, as seen from this mount namespace,
    *mntns*, without *state_exists*), or it serves no link: no host link carries its name as owner
    (*owned*: links.owner_alias) and none of the bridges its rules name exists (a live engine
    whose bridges are all gone renders its table again when it makes one: _ensure_bridges)."""
    if not is_engine_table(t.name):
        return ""
    owner = comment_owner(t.comment)
    if owner is not None and owner[0] == mntns and not state_exists(owner[1]):
        return f"the state of its engine ({owner[1]}) is gone"
    if not owned(t.name) and not any(link_exists(b) for b in t.bridges):
        return "none of its bridges exists"
    return ""


LIBRARY = "libnftables.so.1"
OUTPUT_HANDLE, OUTPUT_TERSE = 1 << 3, 1 << 11  # libnftables.h: handles shown, set elements left out


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
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        ctx = lib.nft_ctx_new(0)
        if not ctx:
            raise OSError("nft_ctx_new failed")
        # output and errors go to buffers we read, not to this process's stdout/stderr
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        self.lib, self.ctx = lib, ctx
        self.lock = _thread.allocate_lock()  # a context (and its error buffer) is not thread-safe

    def run(self, script: str) -> str | None:
        """Run *script*; None on success, else the library's error text."""
        with self.lock:
            if self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode()) == 0:
                return None
            return (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")

    def query(self, script: str, flags: int) -> str | None:
        """The output of listing *script* with output *flags*; None when it fails."""
        with self.lock:
            before = self.lib.nft_ctx_output_get_flags(self.ctx)
            self.lib.nft_ctx_output_set_flags(self.ctx, before | flags)
            try:
                ok = self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode()) == 0
                out = (self.lib.nft_ctx_get_output_buffer(self.ctx) or b"").decode(errors="replace")
                self.lib.nft_ctx_get_error_buffer(self.ctx)  # read (and so cleared) either way
            finally:
                self.lib.nft_ctx_output_set_flags(self.ctx, before)
            return out if ok else None


_lib: _Lib | None = None
_lib_failed = False
use_library = True  # tests turn it off to exercise the `nft -f` path


_lib_lock = _thread.allocate_lock()


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
    """Whether nftables can be used: the library loads, or the nft command is on PATH. The
    command is looked for first (a few stats): the library's load (~1 ms of dlopen, five more
    libraries, a context) is then paid only by what writes or lists rules, not by every set-up
    that merely asks (a container without published ports writes none)."""
    return _which("nft") is not None or _library() is not None


def apply(script: str) -> None:
    """Run *script* as one nft transaction."""
    lib = _library()
    if lib is not None:
        err = lib.run(script)
        if err is not None:
            msg = " ".join(line for line in err.strip().splitlines()[:3])
            raise NetworkError(f"nftables: cannot apply composer rules: {msg}")
        return
    exe = _which("nft")
    if exe is None:
        raise MissingTool("nft", "nftables")
    import subprocess  # the fallback only: libnftables is the usual path

    proc = subprocess.run([exe, "-f", "-"], input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.strip().splitlines()[:3])
        raise NetworkError(f"nftables: cannot apply composer rules: {msg}")


def _query(script: str) -> str | None:
    """`nft -a -t` *script*'s output (a listing); None when it fails (e.g. the table went)."""
    lib = _library()
    if lib is not None:
        return lib.query(script, OUTPUT_HANDLE | OUTPUT_TERSE)
    import subprocess

    exe = _which("nft")
    if exe is None:
        return None
    proc = subprocess.run([exe, "-a", "-t", *script.split()], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def engine_tables() -> list[str]:
    """The names of the inet tables of composer engines on this host (is_engine_table)."""
    out = _query("list tables inet") or ""
    return [w[2] for w in (line.split() for line in out.splitlines())
            if len(w) >= 3 and w[:2] == ["table", "inet"] and is_engine_table(w[2])]


def show_table(name: str) -> TableListing | None:
    """Table *name* (parse_table) as it is now; None when it is gone."""
    out = _query(f"list table inet {name}")
    return None if out is None else parse_table(name, out)


def delete_table(name: str, handle: int) -> None:
    """Delete table *name* if it still is the incarnation *handle* (not one rendered since)."""
    apply(f"delete table inet handle {handle}\n")

"""The embedded DNS resolver (composer's aardvark-dns): container names on dns-enabled networks.

One process per run dir (``python -I -S resolver.py DIR``, standard library only) listens on UDP
and TCP port 53 of the gateway address of every dns-enabled network that has a running container,
and answers a container on that network with the names of the containers on its networks
(service name, aliases, container name, short id, hostname: what the hosts files hold), the
network it asked on first and the first network that has the name (docker's order; aardvark-dns
merges them all); any other name is forwarded to the asking container's ``dns:`` servers, else to
the host's, unless every network of the asker is internal (aardvark-dns's rule).

Its records are DIR/records (parse_records), written whole (a rename) by the network manager
where it rewrites the hosts files; the resolver looks at the file's identity before each answer,
so a name is gone from the answers as soon as the file says so. ``reload`` on its control socket
DIR/ctl.sock makes it re-read the file and listen on the gateways it names before it answers (a
container set up on a new network may ask at once); with no network left it answers ``exit`` and
exits. The client half (runtime/network/dnsctl.py) runs in the command, under the network lock
the manager holds while writing the file; it binds the control socket and hands it over, so a
request made while the resolver starts waits for it instead of starting another.

TTL 60 s, as aardvark-dns: a replaced container's address changes, and docker's 600 s would
keep a caching client on the old one for ten minutes; most clients (musl, glibc) do not cache.
"""

from __future__ import annotations

import _random
import _socket
import _thread
import os
import select
import struct
import sys

# C modules only: `socket`, `selectors`, `json`, `threading` and `random` would double the
# resolver's start (~25 ms of imports, paid by the first `up` of dns-enabled networks)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

RECORDS, CTL = "records", "ctl.sock"  # as dnsctl.py names them
TTL = 60
FORWARD_TIMEOUT = 2.0   # per upstream server
IP_FREEBIND = 15        # bind a gateway whose bridge is momentarily gone (drop_bridge in `down`)
A, PTR, AAAA = 1, 12, 28
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
AF_INET, AF_INET6, AF_UNIX = _socket.AF_INET, _socket.AF_INET6, _socket.AF_UNIX
UDP, TCP = _socket.SOCK_DGRAM, _socket.SOCK_STREAM
_rng = _random.Random()  # seeded from the system's entropy


def _shuffle(items: list[bytes]) -> None:
    for i in range(len(items) - 1, 0, -1):
        j = int(_rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]


def parse_records(text: str) -> dict[str, Any]:
    """The records dnsctl.render_records wrote: one fact a line, fields split by spaces."""
    nets: dict[str, Any] = {}
    out: dict[str, Any] = {"networks": nets, "clients": {}, "upstreams": {}, "default": []}
    for line in text.splitlines():
        kind, *f = line.split()
        if kind == "net" and len(f) >= 2:
            nets[f[0]] = {"internal": f[1] == "1", "subnets": f[2:], "names": {}, "ptr": {}}
        elif kind == "name" and len(f) >= 3 and f[0] in nets:
            nets[f[0]]["names"][f[1]] = f[2:]
        elif kind == "ptr" and len(f) == 3 and f[0] in nets:
            nets[f[0]]["ptr"][f[1]] = f[2]
        elif kind == "client" and f:
            out["clients"][f[0]] = f[1:]
        elif kind == "upstream" and f:
            out["upstreams"][f[0]] = f[1:]
        elif kind == "default":
            out["default"] = f
    return out


# ---------------------------------------------------------------- messages (pure)
class Query:
    """The parts of a DNS query an answer needs."""

    def __init__(self, msg: bytes) -> None:
        if len(msg) < 12:
            raise ValueError("short message")
        self.id, self.flags, qdcount = struct.unpack("!HHH", msg[:6])
        if self.flags & 0x8000 or qdcount != 1:
            raise ValueError("not a query with one question")
        labels, pos = [], 12
        while True:
            n = msg[pos]
            if n == 0 or n & 0xC0:
                break
            labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        if n & 0xC0:
            raise ValueError("compressed question")
        self.question = msg[12:pos + 5]
        self.qtype, self.qclass = struct.unpack("!HH", msg[pos + 1:pos + 5])
        self.name = ".".join(labels).lower()


def response(q: Query, rcode: int, answers: Sequence[tuple[int, bytes]] = (), aa: bool = True) -> bytes:
    """The answer to *q*: its question, then *answers* as (type, rdata), all for the asked name."""
    flags = 0x8000 | (q.flags & 0x7900) | 0x80 | rcode | (0x400 if aa else 0)
    head = struct.pack("!HHHHHH", q.id, flags, 1, len(answers), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, t, 1, TTL, len(rd)) + rd for t, rd in answers)
    return head + q.question + body


def _name_rdata(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def _ptr_address(name: str) -> str | None:
    """The IPv4 address an in-addr.arpa name asks about."""
    if not name.endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    return ".".join(reversed(parts)) if len(parts) == 4 else None


def _lookup(nets: Sequence[dict[str, Any]], q: Query) -> bytes | None:
    """The answer from the first of *nets* (records of the networks the asker is on, the one the
    query arrived on first) that has the name, or None when none has it."""
    for net in nets:
        addrs = net["names"].get(q.name)
        if addrs is not None:
            return _addresses(q, addrs)
    if q.qtype == PTR:
        addr = _ptr_address(q.name)
        for net in nets:
            if addr is not None and addr in net["ptr"]:
                return response(q, NOERROR, [(PTR, _name_rdata(net["ptr"][addr]))])
    return None


def _addresses(q: Query, addrs: Sequence[str]) -> bytes:
    """A name of ours: its addresses of the asked family, shuffled (several replicas: docker's
    round robin); NOERROR without answers for another type or family (no NXDOMAIN: the name
    exists, and a client must not give up on its A record because AAAA has none)."""
    if q.qtype == A:
        rdata = [_socket.inet_aton(a) for a in addrs if ":" not in a]
    elif q.qtype == AAAA:
        rdata = [_socket.inet_pton(AF_INET6, a) for a in addrs if ":" in a]
    else:
        return response(q, NOERROR)
    _shuffle(rdata)
    return response(q, NOERROR, [(q.qtype, rd) for rd in rdata])


def _in_subnets(addr: str, subnets: list[list[int]]) -> bool:
    if ":" in addr:
        return False
    n = struct.unpack("!I", _socket.inet_aton(addr))[0]
    return any(n & mask == base for base, mask in subnets)


def _v4_subnets(cidrs: list[str]) -> list[list[int]]:
    out = []
    for c in cidrs:
        if ":" not in c:
            base, _, plen = c.partition("/")
            mask = (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF
            out.append([struct.unpack("!I", _socket.inet_aton(base))[0] & mask, mask])
    return out


# ---------------------------------------------------------------- forwarding
def forward(msg: bytes, servers: list[str], tcp: bool) -> bytes | None:
    """The first upstream answer to *msg*, or None when no server answers."""
    for server in servers:
        s = _socket.socket(AF_INET6 if ":" in server else AF_INET, TCP if tcp else UDP)
        try:
            s.settimeout(FORWARD_TIMEOUT)
            s.connect((server, 53))  # UDP too: an ICMP refusal comes back as an error, next server
            if tcp:
                s.sendall(struct.pack("!H", len(msg)) + msg)
                return _read_tcp_message(s)
            s.send(msg)
            while True:
                data = s.recv(65535)
                if data[:2] == msg[:2]:
                    return data
        except OSError:
            continue
        finally:
            s.close()
    return None


def _read_exact(s: Any, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_tcp_message(s: Any) -> bytes | None:
    head = _read_exact(s, 2)
    return None if head is None else _read_exact(s, struct.unpack("!H", head)[0])


def _close(s: Any) -> None:
    try:  # noqa: SIM105 - no contextlib import in the resolver
        s.close()
    except OSError:
        pass


def _send(s: Any, data: bytes, addr: Any = None) -> None:
    try:  # noqa: SIM105 - no contextlib import in the resolver
        s.sendall(data) if addr is None else s.sendto(data, addr)
    except OSError:
        pass


def _accept(s: Any) -> tuple[Any, Any] | None:
    try:
        fd, addr = s._accept()
    except OSError:
        return None
    return _socket.socket(fileno=fd), addr


# ---------------------------------------------------------------- the server
class Resolver:
    def __init__(self, directory: str, ctl: Any) -> None:
        self.dir = directory
        self.path = os.path.join(directory, RECORDS)
        self.ctl = ctl
        self.poll = select.epoll()
        self.by_fd: dict[int, tuple[str, str, Any]] = {}  # fd -> (kind, gateway, socket)
        self._watch("ctl", "", ctl)
        self.listeners: dict[str, list[Any]] = {}  # gateway -> [udp, tcp]
        self.records: dict[str, Any] = {"networks": {}}
        self.stamp: tuple[int, int, int] | None = None

    def _watch(self, kind: str, gw: str, s: Any) -> None:
        self.by_fd[s.fileno()] = (kind, gw, s)
        self.poll.register(s.fileno(), select.EPOLLIN)

    def _unwatch(self, s: Any) -> None:
        self.by_fd.pop(s.fileno(), None)
        try:  # noqa: SIM105 - no contextlib import in the resolver
            self.poll.unregister(s.fileno())
        except (OSError, ValueError):
            pass
        _close(s)

    # records
    def refresh(self) -> None:
        """Re-read the records when the file changed (it is replaced whole: a new inode)."""
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self.stamp:
            return
        records = parse_records("")
        if stamp is not None:
            try:
                with open(self.path) as f:
                    records = parse_records(f.read())
            except (OSError, ValueError):
                return  # keep the last good records
        for net in records["networks"].values():
            net["v4"] = _v4_subnets(net["subnets"])
        self.records, self.stamp = records, stamp

    def rebind(self) -> list[str]:
        """Listen on the gateways the records name, and only those. Returns the errors."""
        errors = []
        want = set(self.records["networks"])
        for gw in list(self.listeners):
            if gw not in want:
                for s in self.listeners.pop(gw):
                    self._unwatch(s)
        for gw in sorted(want - set(self.listeners)):
            try:
                self.listeners[gw] = self._bind(gw)
            except OSError as exc:
                errors.append(f"{gw}:53: {exc.strerror or exc}")
        return errors

    def _bind(self, gw: str) -> list[Any]:
        socks: list[Any] = []
        try:
            for kind in (UDP, TCP):
                s = _socket.socket(AF_INET6 if ":" in gw else AF_INET, kind)
                socks.append(s)
                s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
                try:  # noqa: SIM105 - no contextlib import in the resolver
                    s.setsockopt(_socket.IPPROTO_IP, IP_FREEBIND, 1)
                except OSError:
                    pass
                s.bind((gw, 53))
                if kind == TCP:
                    s.listen(64)
        except OSError:
            for s in socks:
                _close(s)
            raise
        self._watch("udp", gw, socks[0])
        self._watch("tcp", gw, socks[1])
        return socks

    # answering
    def answer(self, gw: str, source: str, msg: bytes, tcp: bool) -> bytes | None:
        """The reply to *msg* from *source*, sent to gateway *gw*; None: drop it."""
        try:
            q = Query(msg)
        except (ValueError, IndexError, struct.error):
            return None
        local = self._local_only(gw, source, q)
        if local is not None:
            return local
        nets = self.records["networks"]
        mine = [nets[g] for g in {gw, *self.records["clients"].get(source, ())} if g in nets]
        # one only on internal networks reaches no upstream (aardvark-dns's rule)
        servers = [] if all(n["internal"] for n in mine) else (
            self.records["upstreams"].get(source) or self.records["default"])
        servers = [s for s in servers if s not in nets]  # `dns:` naming a gateway: no loop to itself
        if not servers:
            return response(q, SERVFAIL, aa=False)
        return forward(msg, servers, tcp) or response(q, SERVFAIL, aa=False)

    def _local_only(self, gw: str, source: str, q: Query) -> bytes | None:
        """The answer when it needs no upstream (the usual case), else None."""
        self.refresh()
        nets = self.records["networks"]
        net = nets.get(gw)
        if net is None or not _in_subnets(source, net["v4"]):
            return response(q, REFUSED, aa=False)  # not one of this network's containers
        if q.qclass != 1:
            return None
        # names of every network the asker is on, as docker's DNS and aardvark-dns answer them
        others = [nets[g] for g in self.records["clients"].get(source, ()) if g != gw and g in nets]
        return _lookup([net, *others], q)

    def _udp(self, s: Any, gw: str) -> None:
        try:
            msg, addr = s.recvfrom(65535)
            q = Query(msg)
        except (OSError, ValueError, IndexError, struct.error):
            return
        quick = self._local_only(gw, addr[0], q)
        if quick is not None:
            _send(s, quick, addr)
            return

        def slow() -> None:  # forwarding waits on the network: not in the loop
            reply = self.answer(gw, addr[0], msg, tcp=False)
            if reply is not None:
                _send(s, reply, addr)
        _thread.start_new_thread(slow, ())

    def _tcp(self, conn: Any, gw: str, source: str) -> None:
        try:
            conn.settimeout(5)
            while (msg := _read_tcp_message(conn)) is not None:
                reply = self.answer(gw, source, msg, tcp=True)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return
        finally:
            _close(conn)

    def _control(self) -> None:
        """One request on the control socket (it exits when no network is left)."""
        got = _accept(self.ctl)
        if got is None:
            return
        conn = got[0]
        try:
            conn.settimeout(5)
            if not conn.recv(64):
                return  # dnsctl.alive: a look, no request
            self.stamp = (-1, -1, -1)  # re-read even if the file looks the same (or is gone)
            self.refresh()
            errors = self.rebind()
            if not self.records["networks"]:
                self.shut()
                _send(conn, b"exit\n")
                # the exit closes the connection: the client's end of file says it is gone
                os._exit(0)
            reply = "ok" if not errors else "error cannot listen on " + ", ".join(errors)
            _send(conn, reply.encode() + b"\n")
        except OSError:
            pass
        finally:
            _close(conn)

    def shut(self) -> None:
        for socks in self.listeners.values():
            for s in socks:
                self._unwatch(s)
        self.listeners.clear()
        try:  # noqa: SIM105 - no contextlib import in the resolver
            os.unlink(os.path.join(self.dir, CTL))
        except FileNotFoundError:
            pass
        _close(self.ctl)

    def serve(self) -> None:
        while True:
            try:
                events = self.poll.poll()
            except (OSError, ValueError):
                return  # closed by shut() (a test serving in a thread)
            for fd, _ in events:
                kind, gw, s = self.by_fd.get(fd, ("", "", None))
                if kind == "ctl":
                    self._control()
                elif kind == "udp":
                    self._udp(s, gw)
                elif kind == "tcp":
                    got = _accept(s)
                    if got is not None:
                        _thread.start_new_thread(self._tcp, (got[0], gw, got[1][0]))


def main(argv: list[str]) -> int:
    """``resolver.py DIR`` with its control socket (DIR/ctl.sock, bound and listening) as fd 3
    (dnsctl.launch): read the records and listen on their gateways, detach (a double fork: never
    a child of the command that started it), say ``ready`` on stdout, serve until told there is
    nothing left to serve."""
    directory = argv[1]
    ctl = _socket.socket(fileno=3)
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    resolver = Resolver(directory, ctl)
    resolver.refresh()
    errors = resolver.rebind()
    print("ready" if not errors else "error cannot listen on " + ", ".join(errors), flush=True)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    resolver.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

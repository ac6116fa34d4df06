"""Userspace port relay: published ports the kernel cannot DNAT ([::1]) and, where nftables is
missing, all of them.

One relay process per run dir serves every container's relayed ports (``python -I -S proxy.py
SOCKET``, standard library only): started by the first container that needs it, told to add or
remove a container's ports over a unix socket, gone when its last container's ports are removed.
A process per container cost 30-85 ms to start and ~7 MB each (a fork of the command ~15-60 MB);
a request to the running relay costs about a millisecond. The client half (add, remove) runs in
the command that sets a container up or tears it down.

Protocol: one request per connection, a JSON line ``{"op": "add", "id": ID, "rules": [...]}``,
``{"op": "remove", "id": ID}`` or ``{"op": "ping"}``; the answer is a line ``ok`` or
``error <message>``. Every host
port of an add is bound before anything is relayed, or none is.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any

UDP_IDLE = 60.0
IDLE_EXIT = 10.0  # a relay started for an add that never came (the client died) exits after this
SOCKET, LOCK = "relay.sock", "relay.lock"


class RelayError(Exception):
    """The relay refused (a host port is taken) or could not be reached."""


# ---------------------------------------------------------------- relaying (runs in the server)
class Entry:
    """One container's listeners and the connections made through them (closed on removal)."""

    def __init__(self) -> None:
        self.socks: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = False

    def track(self, s: socket.socket) -> bool:
        with self.lock:
            if self.closed:
                s.close()
                return False
            self.socks.add(s)
            return True

    def untrack(self, s: socket.socket) -> None:
        with self.lock:
            self.socks.discard(s)
        s.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            socks, self.socks = self.socks, set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept/recv on it
            s.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _tcp_conn(entry: Entry, client: socket.socket, target: tuple[str, int]) -> None:
    if not entry.track(client):
        return
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        entry.untrack(client)
        return
    upstream.settimeout(None)
    if not entry.track(upstream):
        entry.untrack(client)
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    entry.untrack(client)
    entry.untrack(upstream)


def _serve_tcp(entry: Entry, listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return  # closed: the container's ports were removed
        threading.Thread(target=_tcp_conn, args=(entry, client, target), daemon=True).start()


def _serve_udp(entry: Entry, listener: socket.socket, target: tuple[str, int]) -> None:
    clients: dict[Any, socket.socket] = {}
    fam = socket.AF_INET6 if ":" in target[0] else socket.AF_INET

    def back(up: socket.socket, addr: Any) -> None:
        up.settimeout(UDP_IDLE)
        try:
            while True:
                listener.sendto(up.recv(65536), addr)
        except OSError:
            pass
        finally:
            clients.pop(addr, None)
            entry.untrack(up)

    while True:
        try:
            data, addr = listener.recvfrom(65536)
        except OSError:
            return
        up = clients.get(addr)
        if up is None:
            up = socket.socket(fam, socket.SOCK_DGRAM)
            if not entry.track(up):
                return
            up.connect(target)
            clients[addr] = up
            threading.Thread(target=back, args=(up, addr), daemon=True).start()
        with contextlib.suppress(OSError):
            up.send(data)


def bind_all(rules: list[dict[str, Any]]) -> list[tuple[socket.socket, dict[str, Any]]]:
    """Bind every rule's host port, or none (all closed again on the first failure)."""
    out: list[tuple[socket.socket, dict[str, Any]]] = []
    try:
        for r in rules:
            host = r["host_ip"] or "0.0.0.0"
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            kind = socket.SOCK_STREAM if r["protocol"] == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(fam, kind)
            out.append((s, r))
            if fam == socket.AF_INET6:  # [::] must not take the v4 wildcard too (nft serves that)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, r["host_port"]))
            except OSError as exc:
                raise OSError(exc.errno, f"{host}:{r['host_port']}/{r['protocol']}: {exc.strerror}") from None
            if kind == socket.SOCK_STREAM:
                s.listen(128)
    except BaseException:
        for s, _ in out:
            s.close()
        raise
    return out


class Server:
    def __init__(self, listener: socket.socket, rundir: str) -> None:
        self.listener = listener
        self.rundir = rundir
        self.entries: dict[str, Entry] = {}

    def add(self, cid: str, rules: list[dict[str, Any]]) -> str:
        self.remove(cid)  # a set-up again after a crash: the new rules replace the old
        try:
            bound = bind_all(rules)
        except (OSError, KeyError, ValueError) as exc:
            return f"error {exc}"
        entry = Entry()
        for s, r in bound:
            entry.track(s)
            serve = _serve_tcp if r["protocol"] == "tcp" else _serve_udp
            threading.Thread(target=serve, args=(entry, s, (r["address"], r["container_port"])),
                             daemon=True).start()
        self.entries[cid] = entry
        return "ok"

    def remove(self, cid: str) -> str:
        entry = self.entries.pop(cid, None)
        if entry is not None:
            entry.close()
        return "ok"

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                req = json.loads(_read_line(conn))
                op = req["op"]
                answer = (self.add(req["id"], req["rules"]) if op == "add"
                          else "ok" if op == "ping" else self.remove(req["id"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                answer = f"error bad request: {exc}"
            with contextlib.suppress(OSError):
                conn.sendall(answer.encode() + b"\n")

    def serve(self) -> None:
        """Answer requests until no container has ports here (or none came at all)."""
        started = time.monotonic()
        self.listener.settimeout(1.0)
        while True:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                conn = None
            if conn is not None:
                self.handle(conn)
            idle = conn is not None or time.monotonic() - started > IDLE_EXIT
            if not self.entries and idle and self.retire():
                return

    def retire(self) -> bool:
        """Stop accepting, unless a client holds the lock (it is about to ask for an add)."""
        fd = os.open(os.path.join(self.rundir, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.rundir, SOCKET))
        self.listener.close()
        os.close(fd)  # a client waiting for the lock now finds no socket and starts a new relay
        return True


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


def main(argv: list[str]) -> int:
    """``proxy.py RUNDIR``: bind RUNDIR/relay.sock, say ``ready`` on stdout, detach (a double
    fork: never a child of the command that started it), serve."""
    rundir = argv[1]
    path = os.path.join(rundir, SOCKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # the caller holds the lock and found no relay answering on it
    listener.bind(path)
    listener.listen(64)
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    print("ready", flush=True)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    Server(listener, rundir).serve()
    return 0


# ---------------------------------------------------------------- client (runs in the command)
@contextlib.contextmanager
def _locked(rundir: str) -> Iterator[None]:
    fd = os.open(os.path.join(rundir, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _connect(rundir: str) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(os.path.join(rundir, SOCKET))
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        return None
    return s


def _launch(rundir: str, log: str) -> socket.socket:
    import subprocess  # here: the relay itself never needs it

    with open(log, "ab") as err:
        proc = subprocess.run([sys.executable, "-I", "-S", os.path.abspath(__file__), rundir],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, timeout=30)
    if proc.stdout.strip() != b"ready":
        raise RelayError(f"the port relay did not start (see {log})")
    s = _connect(rundir)
    if s is None:
        raise RelayError("the port relay started but does not answer")
    return s


def _ask(s: socket.socket, req: dict[str, Any]) -> str:
    with s:
        s.settimeout(10)
        s.sendall(json.dumps(req).encode() + b"\n")
        return _read_line(s).strip()


def add(rundir: str, cid: str, rules: list[dict[str, Any]]) -> None:
    """Relay *rules* for container *cid* (replacing any it had); starts the relay if needed.
    Raises RelayError naming the port that cannot be bound."""
    os.makedirs(rundir, exist_ok=True)
    req = {"op": "add", "id": cid, "rules": rules}
    log = os.path.join(rundir, "relay.log")
    with _locked(rundir):  # the relay does not retire while we hold it
        s, answer = _connect(rundir), ""
        if s is not None:
            with contextlib.suppress(OSError):
                answer = _ask(s, req)
        if not answer:  # none running, or it was killed after we connected (a dying listener
            answer = _ask(_launch(rundir, log), req)  # still takes connections): a new one
    if answer != "ok":
        raise RelayError(answer.removeprefix("error ") or "no answer from the port relay")


def remove(rundir: str, cid: str) -> None:
    """Stop relaying container *cid*'s ports (quiet when the relay or the container is gone)."""
    s = _connect(rundir)
    if s is not None:
        with contextlib.suppress(OSError):
            _ask(s, {"op": "remove", "id": cid})


def running(rundir: str) -> bool:
    """Whether a relay answers on *rundir*'s socket: one that was just killed may still accept a
    connection while its threads die, but it never answers."""
    s = _connect(rundir)
    if s is None:
        return False
    try:
        return _ask(s, {"op": "ping"}) == "ok"
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

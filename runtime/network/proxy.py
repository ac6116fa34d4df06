"""Userspace port proxy: the fallback for published ports where nftables is missing.

A small process per container, forked from the command that sets the container up
(NetworkManager._start_proxy: a fork costs ~2 ms where a fresh interpreter cost 30-85 ms), or run
as ``python -I -S proxy.py RULES_JSON``: it binds every host port first, reports ``ready`` (or
``error <message>``), then relays TCP connections and UDP datagrams to the container's address
until it is killed. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

UDP_IDLE = 60.0


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _tcp_conn(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_tcp_conn, args=(client, target), daemon=True).start()


def _serve_udp(listener: socket.socket, target: tuple[str, int]) -> None:
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
            up.close()

    while True:
        data, addr = listener.recvfrom(65536)
        up = clients.get(addr)
        if up is None:
            up = socket.socket(fam, socket.SOCK_DGRAM)
            up.connect(target)
            clients[addr] = up
            threading.Thread(target=back, args=(up, addr), daemon=True).start()
        with contextlib.suppress(OSError):
            up.send(data)


def bind_all(rules: list[dict[str, Any]]) -> list[tuple[socket.socket, dict[str, Any]]]:
    out = []
    for r in rules:
        host = r["host_ip"] or "0.0.0.0"
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        kind = socket.SOCK_STREAM if r["protocol"] == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(fam, kind)
        if fam == socket.AF_INET6:  # [::] must not take the v4 wildcard too (nft serves that)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, r["host_port"]))
        if kind == socket.SOCK_STREAM:
            s.listen(128)
        out.append((s, r))
    return out


def run(rules: list[dict[str, Any]], report: Callable[[str], None]) -> int:
    """Bind every rule's host port, *report* "ready" (or "error <message>"), then relay until
    killed."""
    try:
        bound = bind_all(rules)
    except (OSError, ValueError, KeyError) as exc:
        report(f"error {exc}")
        return 1
    threads = []
    for s, r in bound:
        serve = _serve_tcp if r["protocol"] == "tcp" else _serve_udp
        t = threading.Thread(target=serve, args=(s, (r["address"], r["container_port"])), daemon=True)
        t.start()
        threads.append(t)
    report("ready")
    for t in threads:
        t.join()
    return 0


def main(argv: list[str]) -> int:
    def report(line: str) -> None:
        print(line, flush=True)
        if line == "ready":
            sys.stdout.close()

    try:
        rules = json.loads(argv[1])
    except (ValueError, IndexError) as exc:
        report(f"error {exc}")
        return 1
    return run(rules, report)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

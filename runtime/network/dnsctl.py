"""The client half of the embedded DNS resolver (runtime/network/resolver.py), run by the command
that writes its records: start it, have it re-read them. Kept apart from the resolver so that a
command imports neither the socket module nor anything else the server needs."""

from __future__ import annotations

import contextlib
import os
import sys

from runtime.network.files import DNS_CTL as CTL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

LOG = "resolver.log"
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resolver.py")


def render_records(records: Mapping[str, Any]) -> str:
    """The records file resolver.parse_records reads: one fact a line, fields split by spaces
    (no JSON: its decoder would cost the resolver's start ~10 ms of imports)."""
    lines = []
    for gw, net in records["networks"].items():
        lines.append(" ".join(["net", gw, "1" if net["internal"] else "0", *net["subnets"]]))
        lines += [" ".join(["name", gw, name, *addrs]) for name, addrs in net["names"].items()]
        lines += [f"ptr {gw} {addr} {name}" for addr, name in net["ptr"].items()]
    lines += [" ".join(["client", addr, *gws]) for addr, gws in records["clients"].items()]
    lines += [" ".join(["upstream", addr, *servers]) for addr, servers in records["upstreams"].items()]
    lines.append(" ".join(["default", *records["default"]]))
    return "\n".join(lines) + "\n"


def _ask(directory: str) -> str | None:
    """Send ``reload``; the answer line, or None when no resolver answers. Reads to the end: an
    ``exit`` is followed by the process's exit, which closes the connection."""
    import _socket  # not the socket module (~2.5 ms): the command needs nothing else of it

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        try:
            s.connect(os.path.join(directory, CTL))
        except ConnectionRefusedError:  # a killed resolver's: the callers hold the network lock
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, CTL))
            return None
        s.sendall(b"reload\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    except OSError:
        return None
    finally:
        s.close()
    return data.decode().strip() or None


Launch = tuple[int, int]  # (pid of the process that forks the resolver away, its stdout)


def launch(directory: str) -> Launch:
    """Start the resolver without waiting for it: its control socket is bound here and handed
    to it, so a request sent before it serves waits in the backlog (nobody starts a second one)
    and a container's start waits for it in started(). posix_spawn, not subprocess: `up`
    imports nothing else that needs it (~5 ms)."""
    import _socket

    path = os.path.join(directory, CTL)
    ctl = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # the caller holds the network lock and found none answering on it
        ctl.bind(path)
        ctl.listen(64)
        out, into = os.pipe()
        err = os.open(os.path.join(directory, LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", SCRIPT, directory], os.environ,
                                 file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                               (os.POSIX_SPAWN_DUP2, into, 1), (os.POSIX_SPAWN_DUP2, err, 2),
                                               (os.POSIX_SPAWN_DUP2, ctl.fileno(), 3),
                                               (os.POSIX_SPAWN_CLOSE, out)])
        except OSError:
            os.close(out)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        finally:
            os.close(into)
            os.close(err)
    finally:
        ctl.close()
    return pid, out


def started(directory: str, launched: Launch) -> str | None:
    """Wait until a launched resolver has read its records and listens; its error (a gateway it
    cannot listen on, or that it did not start), else None."""
    pid, out = launched
    try:
        said = b""
        while chunk := os.read(out, 4096):  # until the detached resolver lets go of its stdout
            said += chunk
    finally:
        os.close(out)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # it forked the resolver away and exited
    text = said.decode(errors="replace").strip()
    if text == "ready":
        return None
    if text.startswith("error "):
        return "dns resolver: " + text.removeprefix("error ")
    return f"dns resolver: did not start (see {os.path.join(directory, LOG)})"


def reload(directory: str) -> str | None:
    """Have the running resolver re-read its records (it listens on new gateways, or exits
    with none left) and wait for it; an error to report, or None (also when none runs)."""
    answer = _ask(directory)
    if answer and answer.startswith("error "):
        return "dns resolver: " + answer[6:]
    return None


def alive(directory: str) -> bool:
    """Whether a resolver listens on its control socket (a connect the resolver ignores: no
    request, no waiting for it to be scheduled)."""
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(os.path.join(directory, CTL))
        return True
    except OSError:
        return False
    finally:
        s.close()


def gateways(text: str) -> set[str]:
    """The gateways a records file (render_records) names: where the resolver listens."""
    return {line.split()[1] for line in text.splitlines() if line.startswith("net ")}

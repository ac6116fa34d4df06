"""`composer stats`: what docker's `stats` prints (docker/cli cli/command/container: stats.go,
stats_helpers.go, formatter_stats.go), read from the containers' cgroups and /proc.

docker's daemon gives the CLI two samples a collection apart (precpu, cpu); here the CLI takes them
itself: a sample per container, and the CPU % of the time between two samples.
"""

from __future__ import annotations

import os
import time

from composer.cli.docker_format import bytes_size, go_json, human_size

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from runtime.spec import ContainerInfo

FIELDS = ("Container", "Name", "ID", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs")
HEADERS = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
           "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
         "\t{{.PIDs}}")


def _machine_memory() -> int:
    """The daemon's machineMemory: a limit above it (no limit) is shown as it."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup_dirs(pid: int) -> dict[str, str]:
    """controller -> the directory of *pid*'s cgroup ("unified" for cgroup2)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return cgroup_dirs(f.read())
    except OSError:
        return {}


def cgroup_dirs(proc_cgroup: str) -> dict[str, str]:
    """controller -> cgroup directory, from a /proc/PID/cgroup text. A hierarchy the container
    did not join of its own is left out: the root ("/": the host's numbers), and a blkio one not
    at its own cgroup's path (a container gets a blkio cgroup only when it asks for a setting: it
    sits where its monitor was, e.g. a user's session slice, whose I/O is not the container's)."""
    out: dict[str, str] = {}
    paths: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        _, ctrls, path = line.split(":", 2)
        if path == "/":
            continue  # a hierarchy the container did not join: the root's numbers are the host's
        if not ctrls:
            out["unified"] = f"/sys/fs/cgroup/unified{path}" if os.path.isdir(
                "/sys/fs/cgroup/unified") else f"/sys/fs/cgroup{path}"
            continue
        base = f"/sys/fs/cgroup/{ctrls}"
        for ctrl in ctrls.split(","):
            out[ctrl] = base + path if os.path.isdir(base) else f"/sys/fs/cgroup/{ctrl}{path}"
            paths[ctrl] = path
    own = paths.get("pids") or paths.get("memory")
    if "blkio" in paths and own is not None and paths["blkio"] != own:
        del out["blkio"]
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(text: str) -> int:
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return 0


def _keyed(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _process_cpu_ns(cgroup_dir: str) -> float:
    """utime + stime of the processes in a cgroup, in ns (exited ones are not counted)."""
    tick = 1e9 / os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _read(f"{cgroup_dir}/cgroup.procs").split() if cgroup_dir else ():
        fields = _read(f"/proc/{p}/stat").rpartition(")")[2].split()
        if len(fields) > 12:
            total += int(fields[11]) + int(fields[12])
    return total * tick


def sample(pid: int) -> dict[str, float]:
    """One look at a running container: cpu_ns, mem (without inactive file cache, as docker's
    calculateMemUsageUnixNoCache), limit, pids, rx/tx (every interface but lo), read/write."""
    dirs = _cgroup_dirs(pid)
    v2 = dirs.get("unified", "")
    s: dict[str, float] = {"at": time.monotonic()}
    if "cpuacct" in dirs:
        s["cpu_ns"] = _int(_read(f"{dirs['cpuacct']}/cpuacct.usage"))
    elif v2:
        s["cpu_ns"] = _keyed(_read(f"{v2}/cpu.stat")).get("usage_usec", 0) * 1000
    else:  # no cpuacct of its own (v1 hosts where cpuacct is not bound with cpu): its processes'
        s["cpu_ns"] = _process_cpu_ns(dirs.get("pids") or dirs.get("memory") or "")
    if "memory" in dirs:
        m = dirs["memory"]
        usage, limit = _int(_read(f"{m}/memory.usage_in_bytes")), _int(_read(f"{m}/memory.limit_in_bytes"))
        inactive = _keyed(_read(f"{m}/memory.stat")).get("total_inactive_file", 0)
    else:
        usage, limit = _int(_read(f"{v2}/memory.current")), _int(_read(f"{v2}/memory.max"))
        inactive = _keyed(_read(f"{v2}/memory.stat")).get("inactive_file", 0)
    machine = _machine_memory()
    s["mem"] = usage - inactive if inactive < usage else usage
    s["limit"] = machine if machine and (limit == 0 or limit > machine) else limit
    s["pids"] = _int(_read(f"{dirs.get('pids', v2)}/pids.current"))
    rx = tx = 0
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, nums = line.partition(":")
        cols = nums.split()
        if name.strip() != "lo" and len(cols) >= 9:
            rx, tx = rx + int(cols[0]), tx + int(cols[8])
    s["rx"], s["tx"] = rx, tx
    read = write = 0
    if "blkio" in dirs:
        for line in _read(f"{dirs['blkio']}/blkio.throttle.io_service_bytes_recursive").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1][:1] in "rR":
                read += int(parts[2])
            elif len(parts) == 3 and parts[1][:1] in "wW":
                write += int(parts[2])
    elif v2:
        for line in _read(f"{v2}/io.stat").splitlines():
            fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            read, write = read + int(fields.get("rbytes", 0)), write + int(fields.get("wbytes", 0))
    s["read"], s["write"] = read, write
    return s


def entry(c: ContainerInfo, now: Mapping[str, float] | None, before: Mapping[str, float] | None,
          trunc: bool) -> dict[str, Any]:
    """A row as docker's statsContext renders it; a container not running has zeroes."""
    s = now or {}
    cpu = 0.0
    if before and "cpu_ns" in s and "cpu_ns" in before:
        # (cpuDelta / systemDelta) * onlineCPUs: the system's time over all CPUs is wall time x CPUs
        delta, wall = s["cpu_ns"] - before["cpu_ns"], (s["at"] - before["at"]) * 1e9
        cpu = delta / wall * 100.0 if delta > 0 and wall > 0 else 0.0
    mem, limit = s.get("mem", 0), s.get("limit", 0)
    return {
        "Container": c.id, "Name": c.name, "ID": c.id[:12] if trunc else c.id,
        "CPUPerc": f"{cpu:.2f}%",
        "MemUsage": f"{bytes_size(mem)} / {bytes_size(limit)}",
        "MemPerc": f"{mem / limit * 100.0 if limit else 0.0:.2f}%",
        "NetIO": f"{human_size(s.get('rx', 0))} / {human_size(s.get('tx', 0))}",
        "BlockIO": f"{human_size(s.get('read', 0))} / {human_size(s.get('write', 0))}",
        "PIDs": str(int(s.get("pids", 0))),
    }


def json_line(row: Mapping[str, Any]) -> str:
    """docker's `{{json .}}`: its formatter.MarshalJSON, json.Marshal of the fields as a map."""
    return go_json(dict(sorted(row.items())))


def render(fmt: str, rows: Sequence[Mapping[str, Any]]) -> str:
    if fmt == "json":
        return "".join(json_line(r) + "\n" for r in rows)
    from composer.cli.go_template import render_rows

    return render_rows(TABLE if fmt == "table" else fmt, rows, FIELDS, HEADERS)


def streamed(text: str) -> str:
    """A refresh as docker's streaming stats writes it: cursor home, every line followed by a space
    and erase-to-end-of-line, then erase below (fewer containers than the last time)."""
    return "\x1b[H" + "".join(f"{line} \x1b[K\n" for line in text.split("\n")) + "\x1b[J"

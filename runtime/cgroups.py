"""cgroups for containers: per-controller v1/v2 detection, creation with limits, and the
operations the engine needs (join, list, freeze, kill, OOM status, remove).

Hybrid hosts exist (the development machines bind memory, pids, cpu, cpuset, freezer and devices to
v1 and mount an empty cgroup2 at /sys/fs/cgroup/unified), so every controller is looked up on its
own (once per process, by ``detect()``). A container's cgroup is ``<hierarchy>/composer/<parts...>`` in
every hierarchy it uses; parts are ``[*engine_scope(root), pod or "standalone", container_id]``.

Standard library only: the monitor imports this module.
"""

from __future__ import annotations

import _signal  # not the signal module: it turns every constant into an enum at import
import contextlib
import errno
import os
import time
from collections.abc import Collection, Mapping, Sequence

from runtime.digest import sha256
from runtime.errors import EngineError, InvalidSpec, NotFound
from runtime.record import record
from runtime.spec import Resources

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final, Literal

__all__ = ["Cgroup", "Hierarchy", "block_device", "detect", "engine_scope", "has_blkio", "plan_blkio",
           "plan_limits", "ROOT_NAME"]

ROOT_NAME: Final = "composer"
DEFAULT_ENGINE_ROOT: Final = "/var/lib/composer"


def engine_scope(root: str) -> tuple[str, ...]:
    """The cgroup parts an engine with state *root* puts its pods and containers under.

    The system engine uses ``composer/<pod>/`` directly; any other root (tests, a user's
    COMPOSER_ROOT) gets its own ``composer/engine-<8 hex of the root>/`` so two engines with the
    same project name never share, re-configure or remove each other's pod cgroup.
    """
    if os.path.normpath(root) == DEFAULT_ENGINE_ROOT:   # with or without a trailing slash
        return ()
    digest = sha256(os.fsencode(os.path.abspath(root))).hexdigest()[:8]
    return (f"engine-{digest}",)
# The controllers composer uses; freezer and devices only exist as such on v1 (v2 has
# cgroup.freeze built in, and device control through BPF, which composer does not do).
# blkio is v2's io; a container gets a blkio cgroup only when it asks for a block I/O setting.
CONTROLLERS: Final = ("memory", "pids", "cpu", "cpuset", "freezer", "devices", "blkio")
_V2_CONTROLLERS: Final = ("memory", "pids", "cpu", "cpuset")
_V2_ENABLE: Final = (*_V2_CONTROLLERS, "io")

CFS_PERIOD: Final = 100_000
MIN_MEMORY: Final = 6 * 1024 * 1024   # docker's minimum memory limit

# The devices cgroup allow-list (v1), as runc's defaults: mknod of anything (device creation is
# stopped by the missing CAP_MKNOD, not here), the standard nodes, ptys and /dev/net/tun.
DEFAULT_DEVICE_RULES: Final[tuple[str, ...]] = (
    "c *:* m", "b *:* m",
    "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",   # null zero full random urandom
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",             # tty console ptmx pts
    "c 10:200 rwm",                                                    # net/tun
)


@record(kw_only=False)
class Hierarchy:
    version: Literal[1, 2]
    mountpoint: str


def detect(mountinfo: str | None = None) -> dict[str, Hierarchy]:
    """Which hierarchy serves each composer controller, read from /proc/self/mountinfo.

    A v1 mount names its controllers in its super options (``rw,cpu,cpuacct``); a controller not
    bound to v1 is served by cgroup2 when the cgroup2 root lists it in cgroup.controllers. The
    cgroup2 hierarchy itself is returned under the key ``"unified"`` when mounted.
    """
    if mountinfo is None:
        # once per process: the host's cgroup mounts do not change under a running engine, and a
        # command that makes or removes ten containers asked 20-30 times (0.3 ms each)
        if not _detected:
            with open("/proc/self/mountinfo") as f:
                _detected.update(_detect(f.read()))
        return dict(_detected)
    return _detect(mountinfo)


_detected: dict[str, Hierarchy] = {}   # detect()'s answer for this process's mount table


def _detect(mountinfo: str) -> dict[str, Hierarchy]:
    v1: dict[str, Hierarchy] = {}
    v2: str | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mountpoint, fstype, opts = fields[4], rfields[0], rfields[2].split(",")
        if fstype == "cgroup":
            for opt in opts:
                if opt in CONTROLLERS and opt not in v1:
                    v1[opt] = Hierarchy(1, mountpoint)
        elif fstype == "cgroup2" and v2 is None:
            v2 = mountpoint
    out = dict(v1)
    if v2 is not None:
        unified = Hierarchy(2, v2)
        out["unified"] = unified
        try:
            available = _read(f"{v2}/cgroup.controllers").split()
        except OSError:
            available = []
        for name in _V2_CONTROLLERS:
            if name not in out and name in available:
                out[name] = unified
        if "blkio" not in out and "io" in available:
            out["blkio"] = unified
        if "freezer" not in out:
            out["freezer"] = unified   # cgroup.freeze: every non-root v2 cgroup has it
    return out


# ---- limits: a pure plan --------------------------------------------------------------------

Write = tuple[str, str, str]   # (controller, file, value)


def _ncpus() -> int:
    return len(os.sched_getaffinity(0)) or os.cpu_count() or 1


def _check_cpuset(spec: str, ncpus: int) -> None:
    try:
        for piece in spec.split(","):
            lo, _, hi = piece.strip().partition("-")
            a, b = int(lo), int(hi or lo)
            if a < 0 or b < a or b >= ncpus:
                raise ValueError
    except ValueError:
        raise InvalidSpec(f"cpuset {spec!r}: expected cpus like 0-{ncpus - 1} or 0,1") from None


def plan_limits(res: Resources, versions: Mapping[str, int], *, memsw: bool = True,
                ncpus: int | None = None) -> list[Write]:
    """The files to write for *res*, in order, given each controller's cgroup version.

    Raises:
        InvalidSpec: a value out of range, or a limit whose controller this host lacks.
    """
    ncpus = _ncpus() if ncpus is None else ncpus
    out: list[Write] = []

    def need(ctrl: str, what: str) -> int:
        if ctrl not in versions:
            raise InvalidSpec(f"{what}: the {ctrl} cgroup controller is not available on this host")
        return versions[ctrl]

    if res.memory is not None:
        if res.memory < MIN_MEMORY:
            raise InvalidSpec(f"memory limit {res.memory}: the minimum is {MIN_MEMORY} bytes (6 MiB)")
        v = need("memory", "memory limit")
        swap = res.memory_swap
        if swap is not None and swap != -1 and swap < res.memory:
            raise InvalidSpec(f"memory_swap {swap}: must be at least the memory limit {res.memory}")
        if v == 1:
            out.append(("memory", "memory.limit_in_bytes", str(res.memory)))
            if memsw:
                # docker: unset swap means as much swap as memory again
                total = 2 * res.memory if swap is None else swap
                out.append(("memory", "memory.memsw.limit_in_bytes", "-1" if total == -1 else str(total)))
        else:
            out.append(("memory", "memory.max", str(res.memory)))
            extra = res.memory if swap is None else (-1 if swap == -1 else swap - res.memory)
            out.append(("memory", "memory.swap.max", "max" if extra == -1 else str(extra)))
    elif res.memory_swap not in (None, -1):
        raise InvalidSpec("memory_swap: needs a memory limit too")
    if res.memory_reservation is not None:
        if res.memory_reservation < 0 or (res.memory is not None and res.memory_reservation > res.memory):
            raise InvalidSpec(f"memory reservation {res.memory_reservation}: must be between 0 and "
                              f"the memory limit")
        v = need("memory", "memory reservation")
        out.append(("memory", "memory.soft_limit_in_bytes" if v == 1 else "memory.low",
                    str(res.memory_reservation)))
    if res.oom_kill_disable and need("memory", "oom_kill_disable") == 1:
        out.append(("memory", "memory.oom_control", "1"))
    if res.cpus is not None:
        if not 0.01 <= res.cpus <= ncpus:
            raise InvalidSpec(f"cpus {res.cpus:g}: expected 0.01 to {ncpus} (the cpus available)")
        quota = int(round(res.cpus * CFS_PERIOD))
        if need("cpu", "cpus") == 1:
            out.append(("cpu", "cpu.cfs_period_us", str(CFS_PERIOD)))
            out.append(("cpu", "cpu.cfs_quota_us", str(quota)))
        else:
            out.append(("cpu", "cpu.max", f"{quota} {CFS_PERIOD}"))
    if res.cpu_shares is not None:
        if not 2 <= res.cpu_shares <= 262144:
            raise InvalidSpec(f"cpu_shares {res.cpu_shares}: expected 2 to 262144")
        if need("cpu", "cpu_shares") == 1:
            out.append(("cpu", "cpu.shares", str(res.cpu_shares)))
        else:   # runc's conversion of shares [2, 262144] to weight [1, 10000]
            out.append(("cpu", "cpu.weight", str(1 + ((res.cpu_shares - 2) * 9999) // 262142)))
    if res.cpuset is not None:
        _check_cpuset(res.cpuset, ncpus)
        need("cpuset", "cpuset")
        out.append(("cpuset", "cpuset.cpus", res.cpuset))
    if res.pids_limit is not None:
        need("pids", "pids_limit")
        out.append(("pids", "pids.max", "max" if res.pids_limit <= 0 else str(res.pids_limit)))
    return out


def check_resources(res: Resources) -> None:
    """Refuse a limit out of range before anything is made (no cgroup is looked at: whether this
    host has the controller is checked by Cgroup.create).

    Raises:
        InvalidSpec: the first value out of range (the message names it).
    """
    plan_limits(res, dict.fromkeys(CONTROLLERS, 1))
    plan_blkio(res, 1, None)


# ---- block I/O: applied where this host's blkio (v1) or io (v2) cgroup has the file ---------

_THROTTLES: Final = (  # (setting, Resources field, v1 file, v2 io.max key)
    ("device_read_bps", "blkio_read_bps", "blkio.throttle.read_bps_device", "rbps"),
    ("device_write_bps", "blkio_write_bps", "blkio.throttle.write_bps_device", "wbps"),
    ("device_read_iops", "blkio_read_iops", "blkio.throttle.read_iops_device", "riops"),
    ("device_write_iops", "blkio_write_iops", "blkio.throttle.write_iops_device", "wiops"),
)


def has_blkio(res: Resources) -> bool:
    return bool(res.blkio_weight or res.blkio_weight_device
                or any(getattr(res, f) for _, f, _, _ in _THROTTLES))


def block_device(path: str) -> str:
    """``major:minor`` of the block device at *path*, as docker's engine reads it (stat)."""
    import stat

    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidSpec(f"blkio device {path}: {str(exc.strerror).lower()}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidSpec(f"blkio device {path}: not a block device")
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def _check_weight(weight: int, what: str) -> None:
    if not 10 <= weight <= 1000:  # docker's engine: "Range of blkio weight is from 10 to 1000"
        raise InvalidSpec(f"{what} {weight}: expected 10 to 1000")


def plan_blkio(res: Resources, version: int | None,
               files: Sequence[str] | set[str] | None) -> tuple[list[tuple[str, Write]], list[str]]:
    """The blkio (v1) or io (v2) writes of *res*, each with its setting's name, as runc makes
    them, for a cgroup that has *files* (None: as if it had them all), and the settings it cannot
    apply there (*version* None: the host has no such controller). A weight goes to
    blkio.weight (CFQ) or, without it, blkio.bfq.weight (BFQ); v2's io.bfq.weight takes docker's
    weight as it is, io.weight its 1-10000 scale.

    Raises:
        InvalidSpec: a weight out of 10-1000, a device path that is no block device.
    """
    if res.blkio_weight:
        _check_weight(res.blkio_weight, "blkio weight")
    weights = [(block_device(p), w) for p, w in res.blkio_weight_device]
    for (p, w) in res.blkio_weight_device:
        _check_weight(w, f"blkio weight of {p}")
    throttles = [(name, v1, key, [(block_device(p), r) for p, r in getattr(res, field)])
                 for name, field, v1, key in _THROTTLES]
    for name, _, _, devs in throttles:
        for _, rate in devs:
            if rate < 0:
                raise InvalidSpec(f"blkio {name} {rate}: expected a rate of 0 or more")
    asked = ([("weight", res.blkio_weight)] if res.blkio_weight else []) + \
        ([("weight_device", weights)] if weights else []) + [(n, d) for n, _, _, d in throttles if d]
    if version is None:
        return [], [name for name, _ in asked]

    def have(*names: str) -> str | None:
        return next((n for n in names if files is None or n in files), None)

    def scaled(w: int) -> int:  # runc's ConvertBlkIOToIOWeightValue
        return 1 + (w - 10) * 9999 // 990

    out: list[tuple[str, Write]] = []
    missing: list[str] = []
    if res.blkio_weight:
        if version == 1:
            f = have("blkio.weight", "blkio.bfq.weight")
            value = str(res.blkio_weight)
        else:
            f = have("io.bfq.weight", "io.weight")
            value = str(res.blkio_weight) if f == "io.bfq.weight" else f"default {scaled(res.blkio_weight)}"
        if f is None:
            missing.append("weight")
        else:
            out.append(("weight", ("blkio", f, value)))
    if weights:
        f = have("blkio.weight_device", "blkio.bfq.weight_device") if version == 1 else have("io.weight")
        if f is None:
            missing.append("weight_device")
        else:
            out += [("weight_device", ("blkio", f, f"{dev} {w if version == 1 else scaled(w)}"))
                    for dev, w in weights]
    for name, v1, key, devs in throttles:
        if not devs:
            continue
        f = have(v1) if version == 1 else have("io.max")
        if f is None:
            missing.append(name)
        else:
            out += [(name, ("blkio", f, f"{dev} {rate}" if version == 1 else f"{dev} {key}={rate or 'max'}"))
                    for dev, rate in devs]
    return out, missing


def blkio_warning(missing: Sequence[str], version: int | None, refused: Sequence[str] = ()) -> str:
    """One line for the block I/O settings this host cannot apply (docker's engine warns and
    discards them too: "Your kernel does not support Block I/O weight... Weight discarded")."""
    why = []
    if missing:
        why.append(f"{', '.join(missing)}: " + (
            "this host has no blkio (v1) or io (v2) cgroup controller" if version is None else
            f"this host's {'blkio' if version == 1 else 'io'} cgroup has no file for "
            f"{'it' if len(missing) == 1 else 'them'}"))
    if refused:
        why.append(f"{', '.join(refused)}: the device's I/O scheduler does not support it")
    return f"blkio settings not applied ({'; '.join(why)})"


def device_rules(extra: Sequence[str] = ()) -> list[Write]:
    """The v1 devices cgroup writes: deny everything, then allow the defaults and *extra*
    (rules like ``"c 10:229 rwm"`` for the container's ``devices:``)."""
    return [("devices", "devices.deny", "a"),
            *(("devices", "devices.allow", rule) for rule in (*DEFAULT_DEVICE_RULES, *extra))]


# ---- the cgroup object ----------------------------------------------------------------------


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


class _Writer:
    """Writes to cgroup files, one open file for the writes to the same file that follow each
    other (the devices cgroup's 12 allow rules: one open instead of 12). Each write is a value of
    its own to the kernel, as when the file is opened for each."""

    def __init__(self) -> None:
        self.key: tuple[str, str] | None = None
        self.fd = -1

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, directory: str, fname: str, value: str) -> None:
        if self.key != (directory, fname):
            self.close()
            self.fd = os.open(f"{directory}/{fname}", os.O_WRONLY | os.O_CLOEXEC)
            self.key = (directory, fname)
        os.write(self.fd, value.encode())

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.key = -1, None


def _rmdir_retry(path: str, tries: int = 50) -> None:
    for _ in range(tries):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            time.sleep(0.02)   # the last task is still exiting
    os.rmdir(path)


@record(kw_only=False)
class Cgroup:
    """A container's (or pod's) cgroup across the hierarchies composer uses."""

    parts: tuple[str, ...]
    paths: Mapping[str, str]       # controller -> directory ("unified" when only that exists)
    versions: Mapping[str, int]
    warnings: tuple[str, ...] = ()  # create's: what it could not apply here (block I/O settings)

    # -- construction --

    @staticmethod
    def _layout(parts: Sequence[str], hierarchies: Mapping[str, Hierarchy] | None,
                ) -> tuple[dict[str, str], dict[str, int]]:
        for part in parts:
            if not part or "/" in part or part in (".", ".."):
                raise InvalidSpec(f"cgroup name part {part!r}: expected a plain name")
        found = detect() if hierarchies is None else dict(hierarchies)
        paths: dict[str, str] = {}
        versions: dict[str, int] = {}
        for ctrl in CONTROLLERS:
            h = found.get(ctrl)
            if h is None:
                continue
            paths[ctrl] = os.path.join(h.mountpoint, ROOT_NAME, *parts)
            versions[ctrl] = h.version
        # Where no controller can track processes, the bare cgroup2 hierarchy still can.
        if not any(c in paths for c in ("memory", "pids", "freezer", "cpu")) and "unified" in found:
            paths["unified"] = os.path.join(found["unified"].mountpoint, ROOT_NAME, *parts)
            versions["unified"] = 2
        if not paths:
            raise EngineError("no cgroup hierarchy is mounted (looked in /proc/self/mountinfo)")
        return paths, versions

    @classmethod
    def create(cls, parts: Sequence[str], resources: Resources | None = None, *,
               devices: Sequence[str] | None = (), hierarchies: Mapping[str, Hierarchy] | None = None,
               ) -> Cgroup:
        """Create ``composer/<parts...>`` in every hierarchy and write the limits of *resources*.

        Args:
            devices: extra v1 devices-cgroup allow rules (``"c 10:229 rwm"``); None for a parent
                (a pod), which restricts nothing: its "deny all, then allow" writes, cut by a kill
                between the two, would deny every device to every container below it for good.
            hierarchies: what ``detect()`` would return (tests use it to pick cgroup2 on a hybrid host).
        Raises:
            InvalidSpec: an invalid limit (the message names it); nothing is left behind.
        """
        paths, versions = cls._layout(parts, hierarchies)
        blkio = resources is not None and has_blkio(resources)
        if not blkio:  # one cgroup fewer to make, join and remove for every other container
            paths.pop("blkio", None)
            versions.pop("blkio", None)
        writes = plan_limits(resources or Resources(), versions, memsw=cls._has_memsw(paths))
        warnings: list[str] = []
        if versions.get("devices") == 1 and devices is not None:
            writes += device_rules(devices)
        created: list[str] = []
        try:
            for ctrl, path in paths.items():
                for attempt in range(5):
                    try:
                        cls._make_dirs(path, ctrl, versions[ctrl], created)
                        break
                    except OSError as exc:
                        # a concurrent remove() took an empty parent away between our mkdirs
                        # (ENOENT), or it is dying while we look at it (ENODEV)
                        if exc.errno not in (errno.ENOENT, errno.ENODEV) or attempt == 4:
                            raise
                        time.sleep(0.001 * (attempt + 1))
            with _Writer() as writer:
                for ctrl, fname, value in writes:
                    for attempt in range(5):
                        try:
                            writer.write(paths[ctrl], fname, value)
                            break
                        except OSError as exc:
                            writer.close()
                            # a concurrent remove() of the last sibling took a parent away and
                            # another create made it anew, its cpuset not filled in yet (v1 cpuset
                            # refuses cpus outside the parent's with EACCES): make the chain again
                            # and retry
                            if exc.errno in _RACE_ERRNOS and attempt < 4:
                                time.sleep(0.002 * (attempt + 1))
                                cls._make_dirs(paths[ctrl], ctrl, versions[ctrl], created)
                                continue
                            raise InvalidSpec(f"cgroup {'/'.join(parts)}: cannot set {fname} to "
                                              f"{value}: {exc.strerror}") from exc
            if blkio and resources is not None:
                warnings += _write_blkio(resources, paths, versions.get("blkio"), parts)
        except BaseException:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            raise
        return cls(tuple(parts), paths, versions, tuple(warnings))

    @staticmethod
    def _has_memsw(paths: Mapping[str, str]) -> bool:
        mem = paths.get("memory")
        if mem is None:
            return False
        root = mem
        while os.path.basename(root) != ROOT_NAME:
            root = os.path.dirname(root)
        return os.path.exists(f"{os.path.dirname(root)}/memory.memsw.limit_in_bytes")

    @staticmethod
    def _make_dirs(leaf: str, ctrl: str, version: int, created: list[str]) -> None:
        """mkdir from the hierarchy root down to *leaf*; v1 cpuset dirs get the parent's cpus and
        mems (an empty cpuset refuses tasks); v2 parents get the controllers enabled.

        The leaf alone first: its parents usually exist (the pod's, the engine's), which saves
        three mkdirs that fail and their cpuset reads per controller and container."""
        if version == 1:
            try:
                os.mkdir(leaf)
            except FileExistsError:
                if ctrl != "cpuset":
                    return
            except FileNotFoundError:
                pass   # a parent is missing: the whole chain below
            else:
                created.append(leaf)
                if ctrl != "cpuset" or _copy_cpuset(os.path.dirname(leaf), leaf):
                    return
        chain = [leaf]   # the leaf up to composer/; reversed below: composer/ down to the leaf
        while os.path.basename(chain[-1]) != ROOT_NAME:
            chain.append(os.path.dirname(chain[-1]))
        chain.reverse()
        parent = os.path.dirname(chain[0])   # the hierarchy's mount
        known: dict[str, str] = {}  # the parent's cpus and mems, once read or written here
        for d in chain:
            if version == 2:
                _enable_v2_controllers(parent)
            fresh = False
            try:
                os.mkdir(d)
                created.append(d)
                fresh = True
            except FileExistsError:
                pass
            if version == 1 and ctrl == "cpuset":
                known = _fill_cpuset(parent, d, known, fresh)
            parent = d

    @classmethod
    def open(cls, parts: Sequence[str], *, hierarchies: Mapping[str, Hierarchy] | None = None,
             ) -> Cgroup:
        """The existing cgroup ``composer/<parts...>``. Raises NotFound if it exists nowhere."""
        paths, versions = cls._layout(parts, hierarchies)
        present = {c: p for c, p in paths.items() if os.path.isdir(p)}
        if not present:
            raise NotFound(f"cgroup {'/'.join(parts)}: not found")
        return cls(tuple(parts), present, {c: versions[c] for c in present})

    # -- queries and actions --

    def path(self, controller: str) -> str:
        """The directory of *controller* (KeyError if this host does not have it)."""
        return self.paths[controller]

    def _dirs(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.paths.values():
            seen.setdefault(p, None)
        return list(seen)

    def _tracking_dir(self) -> str:
        for ctrl in ("pids", "memory", "freezer", "cpu", "unified", "cpuset", "devices"):
            if ctrl in self.paths:
                return self.paths[ctrl]
        raise EngineError(f"cgroup {'/'.join(self.parts)}: no hierarchy tracks its processes")

    def join(self, pid: int) -> None:
        """Move *pid* into this cgroup in every hierarchy."""
        for d in self._dirs():
            _write(f"{d}/cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        try:
            text = _read(f"{self._tracking_dir()}/cgroup.procs")
        except FileNotFoundError:
            return []
        return sorted(int(x) for x in text.split())

    def _memory_file(self, v1: str, v2: str) -> str | None:
        if "memory" not in self.paths:
            return None
        return f"{self.paths['memory']}/{v1 if self.versions['memory'] == 1 else v2}"

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer killed in this cgroup."""
        f = self._memory_file("memory.oom_control", "memory.events")
        if f is None:
            return 0
        try:
            for line in _read(f).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except FileNotFoundError:
            pass
        return 0

    def oom_killed(self) -> bool:
        return self.oom_kills() > 0

    def memory_usage(self) -> int:
        f = self._memory_file("memory.usage_in_bytes", "memory.current")
        if f is None:
            return 0
        try:
            return int(_read(f))
        except (FileNotFoundError, ValueError):
            return 0

    def _freezer(self) -> tuple[str, int]:
        if "freezer" not in self.paths:
            raise EngineError(f"cgroup {'/'.join(self.parts)}: no freezer on this host")
        return self.paths["freezer"], self.versions["freezer"]

    def frozen(self) -> bool:
        d, v = self._freezer()
        if v == 1:
            return _read(f"{d}/freezer.state").strip() == "FROZEN"
        return "frozen 1" in _read(f"{d}/cgroup.events").splitlines()

    def _set_frozen(self, on: bool, timeout: float = 5.0) -> None:
        d, v = self._freezer()
        if v == 1:
            _write(f"{d}/freezer.state", "FROZEN" if on else "THAWED")
        else:
            _write(f"{d}/cgroup.freeze", "1" if on else "0")
        deadline = time.monotonic() + timeout
        while self.frozen() != on:   # FREEZING is transient while tasks stop
            if time.monotonic() > deadline:
                raise EngineError(f"cgroup {'/'.join(self.parts)}: did not "
                                  f"{'freeze' if on else 'thaw'} within {timeout:g}s")
            if v == 1 and on:
                _write(f"{d}/freezer.state", "FROZEN")
            time.sleep(0.005)

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def kill_all(self, sig: int = _signal.SIGKILL) -> None:
        """Send *sig* to every process in the cgroup. For SIGKILL the cgroup is frozen first so
        that no fork escapes between listing and killing (as runc does)."""
        if sig == _signal.SIGKILL and "freezer" in self.paths:
            with contextlib.suppress(OSError, EngineError):
                self.freeze()
            try:
                self._signal_all(sig)
            finally:
                with contextlib.suppress(OSError, EngineError):
                    self.thaw()
        else:
            self._signal_all(sig)

    def _signal_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left, remove the cgroup in every hierarchy, then its empty parents up to
        (not including) ``composer/``. Removing a cgroup that is already gone is not an error."""
        deadline = time.monotonic() + timeout
        while self.pids():
            self.kill_all(_signal.SIGKILL)
            if time.monotonic() > deadline:
                raise EngineError(f"cgroup {'/'.join(self.parts)}: processes {self.pids()} "
                                  f"survived SIGKILL")
            time.sleep(0.01)
        dirs = self._dirs()
        for d in dirs:
            _rmdir_retry(d)
            _rmdir_parents(d)
        remove_parents(self.parts, walked=dirs)


def remove_parents(parts: Sequence[str], walked: Collection[str] = ()) -> None:
    """Remove the empty parents of ``composer/<parts...>`` in each hierarchy where that cgroup is
    not: a create killed between its mkdirs there left them (say the engine's dir in cpuset,
    made before its cpus were copied), and removal, which walks up from the cgroups it finds,
    never looked. *walked*: the cgroups whose parents that removal walked up from already."""
    with contextlib.suppress(EngineError, InvalidSpec):
        for leaf in Cgroup._layout(parts, None)[0].values():
            if leaf not in walked and not os.path.exists(leaf):
                _rmdir_parents(leaf)


def _rmdir_parents(leaf: str) -> None:
    """rmdir *leaf*'s parents up to (not including) ``composer/`` while they are empty."""
    parent = os.path.dirname(leaf)
    while os.path.basename(parent) != ROOT_NAME and os.path.dirname(parent) != parent:
        try:
            os.rmdir(parent)
        except FileNotFoundError:
            pass   # not made (or removed meanwhile): its parent may still be
        except OSError:
            break   # another container still uses it
        parent = os.path.dirname(parent)


def _write_blkio(res: Resources, paths: Mapping[str, str], version: int | None,
                 parts: Sequence[str]) -> list[str]:
    """Write what this host's blkio/io cgroup can take; one warning line for the rest: a setting
    without its file here, or one a device's I/O scheduler refuses (EOPNOTSUPP: BFQ's per-device
    weight on a device that does not use BFQ), where runc would fail the container's start."""
    files = set(os.listdir(paths["blkio"])) if version is not None else set()
    writes, missing = plan_blkio(res, version, files)
    refused: list[str] = []
    for name, (ctrl, fname, value) in writes:
        try:
            _write(f"{paths[ctrl]}/{fname}", value)
        except OSError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise InvalidSpec(f"cgroup {'/'.join(parts)}: cannot set {fname} to {value}: "
                                  f"{exc.strerror}") from exc
            if name not in refused:
                refused.append(name)
    return [blkio_warning(missing, version, refused)] if missing or refused else []


def _copy_cpuset(parent: str, d: str) -> bool:
    """Give the v1 cpuset *d*, just made here (its cpus and mems empty, or already its parent's
    where the parent clones them), its *parent*'s cpus and mems; False (nothing written) when the
    parent's are empty: it is being made by another create, fill the whole chain."""
    values = {}
    for fname in ("cpuset.cpus", "cpuset.mems"):
        values[fname] = _read(f"{parent}/{fname}").strip()
        if not values[fname]:
            return False
    for fname, value in values.items():
        _write(f"{d}/{fname}", value)
    return True


def _fill_cpuset(parent: str, d: str, parent_values: Mapping[str, str], fresh: bool) -> dict[str, str]:
    """The v1 cpuset *d*'s cpus and mems, its *parent*'s written where they are empty (*fresh*: d
    was just made here, so they are, and are not read). *parent_values*: the parent's, when
    known (read or written a step above), else read."""
    values = {}
    for fname in ("cpuset.cpus", "cpuset.mems"):
        own = "" if fresh else _read(f"{d}/{fname}").strip()
        if not own:
            own = parent_values.get(fname) or _read(f"{parent}/{fname}").strip()
            _write(f"{d}/{fname}", own)
        values[fname] = own
    return values


_RACE_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.EACCES})


def _enable_v2_controllers(parent: str) -> None:
    """Enable composer's controllers for *parent*'s children where the parent offers them."""
    try:
        available = set(_read(f"{parent}/cgroup.controllers").split())
        enabled = set(_read(f"{parent}/cgroup.subtree_control").split())
    except OSError:
        return
    want = [c for c in _V2_ENABLE if c in available and c not in enabled]
    if want:
        with contextlib.suppress(OSError):
            _write(f"{parent}/cgroup.subtree_control", " ".join(f"+{c}" for c in want))

"""Named and anonymous volumes (the local driver): directories under root/volumes/<name>/_data.

A volume is a row of kind "volume" (id = name = the volume name). Local driver options
``type``/``device``/``o`` are recorded here; such a volume is mounted once on its own ``_data``
while a container holds it, and each container binds ``_data`` (as docker's local driver does:
two containers share one tmpfs, whose data goes when the last one stops). Who holds it is read
from what runs (hold/release), never counted in memory: a crash leaves no count to go wrong. A
volume is in use while a container row's JSON lists it in "volume_names". Standard library only.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from runtime.errors import Conflict, InvalidSpec, NotFound
from runtime.logs import rfc3339_nano
from runtime.paths import Paths
from runtime.spec import VolumeInfo, VolumeSpec
from runtime.state import Doc, Store, Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final

_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
LOCAL_OPTIONS: Final = frozenset({"type", "device", "o"})
_NEEDS: Final = {"device": ("type",), "type": ("device",), "o": ("device", "type")}
ANONYMOUS_LABEL: Final = "com.docker.volume.anonymous"  # moby's: on every volume made without a name
_TRASH: Final = ".removed-"  # a removal's trash: no volume name starts with a dot (_NAME)

HOLD_KEY: Final = "volume_hold"  # a container row's [pid, start time] of the create/start mounting


class VolumeMountError(InvalidSpec):
    """A device volume's mount failed; str() is docker's words for it (moby's localVolume.mount)."""


def has_device(options: Mapping[str, str]) -> bool:
    """Whether local driver *options* make the volume a mount of its own (moby's needsMount)."""
    return bool(options.get("type") or options.get("device"))


LabelFilter = Mapping[str, str | None]  # key -> value; None: the key is present with any value


def labels_match(labels: Mapping[str, str], wanted: LabelFilter | None) -> bool:
    """True when *labels* has every key of *wanted* (and its value, unless that is None)."""
    return all(k in labels and (v is None or labels[k] == v) for k, v in (wanted or {}).items())


class VolumeManager:
    def __init__(self, paths: Paths, store: Store) -> None:
        self.paths = paths
        self.store = store

    def _dir(self, name: str) -> Path:
        return Path(self.paths.volumes) / name

    def _info(self, doc: Doc) -> VolumeInfo:
        return VolumeInfo(
            name=doc["name"], mountpoint=doc["mountpoint"], labels=doc.get("labels") or {},
            driver=doc.get("driver", "local"), options=doc.get("options") or {},
            created_at=doc.get("created_at", ""), anonymous=bool(doc.get("anonymous")),
        )

    def create(self, spec: VolumeSpec) -> VolumeInfo:
        """Create the volume; an existing one is returned as it is, whatever its labels and
        options, as moby's store returns it (docker volume create of a name that exists succeeds).

        Raises:
            InvalidSpec: a bad name or an unknown driver option.
        """
        return self._create(spec, anonymous=False)

    def create_anonymous(
        self, labels: Mapping[str, str] | None = None, name: str | None = None
    ) -> VolumeInfo:
        """A new volume with a random 64-hex name (an anonymous volume, as docker's), or *name*:
        one a container recorded as its own before asking, so a kill in between leaks nothing."""
        name = name or secrets.token_hex(32)
        labels = {**(labels or {}), ANONYMOUS_LABEL: ""}  # what volume prune picks without --all
        return self._create(VolumeSpec(name=name, labels=labels), anonymous=True)

    def _create(self, spec: VolumeSpec, anonymous: bool) -> VolumeInfo:
        name = spec.name
        if not _NAME.fullmatch(name):
            raise InvalidSpec(f"volume {name!r}: invalid name; expected [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        unknown = sorted(set(spec.driver_opts) - LOCAL_OPTIONS)
        if unknown:
            raise InvalidSpec(f"volume {name}: unknown driver option {unknown[0]!r}; "
                              "expected type, device or o")
        for opt, needs in _NEEDS.items():  # moby's local driver: mandatoryOpts
            missing = [n for n in needs if opt in spec.driver_opts and n not in spec.driver_opts]
            if missing:
                raise InvalidSpec(f"volume {name}: driver option {opt} needs {missing[0]} "
                                  "(e.g. type=none, o=bind, device=/path)")
        existing = self.store.read().get("volume", name)
        if existing is not None:
            return self._info(existing)  # as moby: the one there, whatever its labels
        vdir = self._dir(name)
        data = vdir / "_data"
        os.makedirs(self.paths.volumes, exist_ok=True)
        os.chmod(self.paths.volumes, 0o701)  # as docker: no listing by host users
        try:
            vdir.mkdir(mode=0o700)
        except FileExistsError:
            # a row-less directory is debris of a crash (or a racing create): reuse it only if empty
            if any(p.name != "_data" for p in vdir.iterdir()) or (data.exists() and any(data.iterdir())):
                raise Conflict(f"volume {name}: directory {vdir} exists and is not empty") from None
        try:
            data.mkdir(mode=0o755, exist_ok=True)
            os.chmod(data, 0o755)
            doc: Doc = {
                "name": name, "mountpoint": str(data), "labels": dict(spec.labels), "driver": "local",
                "options": dict(spec.driver_opts), "created_at": rfc3339_nano(), "anonymous": anonymous,
            }
            with self.store.transaction() as tx:
                won = tx.get("volume", name)
                if won is not None:  # another process created it meanwhile: its directory is ours too
                    return self._info(won)
                tx.put("volume", name, doc, name=name)
        except BaseException:
            if self.store.read().get("volume", name) is None:
                shutil.rmtree(vdir, ignore_errors=True)
            raise
        return self._info(doc)

    def get(self, name: str) -> VolumeInfo:
        doc = self.store.read().get("volume", name)
        if doc is None:
            raise NotFound(f"volume {name!r} not found")
        return self._info(doc)

    def list(self, labels: LabelFilter | None = None) -> builtins.list[VolumeInfo]:
        return [self._info(d) for _, d in self.store.read().list("volume")
                if labels_match(d.get("labels") or {}, labels)]

    def users(self, name: str, tx: Tx | None = None) -> builtins.list[str]:
        """Containers whose record lists *name* in "volume_names"."""
        return [str(d.get("name") or cid[:12]) for cid, d in self._users(name, tx)]

    def _users(self, name: str, tx: Tx | None = None) -> builtins.list[tuple[str, Doc]]:
        tx = tx or self.store.read()
        return [(cid, d) for cid, d in tx.list("container") if name in (d.get("volume_names") or [])]

    def hold(self, name: str, holder: str) -> str:
        """The directory container *holder* binds for volume *name*: its ``_data``, on which a
        volume with a device is mounted unless it is already (by a container still holding it).
        The caller recorded its hold (HOLD_KEY) in *holder*'s row first, so that a release meanwhile
        keeps the mount. A mount left by holders all gone (a crash, an exit not yet folded) is
        made again: its data went with its last user, as docker's.

        Raises:
            VolumeMountError: the mount failed (a missing device, bad options, an unknown type).
        """
        info = self.get(name)
        if not has_device(info.options):
            return info.mountpoint
        with self._locked(name):
            if _is_mount(info.mountpoint):
                if self._holders(name, but=holder):
                    return info.mountpoint
                _umount(info.mountpoint)
            _mount_device(info.options, info.mountpoint)
        return info.mountpoint

    def release(self, names: Sequence[str]) -> None:
        """Unmount each device volume of *names* that no container holds any more (the last user
        stopped or went), as docker's local driver does when its count drops to zero."""
        for name in names:
            doc = self.store.read().get("volume", name)
            if doc is None or not has_device(doc.get("options") or {}):
                continue
            with contextlib.suppress(FileNotFoundError), self._locked(name):
                if _is_mount(doc["mountpoint"]) and not self._holders(name):
                    _umount(doc["mountpoint"])

    def _holders(self, name: str, but: str = "") -> builtins.list[str]:
        """The containers that hold volume *name* now: a running one (its state file there and no
        exit file, its monitor alive) or one whose create or start is mounting it (HOLD_KEY)."""
        from runtime import procs

        def alive(pair: object) -> bool:
            return (isinstance(pair, list) and len(pair) == 2
                    and procs.starttime(int(pair[0])) == pair[1])

        out = []
        for cid, doc in self._users(name):
            if cid == but:
                continue
            run = Path(self.paths.container_run(cid))
            if alive(doc.get(HOLD_KEY)) or (
                (run / "state.json").exists() and not (run / "exit.json").exists()
                and alive(_monitor_of(run))
            ):
                out.append(cid)
        return out

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Volume *name*'s lock (its directory's flock) around a mount or unmount decision."""
        import fcntl

        fd = os.open(self._dir(name), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def remove(self, name: str, force: bool = False) -> bool:
        """Remove the volume and its data. *force*: a missing volume is no error.

        Returns whether a volume was removed. Raises Conflict while a container uses it.
        """
        self.empty_trash()
        with self.store.transaction() as tx:
            if tx.get("volume", name) is None:
                if force:
                    return False
                raise NotFound(f"get {name}: no such volume")  # moby's words
            users = self._users(name, tx)
            if users:  # moby's OpErr, with the ids of the containers that hold it
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(cid for cid, _ in users)}]")
            tx.delete("volume", name)
            trash = self._to_trash(name)  # before the commit: see _to_trash
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return True

    def _to_trash(self, name: str) -> Path | None:
        """Move volume *name*'s directory out of its name's way (a rename: at once, whatever its
        size) to a trash name no volume can have, for the caller to delete. Done before the row's
        deletion commits: a kill of `volume rm` in the middle of deleting the data (minutes for a
        big volume) left a row-less directory under the name, never removed, and the name refused
        by create ('exists and is not empty'); now it leaves the row, or trash the next removal
        empties. Returns the trash path (None when the directory is gone already)."""
        vdir = self._dir(name)
        data = vdir / "_data"
        if _is_mount(data):  # a device volume left mounted by a crash: never delete through it
            _umount(str(data))
        trash = Path(self.paths.volumes) / f"{_TRASH}{name}-{secrets.token_hex(4)}"
        try:
            os.rename(vdir, trash)
        except FileNotFoundError:
            return None
        return trash

    def empty_trash(self) -> None:
        """Delete what a removal killed before it had deleted its volume's data left (_to_trash):
        each removal does it first, and `down -v`, which may find no volume left to remove."""
        with contextlib.suppress(FileNotFoundError):
            for entry in os.listdir(self.paths.volumes):
                if entry.startswith(_TRASH):
                    shutil.rmtree(Path(self.paths.volumes) / entry, ignore_errors=True)

    def remove_owned(self, name: str, owner: str) -> bool:
        """Remove anonymous volume *name* with container *owner* (rm -v, down -v), before the
        owner's row goes: its data first, then its row, so that a kill at any point leaves a
        volume the owner's row still names and its next removal finishes (the owner's row gone
        first left the volume to no one). Returns whether it was removed: not when it is gone or
        another container uses it too (volumes_from, a recreate's hand-over), as docker's rm -v."""
        tx = self.store.read()
        if any(cid != owner and name in (d.get("volume_names") or []) for cid, d in tx.list("container")):
            return False
        if tx.get("volume", name) is None:
            # a create killed between the volume's directory and its row (the owner's row named it
            # first): that directory is debris no other command would ever remove
            if self._dir(name).exists():
                self._remove_dir(name)
            return False
        self._remove_dir(name)
        with self.store.transaction() as wtx:
            wtx.delete("volume", name)
        return True

    def _remove_dir(self, name: str) -> None:
        vdir = self._dir(name)
        data = vdir / "_data"
        if _is_mount(data):  # a device volume left mounted by a crash: never delete through it
            _umount(str(data))
        shutil.rmtree(vdir, ignore_errors=True)

    def prune(
        self, labels: LabelFilter | None = None, all: bool = False, without: LabelFilter | None = None
    ) -> builtins.list[tuple[str, int]]:
        """Remove the volumes no container uses, as moby's volume prune picks them: only anonymous
        ones unless *all*, never one with driver options (its data is a device's or a host
        directory's), those matching *labels* and none matching any of *without* (label!=).

        Returns (name, bytes its data took) of each volume removed.
        """
        self.empty_trash()
        gone: builtins.list[tuple[str, Path | None]] = []
        with self.store.transaction() as tx:
            for name, doc in tx.list("volume"):
                have = doc.get("labels") or {}
                if (
                    (all or ANONYMOUS_LABEL in have)
                    and not doc.get("options")
                    and labels_match(have, labels)
                    and not any(labels_match(have, {k: v}) for k, v in (without or {}).items())
                    and not self._users(name, tx)
                ):
                    tx.delete("volume", name)
                    gone.append((name, self._to_trash(name)))  # before the commit: see _to_trash
        removed = []
        for name, trash in gone:  # measured outside the transaction: a walk takes its time
            removed.append((name, _du(trash / "_data") if trash is not None else 0))
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
        return removed

    def populate_from_image(
        self, volume: str | VolumeInfo, image_dir: str | Path | Sequence[str], into: str | None = None
    ) -> bool:
        """Copy the image's content at the mount target into the volume while the volume is empty.

        Docker's copy-up (moby's populateVolume, at each container create): a container that
        mounts an empty volume over a directory of its image sees that directory's content in the
        volume; one with data is left as it is. *image_dir* is that directory: its host path, or
        its chain in the image's layers (runtime.layer_view: the layers' content merged as the
        container sees it). The volume's root takes the directory's owner and mode. *into*: the
        directory the volume really is (a host directory its options bind), when not its own.
        Returns whether it copied (the volume was empty).
        """
        import fcntl

        name = volume if isinstance(volume, str) else volume.name
        info = self.get(name)
        dest = Path(into or info.mountpoint)
        chain = [str(image_dir)] if isinstance(image_dir, (str, Path)) else [str(d) for d in image_dir]
        try:
            st = os.lstat(chain[0])
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
        lock = os.open(self._dir(name), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two creates at once: one copies, the other finds data
            if any(dest.iterdir()):
                return False
            try:
                _copy_tree(chain, dest)
                os.chown(dest, st.st_uid, st.st_gid)
                os.chmod(dest, stat.S_IMODE(st.st_mode))
            except BaseException:
                for child in dest.iterdir():  # leave the volume empty, as it was
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
                raise
        finally:
            os.close(lock)
        return True


def _du(path: Path) -> int:
    """The bytes of the files under *path* (as moby's directory.Size: each inode once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(top, f))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


def _copy_tree(chain: Sequence[str], dst: Path) -> None:
    """Copy the merged directory *chain*'s entries into *dst*, keeping symlinks, owners, modes,
    times and xattrs."""
    from runtime import layer_view

    for name in layer_view.names(chain):
        kind, found = layer_view.child(chain, name)
        if kind == "missing":
            continue
        s, d = Path(found[0]), dst / name
        st = os.lstat(s)
        if kind == "dir":
            d.mkdir()
            _copy_tree(found, d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(s, d, follow_symlinks=False)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(d)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(d, st.st_mode, st.st_rdev)
        else:
            continue  # sockets
        _copy_meta(s, d, st)


def _copy_meta(s: Path, d: Path, st: os.stat_result) -> None:
    with contextlib.suppress(PermissionError):  # rootless: keep our own ids
        os.chown(d, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(d, stat.S_IMODE(st.st_mode))
        try:
            for attr in os.listxattr(s, follow_symlinks=False):
                if attr.startswith(("trusted.overlay.", "user.overlay.")):
                    continue
                os.setxattr(d, attr, os.getxattr(s, attr, follow_symlinks=False), follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                raise
    os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _umount(path: str) -> None:
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    MNT_DETACH = 2  # noqa: N806
    if libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {path}: {os.strerror(err)}")


def _monitor_of(run: Path) -> list[object] | None:
    """[pid, start time] of the monitor recorded in container run dir *run* (monitor.json)."""
    import json

    try:
        mon = json.loads((run / "monitor.json").read_text())
        return [int(mon.get("pid") or 0), mon.get("starttime")]
    except (OSError, ValueError, AttributeError):
        return None


def _mount_device(options: Mapping[str, str], data: str) -> None:
    """mount(device, data, type, o's flags, o's data), as moby's localVolume.mount; its error in
    moby's words (mount.Mount's: source:target, flags, data, errno's text)."""
    from runtime.executor.init import parse_mount_options
    from runtime.executor.syscalls import SYSCALLS

    device, fstype = options.get("device", ""), options.get("type", "")
    if not device:
        raise VolumeMountError("missing device in volume options")
    opts = parse_mount_options([o for o in options.get("o", "").split(",") if o])
    flags = opts.flags
    try:
        SYSCALLS.mount(device, data, fstype or None, flags, opts.data or None)
        if flags & _MS_BIND and flags & ~(_MS_BIND | _MS_REC):  # a bind takes ro, ... on a remount
            SYSCALLS.mount(None, data, None, flags | _MS_REMOUNT, None)
    except OSError as exc:
        if _is_mount(data):  # the bind made, its remount refused: no half-made mount stays
            _umount(data)
        where = f"mount {device}:{data}" + (f", flags: {flags:#x}" if flags else "") + (
            f", data: {opts.data}" if opts.data else "")
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno == errno.ENODEV:
            why += f" (filesystem type {fstype!r} not supported by the kernel)"
        raise VolumeMountError(f"failed to mount local volume: {where}: {why[:1].lower()}{why[1:]}") from None


_MS_BIND: Final = 0x1000
_MS_REC: Final = 0x4000
_MS_REMOUNT: Final = 0x20


def _is_mount(path: str | Path) -> bool:
    """Whether *path* is a mount point (mountinfo's: os.path.ismount misses a bind of a directory
    of the same file system, the `type: none, o: bind` volume's)."""
    want = os.path.realpath(path)
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split(b" ", 5)[4]
            if b"\\" in point:  # octal escapes: \040 for a space, ...
                point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), point)
            if os.fsdecode(point) == want:
                return True
    return False

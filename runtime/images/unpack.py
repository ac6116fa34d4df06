"""Safe unpacking of one image layer into a directory overlayfs can use as a lower layer.

Security: an image is untrusted input. Every entry is created relative to directory fds opened
with O_NOFOLLOW, so no entry can be written through a symlink, even one made earlier in the same
layer; absolute names, ``..`` components, hard links that leave the tree and (by default) device
nodes are refused with ImageError. Symlinks themselves may point anywhere: they are stored, never
followed. Overlay metadata xattrs in the archive are dropped (they would steer overlayfs).

Whiteouts (``.wh.NAME``) become overlay whiteouts (a 0/0 character device) and opaque markers
(``.wh..wh..opq``) the ``<prefix>opaque=y`` xattr on their directory; the prefix is
``trusted.overlay.`` as root and ``user.overlay.`` for rootless (``userxattr``) overlays.

A layer is unpacked into a temporary directory that is renamed into place at the end, so the
final directory is either complete or absent, and concurrent unpacks of one layer are safe.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ImageError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import BinaryIO, Final

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE: Final = ".wh..wh..opq"
_GZIP: Final = b"\x1f\x8b"
_ZSTD: Final = b"\x28\xb5\x2f\xfd"
_BZIP2: Final = b"BZh"
_XZ: Final = b"\xfd7zXZ\x00"
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class LayerResult:
    diff_id: str    # sha256 of the uncompressed tar stream
    size: int       # bytes of the uncompressed tar stream
    path: Path      # the unpacked directory


class HashingReader:
    """A read-only file wrapper that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def compression_of(head: bytes) -> str:
    """'gzip', 'bzip2', 'xz', 'zstd' or '' (plain) from the first bytes of a stream."""
    if head.startswith(_GZIP):
        return "gzip"
    if head.startswith(_ZSTD):
        return "zstd"
    if head.startswith(_BZIP2):
        return "bzip2"
    if head.startswith(_XZ):
        return "xz"
    return ""


def open_uncompressed(f: BinaryIO, what: str) -> BinaryIO:
    """Wrap the seekable file *f* so that reads return the uncompressed tar stream."""
    head = f.read(6)
    f.seek(0)
    kind = compression_of(head)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(f)  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(f)  # type: ignore[return-value]
    if kind == "zstd":
        raise ImageError(f"{what}: zstd-compressed layers are not supported; recompress it with gzip")
    return f


def diff_id_of(blob: Path, what: str) -> tuple[str, int]:
    """(diff id, uncompressed size) of a layer blob, without unpacking it."""
    with open(blob, "rb") as f:
        try:
            r = HashingReader(open_uncompressed(f, what))
            r.drain()
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise ImageError(f"{what}: cannot decompress: {exc}") from None
    return r.digest, r.size


def unpack_layer(blob: Path, layers_root: Path, diff_id: str | None, *, what: str,
                 devices: bool = False, rootless: bool | None = None) -> LayerResult:
    """Unpack the layer *blob* into ``layers_root/<diff-id hex>`` unless that already exists.

    Args:
        blob: the layer tar, plain or gzip (bzip2/xz also; zstd is refused).
        diff_id: the expected diff id, verified; None when not known in advance.
        what: names the layer in error messages.
        devices: allow character and block device nodes (off: refuse them).
        rootless: use ``user.overlay.`` xattrs and skip chown; default: when not root.

    Raises:
        ImageError: unsafe or corrupt layer, or a diff id mismatch. Nothing is left behind.
    """
    rootless = os.geteuid() != 0 if rootless is None else rootless
    if diff_id is not None:
        dest = layers_root / diff_id.removeprefix("sha256:")
        if dest.is_dir():
            got, size = diff_id_of(blob, what)
            if got != diff_id:
                raise ImageError(f"{what}: diff id mismatch: expected {diff_id}, got {got}")
            return LayerResult(diff_id=diff_id, size=size, path=dest)
    _private_dir(layers_root)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=layers_root))
    try:
        os.chmod(tmp, 0o755)
        with open(blob, "rb") as f:
            reader = HashingReader(open_uncompressed(f, what))
            _Extractor(tmp, what=what, devices=devices, rootless=rootless).run(reader)
            reader.drain()
        got = reader.digest
        if diff_id is not None and got != diff_id:
            raise ImageError(f"{what}: diff id mismatch: expected {diff_id}, got {got}")
        dest = layers_root / got.removeprefix("sha256:")
        try:
            os.rename(tmp, dest)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            shutil.rmtree(tmp)  # another process unpacked the same layer first: same content
        return LayerResult(diff_id=got, size=reader.size, path=dest)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (tarfile.TarError, EOFError, lzma.LZMAError)) or (
            isinstance(exc, OSError) and not isinstance(exc, ImageError)
        ):
            raise ImageError(f"{what}: cannot unpack: {exc}") from None
        raise


def _private_dir(path: Path) -> None:
    """Create *path* mode 0700: layers hold the images' setuid binaries, which host users must not
    reach (containers see the layers through their overlay mount, not through this path)."""
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)


def _split(name: str, what: str) -> list[str]:
    if name.startswith("/"):
        raise ImageError(f"{what}: unsafe absolute path {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ImageError(f"{what}: unsafe path {name!r} leaves the layer")
    return parts


class _Extractor:
    def __init__(self, root: Path, *, what: str, devices: bool, rootless: bool) -> None:
        self.root = root
        self.what = what
        self.devices = devices
        self.rootless = rootless
        self.xattr_prefix = "user.overlay." if rootless else "trusted.overlay."
        self.dir_times: list[tuple[list[str], int]] = []

    def run(self, stream: HashingReader) -> None:
        root_fd = os.open(self.root, _DIR_FLAGS)
        try:
            self.root_fd = root_fd
            with tarfile.open(fileobj=stream, mode="r|", errorlevel=2) as tf:  # type: ignore[call-overload]
                for m in tf:
                    self._entry(tf, m)
            for parts, mtime in sorted(self.dir_times, key=lambda t: -len(t[0])):
                self._set_dir_mtime(parts, mtime)
        finally:
            os.close(root_fd)

    # ---- path walking without following symlinks -------------------------------------------

    def _open_dir(self, parts: list[str], name: str, create: bool) -> int:
        fd = os.dup(self.root_fd)
        try:
            for comp in parts:
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise ImageError(f"{self.what}: {name!r}: {comp!r} does not exist") from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ImageError(
                            f"{self.what}: unsafe path {name!r}: {comp!r} is a symlink or not a directory"
                        ) from None
                    raise
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _remove(pfd: int, leaf: str) -> None:
        try:
            st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(leaf, dir_fd=pfd)
        else:
            os.unlink(leaf, dir_fd=pfd)

    # ---- one tar entry ---------------------------------------------------------------------

    def _entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = _split(m.name, self.what)
        if not parts:
            if m.isdir():
                self._meta_fd(self.root_fd, m)
                self.dir_times.append(([], int(m.mtime)))
            return
        leaf = parts[-1]
        pfd = self._open_dir(parts[:-1], m.name, create=True)
        try:
            if leaf.startswith(WHITEOUT_PREFIX):
                self._whiteout(pfd, leaf, m)
            elif m.isdir():
                self._dir(pfd, leaf, m, parts)
            elif m.isreg():
                self._file(tf, pfd, leaf, m)
            elif m.issym():
                self._remove(pfd, leaf)
                os.symlink(m.linkname, leaf, dir_fd=pfd)
                self._meta_path(pfd, leaf, m, symlink=True)
            elif m.islnk():
                self._hardlink(pfd, leaf, m)
            elif m.ischr() or m.isblk():
                if m.ischr() and m.devmajor == 0 and m.devminor == 0:
                    self._make_whiteout(pfd, leaf, m)  # already in overlay form
                    return
                if not self.devices or self.rootless:
                    raise ImageError(f"{self.what}: device node {m.name!r} is not allowed")
                self._remove(pfd, leaf)
                kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                os.mknod(leaf, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
                self._meta_path(pfd, leaf, m)
            elif m.isfifo():
                self._remove(pfd, leaf)
                os.mkfifo(leaf, 0o600, dir_fd=pfd)
                self._meta_path(pfd, leaf, m)
            else:
                raise ImageError(f"{self.what}: unsupported entry type {m.type!r} for {m.name!r}")
        finally:
            os.close(pfd)

    def _whiteout(self, pfd: int, leaf: str, m: tarfile.TarInfo) -> None:
        if leaf == OPAQUE:
            os.setxattr(pfd, self.xattr_prefix + "opaque", b"y")
            return
        target = leaf[len(WHITEOUT_PREFIX):]
        if target.startswith(WHITEOUT_PREFIX) or not target:
            return  # other AUFS metadata (.wh..wh.plnk, ...): meaningless for overlay
        self._make_whiteout(pfd, target, m)

    def _make_whiteout(self, pfd: int, leaf: str, m: tarfile.TarInfo) -> None:
        self._remove(pfd, leaf)
        # Unprivileged creation of the 0/0 whiteout device is allowed since Linux 5.8.
        os.mknod(leaf, stat.S_IFCHR | 0o600, os.makedev(0, 0), dir_fd=pfd)
        if not self.rootless:
            os.chown(leaf, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)

    def _dir(self, pfd: int, leaf: str, m: tarfile.TarInfo, parts: list[str]) -> None:
        try:
            st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(leaf, dir_fd=pfd)
                os.mkdir(leaf, 0o700, dir_fd=pfd)
        except FileNotFoundError:
            os.mkdir(leaf, 0o700, dir_fd=pfd)
        fd = os.open(leaf, _DIR_FLAGS, dir_fd=pfd)
        try:
            self._meta_fd(fd, m)
        finally:
            os.close(fd)
        self.dir_times.append((parts, int(m.mtime)))

    def _file(self, tf: tarfile.TarFile, pfd: int, leaf: str, m: tarfile.TarInfo) -> None:
        self._remove(pfd, leaf)
        fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=pfd)
        with os.fdopen(fd, "wb") as out:
            src = tf.extractfile(m)
            if src is not None:
                shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            self._meta_fd(fd, m)
            os.utime(fd, ns=(int(m.mtime) * 10**9,) * 2)

    def _hardlink(self, pfd: int, leaf: str, m: tarfile.TarInfo) -> None:
        try:
            tparts = _split(m.linkname, self.what)
        except ImageError:
            raise ImageError(f"{self.what}: hard link {m.name!r} points out of the layer "
                             f"({m.linkname!r})") from None
        if not tparts:
            raise ImageError(f"{self.what}: hard link {m.name!r} points at the layer root")
        tfd = self._open_dir(tparts[:-1], m.linkname, create=False)
        try:
            try:
                st = os.stat(tparts[-1], dir_fd=tfd, follow_symlinks=False)
            except FileNotFoundError:
                raise ImageError(f"{self.what}: hard link {m.name!r}: target {m.linkname!r} "
                                 "does not exist") from None
            if stat.S_ISDIR(st.st_mode):
                raise ImageError(f"{self.what}: hard link {m.name!r} points at a directory")
            try:
                same = os.stat(leaf, dir_fd=pfd, follow_symlinks=False).st_ino == st.st_ino
            except FileNotFoundError:
                same = False
            if not same:
                self._remove(pfd, leaf)
                os.link(tparts[-1], leaf, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)

    # ---- metadata ----------------------------------------------------------------------------

    def _xattrs(self, m: tarfile.TarInfo) -> list[tuple[str, bytes]]:
        out = []
        for key, value in m.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith(("trusted.overlay.", "user.overlay.")):
                continue  # would steer overlayfs (redirects, metacopy): never from an image
            out.append((name, value.encode("utf-8", "surrogateescape")))
        return out

    def _meta_fd(self, fd: int, m: tarfile.TarInfo) -> None:
        if not self.rootless:
            os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        for name, value in self._xattrs(m):
            try:
                os.setxattr(fd, name, value)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def _meta_path(self, pfd: int, leaf: str, m: tarfile.TarInfo, symlink: bool = False) -> None:
        if not self.rootless:
            os.chown(leaf, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not symlink:
            os.chmod(leaf, m.mode & 0o7777, dir_fd=pfd)
        os.utime(leaf, ns=(int(m.mtime) * 10**9,) * 2, dir_fd=pfd, follow_symlinks=False)

    def _set_dir_mtime(self, parts: list[str], mtime: int) -> None:
        ns = (mtime * 10**9,) * 2
        if not parts:
            os.utime(self.root_fd, ns=ns)
            return
        try:
            pfd = self._open_dir(parts[:-1], "/".join(parts), create=False)
        except ImageError:
            return  # removed by a later entry
        try:
            os.utime(parts[-1], ns=ns, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        finally:
            os.close(pfd)

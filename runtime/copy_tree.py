"""The file work of `cp` under a container's root as the host sees it (/proc/<pid>/root, or a
stopped container's view), as docker's cp does it: a symlink named as the source is copied as a
link unless -L follows it; what is copied in belongs to root, or with -a keeps its owner; `-` is a
tar stream on stdin or stdout. The caller maps OSError to its words."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence

from runtime.executor.init import secure_join

TYPE_CHECKING = False  # typing only for mypy
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO


class CopyError(Exception):
    """A copy docker's cp refuses (its words)."""


def container_path(root: str, path: str, follow: bool) -> str:
    """*path* under *root*, symlinks resolved inside it; its last component is not followed unless
    *follow* (docker cp copies a symlink itself without -L)."""
    head, base = os.path.split(path.rstrip("/"))
    if follow or base in ("", ".", ".."):
        return secure_join(root, path)
    return os.path.join(secure_join(root, head or "/"), base)


def copy_in(root: str, src: str, dst: str, *, follow: bool, keep_owner: bool) -> None:
    """Host *src* to *dst* in the container: into *dst* when it is a directory (`src/.`: its
    contents), else as *dst*. As docker's cp, the source goes as a tar stream extracted by
    tar_in's rules: each entry placed under a parent resolved in the container's root, so that a
    link the container holds is never followed on the host's side."""
    import tarfile

    is_dir = os.path.isdir(src) and (follow or not os.path.islink(src))
    target = secure_join(root, dst)
    if os.path.isdir(target):
        into, name = dst, os.path.basename(src.rstrip("/"))
    elif dst.endswith("/"):
        raise CopyError("no such directory")  # go-archive's ErrDirNotExists
    elif is_dir and os.path.lexists(target):
        raise CopyError("cannot copy directory")  # go-archive's ErrCannotCopyDir
    else:
        into, name = os.path.dirname(dst) or "/", os.path.basename(dst)
    source = os.path.realpath(src) if follow else src  # -L follows SRC itself, nothing below it

    def write(out: IO[bytes]) -> None:
        with tarfile.open(fileobj=out, mode="w|") as tar:
            tar.add(source, arcname=name)

    _through_tar(root, into, write, keep_owner=keep_owner)


def _through_tar(root: str, into: str, write: Callable[[IO[bytes]], None], *, keep_owner: bool) -> None:
    """A tar stream that *write* makes on a thread, extracted under *into* by tar_in's rules as
    it is written (a pipe between them: nothing is staged on the disk)."""
    import threading

    failed: list[BaseException] = []
    r, w = os.pipe2(os.O_CLOEXEC)

    def feed() -> None:
        try:
            with os.fdopen(w, "wb") as out:
                write(out)
        except BrokenPipeError:
            pass  # the reader failed: its error is the one to tell
        except BaseException as exc:  # noqa: BLE001 - raised again by the caller's thread
            failed.append(exc)

    writer = threading.Thread(target=feed, name="tar-in", daemon=True)
    writer.start()
    try:
        tar_in(root, into, r, keep_owner=keep_owner)
    finally:
        os.close(r)
        writer.join()
    if failed:
        raise failed[0]


def copy_out(root: str, src: str, dst: str, *, follow: bool) -> None:
    """*src* in the container to host *dst*: into *dst* when it is a directory, else as *dst*;
    named as *src* names it (with -L, a followed link keeps the link's name)."""
    source = container_path(root, src, follow)
    target = dst
    if os.path.isdir(target):
        target = os.path.join(target, os.path.basename(src.rstrip("/")))
    elif dst.endswith("/"):
        raise CopyError("no such directory")
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def tar_out(root: str, src: str, fd: int, *, follow: bool) -> None:
    """*src* in the container as a tar stream on *fd*, its entries named from *src*'s base name,
    as docker's CopyFromContainer sends it to `cp SERVICE:SRC -`."""
    import tarfile

    source = container_path(root, src, follow)
    name = os.path.basename(src.rstrip("/")) or "."
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w|") as tar:
        tar.add(source, arcname=name, recursive=True)


def tar_in(root: str, dst: str, fd: int, *, keep_owner: bool) -> None:
    """A tar stream on *fd* extracted into directory *dst* in the container (`cp - SERVICE:DST`):
    each entry's parent resolved inside the container's root, so that no entry and no symlink
    in the container leads out of it; owned by root unless *keep_owner* (-a)."""
    import tarfile

    base = secure_join(root, dst)
    if not os.path.isdir(base):
        raise CopyError("must be a directory")
    with os.fdopen(os.dup(fd), "rb") as inp, tarfile.open(fileobj=inp, mode="r|") as tar:
        for m in tar:
            parts = [p for p in m.name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts:
                continue
            parent = secure_join(root, os.path.join(dst, *parts[:-1]))
            target = os.path.join(parent, parts[-1])
            # what is there is replaced unless both are directories (go-archive's Unpack): a link
            # in the way is removed, never followed
            try:
                st = os.lstat(target)
            except FileNotFoundError:
                st = None
            if st is not None and not (stat.S_ISDIR(st.st_mode) and m.isdir()):
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
            os.makedirs(parent, exist_ok=True)
            if m.isdir():
                os.makedirs(target, exist_ok=True)
                os.chmod(target, m.mode & 0o7777)
            elif m.isreg():
                f = tar.extractfile(m)
                assert f is not None
                try:
                    with open(target, "xb") as out:
                        shutil.copyfileobj(f, out)
                except OSError as exc:  # a full disk: say which file
                    raise OSError(exc.errno, exc.strerror, exc.filename or target) from None
                os.chmod(target, m.mode & 0o7777)
            elif m.issym():
                os.symlink(m.linkname, target)
            elif m.islnk():  # to an entry made before, named from the stream's root
                link = [p for p in m.linkname.split("/") if p not in ("", ".")]
                if not link or ".." in link:
                    continue
                first = os.path.join(secure_join(root, os.path.join(dst, *link[:-1])), link[-1])
                os.link(first, target, follow_symlinks=False)
                continue  # the same inode: owner and times are the first's
            else:  # devices and fifos are not made from a stream here
                continue
            os.lchown(target, *((m.uid, m.gid) if keep_owner else (0, 0)))
            if not m.issym():
                os.utime(target, (m.mtime, m.mtime))


def sync_in(root: str, copies: Sequence[tuple[str, str]], deletes: Sequence[str]) -> None:
    """What a compose watch sync does in a container: each path of *deletes* removed (a directory
    with what it holds; its last component not followed), then each (host path, container path)
    of *copies* written there as a tar stream extracted by tar_in's rules, owners kept, as docker
    compose sends it to CopyToContainer with CopyUIDGID. A directory is copied as itself, not
    with its contents (the caller names each path it wants); a host path gone meanwhile is
    skipped."""
    for path in deletes:
        target = container_path(root, path, follow=False)
        if os.path.normpath(target) == os.path.normpath(root):
            continue  # never the container's root itself
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        elif os.path.lexists(target):
            os.unlink(target)
    if copies:
        _through_tar(root, "/", lambda out: _write_sync_tar(out, copies), keep_owner=True)


_BUFFERED_MAX = 5_000_000  # as docker compose: a smaller file is read whole, so its size is exact


def _write_sync_tar(out: IO[bytes], copies: Sequence[tuple[str, str]]) -> None:
    import io
    import tarfile

    names = {dst.strip("/"): src for src, dst in copies}  # the last mapping of a name wins
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, src in names.items():
            if not name:
                continue
            try:
                info = tar.gettarinfo(src, arcname=name)
            except FileNotFoundError:
                continue  # removed since the change was seen: the next batch deletes it
            if info is None:
                continue  # a socket: nothing a tar holds
            if not info.isreg():
                tar.addfile(info)
                continue
            try:
                f = open(src, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                continue
            with f:
                if info.size < _BUFFERED_MAX:
                    data = f.read()
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                else:
                    tar.addfile(info, f)

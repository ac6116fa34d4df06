"""The file work of `cp` under a container's root as the host sees it (/proc/<pid>/root, or a
stopped container's view), as docker's cp does it: a symlink named as the source is copied as a
link unless -L follows it; what is copied in belongs to root, or with -a keeps its owner; `-` is a
tar stream on stdin or stdout. The caller maps OSError to its words."""

from __future__ import annotations

import os
import shutil
import stat

from runtime.executor.init import secure_join


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
    contents), else as *dst*."""
    target = secure_join(root, dst)
    if os.path.isdir(target):
        target = os.path.join(target, os.path.basename(src.rstrip("/")))
    elif dst.endswith("/") and not os.path.lexists(target):
        raise CopyError("no such directory")  # go-archive's ErrDirNotExists
    is_dir = os.path.isdir(src) and (follow or not os.path.islink(src))
    if is_dir:
        shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(src, target, follow_symlinks=follow)
    _chown_like(src, target, is_dir=is_dir, keep=keep_owner, follow=follow)


def _chown_like(src: str, target: str, *, is_dir: bool, keep: bool, follow: bool) -> None:
    """What was copied from *src* to *target* belongs to root (docker's daemon extracts with
    ChownOpts 0:0) or, with *keep* (-a), to the owner of its source."""

    def owner(path: str, follow_it: bool = False) -> tuple[int, int]:
        if not keep:
            return 0, 0
        st = os.stat(path) if follow_it else os.lstat(path)
        return st.st_uid, st.st_gid

    if os.path.basename(src.rstrip("/")) != ".":  # `src/.`: its contents only
        os.lchown(target, *owner(src, follow))
    if not is_dir:
        return
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        for name in (*dirnames, *filenames):
            os.lchown(os.path.normpath(os.path.join(target, rel, name)), *owner(os.path.join(dirpath, name)))


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
                with open(target, "xb") as out:
                    shutil.copyfileobj(f, out)
                os.chmod(target, m.mode & 0o7777)
            elif m.issym():
                os.symlink(m.linkname, target)
            else:  # hard links, devices, fifos: not made from a stream here
                continue
            os.lchown(target, *((m.uid, m.gid) if keep_owner else (0, 0)))
            if not m.issym():
                os.utime(target, (m.mtime, m.mtime))

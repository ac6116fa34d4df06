"""A container's files as tar archives: `export` (the whole file system it sees: its image's
layers under its own changes) and `commit` (its changes, the overlay upper dir, as an OCI layer
on top of its image). Both read the layer directories directly (runtime.layer_view's merge
rules), so neither mounts anything and both work on a running, paused or stopped container.
Functions of a ContainerManager; its methods delegate here.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

from runtime import layer_view
from runtime.containers import read_json
from runtime.errors import Conflict, EngineError

TYPE_CHECKING = False  # typing (and what it imports) only for mypy
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Any, Final

    from runtime.containers import ContainerManager
    from runtime.spec import ContainerInfo, ContainerSpec

# Files the runtime bind-mounts over the container's own: their entries in the upper dir are
# empty mount points, never what the container wrote (writes go to the mounted file), as docker
# keeps them in its init layer, out of a commit
_MOUNT_POINT_FILES: Final = frozenset({"etc/hosts", "etc/resolv.conf", "etc/hostname"})
OPAQUE_MARKER: Final = ".wh..wh..opq"
WHITEOUT_PREFIX: Final = ".wh."


def _layers(mgr: ContainerManager, cid: str, name: str) -> tuple[str, list[str]]:
    """(upper dir, lower dirs topmost first) of container *cid*."""
    meta = read_json(f"{mgr.paths.container_dir(cid)}/container.json")
    if meta is None or not meta.get("upperdir"):
        raise Conflict(f"container {name}: its file system is not available")
    return str(meta["upperdir"]), [str(d) for d in reversed(meta.get("lowerdirs") or [])]


def _add(tar: tarfile.TarFile, path: str, arcname: str) -> None:
    """One entry with *path*'s metadata (numeric owners only: no host user names in an image);
    a socket, which a tar cannot hold, is left out."""
    info = tar.gettarinfo(path, arcname)
    if info is None:
        return
    info.uname = info.gname = ""
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)


# ---- export: the merged view ---------------------------------------------------------------------

def write_merged(tar: tarfile.TarFile, chain: Sequence[str], prefix: str = "") -> None:
    """The merged directory *chain* (topmost first) into *tar*, under *prefix*: what overlayfs
    shows, whiteouts and opaque directories applied, the whiteouts themselves left out."""
    for name in layer_view.names(chain):
        kind, found = layer_view.child(chain, name)
        if kind == "missing":
            continue
        arcname = prefix + name
        _add(tar, found[0], arcname)
        if kind == "dir":
            write_merged(tar, found, arcname + "/")


def export(mgr: ContainerManager, ref: str, out: IO[bytes]) -> None:
    """Write container *ref*'s file system (without its volumes and binds, as docker's export)
    to *out* as a tar stream."""
    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    upper, lowers = _layers(mgr, cid, info.name)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            write_merged(tar, [upper, *lowers])
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        why = (exc.strerror or str(exc)).lower()
        raise EngineError(f"container {info.name}: cannot export{where}: {why}") from None


# ---- commit: the upper dir as an OCI layer -------------------------------------------------------

def write_changes(tar: tarfile.TarFile, upper: str, prefix: str = "") -> None:
    """The overlay upper dir *upper* into *tar* as an OCI layer: a whiteout (a 0/0 character
    device) becomes an empty ``.wh.NAME``, an opaque directory gets a ``.wh..wh..opq`` entry
    (OCI image-spec layer.md), the bind mount points of _MOUNT_POINT_FILES are left out."""
    for name in sorted(os.listdir(upper)):
        path = os.path.join(upper, name)
        arcname = prefix + name
        if arcname in _MOUNT_POINT_FILES:
            continue
        st = os.lstat(path)
        if layer_view.is_whiteout(st):
            marker = tarfile.TarInfo(prefix + WHITEOUT_PREFIX + name)
            marker.mtime = int(st.st_mtime)
            tar.addfile(marker)
            continue
        _add(tar, path, arcname)
        if stat.S_ISDIR(st.st_mode):
            if layer_view.is_opaque(path):
                marker = tarfile.TarInfo(arcname + "/" + OPAQUE_MARKER)
                marker.mtime = int(st.st_mtime)
                tar.addfile(marker)
            write_changes(tar, path, arcname + "/")


def commit_config(image: Mapping[str, Any], spec: ContainerSpec | None, cid: str, *, author: str,
                  message: str, changes: Sequence[str], created: str) -> dict[str, Any]:
    """The new image's OCI config (its diff id still to add): the image's, with the container's
    own settings over it, as docker's commit takes the container's config (its Cmd, Env, Labels,
    ...), then the *changes* (Dockerfile instructions), and a history entry."""
    import json

    from runtime.images.changes import apply_changes

    full: dict[str, Any] = json.loads(json.dumps(dict(image)))
    config = _container_config(full.get("config") or {}, spec)
    full["config"] = apply_changes(config, changes)
    full["created"] = created
    full["container"] = cid
    for key, value in (("author", author), ("comment", message)):
        if value:
            full[key] = value
        else:
            full.pop(key, None)
    command = [*(spec.entrypoint or ()), *(spec.command or ())] if spec is not None else []
    entry = {"created": created, "created_by": " ".join(command)}
    entry.update({k: v for k, v in (("author", author), ("comment", message)) if v})
    full["history"] = [*(full.get("history") or []), entry]
    return full


def _container_config(config: Mapping[str, Any], spec: ContainerSpec | None) -> dict[str, Any]:
    """The image's config with what the container set over it (moby's commit merges the
    container's Config with its image's)."""
    out = dict(config)
    if spec is None:
        return out
    if spec.command is not None:
        out["Cmd"] = list(spec.command)
    if spec.entrypoint is not None:
        out["Entrypoint"] = list(spec.entrypoint) or None
    if spec.env:
        env = [e for e in out.get("Env") or [] if e.partition("=")[0] not in spec.env]
        out["Env"] = env + [f"{k}={v}" for k, v in spec.env.items()]
    if spec.working_dir:
        out["WorkingDir"] = spec.working_dir
    if spec.user:
        out["User"] = spec.user
    if spec.labels:
        out["Labels"] = {**(out.get("Labels") or {}), **spec.labels}
    if spec.stop_signal:
        out["StopSignal"] = spec.stop_signal
    exposed = [*spec.expose, *(f"{p.container_port}/{p.protocol}" for p in spec.ports)]
    if exposed:
        ports = dict(out.get("ExposedPorts") or {})
        for p in exposed:
            ports[p if "/" in p else f"{p}/tcp"] = {}
        out["ExposedPorts"] = ports
    return {k: v for k, v in out.items() if v is not None}


def commit(mgr: ContainerManager, ref: str, reference: str | None = None, *, author: str = "",
           message: str = "", changes: Sequence[str] = (), pause: bool = True) -> str:
    """A new image from container *ref*: its image's layers and one more with its changes;
    named *reference* when given. With *pause* a running container is paused while its changes
    are read (as docker's commit), so they are read whole. Returns the image id."""
    import tempfile

    from runtime.images.store import now_rfc3339

    cid, doc = mgr._find(ref)
    info = mgr._info(cid, doc)
    if info.status == "dead":  # moby's words
        raise Conflict(f"You cannot commit container {info.name} which is Dead")
    images = mgr.engine.images
    record, config = _image_of(mgr, info)
    full = commit_config(config, info.spec, cid, author=author, message=message, changes=changes,
                         created=now_rfc3339())  # the changes checked before any pause or write
    upper, _ = _layers(mgr, cid, info.name)
    tmpdir = Path(mgr.paths.root) / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    paused = pause and info.status == "running"
    if paused:
        mgr.pause(cid)
    try:
        with tempfile.NamedTemporaryFile(dir=tmpdir, prefix="commit-") as spool:
            try:
                with tarfile.open(fileobj=spool, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    write_changes(tar, upper)
            except OSError as exc:
                where = f" {exc.filename}" if exc.filename else ""
                raise EngineError(f"container {info.name}: cannot commit{where}: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None
            if paused:
                mgr.unpause(cid)
                paused = False
            spool.flush()
            base = [(str(layer["digest"]), str(layer.get("media_type") or "")) for layer in record["layers"]]
            image_id = images.add_layer(full, base, Path(spool.name), [reference] if reference else [],
                                        what=f"commit of container {info.name}")
    finally:
        if paused:
            mgr.unpause(cid)
    _log_commit(mgr, cid, doc, image_id, reference or "", message)
    return image_id


def _log_commit(mgr: ContainerManager, cid: str, doc: Mapping[str, Any], image_id: str, reference: str,
                message: str) -> None:
    """The container's "commit" event, with moby's attributes (comment, imageID, imageRef)."""
    import json

    from runtime.container_lifecycle import log_event

    extra = ",".join(f"{json.dumps(k)}:{json.dumps(v)}"
                     for k, v in (("comment", message), ("imageID", image_id), ("imageRef", reference)))
    log_event(mgr, cid, doc, "commit", extra)


def _image_of(mgr: ContainerManager, info: ContainerInfo) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """(record, full config) of the container's image, by id (its name may point elsewhere now)."""
    try:
        _, record, config = mgr.engine.images.record(info.image_id or info.image)
    except EngineError:
        raise Conflict(f"container {info.name}: its image {info.image} is gone") from None
    return record, config

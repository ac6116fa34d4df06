"""The image store's writes: import a rootfs tarball, record an image (load, pull, commit), tag,
untag, remove and prune, with the blob store's flock (shared by writers, exclusive for the garbage
collection after a removal) and the undo of a failed operation's new blobs (NewBlobs). Functions
of an ImageStore; its methods delegate here, so that resolving an image (every `container run`)
loads none of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from runtime.errors import Conflict, ImageError, InvalidSpec, NotFound
from runtime.images.blobs import BlobStore, check_digest
from runtime.images.reference import normalize_ref
from runtime.images.store import (
    MT_OCI_CONFIG,
    MT_OCI_LAYER,
    MT_OCI_MANIFEST,
    canonical_json,
    host_arch,
    now_rfc3339,
)
from runtime.spec import ImageInfo
from runtime.state import Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from runtime.images.store import ImageStore


@contextlib.contextmanager
def locked(images: ImageStore, exclusive: bool) -> Iterator[None]:
    path = images.paths.lock("images")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def import_tarball(images: ImageStore, source: str | os.PathLike[str] | BinaryIO, ref: str | None, *,
                   changes: Sequence[str] = (), message: str = "") -> ImageInfo:
    """A rootfs tarball (plain or compressed) becomes a one-layer image, as ``podman import``.

    The config gets ``Env=[PATH=...]`` (as podman) and whatever *changes* say; no Cmd unless a
    ``CMD`` change gives one. *source* may be a path or a seekable binary file.
    """
    from runtime.images.changes import DEFAULT_PATH, apply_changes
    from runtime.images.unpack import open_uncompressed

    target = normalize_ref(ref) if ref else None
    if target and "@" in target:
        raise InvalidSpec(f"cannot import as {ref!r}: a digest reference names content, not a tag")
    config = apply_changes({"Env": [DEFAULT_PATH]}, changes)
    what = f"image import {source if isinstance(source, (str, os.PathLike)) else 'stdin'}"
    with locked(images, exclusive=False), new_blobs(images) as new:
        with contextlib.ExitStack() as stack:
            if isinstance(source, (str, os.PathLike)):
                try:
                    f: BinaryIO = stack.enter_context(open(source, "rb"))
                except OSError as exc:
                    raise ImageError(f"{what}: {exc.strerror or exc}") from None
            else:
                f = source
            digest = new.put_stream(open_uncompressed(f, what))  # layers are stored uncompressed
        created = now_rfc3339()
        full = {
            "created": created,
            "architecture": host_arch(),
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [digest]},
            "history": [{"created": created,
                         "created_by": f"/bin/sh -c #(nop) ADD file:{digest[7:]} in / ",
                         **({"comment": message} if message else {})}],
        }
        refs = [target] if target else []
        image_id = commit(images, canonical_json(full), [(digest, MT_OCI_LAYER)], refs, new, what=what)
    return images.resolve(image_id)


@contextlib.contextmanager
def new_blobs(images: ImageStore) -> Iterator[NewBlobs]:
    """Track blobs written by one operation; on failure remove those that were not there before."""
    new = NewBlobs(images.blobs)
    try:
        yield new
    except BaseException:
        new.rollback()
        raise


def commit(images: ImageStore, config_bytes: bytes, layers: Sequence[tuple[str, str]], refs: Sequence[str],
           new: NewBlobs, *, what: str, manifest_bytes: bytes | None = None) -> str:
    """Unpack *layers* ((blob digest, media type), lowest first), store config and manifest,
    record the image and point *refs* at it. Returns the image id."""
    from runtime.images.unpack import unpack_layer

    try:
        cfg = json.loads(config_bytes)
        diff_ids = list(cfg["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{what}: the image config is not valid JSON with rootfs.diff_ids") from None
    if len(diff_ids) != len(layers):
        raise ImageError(f"{what}: config lists {len(diff_ids)} layers, manifest {len(layers)}")
    records, total = [], 0
    for i, ((digest, media_type), diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
        check_digest(diff_id)
        res = unpack_layer(Path(images.blobs.path(digest)), Path(images.layers_root), diff_id,
                           what=f"{what}: layer {i + 1} ({digest[:19]})")
        records.append({"digest": digest, "diff_id": diff_id, "media_type": media_type,
                        "size": images.blobs.size(digest), "unpacked_size": res.size})
        total += res.size
    image_id = new.put_bytes(config_bytes)
    if manifest_bytes is None:
        manifest_bytes = canonical_json({
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
            "layers": [{"mediaType": r["media_type"], "digest": r["digest"], "size": r["size"]}
                       for r in records],
        })
    manifest = new.put_bytes(manifest_bytes)
    doc = {"manifest": manifest, "manifest_size": len(manifest_bytes), "layers": records, "size": total,
           "created": str(cfg.get("created") or now_rfc3339()), "added": now_rfc3339()}
    with images.store.transaction() as tx:
        old = tx.get("image", image_id)
        if old is not None:
            doc["added"] = old.get("added", doc["added"])
        tx.put("image", image_id, doc)
        for ref in refs:
            tx.put("tag", ref, {"image": image_id})
    return image_id


def add_image(images: ImageStore, config_bytes: bytes, layers: Sequence[tuple[str, str]],
              refs: Sequence[str], *, what: str, manifest_bytes: bytes | None = None) -> str:
    """Record an image whose layer blobs are already in the blob store (used by load/pull)."""
    with locked(images, exclusive=False), new_blobs(images) as new:
        return commit(images, config_bytes, layers, [normalize_ref(r) for r in refs], new, what=what,
                            manifest_bytes=manifest_bytes)


def add_layer(images: ImageStore, config: dict[str, Any], base: Sequence[tuple[str, str]],
              layer: str | os.PathLike[str], refs: Sequence[str], *, what: str) -> str:
    """Record a new image: the layers *base* ((blob digest, media type), already stored) and
    the uncompressed layer tar *layer* on top, with *config* (its rootfs gets the new diff id).
    Used by commit. Returns the image id."""
    targets = [normalize_ref(r) for r in refs]
    if any("@" in t for t in targets):
        raise InvalidSpec(f"cannot name an image {refs[0]!r}: a digest reference is not a tag")
    with locked(images, exclusive=False), new_blobs(images) as new:
        with open(layer, "rb") as f:
            digest = new.put_stream(f)  # uncompressed: its digest is its diff id
        below = list((config.get("rootfs") or {}).get("diff_ids", []))
        full = {**config, "rootfs": {"type": "layers", "diff_ids": [*below, digest]}}
        layers = [*base, (digest, MT_OCI_LAYER)]
        return commit(images, canonical_json(full), layers, targets, new, what=what)


def load(images: ImageStore, path: str | os.PathLike[str]) -> list[ImageInfo]:
    """Load a docker-archive or oci-archive (plain or compressed tar). Returns the images."""
    from runtime.images.archive import load_archive

    with locked(images, exclusive=False), new_blobs(images) as new:
        ids = load_archive(images, Path(path), new)
    return [images.resolve(i) for i in ids]


def tag(images: ImageStore, src: str, dst: str) -> None:
    target = normalize_ref(dst)
    if "@" in target:
        raise InvalidSpec(f"cannot tag as {dst!r}: a digest reference is not a tag")
    with images.store.transaction() as tx:
        image_id, _, _ = images._find(tx, src)
        tx.put("tag", target, {"image": image_id})


def untag(images: ImageStore, ref: str) -> None:
    with images.store.transaction() as tx:
        name = normalize_ref(ref)
        if not tx.delete("tag", name):
            raise NotFound(f"image {ref!r} not found")


def remove(images: ImageStore, ref: str, force: bool = False) -> list[str]:
    """Remove an image (as ``podman rmi``). A name of an image with several names only untags;
    its id removes every name, but only with *force* when it has several.

    Refuses while a container uses the image; with *force* the image loses its names but
    stays (its layers back the container) until no container uses it.
    Returns report lines: ``Untagged: REF`` and ``Deleted: ID``.
    """
    lines: list[str] = []
    with locked(images, exclusive=True):
        with images.store.transaction() as tx:
            image_id, _, tag = images._find(tx, ref)
            refs = images._refs(tx, image_id)
            if tag is not None and len(refs) > 1:
                tx.delete("tag", tag)
                return [f"Untagged: {tag}"]
            if tag is None and len(refs) > 1 and not force:
                raise Conflict(f"image {ref!r} has several names ({', '.join(refs)}); "
                               "remove them one by one or force")
            users = _users(tx, image_id)
            if users and not force:
                raise Conflict(f"image {ref!r} is in use by container(s) {', '.join(users)}")
            for r in refs:
                tx.delete("tag", r)
                lines.append(f"Untagged: {r}")
            if not users:
                tx.delete("image", image_id)
                lines.append(f"Deleted: {image_id}")
        _gc(images)
    return lines


def prune(images: ImageStore, all: bool = False) -> list[str]:
    """Remove images without names (with *all*: every image) that no container uses."""
    removed: list[str] = []
    with locked(images, exclusive=True):
        with images.store.transaction() as tx:
            tagged = {d.get("image") for _, d in tx.list("tag")}
            for image_id, _ in tx.list("image"):
                if (all or image_id not in tagged) and not _users(tx, image_id):
                    for t, d in tx.list("tag"):
                        if d.get("image") == image_id:
                            tx.delete("tag", t)
                    tx.delete("image", image_id)
                    removed.append(image_id)
        _gc(images)
    return removed


def _gc(images: ImageStore) -> None:
    """Delete blobs and layer dirs no image references. Caller holds the exclusive lock."""
    keep_blobs, keep_layers = set(), set()
    for image_id, doc in images.store.read().list("image"):
        keep_blobs.update([image_id, doc.get("manifest", "")])
        for layer in doc.get("layers", []):
            keep_blobs.add(layer["digest"])
            keep_layers.add(layer["diff_id"].removeprefix("sha256:"))
    blobs, layers = Path(images.paths.blobs), Path(images.layers_root)
    if blobs.is_dir():
        for p in blobs.iterdir():
            if p.name.startswith(".tmp-") or "sha256:" + p.name not in keep_blobs:
                p.unlink(missing_ok=True)
    if layers.is_dir():
        import shutil  # here: `container run` resolves images, and shutil imports bz2, lzma (3 ms)

        for p in layers.iterdir():
            if p.name.startswith(".tmp-") or p.name not in keep_layers:
                shutil.rmtree(p, ignore_errors=True)


def spool(images: ImageStore, src: BinaryIO) -> str:
    """Copy a non-seekable stream (stdin) to a temporary file under the root; caller unlinks."""
    tmpdir = f"{images.paths.root}/tmp"
    os.makedirs(tmpdir, exist_ok=True)
    import shutil
    import tempfile

    fd, name = tempfile.mkstemp(prefix="spool-", dir=tmpdir)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return name


class NewBlobs:
    """Blob writes of one operation, undone on failure (only blobs that were not there before)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self.added: list[str] = []

    def put_stream(self, src: BinaryIO, expected: str | None = None) -> str:
        digest, _, is_new = self.blobs.put_stream(src, expected)
        if is_new:
            self.added.append(digest)
        return digest

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        from runtime.images.blobs import sha256_bytes

        digest = sha256_bytes(data)
        if not self.blobs.has(digest):
            self.added.append(digest)
        self.blobs.put_bytes(data, expected)
        return digest

    def rollback(self) -> None:
        for d in self.added:
            self.blobs.remove(d)


def _users(tx: Tx, image_id: str) -> list[str]:
    """Names (or ids) of the containers whose record says they use *image_id*."""
    hexid = image_id.removeprefix("sha256:")
    out = []
    for cid, doc in tx.list("container"):
        used = str(doc.get("image_id", "")).removeprefix("sha256:")
        if used and used == hexid:
            out.append(str(doc.get("name") or cid[:12]))
    return out

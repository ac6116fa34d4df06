"""ImageStore: the runtime's local images (OCI blob store, unpacked layers, records in state).

Layout under the runtime root: ``blobs/sha256/<hex>`` (manifests, configs, layer tars),
``layers/<diff-id hex>/`` (each layer unpacked once, an overlay lower dir). In state, an image is
a row of kind "image" (id = config digest) and each name a row of kind "tag" (id = normalised
reference, data {"image": id}).

Writers of blobs and layers hold a shared flock; garbage collection after a removal holds it
exclusively, so it never deletes a blob or layer that an import in progress has just written.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from runtime.errors import Conflict, ImageError, InvalidSpec, NotFound
from runtime.images.blobs import BlobStore, check_digest
from runtime.images.reference import is_image_id, is_short_name, normalize_ref
from runtime.paths import Paths
from runtime.spec import ImageInfo
from runtime.state import Doc, Store, Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Final

# changes (shlex), unpack (tarfile), datetime and tempfile are imported by the operations that add
# images: resolving one, which every `container run` does, needs none of them (FINDINGS F5).

MT_OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"

_ARCH: Final = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
                "s390x": "s390x", "riscv64": "riscv64"}


def host_arch() -> str:
    m = os.uname().machine  # what platform.machine() returns, without importing platform
    return _ARCH.get(m, m)


def now_rfc3339() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class ImageStore:
    """Local images. Every method is safe to call from several processes at once."""

    def __init__(self, paths: Paths, store: Store) -> None:
        self.paths = paths
        self.store = store
        self.blobs = BlobStore(paths.blobs)
        self.layers_root = paths.layers

    # ---- lookup ------------------------------------------------------------------------------

    def normalize_ref(self, ref: str) -> str:
        return normalize_ref(ref)

    def resolve(self, ref: str) -> ImageInfo:
        """The image named by *ref*: a name (normalised), a full or short id, or a digest reference.

        Raises:
            NotFound: no such image.
            Conflict: a short id that matches several images.
        """
        tx = self.store.read()
        image_id, doc, _ = self._find(tx, ref)
        return self._info(tx, image_id, doc)

    def list(self) -> builtins.list[ImageInfo]:
        """Every image, newest first."""
        tx = self.store.read()
        infos = [self._info(tx, i, d) for i, d in tx.list("image")]
        return sorted(infos, key=lambda i: i.created, reverse=True)

    def record(self, ref: str) -> tuple[ImageInfo, Doc, dict[str, Any]]:
        """(info, state record, full OCI image config) of an image: what ``image inspect`` shows."""
        tx = self.store.read()
        image_id, doc, _ = self._find(tx, ref)
        return self._info(tx, image_id, doc), doc, json.loads(self.blobs.read(image_id))

    def _find(self, tx: Tx, ref: str) -> tuple[str, Doc, str | None]:
        """(image id, record, matched tag or None)."""
        ref = ref.strip()
        if not ref:
            raise InvalidSpec("empty image reference")
        if not ref.startswith("sha256:"):
            try:
                name = normalize_ref(ref)
            except InvalidSpec:
                if not is_image_id(ref):
                    raise
                name = ""
            candidates = [name] if name else []
            if name and is_short_name(ref):
                candidates.append(normalize_ref("localhost/" + ref))
            for cand in candidates:
                tag = tx.get("tag", cand)
                if tag is not None:
                    doc = tx.get("image", tag["image"])
                    if doc is not None:
                        return tag["image"], doc, cand
            if name and "@" in name:
                digest = name.split("@", 1)[1]
                for image_id, doc in tx.list("image"):
                    if doc.get("manifest") == digest:
                        return image_id, doc, None
        if is_image_id(ref):
            hexpart = ref.removeprefix("sha256:")
            rows = tx.list("image", "sha256:" + hexpart)
            if len(rows) == 1:
                return rows[0][0], rows[0][1], None
            if len(rows) > 1:
                raise Conflict(f"image id {ref!r} is ambiguous: it matches {len(rows)} images")
        raise NotFound(f"image {ref!r} not found")

    def _refs(self, tx: Tx, image_id: str) -> tuple[str, ...]:
        return tuple(sorted(t for t, d in tx.list("tag") if d.get("image") == image_id))

    def _info(self, tx: Tx, image_id: str, doc: Doc) -> ImageInfo:
        cfg = json.loads(self.blobs.read(image_id))
        diff_ids = tuple(layer["diff_id"] for layer in doc["layers"])
        return ImageInfo(
            id=image_id,
            refs=self._refs(tx, image_id),
            config=cfg.get("config") or {},
            layers=diff_ids,
            layer_dirs=tuple(str(self.layers_root / d.removeprefix("sha256:")) for d in diff_ids),
            size=int(doc.get("size", 0)),
            created=str(cfg.get("created") or doc.get("created", "")),
        )

    # ---- adding images -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        path = self.paths.lock("images")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def import_tarball(self, source: Path | str | BinaryIO, ref: str | None, *, changes: Sequence[str] = (),
                       message: str = "") -> ImageInfo:
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
        what = f"image import {source if isinstance(source, (str, Path)) else 'stdin'}"
        with self._lock(exclusive=False), self._new_blobs() as new:
            with contextlib.ExitStack() as stack:
                if isinstance(source, (str, Path)):
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
            image_id = self._commit(canonical_json(full), [(digest, MT_OCI_LAYER)], refs, new, what=what)
        return self.resolve(image_id)

    @contextlib.contextmanager
    def _new_blobs(self) -> Iterator[_NewBlobs]:
        """Track blobs written by one operation; on failure remove those that were not there before."""
        new = _NewBlobs(self.blobs)
        try:
            yield new
        except BaseException:
            new.rollback()
            raise

    def _commit(self, config_bytes: bytes, layers: Sequence[tuple[str, str]], refs: Sequence[str],
                new: _NewBlobs, *, what: str, manifest_bytes: bytes | None = None) -> str:
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
            res = unpack_layer(self.blobs.path(digest), self.layers_root, diff_id,
                               what=f"{what}: layer {i + 1} ({digest[:19]})")
            records.append({"digest": digest, "diff_id": diff_id, "media_type": media_type,
                            "size": self.blobs.size(digest), "unpacked_size": res.size})
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
        with self.store.transaction() as tx:
            old = tx.get("image", image_id)
            if old is not None:
                doc["added"] = old.get("added", doc["added"])
            tx.put("image", image_id, doc)
            for ref in refs:
                tx.put("tag", ref, {"image": image_id})
        return image_id

    def add_image(self, config_bytes: bytes, layers: Sequence[tuple[str, str]], refs: Sequence[str], *,
                  what: str, manifest_bytes: bytes | None = None) -> str:
        """Record an image whose layer blobs are already in the blob store (used by load/pull)."""
        with self._lock(exclusive=False), self._new_blobs() as new:
            return self._commit(config_bytes, layers, [normalize_ref(r) for r in refs], new, what=what,
                                manifest_bytes=manifest_bytes)

    def add_layer(self, config: dict[str, Any], base: Sequence[tuple[str, str]], layer: Path,
                  refs: Sequence[str], *, what: str) -> str:
        """Record a new image: the layers *base* ((blob digest, media type), already stored) and
        the uncompressed layer tar *layer* on top, with *config* (its rootfs gets the new diff id).
        Used by commit. Returns the image id."""
        targets = [normalize_ref(r) for r in refs]
        if any("@" in t for t in targets):
            raise InvalidSpec(f"cannot name an image {refs[0]!r}: a digest reference is not a tag")
        with self._lock(exclusive=False), self._new_blobs() as new:
            with open(layer, "rb") as f:
                digest = new.put_stream(f)  # uncompressed: its digest is its diff id
            below = list((config.get("rootfs") or {}).get("diff_ids", []))
            full = {**config, "rootfs": {"type": "layers", "diff_ids": [*below, digest]}}
            layers = [*base, (digest, MT_OCI_LAYER)]
            return self._commit(canonical_json(full), layers, targets, new, what=what)

    # ---- archives ----------------------------------------------------------------------------

    def load(self, path: Path | str) -> builtins.list[ImageInfo]:
        """Load a docker-archive or oci-archive (plain or compressed tar). Returns the images."""
        from runtime.images.archive import load_archive

        with self._lock(exclusive=False), self._new_blobs() as new:
            ids = load_archive(self, Path(path), new)
        return [self.resolve(i) for i in ids]

    def save(self, refs: Sequence[str], path: Path | str, fmt: str = "docker-archive") -> None:
        """Write the images named by *refs* to *path* as a docker-archive or an oci-archive."""
        from runtime.images.archive import save_archive

        if fmt not in ("docker-archive", "oci-archive"):
            raise InvalidSpec(f"unknown archive format {fmt!r}; expected docker-archive or oci-archive")
        if not refs:
            raise InvalidSpec("image save needs at least one image")
        tx = self.store.read()
        chosen = []
        for ref in refs:
            image_id, doc, tag = self._find(tx, ref)
            chosen.append((image_id, doc, [tag] if tag else list(self._refs(tx, image_id))))
        save_archive(self, chosen, Path(path), fmt)

    # ---- registries ---------------------------------------------------------------------------

    def pull(self, ref: str, *, tls_verify: bool | None = None, arch: str | None = None,
             progress: Callable[[str], None] | None = None) -> ImageInfo:
        """Pull *ref* from its registry (OCI distribution API). Loopback registries default to HTTP."""
        from runtime.images.registry import pull

        return self.resolve(pull(self, ref, tls_verify=tls_verify, arch=arch, progress=progress))

    def push(self, src: str, dest: str | None = None, *, tls_verify: bool | None = None,
             progress: Callable[[str], None] | None = None) -> str:
        """Push a local image to *dest* (default: its name); returns the manifest digest."""
        from runtime.images.registry import push

        return push(self, src, dest, tls_verify=tls_verify, progress=progress)

    # ---- names and removal -------------------------------------------------------------------

    def tag(self, src: str, dst: str) -> None:
        target = normalize_ref(dst)
        if "@" in target:
            raise InvalidSpec(f"cannot tag as {dst!r}: a digest reference is not a tag")
        with self.store.transaction() as tx:
            image_id, _, _ = self._find(tx, src)
            tx.put("tag", target, {"image": image_id})

    def untag(self, ref: str) -> None:
        with self.store.transaction() as tx:
            name = normalize_ref(ref)
            if not tx.delete("tag", name):
                raise NotFound(f"image {ref!r} not found")

    def remove(self, ref: str, force: bool = False) -> builtins.list[str]:
        """Remove an image (as ``podman rmi``). A name of an image with several names only untags;
        its id removes every name, but only with *force* when it has several.

        Refuses while a container uses the image; with *force* the image loses its names but
        stays (its layers back the container) until no container uses it.
        Returns report lines: ``Untagged: REF`` and ``Deleted: ID``.
        """
        lines: builtins.list[str] = []
        with self._lock(exclusive=True):
            with self.store.transaction() as tx:
                image_id, _, tag = self._find(tx, ref)
                refs = self._refs(tx, image_id)
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
            self._gc()
        return lines

    def prune(self, all: bool = False) -> builtins.list[str]:
        """Remove images without names (with *all*: every image) that no container uses."""
        removed: builtins.list[str] = []
        with self._lock(exclusive=True):
            with self.store.transaction() as tx:
                tagged = {d.get("image") for _, d in tx.list("tag")}
                for image_id, _ in tx.list("image"):
                    if (all or image_id not in tagged) and not _users(tx, image_id):
                        for t, d in tx.list("tag"):
                            if d.get("image") == image_id:
                                tx.delete("tag", t)
                        tx.delete("image", image_id)
                        removed.append(image_id)
            self._gc()
        return removed

    def _gc(self) -> None:
        """Delete blobs and layer dirs no image references. Caller holds the exclusive lock."""
        keep_blobs, keep_layers = set(), set()
        for image_id, doc in self.store.read().list("image"):
            keep_blobs.update([image_id, doc.get("manifest", "")])
            for layer in doc.get("layers", []):
                keep_blobs.add(layer["digest"])
                keep_layers.add(layer["diff_id"].removeprefix("sha256:"))
        if self.paths.blobs.is_dir():
            for p in self.paths.blobs.iterdir():
                if p.name.startswith(".tmp-") or "sha256:" + p.name not in keep_blobs:
                    p.unlink(missing_ok=True)
        if self.layers_root.is_dir():
            import shutil  # here: `container run` resolves images, and shutil imports bz2, lzma (3 ms)

            for p in self.layers_root.iterdir():
                if p.name.startswith(".tmp-") or p.name not in keep_layers:
                    shutil.rmtree(p, ignore_errors=True)

    def spool(self, src: BinaryIO) -> Path:
        """Copy a non-seekable stream (stdin) to a temporary file under the root; caller unlinks."""
        tmpdir = self.paths.root / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        import shutil
        import tempfile

        fd, name = tempfile.mkstemp(prefix="spool-", dir=tmpdir)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return Path(name)


class _NewBlobs:
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


def _users(tx: Tx, image_id: str) -> builtins.list[str]:
    """Names (or ids) of the containers whose record says they use *image_id*."""
    hexid = image_id.removeprefix("sha256:")
    out = []
    for cid, doc in tx.list("container"):
        used = str(doc.get("image_id", "")).removeprefix("sha256:")
        if used and used == hexid:
            out.append(str(doc.get("name") or cid[:12]))
    return out


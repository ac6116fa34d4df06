"""ImageStore: the runtime's local images (OCI blob store, unpacked layers, records in state).

Layout under the runtime root: ``blobs/sha256/<hex>`` (manifests, configs, layer tars),
``layers/<diff-id hex>/`` (each layer unpacked once, an overlay lower dir). In state, an image is
a row of kind "image" (id = config digest) and each name a row of kind "tag" (id = normalised
reference, data {"image": id}).

Writers of blobs and layers hold a shared flock; garbage collection after a removal holds it
exclusively, so it never deletes a blob or layer that an import in progress has just written.
Those writes (import, load, pull's and commit's records, tag, untag, remove, prune) are
runtime/images/writes.py, which the methods of the same names delegate to: this module is the
lookup every `container run` makes.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Sequence

from runtime.errors import Conflict, InvalidSpec, NotFound
from runtime.images.blobs import BlobStore
from runtime.images.reference import is_image_id, is_short_name, normalize_ref
from runtime.json_accel import dumps, loads
from runtime.paths import Paths
from runtime.spec import ImageInfo
from runtime.state import Doc, Store, Tx

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from os import PathLike
    from typing import Any, BinaryIO, Final

# changes (shlex), unpack (tarfile), datetime and tempfile are imported by the operations that add
# images (writes.py): resolving one, which every `container run` does, needs none of them (F5).

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
    return dumps(obj, separators=(",", ":"), sort_keys=True).encode()


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
        return self._info(tx, image_id, doc), doc, loads(self.blobs.read(image_id))

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
        cfg = loads(self.blobs.read(image_id))
        diff_ids = tuple(layer["diff_id"] for layer in doc["layers"])
        return ImageInfo(
            id=image_id,
            refs=self._refs(tx, image_id),
            config=cfg.get("config") or {},
            layers=diff_ids,
            layer_dirs=tuple(f"{self.layers_root}/{d.removeprefix('sha256:')}" for d in diff_ids),
            size=int(doc.get("size", 0)),
            created=str(cfg.get("created") or doc.get("created", "")),
        )

    # ---- adding images: runtime/images/writes.py -----------------------------------------------

    def import_tarball(self, source: str | PathLike[str] | BinaryIO, ref: str | None, *,
                       changes: Sequence[str] = (), message: str = "") -> ImageInfo:
        """A rootfs tarball (plain or compressed) becomes a one-layer image, as ``podman import``."""
        from runtime.images import writes

        return writes.import_tarball(self, source, ref, changes=changes, message=message)

    def add_image(self, config_bytes: bytes, layers: Sequence[tuple[str, str]], refs: Sequence[str], *,
                  what: str, manifest_bytes: bytes | None = None) -> str:
        """Record an image whose layer blobs are already in the blob store (used by load/pull)."""
        from runtime.images import writes

        return writes.add_image(self, config_bytes, layers, refs, what=what, manifest_bytes=manifest_bytes)

    def add_layer(self, config: dict[str, Any], base: Sequence[tuple[str, str]], layer: str | PathLike[str],
                  refs: Sequence[str], *, what: str) -> str:
        """Record a new image: the layers *base* and the layer tar *layer* on top (commit)."""
        from runtime.images import writes

        return writes.add_layer(self, config, base, layer, refs, what=what)

    # ---- archives ----------------------------------------------------------------------------

    def load(self, path: str | PathLike[str]) -> builtins.list[ImageInfo]:
        """Load a docker-archive or oci-archive (plain or compressed tar). Returns the images."""
        from runtime.images import writes

        return writes.load(self, path)

    def save(self, refs: Sequence[str], path: str | PathLike[str], fmt: str = "docker-archive") -> None:
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
        save_archive(self, chosen, path, fmt)

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

    # ---- names and removal: runtime/images/writes.py -------------------------------------------

    def tag(self, src: str, dst: str) -> None:
        from runtime.images import writes

        writes.tag(self, src, dst)

    def untag(self, ref: str) -> None:
        from runtime.images import writes

        writes.untag(self, ref)

    def remove(self, ref: str, force: bool = False) -> builtins.list[str]:
        """Remove an image (as ``podman rmi``); its report lines (``Untagged: REF``, ``Deleted: ID``)."""
        from runtime.images import writes

        return writes.remove(self, ref, force)

    def prune(self, all: bool = False) -> builtins.list[str]:
        """Remove images without names (with *all*: every image) that no container uses."""
        from runtime.images import writes

        return writes.prune(self, all)

    def spool(self, src: BinaryIO) -> str:
        """Copy a non-seekable stream (stdin) to a temporary file under the root; caller unlinks."""
        from runtime.images import writes

        return writes.spool(self, src)

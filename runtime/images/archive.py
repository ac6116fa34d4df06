"""docker-archive and oci-archive: load into and save from the image store.

docker-archive (``docker save``/``podman save``): manifest.json ([{Config, RepoTags, Layers}]),
repositories, the config JSON and one tar per layer. oci-archive: an OCI image layout (oci-layout,
index.json, blobs/sha256/<hex>) in a tar. Every blob is hashed on its way into the store and layers
are checked against the config's diff ids, so a tampered archive is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from runtime.errors import ImageError, InvalidSpec
from runtime.images.blobs import check_digest, sha256_bytes
from runtime.images.reference import normalize_ref
from runtime.images.store import (
    MT_DOCKER_LIST,
    MT_OCI_CONFIG,
    MT_OCI_INDEX,
    MT_OCI_LAYER,
    MT_OCI_LAYER_GZIP,
    MT_OCI_MANIFEST,
    canonical_json,
    host_arch,
)
from runtime.images.unpack import compression_of, open_uncompressed
from runtime.images.writes import commit
from runtime.state import Doc

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command

if TYPE_CHECKING:
    from typing import IO, Any

    from runtime.images.store import ImageStore
    from runtime.images.writes import NewBlobs

_REF_NAME = "org.opencontainers.image.ref.name"
_CONTAINERD_NAME = "io.containerd.image.name"


def _norm(name: str) -> str:
    return str(PurePosixPath("/" + name.lstrip("./")).relative_to("/")) if name.strip("./") else "."


class _Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tf = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by load_archive
        except FileNotFoundError:
            raise ImageError(f"archive {str(path)!r} does not exist") from None
        except (tarfile.TarError, OSError) as exc:
            raise ImageError(f"archive {str(path)!r} is not a tar archive: {exc}") from None
        self.members = {_norm(m.name): m for m in self.tf.getmembers()}

    def open(self, name: str) -> IO[bytes]:
        m = self.members.get(_norm(name))
        f = self.tf.extractfile(m) if m is not None else None
        if f is None:
            raise ImageError(f"archive {str(self.path)!r}: {name!r} is missing or not a file")
        return f

    def read(self, name: str) -> bytes:
        with self.open(name) as f:
            return f.read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError:
            raise ImageError(f"archive {str(self.path)!r}: {name!r} is not valid JSON") from None


def _media_type(store: ImageStore, digest: str) -> str:
    with open(store.blobs.path(digest), "rb") as f:
        return MT_OCI_LAYER_GZIP if compression_of(f.read(6)) == "gzip" else MT_OCI_LAYER


def load_archive(store: ImageStore, path: Path, new: NewBlobs) -> list[str]:
    """Load every image of the archive at *path*; returns their ids. Caller holds the shared lock."""
    arc = _Archive(path)
    with arc.tf:
        if "manifest.json" in arc.members:
            return _load_docker(store, arc, new)
        if "index.json" in arc.members:
            return _load_oci(store, arc, new)
    raise ImageError(f"archive {str(path)!r} is neither a docker-archive (manifest.json) "
                     "nor an oci-archive (index.json)")


def _load_docker(store: ImageStore, arc: _Archive, new: NewBlobs) -> list[str]:
    entries = arc.json("manifest.json")
    if not isinstance(entries, list):
        raise ImageError(f"archive {str(arc.path)!r}: manifest.json is not a list")
    ids = []
    for entry in entries:
        what = f"archive {str(arc.path)!r}"
        config_bytes = arc.read(entry["Config"])
        layers = []
        for name in entry.get("Layers") or []:
            with arc.open(name) as f:
                digest = new.put_stream(f)  # type: ignore[arg-type]
            layers.append((digest, _media_type(store, digest)))
        refs = [normalize_ref(r) for r in entry.get("RepoTags") or []]
        ids.append(commit(store, config_bytes, layers, refs, new, what=what))
    return list(dict.fromkeys(ids))


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + check_digest(digest)


def _read_blob(arc: _Archive, desc: Doc) -> bytes:
    data = arc.read(_blob_name(desc["digest"]))
    if sha256_bytes(data) != desc["digest"]:
        raise ImageError(f"archive {str(arc.path)!r}: blob {desc['digest']} does not match its digest")
    return data


def _pick_platform(arc: _Archive, index: Doc) -> Doc:
    manifests = index.get("manifests") or []
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture") == host_arch():
            return dict(m)
    raise ImageError(f"archive {str(arc.path)!r}: no image for linux/{host_arch()} in the manifest list")


def _load_oci(store: ImageStore, arc: _Archive, new: NewBlobs) -> list[str]:
    index = arc.json("index.json")
    by_manifest: dict[str, tuple[Doc, list[str]]] = {}
    for desc in index.get("manifests") or []:
        ann = desc.get("annotations") or {}
        name = ann.get(_CONTAINERD_NAME) or ann.get(_REF_NAME) or ""
        while desc.get("mediaType") in (MT_OCI_INDEX, MT_DOCKER_LIST):
            desc = _pick_platform(arc, json.loads(_read_blob(arc, desc)))
        _, refs = by_manifest.setdefault(desc["digest"], (desc, []))
        if name and ("/" in name or ":" in name):  # a bare tag names no repository: leave it unnamed
            refs.append(normalize_ref(name))
    ids = []
    for digest, (desc, refs) in by_manifest.items():
        what = f"archive {str(arc.path)!r}: image {digest[:19]}"
        manifest_bytes = _read_blob(arc, desc)
        manifest = json.loads(manifest_bytes)
        config_bytes = _read_blob(arc, manifest["config"])
        layers = []
        for layer in manifest.get("layers") or []:
            with arc.open(_blob_name(layer["digest"])) as f:
                got = new.put_stream(f, layer["digest"])  # type: ignore[arg-type]
            mt = layer.get("mediaType", MT_OCI_LAYER)
            if "zstd" in mt:
                raise ImageError(f"{what}: zstd-compressed layers are not supported")
            layers.append((got, _media_type(store, got)))
        ids.append(commit(store, config_bytes, layers, refs, new, what=what, manifest_bytes=manifest_bytes))
    return list(dict.fromkeys(ids))


# ---- save ------------------------------------------------------------------------------------

def save_archive(store: ImageStore, chosen: Sequence[tuple[str, Doc, list[str]]],
                 dest: str | os.PathLike[str], fmt: str) -> None:
    """Write (image id, record, refs) triples to *path* atomically (temp file, then rename)."""
    merged: dict[str, tuple[str, Doc, list[str]]] = {}
    for image_id, doc, refs in chosen:  # one entry per image, with every name asked for
        _, _, names = merged.setdefault(image_id, (image_id, doc, []))
        names.extend(r for r in refs if r not in names)
    images = list(merged.values())
    path = Path(dest).absolute()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
            if fmt == "docker-archive":
                _save_docker(store, images, out)
            elif fmt == "oci-archive":
                _save_oci(store, images, out)
            else:
                raise InvalidSpec(f"unknown archive format {fmt!r}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_bytes(out: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), 0o644
    out.addfile(ti, io.BytesIO(data))


def _add_file(out: tarfile.TarFile, name: str, path: str) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = os.stat(path).st_size, 0o644
    with open(path, "rb") as f:
        out.addfile(ti, f)


def _save_docker(store: ImageStore, images: Sequence[tuple[str, Doc, list[str]]],
                 out: tarfile.TarFile) -> None:
    manifest: list[Doc] = []
    repositories: dict[str, dict[str, str]] = {}
    added: set[str] = set()
    for image_id, doc, refs in images:
        hexid = image_id.removeprefix("sha256:")
        if f"{hexid}.json" not in added:
            _add_bytes(out, f"{hexid}.json", store.blobs.read(image_id))
            added.add(f"{hexid}.json")
        layer_names = []
        for layer in doc["layers"]:
            name = f"{layer['diff_id'].removeprefix('sha256:')}/layer.tar"
            layer_names.append(name)
            if name in added:
                continue
            added.add(name)
            blob = store.blobs.path(layer["digest"])
            if layer["digest"] == layer["diff_id"]:
                _add_file(out, name, blob)
                continue
            with tempfile.TemporaryFile() as plain, open(blob, "rb") as f:  # docker-archive layers are plain
                shutil.copyfileobj(open_uncompressed(f, name), plain, 1 << 20)
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = plain.tell(), 0o644
                plain.seek(0)
                out.addfile(ti, plain)
        tags = [r for r in refs if "@" not in r]
        manifest.append({"Config": f"{hexid}.json", "RepoTags": tags, "Layers": layer_names})
        for r in tags:
            repo, _, tag = r.rpartition(":")
            repositories.setdefault(repo, {})[tag] = layer_names[-1].split("/")[0] if layer_names else ""
    _add_bytes(out, "manifest.json", json.dumps(manifest).encode())
    _add_bytes(out, "repositories", json.dumps(repositories).encode())


def _save_oci(store: ImageStore, images: Sequence[tuple[str, Doc, list[str]]], out: tarfile.TarFile) -> None:
    _add_bytes(out, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
    added: set[str] = set()
    descriptors = []

    def blob(digest: str) -> None:
        if digest not in added:
            added.add(digest)
            _add_file(out, _blob_name(digest), store.blobs.path(digest))

    for image_id, doc, refs in images:
        mdigest = doc["manifest"]
        manifest = json.loads(store.blobs.read(mdigest))
        blob(image_id)
        for layer in doc["layers"]:
            blob(layer["digest"])
        blob(mdigest)
        base = {"mediaType": manifest.get("mediaType", MT_OCI_MANIFEST), "digest": mdigest,
                "size": store.blobs.size(mdigest)}
        names = [r for r in refs if "@" not in r]
        for r in names or [""]:
            descriptors.append({**base, **({"annotations": {_REF_NAME: r}} if r else {})})
    _add_bytes(out, "index.json", canonical_json({"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                                                  "manifests": descriptors}))


__all__ = ["MT_OCI_CONFIG", "load_archive", "save_archive"]

"""The OCI blob store: root/blobs/sha256/<hex>, content-addressed, written by rename.

A blob is first streamed into a temporary file beside its final place while it is hashed; it is
renamed into place only when the digest is right, so a reader never sees a partial blob and a
crash leaves only a temporary file (named ``.tmp-*``, swept by gc).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from runtime.errors import ImageError
from runtime.images.reference import HEX

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import BinaryIO, Final

# hashlib (OpenSSL) and tempfile (random) are imported where a blob is written: reading an image to
# run a container needs neither, ~6 ms CPU of `container run` (FINDINGS F16).

CHUNK: Final = 1 << 20


def check_digest(digest: str) -> str:
    """Return the hex part of a sha256 digest. Raises ImageError for anything else."""
    if len(digest) != 71 or not digest.startswith("sha256:") or digest[7:].strip(HEX):  # no regex to compile
        raise ImageError(f"unsupported or malformed digest {digest!r}; expected sha256:<64 hex>")
    return digest[7:]


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = root  # .../blobs/sha256

    def path(self, digest: str) -> str:
        return f"{self.root}/{check_digest(digest)}"

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the store") from None

    def size(self, digest: str) -> int:
        return os.stat(self.path(digest)).st_size

    def put_bytes(self, data: bytes, expected: str | None = None) -> tuple[str, int]:
        """Store *data*; returns (digest, size). Raises ImageError when *expected* does not match."""
        digest = sha256_bytes(data)
        if expected is not None and expected != digest:
            raise ImageError(f"blob digest mismatch: expected {expected}, got {digest}")
        if not self.has(digest):
            self._commit(digest, lambda f: f.write(data))
        return digest, len(data)

    def put_stream(self, src: BinaryIO, expected: str | None = None) -> tuple[str, int, bool]:
        """Copy *src* to the store while hashing it; returns (digest, size, whether it is new)."""
        import hashlib
        import tempfile

        os.makedirs(self.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as f:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
            digest = "sha256:" + h.hexdigest()
            if expected is not None and expected != digest:
                raise ImageError(f"blob digest mismatch: expected {expected}, got {digest}")
            final = f"{self.root}/{digest[7:]}"
            if os.path.exists(final):
                _unlink(tmp)
                return digest, size, False
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)  # same content either way: a race is harmless
        except BaseException:
            _unlink(tmp)
            raise
        return digest, size, True

    def _commit(self, digest: str, write: object) -> None:
        import tempfile

        os.makedirs(self.root, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)  # type: ignore[operator]
            os.chmod(tmp, 0o644)
            os.replace(tmp, f"{self.root}/{digest[7:]}")
        except BaseException:
            _unlink(tmp)
            raise

    def remove(self, digest: str) -> None:
        _unlink(self.path(digest))

    def digests(self) -> Iterator[str]:
        if os.path.isdir(self.root):
            for name in os.listdir(self.root):
                if not name.startswith("."):
                    yield "sha256:" + name


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

"""sha256 for the short inputs of a container's set-up (cgroup, nft table and veth names, the
seccomp cache key), without hashlib.

``import hashlib`` loads OpenSSL's libcrypto: ~4 ms CPU of every `container run` (FINDINGS F16)
to hash a few hundred bytes. CPython's own sha256 (hashlib's fallback) gives the same digests.
Streams of blobs and layers keep hashlib: OpenSSL is faster per byte.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from hashlib import sha256 as sha256
else:
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:  # 3.12+ name, else whatever hashlib has
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256

__all__ = ["sha256"]

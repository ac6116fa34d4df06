"""The runtime's image store: OCI blobs, layers unpacked once, import/load/save, names."""

from runtime.images.reference import normalize_ref, parse_ref
from runtime.images.store import ImageStore

__all__ = ["ImageStore", "normalize_ref", "parse_ref"]

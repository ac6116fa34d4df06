"""Image references normalised as docker does (distribution/reference grammar). Pure functions.

``busybox`` -> ``docker.io/library/busybox:latest``; ``localhost/x`` -> ``localhost/x:latest``;
``name@sha256:<hex>`` keeps its digest (and no ``:latest`` is added).
"""

from __future__ import annotations

import re

from runtime.errors import InvalidSpec
from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Final

DEFAULT_DOMAIN: Final = "docker.io"
_COMPONENT: Final = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN: Final = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
    r"(?::[0-9]+)?"
)
_TAG: Final = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST: Final = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
ID_RE: Final = re.compile(r"(?:sha256:)?[a-f0-9]{1,64}")


@record(kw_only=False)
class Reference:
    domain: str      # "docker.io", "localhost", "127.0.0.1:5000"
    path: str        # "library/busybox"
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.repository
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def parse_ref(ref: str) -> Reference:
    """Parse and normalise *ref*; a missing tag (and digest) becomes ``latest``.

    Raises:
        InvalidSpec: *ref* is not a valid image reference.
    """

    def bad(why: str) -> InvalidSpec:
        return InvalidSpec(f"invalid image reference {ref!r}: {why}")

    if not ref or ref != ref.strip():
        raise bad("empty or surrounded by spaces")
    name, digest = ref, None
    if "@" in ref:
        name, digest = ref.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise bad(f"bad digest {digest!r}")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise bad(f"bad tag {tag!r}")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        domain, rest = first, parts[1:]
        if not _DOMAIN.fullmatch(domain):
            raise bad(f"bad registry {domain!r}")
    else:
        domain, rest = DEFAULT_DOMAIN, parts
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and len(rest) == 1:
        rest = ["library", *rest]
    for comp in rest:
        if not _COMPONENT.fullmatch(comp):
            if comp.lower() != comp:
                raise bad("repository name must be lowercase")
            raise bad(f"bad path component {comp!r}")
    path = "/".join(rest)
    if len(domain) + 1 + len(path) > 255:
        raise bad("name longer than 255 characters")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def normalize_ref(ref: str) -> str:
    """The canonical form of *ref* (see the module docstring). Raises InvalidSpec when malformed."""
    return str(parse_ref(ref))


def is_short_name(ref: str) -> bool:
    """True when *ref* names no registry (``busybox``, ``user/app:1``): it may match a local image."""
    first, sep, _ = ref.partition("/")
    return not sep or not ("." in first or ":" in first or first == "localhost")

"""Image references normalised as docker does (distribution/reference grammar). Pure functions.

``busybox`` -> ``docker.io/library/busybox:latest``; ``localhost/x`` -> ``localhost/x:latest``;
``name@sha256:<hex>`` keeps its digest (and no ``:latest`` is added).
"""

from __future__ import annotations

from runtime.errors import InvalidSpec
from runtime.record import record

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    import re
    from typing import Final

DEFAULT_DOMAIN: Final = "docker.io"
# The grammar's patterns, compiled at their first use (~1 ms CPU of every `container run` at import
# otherwise, and re with enum ~2 ms more): the usual names (busybox, localhost, latest, 1.36) take
# the plain checks in parse_ref.
_GRAMMAR: Final = {
    "component": r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*",
    "domain": r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
              r"(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?",
    "tag": r"[\w][\w.-]{0,127}",
}
_compiled: dict[str, re.Pattern[str]] = {}
HEX: Final = "0123456789abcdef"
_LOWER_ALNUM: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
_ALNUM: Final = _LOWER_ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TAG_CHARS: Final = _ALNUM + "_.-"


def _grammar(kind: str, s: str) -> bool:
    """*s* is a whole *kind* of the reference grammar."""
    pattern = _compiled.get(kind)
    if pattern is None:
        import re

        pattern = _compiled[kind] = re.compile(_GRAMMAR[kind])
    return pattern.fullmatch(s) is not None


def _only(s: str, chars: str) -> bool:
    """*s* is not empty and made of *chars* alone."""
    return bool(s) and not s.strip(chars)


def _component(s: str) -> bool:
    return _only(s, _LOWER_ALNUM) or _grammar("component", s)


def _domain(s: str) -> bool:
    return _only(s, _ALNUM) or _grammar("domain", s)


def _tag(s: str) -> bool:
    return (len(s) <= 128 and _only(s, _TAG_CHARS) and s[0] not in ".-") or _grammar("tag", s)


def is_digest(s: str) -> bool:
    """``sha256:<64 hex>`` or ``sha512:<128 hex>`` (lowercase hex)."""
    algo, _, hexpart = s.partition(":")
    return len(hexpart) == {"sha256": 64, "sha512": 128}.get(algo) and _only(hexpart, HEX)


def is_image_id(s: str) -> bool:
    """An image id or a prefix of one: 1 to 64 lowercase hex digits, ``sha256:`` before them or not."""
    hexpart = s.removeprefix("sha256:")
    return len(hexpart) <= 64 and _only(hexpart, HEX)


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
        if not is_digest(digest):
            raise bad(f"bad digest {digest!r}")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _tag(tag):
            raise bad(f"bad tag {tag!r}")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        domain, rest = first, parts[1:]
        if not _domain(domain):
            raise bad(f"bad registry {domain!r}")
    else:
        domain, rest = DEFAULT_DOMAIN, parts
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and len(rest) == 1:
        rest = ["library", *rest]
    for comp in rest:
        if not _component(comp):
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

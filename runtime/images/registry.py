"""A client for the OCI distribution API: pull and push, standard library only.

Auth as Docker Hub does it: a request answered 401 with ``WWW-Authenticate: Bearer realm=..,
service=.., scope=..`` is retried with a token fetched from the realm (anonymously, or with basic
credentials from the auth file); ``Basic`` challenges are answered with the credentials. Every
manifest and blob is verified against its digest; layers download in parallel. The HTTP layer is
a small Transport protocol, so the auth logic can be tested with a recording fake.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

from runtime.errors import ImageError, NotFound
from runtime.images.blobs import sha256_bytes
from runtime.images.reference import Reference, parse_ref
from runtime.images.store import (
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    host_arch,
)
from runtime.images.writes import commit, locked, new_blobs

if TYPE_CHECKING:
    from runtime.images.store import ImageStore

ACCEPT: Final = ", ".join([MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST])
_LISTS: Final = (MT_OCI_INDEX, MT_DOCKER_LIST)
_CHALLENGE_PARAM: Final = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
DOCKER_HUB_API: Final = "registry-1.docker.io"


# ---- sans-IO pieces ------------------------------------------------------------------------------

def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://auth",service="reg",scope="repository:x:pull"`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def token_url(params: Mapping[str, str], scope: str) -> str:
    realm = params.get("realm")
    if not realm:
        raise ImageError("registry: bearer challenge without a realm")
    query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
    sep = "&" if "?" in realm else "?"
    return realm + (sep + urllib.parse.urlencode(query) if query else "")


def pick_platform(index: Mapping[str, Any], arch: str | None = None, os_name: str = "linux",
                  variant: str | None = None) -> dict[str, Any]:
    """The manifest descriptor of a manifest list/index for *os_name*/*arch* (variant if given)."""
    arch = arch or host_arch()
    matches = [m for m in index.get("manifests") or []
               if (m.get("platform") or {}).get("os") == os_name
               and (m.get("platform") or {}).get("architecture") == arch]
    if variant:
        matches = [m for m in matches if (m.get("platform") or {}).get("variant") == variant] or matches
    if not matches:
        plats = [m.get("platform") or {} for m in index.get("manifests") or []]
        have = sorted({f"{p.get('os')}/{p.get('architecture')}" for p in plats})
        raise ImageError(f"no image for {os_name}/{arch} in the manifest list (has: {', '.join(have)})")
    return dict(matches[0])


def is_insecure_default(host: str) -> bool:
    """Loopback registries speak plain HTTP by default (as docker's built-in insecure 127.0.0.0/8)."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("localhost", "[::1]") or name.startswith("127.")


def credentials_for(host: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password) for *host* from containers' auth.json or docker's config.json, if any."""
    candidates = []
    if environ.get("REGISTRY_AUTH_FILE"):
        candidates.append(Path(environ["REGISTRY_AUTH_FILE"]))
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    if environ.get("HOME"):
        candidates.append(Path(environ["HOME"]) / ".docker" / "config.json")
    keys = {host, f"https://{host}", f"http://{host}"}
    if host == "docker.io":
        keys |= {"index.docker.io", "https://index.docker.io/v1/", DOCKER_HUB_API}
    for path in candidates:
        try:
            auths = json.loads(path.read_text()).get("auths") or {}
        except (OSError, ValueError):
            continue
        for key, entry in auths.items():
            if key.rstrip("/") in keys or key in keys:
                raw = entry.get("auth")
                if raw:
                    user, _, pw = base64.b64decode(raw).decode().partition(":")
                    return user, pw
    return None


# ---- transport -----------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: Mapping[str, str]     # lower-case names
    body: IO[bytes]

    def read(self) -> bytes:
        try:
            return self.body.read()
        finally:
            self.body.close()


class Transport(Protocol):
    def request(self, method: str, url: str, headers: Mapping[str, str],
                body: bytes | IO[bytes] | None = None) -> Response: ...


class UrllibTransport:
    """HTTP(S) through urllib; redirects followed (blob storage), TLS verified unless told not."""

    def __init__(self, verify_tls: bool = True, timeout: float = 60.0) -> None:
        self.timeout = timeout
        ctx = ssl.create_default_context()
        if not verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx))

    def request(self, method: str, url: str, headers: Mapping[str, str],
                body: bytes | IO[bytes] | None = None) -> Response:
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
        try:
            r = self._opener.open(req, timeout=self.timeout)
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r)
        except urllib.error.HTTPError as e:
            return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ImageError(f"registry: {method} {url}: {reason}") from None


# ---- the client ----------------------------------------------------------------------------------

@dataclass
class RegistryClient:
    """Talks to one registry host. Tokens are cached per scope."""

    host: str
    transport: Transport
    insecure: bool = False                       # plain HTTP
    credentials: tuple[str, str] | None = None
    _tokens: dict[str, str] = field(default_factory=dict)
    _basic: bool = False

    @property
    def base(self) -> str:
        host = DOCKER_HUB_API if self.host == "docker.io" else self.host
        return f"{'http' if self.insecure else 'https'}://{host}"

    def _auth_headers(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic and self.credentials:
            raw = base64.b64encode(":".join(self.credentials).encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def request(self, method: str, url: str, scope: str, headers: Mapping[str, str] | None = None,
                body: bytes | Callable[[], IO[bytes]] | None = None, ok: Sequence[int] = (200,)) -> Response:
        """One request, authenticated on demand; *body* may be a factory so a retry can resend."""
        if url.startswith("/"):
            url = self.base + url
        for attempt in range(2):
            data = body() if callable(body) else body
            r = self.transport.request(method, url, {**(headers or {}), **self._auth_headers(scope)}, data)
            if r.status == 401 and attempt == 0:
                challenge = r.headers.get("www-authenticate", "")
                r.read()
                self._authenticate(challenge, scope)
                continue
            if r.status not in ok:
                detail = _error_detail(r.read())
                if r.status == 404:
                    raise NotFound(f"registry {self.host}: {url.removeprefix(self.base)} not found{detail}")
                if r.status in (401, 403):
                    raise ImageError(f"registry {self.host}: access denied to {scope or url}{detail}")
                raise ImageError(f"registry {self.host}: {method} {url.removeprefix(self.base)} "
                                 f"answered {r.status}{detail}")
            return r
        raise AssertionError("unreachable")

    def _authenticate(self, challenge: str, scope: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.credentials:
                raise ImageError(f"registry {self.host}: needs credentials (basic auth); none found")
            self._basic = True
            return
        if scheme != "bearer":
            raise ImageError(f"registry {self.host}: unsupported auth challenge {challenge!r}")
        headers = {}
        if self.credentials:
            raw = base64.b64encode(":".join(self.credentials).encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        r = self.transport.request("GET", token_url(params, params.get("scope") or scope), headers)
        if r.status != 200:
            detail = _error_detail(r.read())
            raise ImageError(f"registry {self.host}: token request answered {r.status}{detail}")
        try:
            doc = json.loads(r.read())
            token = doc.get("token") or doc.get("access_token")
        except ValueError:
            token = None
        if not token:
            raise ImageError(f"registry {self.host}: token response has no token")
        self._tokens[scope] = str(token)

    # -- reads --

    def get_manifest(self, path: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest by tag or digest; verified when asked by digest."""
        r = self.request("GET", f"/v2/{path}/manifests/{reference}", f"repository:{path}:pull",
                         {"Accept": ACCEPT})
        body = r.read()
        digest = sha256_bytes(body)
        if reference.startswith("sha256:") and digest != reference:
            raise ImageError(f"registry {self.host}: manifest {reference} does not match its digest "
                             f"({digest})")
        sent = r.headers.get("docker-content-digest")
        if sent and sent.startswith("sha256:") and sent != digest:
            raise ImageError(f"registry {self.host}: manifest digest {digest} differs from the "
                             f"header's {sent}")
        media_type = r.headers.get("content-type", "").split(";")[0].strip()
        try:
            media_type = json.loads(body).get("mediaType") or media_type
        except ValueError:
            raise ImageError(f"registry {self.host}: manifest of {path}:{reference} is not JSON") from None
        return body, media_type, digest

    def open_blob(self, path: str, digest: str) -> Response:
        return self.request("GET", f"/v2/{path}/blobs/{digest}", f"repository:{path}:pull")

    # -- writes --

    def blob_exists(self, path: str, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{path}/blobs/{digest}", f"repository:{path}:pull,push").read()
            return True
        except NotFound:
            return False

    def upload_blob(self, path: str, digest: str, opener: Callable[[], IO[bytes]], size: int) -> None:
        scope = f"repository:{path}:pull,push"
        r = self.request("POST", f"/v2/{path}/blobs/uploads/", scope, {"Content-Length": "0"}, b"", ok=(202,))
        r.read()
        location = r.headers.get("location")
        if not location:
            raise ImageError(f"registry {self.host}: upload of {digest} got no Location")
        location = urllib.parse.urljoin(self.base + "/", location)
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}digest={urllib.parse.quote(digest)}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        self.request("PUT", url, scope, headers, opener, ok=(201, 204)).read()

    def put_manifest(self, path: str, reference: str, body: bytes, media_type: str) -> None:
        self.request("PUT", f"/v2/{path}/manifests/{reference}", f"repository:{path}:pull,push",
                     {"Content-Type": media_type}, body, ok=(201, 204)).read()


def _error_detail(body: bytes) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        return ": " + "; ".join(str(e.get("message") or e.get("code")) for e in errors) if errors else ""
    except (ValueError, AttributeError):
        return ""


def client_for(ref: Reference, *, tls_verify: bool | None = None, transport: Transport | None = None,
               environ: Mapping[str, str] | None = None) -> RegistryClient:
    environ = os.environ if environ is None else environ
    insecure = is_insecure_default(ref.domain) if tls_verify is None else not tls_verify
    return RegistryClient(host=ref.domain, transport=transport or UrllibTransport(verify_tls=not insecure),
                          insecure=insecure, credentials=credentials_for(ref.domain, environ))


# ---- pull and push -------------------------------------------------------------------------------

def pull(images: ImageStore, ref: str, *, tls_verify: bool | None = None, transport: Transport | None = None,
         arch: str | None = None, parallel: int = 3,
         progress: Callable[[str], None] | None = None) -> str:
    """Pull *ref* into *images*; returns the image id."""
    r = parse_ref(ref)
    name = str(r)
    client = client_for(r, tls_verify=tls_verify, transport=transport)
    body, media_type, digest = client.get_manifest(r.path, r.digest or r.tag or "latest")
    if media_type in _LISTS:
        desc = pick_platform(json.loads(body), arch)
        body, media_type, digest = client.get_manifest(r.path, desc["digest"])
    if media_type not in (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST):
        raise ImageError(f"image {name}: unsupported manifest type {media_type!r}")
    manifest = json.loads(body)
    cfg_desc = manifest["config"]
    config_bytes = client.open_blob(r.path, cfg_desc["digest"]).read()
    if sha256_bytes(config_bytes) != cfg_desc["digest"]:
        raise ImageError(f"image {name}: config blob does not match its digest {cfg_desc['digest']}")
    layers = manifest.get("layers") or []
    for layer in layers:
        if "zstd" in layer.get("mediaType", ""):
            raise ImageError(f"image {name}: zstd-compressed layers are not supported")

    with locked(images, exclusive=False), new_blobs(images) as new:

        def fetch(layer: Mapping[str, Any]) -> str:
            d = str(layer["digest"])
            if images.blobs.has(d):
                return d
            if progress:
                progress(f"Copying blob {d[7:19]}")
            resp = client.open_blob(r.path, d)
            try:
                return new.put_stream(resp.body, expected=d)  # type: ignore[arg-type]  # verified on the way in
            finally:
                resp.body.close()

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            digests = list(pool.map(fetch, layers))
        pairs = [(d, str(desc.get("mediaType", ""))) for d, desc in zip(digests, layers, strict=True)]
        return commit(images, config_bytes, pairs, [name], new, what=f"image {name}", manifest_bytes=body)


def push(images: ImageStore, src: str, dest: str | None = None, *, tls_verify: bool | None = None,
         transport: Transport | None = None, progress: Callable[[str], None] | None = None) -> str:
    """Push the local image *src* to *dest* (default: *src*'s own name); returns the manifest digest."""
    info, doc, _ = images.record(src)
    target = parse_ref(dest or src)
    if target.digest:
        raise ImageError(f"cannot push to {dest or src!r}: a digest reference is not a tag")
    client = client_for(target, tls_verify=tls_verify, transport=transport)
    blobs = [(layer["digest"], int(layer["size"])) for layer in doc["layers"]]
    blobs.append((info.id, images.blobs.size(info.id)))
    for digest, size in blobs:
        if client.blob_exists(target.path, digest):
            continue
        if progress:
            progress(f"Copying blob {digest[7:19]}")
        path = Path(images.blobs.path(digest))
        client.upload_blob(target.path, digest, lambda p=path: p.open("rb"), size)  # type: ignore[misc]
    manifest = images.blobs.read(doc["manifest"])
    media_type = json.loads(manifest).get("mediaType") or MT_OCI_MANIFEST
    client.put_manifest(target.path, target.tag or "latest", manifest, media_type)
    return str(doc["manifest"])

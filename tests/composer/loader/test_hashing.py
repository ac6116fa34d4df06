from __future__ import annotations

import hashlib

from composer.loader.hashing import go_json, service_hash


def test_go_json_is_compact_escaped_and_go_numbered() -> None:
    assert go_json({"a": [1.0, 0.5, "<&>"], "b": None}) == '{"a":[1,0.5,"\\u003c\\u0026\\u003e"],"b":null}'


def test_hash_ignores_what_docker_compose_ignores() -> None:
    base = {"image": "busybox", "command": None, "entrypoint": None, "networks": {"default": None}}
    noisy = {**base, "build": {"context": "."}, "pull_policy": "always", "scale": 3, "profiles": ["p"],
             "depends_on": {"db": {"condition": "service_started", "required": True}}}
    assert service_hash(noisy) == service_hash(base)
    assert service_hash({**base, "image": "other"}) != service_hash(base)


def test_hash_is_sha256_of_the_struct_ordered_json() -> None:
    svc = {"image": "busybox", "command": None, "entrypoint": None, "networks": {"default": None}}
    expected = '{"command":null,"entrypoint":null,"image":"busybox","networks":{"default":null}}'
    assert service_hash(svc) == hashlib.sha256(expected.encode()).hexdigest()

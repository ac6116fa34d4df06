"""runtime.digest: the same sha256 as hashlib, without importing it (OpenSSL's libcrypto)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from runtime.cgroups import engine_scope
from runtime.digest import sha256
from runtime.network.manager import host_veth
from runtime.network.nft import table_name


def test_the_digests_are_hashlibs() -> None:
    for data in (b"", b"abc", bytes(range(256)) * 100):
        assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
        h = sha256()
        h.update(data[:7])
        h.update(data[7:])
        assert h.hexdigest() == hashlib.sha256(data).hexdigest()


def test_names_made_from_digests_are_unchanged() -> None:
    """Names found again after a crash (veths, cgroups, the nft table) must not change."""
    cid = "c" * 64
    assert host_veth(cid, "composer") == "ve" + hashlib.sha256(f"{cid}/composer".encode()).hexdigest()[:10]
    assert engine_scope(Path("/tmp/x")) == (f"engine-{hashlib.sha256(b'/tmp/x').hexdigest()[:8]}",)
    assert table_name(Path("/tmp/r")) == "composer_" + hashlib.sha256(b"/tmp/r").hexdigest()[:8]


def test_importing_it_imports_no_hashlib() -> None:
    code = "import sys, runtime.digest\nprint('hashlib' in sys.modules, '_hashlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]

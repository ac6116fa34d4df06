"""The bytecode bundle (composer/bundle.py): modules served from one file with their usual
attributes; an edited source, or a bundle another interpreter wrote, is never used."""

from __future__ import annotations

import ast
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from composer import bundle
from composer.bundle_build import write

REPO = Path(__file__).resolve().parents[2]

# imports the modules named on its command line with only the bundle at argv[1] installed, and
# prints each one's loader, file, package path, one attribute and whether it has a docstring (no
# json here: it is one of them)
PROBE = """
import sys
import composer.bundle
finder = composer.bundle.install(sys.argv[1])
out = {"installed": finder is not None}
for name in sys.argv[2:]:
    __import__(name)
    m = sys.modules[name]
    out[name] = [type(m.__loader__).__name__, m.__file__, getattr(m, "__path__", None),
                 getattr(m, "VALUE", None), m.__doc__ is not None]
print(repr(out))
"""


def probe(path: Path, *names: str, extra_path: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ, COMPOSER_NO_BUNDLE="1")  # only the bundle at *path*
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (REPO, extra_path) if p)
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), *names], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    result: dict[str, Any] = ast.literal_eval(out.stdout)
    return result


def test_modules_come_from_the_bundle_with_their_usual_file_and_package_path(tmp_path: Path) -> None:
    import json
    import json.decoder

    import runtime.network
    import runtime.paths

    out = tmp_path / "b.bin"
    assert write(str(out), ["json", "json.decoder", "runtime.paths", "runtime.network"]) == 4
    seen = probe(out, "json", "json.decoder", "runtime.paths", "runtime.network", "runtime.network.manager")
    assert seen["installed"] is True
    for name, module in (("json", json), ("json.decoder", json.decoder), ("runtime.paths", runtime.paths),
                         ("runtime.network", runtime.network)):
        assert seen[name][:2] == ["BundledLoader", module.__file__], name
    assert seen["runtime.network"][2] == [str(Path(runtime.network.__file__).parent)]
    # a module the bundle lacks, in a package it holds: found on that package's path as usual
    assert seen["runtime.network.manager"][0] == "SourceFileLoader"
    # our docstrings are left out (nothing reads them), the standard library's kept
    has_doc = {name: seen[name][4] for name in ("runtime.paths", "json", "runtime.network.manager")}
    assert has_doc == {"runtime.paths": False, "json": True, "runtime.network.manager": True}


def test_a_source_edited_after_the_bundle_is_imported_from_the_source(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "bundled_probe"
    pkg.mkdir(parents=True)
    source = pkg / "__init__.py"
    source.write_text("VALUE = 1\n")
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        import bundled_probe

        out = tmp_path / "b.bin"
        assert write(str(out), ["bundled_probe"]) == 1
    finally:
        sys.path.remove(str(tmp_path / "src"))
        sys.modules.pop("bundled_probe", None)
    assert bundled_probe.VALUE == 1

    def loaded() -> list[object]:  # its loader and VALUE
        return list(probe(out, "bundled_probe", extra_path=tmp_path / "src")["bundled_probe"][::3])

    assert loaded() == ["BundledLoader", 1]
    source.write_text("VALUE = 22\n")  # another size
    assert loaded() == ["SourceFileLoader", 22]
    source.write_text("VALUE = 1\n")  # the size it had: its mtime tells
    st = os.stat(source)
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert loaded() == ["SourceFileLoader", 1]


def test_a_bundle_this_interpreter_cannot_read_is_not_installed(tmp_path: Path) -> None:
    import runtime.paths

    good = tmp_path / "good.bin"
    write(str(good), ["runtime.paths"])
    data = good.read_bytes()
    cases = {
        "other-magic.bin": data.replace(bundle.prefix(), bundle.FORMAT + b"\x00\x00\r\n", 1),
        "other-format.bin": b"composer-bundle 0\n" + data[len(bundle.FORMAT):],
        "truncated.bin": data[: len(bundle.prefix()) + 4],
        "garbage.bin": b"\x00" * 64,
        "empty.bin": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        seen = probe(tmp_path / name, "runtime.paths")
        assert seen["installed"] is False, name
        assert seen["runtime.paths"][:2] == ["SourceFileLoader", runtime.paths.__file__], name
    assert probe(tmp_path / "missing.bin", "runtime.paths")["installed"] is False
    # the index is marshalled data of this interpreter, not trusted beyond its type
    fd = os.open(good, os.O_RDONLY)
    try:
        found = bundle.read_index(fd)
    finally:
        os.close(fd)
    assert found is not None and set(found[0]) == {"runtime.paths"}


def test_the_builder_holds_what_the_commands_import_even_inside_functions(tmp_path: Path) -> None:
    out = tmp_path / "b.bin"
    env = dict(os.environ, COMPOSER_NO_BUNDLE="1", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "composer.bundle_build", str(out)], env=env, check=True,
                   capture_output=True, timeout=120)
    data = out.read_bytes()
    size = int.from_bytes(data[len(bundle.prefix()): len(bundle.prefix()) + bundle.HEAD], "big")
    index = marshal.loads(data[len(bundle.prefix()) + bundle.HEAD:][:size])
    assert {"composer.cli.main", "composer.cli.cmd_container", "runtime.container_create",
            "runtime.network.manager", "json.decoder", "pathlib", "yaml"} <= set(index)
    assert "ipaddress" in index  # runtime/container_create.py imports it in a function
    assert "composer.__main__" not in index  # importing it would run the CLI
    origin, mtime_ns, size_, is_package, offset, length = index["runtime.network"]
    assert is_package and origin.endswith("runtime/network/__init__.py")
    assert (mtime_ns, size_) == (os.stat(origin).st_mtime_ns, os.stat(origin).st_size)


def test_a_command_imports_its_modules_from_the_bundle_make_writes() -> None:
    if not os.path.exists(bundle.bundle_path()):
        pytest.skip("no bundle at composer/__pycache__/bundle.bin: `make venv` writes it")
    code = ("import sys; from composer.cli import main, cmd_container; import runtime.container_create; "
            "print(sum(type(m.__loader__).__name__ == 'BundledLoader' for m in list(sys.modules.values())))")
    env = {k: v for k, v in os.environ.items() if k != "COMPOSER_NO_BUNDLE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                         check=True, cwd=REPO)
    assert int(out.stdout) >= 25  # these three bring ~31 (`container run` ~70)

"""Writes the bytecode bundle that composer/bundle.py reads: ``python -m composer.bundle_build``.

It holds every module of composer/ and runtime/ and every module they import, at their top or
inside a function (found by reading their sources), and what those import in turn: from the
standard library and the venv's site-packages (yaml, jsonschema, trio ...: `config` -5 ms).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import marshal
import os
import sys
import sysconfig
from importlib.machinery import SourceFileLoader
from types import CodeType

from composer.bundle import HEAD, bundle_path, prefix

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOTS = ("composer", "runtime")
STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])


def project_modules() -> list[str]:
    """composer/ and runtime/'s modules, by their files (no __main__: it runs the CLI)."""
    names = []
    for root in ROOTS:
        for here, dirs, files in os.walk(os.path.join(PROJECT, root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
            package = os.path.relpath(here, PROJECT).replace(os.sep, ".")
            for f in sorted(files):
                if f.endswith(".py") and f != "__main__.py":
                    names.append(package if f == "__init__.py" else f"{package}.{f[:-3]}")
    return names


def imported_names(module: str) -> set[str]:
    """The absolute module names *module*'s source imports, anywhere in it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    with open(spec.origin, "rb") as f:
        tree = ast.parse(f.read(), spec.origin)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodules
    return names


def bundled_source(name: str) -> str | None:
    """The source file of module *name* where it belongs in the bundle (a .py file of the standard
    library, the venv's site-packages or ours)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if not isinstance(origin, str) or not origin.endswith(".py") or not getattr(spec, "has_location", False):
        return None
    real = os.path.realpath(origin)
    if is_ours(origin) or real.startswith(STDLIB + os.sep) or "site-packages" in real.split(os.sep):
        return origin
    return None


def is_ours(origin: str) -> bool:
    real = os.path.realpath(origin)
    return any(real.startswith(os.path.join(PROJECT, root) + os.sep) for root in ROOTS)


def code_without_docstrings(origin: str) -> CodeType:
    """Our module's code as compiled from its source, less its docstrings (~1/6 of our bytecode:
    as `python -OO` would leave them, but with its asserts). Nothing of ours reads __doc__ (a
    record's own is set by runtime/record.py)."""
    with open(origin, "rb") as f:
        tree = ast.parse(f.read(), origin)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            if len(body) > 1:  # (a module's: before its __future__ imports, where no pass may be)
                del body[0]
            else:
                body[0] = ast.copy_location(ast.Pass(), body[0])
    return compile(tree, origin, "exec", dont_inherit=True)


def collect() -> list[str]:
    """Import what the bundle should hold; the names of the loaded modules that belong in it."""
    ours = project_modules()
    wanted = set(ours)
    for module in ours:
        wanted |= imported_names(module)
    for name in sorted(wanted):
        with contextlib.suppress(Exception):  # a name that is no module, or not on this host
            importlib.import_module(name)
    return sorted(n for n in list(sys.modules) if bundled_source(n))


def write(out: str, names: list[str]) -> int:
    """Write the bundle of the loaded modules *names* to *out*; how many it holds."""
    index: dict[str, tuple[str, int, int, bool, int, int]] = {}
    blobs: list[bytes] = []
    offset = 0
    for name in names:
        spec = sys.modules[name].__spec__
        origin = getattr(spec, "origin", None)
        if spec is None or not isinstance(origin, str) or not origin.endswith(".py"):
            continue
        st = os.stat(origin)  # before the code: an edit in between leaves an entry never used
        code = code_without_docstrings(origin) if is_ours(origin) else None
        code = code or SourceFileLoader(name, origin).get_code(name)
        blob = marshal.dumps(code)
        is_package = spec.submodule_search_locations is not None
        index[name] = (origin, st.st_mtime_ns, st.st_size, is_package, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    head = marshal.dumps(index)  # offsets count from the end of the index
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(prefix() + len(head).to_bytes(HEAD, "big") + head)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, out)
    return len(index)


def main(argv: list[str]) -> int:
    out = argv[0] if argv else bundle_path()
    count = write(out, collect())
    print(f"bundle: {count} modules in {out} ({os.path.getsize(out) // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

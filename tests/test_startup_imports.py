"""What each compose command imports at start-up (issue 5: `ps` <= 60 ms, `down` of 10 <= 0.3 s).

networkx (~200 ms), jsonschema (~100-200 ms), trio (~200 ms), yaml and dotenv (~40 ms together) are
checked by the set of modules a real CLI run leaves in sys.modules, never by timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("networkx", "jsonschema", "trio", "pyroute2", "yaml", "dotenv")

_PROBE = (
    "import sys\nfrom composer.cli.main import main\n"
    "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
    f"print('@@', ' '.join(m for m in {HEAVY!r} if m in sys.modules))"
)

# each runs to completion with no containers (some fail with "no container": only imports matter)
COMMANDS = [
    ["ps"], ["ls"], ["logs"], ["top"], ["port", "s0", "80"], ["events", "--until", "0s"],
    ["stop"], ["kill"], ["pause"], ["unpause"], ["rm", "-f"], ["down"],
]


def _heavy_after(args: list[str], cwd: Path) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                         cwd=cwd, env=dict(os.environ), timeout=60)
    marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
    assert marks, out.stderr
    return set(marks[-1].split()[1:])


@pytest.fixture
def project10(tmp_path: Path, engine_paths: tuple[Path, Path]) -> Path:
    d = tmp_path / "p10"
    d.mkdir()
    lines = ["services:"]
    for i in range(10):
        lines.append(f"  s{i}:\n    image: busybox\n    command: sleep 100")
        if i:
            lines.append(f"    depends_on: [s{i - 1}]")
    (d / "compose.yaml").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_compose_verbs_with_a_file_import_no_graph_or_schema_library(
    args: list[str], project10: Path
) -> None:
    _heavy_after(["ps"], project10)  # the file's verdict is cached from here on (config does not)
    assert _heavy_after(args, project10) <= {"yaml"}  # yaml parses the file; nothing else


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_compose_verbs_with_only_a_name_import_no_loader_library(
    args: list[str], tmp_path: Path, engine_paths: tuple[Path, Path]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _heavy_after(["-p", "nosuch", *args], empty) == set()


def test_an_env_file_still_names_the_compose_file(tmp_path: Path, engine_paths: tuple[Path, Path]) -> None:
    """`-p NAME` skips the loader only when no file can be found: `.env` may set COMPOSE_FILE."""
    (tmp_path / "elsewhere.yaml").write_text("services: {web: {image: busybox}}\n")
    (tmp_path / ".env").write_text("COMPOSE_FILE=elsewhere.yaml\n")
    out = subprocess.run([sys.executable, "-m", "composer", "-p", "demo", "ps", "nosuchservice"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode != 0
    assert "no such service: nosuchservice" in out.stderr


def test_importing_the_loader_imports_no_parser() -> None:
    code = (
        "import sys, composer.loader\n"
        "from composer.loader import discovery, environment, naming, profiles, interpolate, merge\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---- `container run` (issue 3: run --rm <= 60 ms) ---------------------------------------------
# What `composer container run --rm IMAGE true` may load. Project modules: exactly the ones below
# (a new import on this path is a decision, so it is made here). Heavy standard modules (tarfile,
# platform, secrets via images or the CLI, shlex, ...) are checked by name: each cost 2-10 ms of a
# start that should take tens.
RUN_MAY_IMPORT = frozenset({
    "composer", "composer.bundle",  # the bytecode bundle's finder (composer/bundle.py)
    "composer.cli", "composer.cli.main", "composer.cli.context", "composer.cli.cmd_container",
    "composer.cli.fastspec", "composer.errors", "composer.cli.container_flags", "composer.cli.container_spec",
    "composer.cli.container_attach",
    "composer.cli.run_ahead",  # the container's monitor spawned before the command's imports

    "composer.cli.sig_proxy", "runtime.autoremove",  # --sig-proxy; an --rm container's removal claim
    "runtime", "runtime.digest", "runtime.engine", "runtime.errors", "runtime.lazy", "runtime.paths",
    "runtime.procs", "runtime.attach_lock",  # the cgroup attach lock opened ahead
    "runtime.background",  # the netns pinned ahead, the cgroup made while the attach lock waits
    "runtime.record", "runtime.trees",
    "runtime.json_accel",  # JSON through _json alone: the json package imports re and enum (~3 ms)
    "runtime.spec", "runtime.state", "runtime.logs", "runtime.zygote", "runtime.warm_monitor",
    "runtime.containers", "runtime.container_records", "runtime.container_create",
    "runtime.container_monitor", "runtime.container_lifecycle",
    "runtime.cgroups", "runtime.executor", "runtime.executor.oci", "runtime.executor.user",
    "runtime.layer_view",  # the image's /etc/passwd and group as its layers merge them
    "runtime.images", "runtime.images.blobs", "runtime.images.reference", "runtime.images.store",
    "runtime.network", "runtime.network.addr", "runtime.network.files", "runtime.network.ifconf",
    "runtime.network.ipam", "runtime.network.links", "runtime.network.manager", "runtime.network.netns",
    "runtime.network.nft", "runtime.network.portcheck", "runtime.network.rtnl", "runtime.network.nftlite",
    "runtime.security", "runtime.security.caps", "runtime.security.defaults", "runtime.security.rlimits",
    "runtime.security.seccomp",
})
RUN_MUST_NOT_IMPORT = (*HEAVY, "composer.loader", "composer.project", "composer.cli.humanize", "tarfile",
                       "platform", "shlex",
                       "runtime.images.unpack", "runtime.images.changes", "runtime.container_access",
                       # the other container verbs (and their tables), the fork server's own code:
                       # each a module of its own, so that `run` does not read its bytecode
                       "composer.cli.container_verbs", "composer.cli.container_output",
                       "runtime.zygote_server",
                       # the network verbs (create, remove, ...), repair, connect: a container's set-up
                       # and teardown are runtime.network.manager's (the default network exists)
                       "runtime.network.networks", "runtime.network.repair", "runtime.network.connect",
                       "runtime.images.writes",  # the image store's writes: run only resolves one
                       "runtime.container_start",  # start, restart, pause, unpause: run creates started
                       # parsed by main.fast_args (argparse, gettext, locale: ~20 ms with building
                       # the parser); the warm monitor is posix_spawned (subprocess imports locale)
                       "argparse", "gettext", "locale", "subprocess",
                       "concurrent.futures", "asyncio", "email", "http", "uuid",
                       # OpenSSL's libcrypto for a few short sha256 (runtime.digest has its own), and
                       # tempfile (random) of the image store's writes: ~6 ms (FINDINGS F16)
                       "hashlib", "_hashlib", "tempfile", "random",
                       # records are written out by runtime.container_records.asdict: dataclasses imports
                       # inspect, ast, dis, tokenize (~13 ms)
                       "dataclasses", "inspect",
                       # typing only for mypy (TYPE_CHECKING = False in each module): ~5 ms
                       "typing",
                       # sockets are _socket's (zygote.Socket where one is used in a with): the
                       # socket module converts four enums of constants at import, ~2.5 ms
                       "socket", "selectors",
                       # the removal's rmtree is runtime.trees': shutil loads zlib, bz2, lzma (~3 ms)
                       "shutil", "zlib", "bz2", "lzma",
                       # _signal's numbers: the signal module turns every constant into an enum at import
                       "signal",
                       # the network's locks are _thread's (threading: ~0.5 ms with _weakrefset)
                       "threading",
                       # the current rlimits come from /proc/self/limits (resource: ~0.4 ms)
                       "resource",
                       # the default seccomp profile: its cached filter is found by its digest
                       # (seccomp.DEFAULT_PROFILE_DIGEST); only a compile reads it (~0.4 ms), and
                       # only a compile loads the compiler
                       "runtime.security.seccomp_profile", "runtime.security.seccomp_compile",
                       # paths are str and JSON is _json's (runtime/paths.py, runtime/json_accel.py):
                       # pathlib brings urllib.parse, ntpath and fnmatch, json brings re, re brings
                       # enum (~4-7 ms together); "re" itself is checked by name below
                       "pathlib", "urllib", "ntpath", "fnmatch", "json", "re.", "enum",
                       # a lease on an IPv4 subnet is int arithmetic (runtime.network.addr): ipaddress
                       # (~1-1.4 ms) only for IPv6, static addresses, ranges and a network's creation
                       "ipaddress")

_RUN_PROBE = (
    "import sys\nfrom composer.cli.main import main\n"
    "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
    "print('@@', rc, ' '.join(sorted(sys.modules)))"
)


def _run_probe(argv: list[str], cwd: Path) -> list[str]:
    """The modules a real CLI run of *argv* leaves in sys.modules (after checking it succeeded)."""
    out = subprocess.run([sys.executable, "-c", _RUN_PROBE, *argv],
                         capture_output=True, text=True, cwd=cwd, timeout=120)
    marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
    assert marks, out.stderr
    rc, *modules = marks[-1].split()[1:]
    assert rc == "0", out.stderr
    return modules


@pytest.mark.privileged
@pytest.mark.parametrize("net", [[], ["--network", "none"], ["-p", "80"]], ids=["default", "none", "port"])
def test_container_run_imports_only_what_it_needs(
    net: list[str], busybox_image: str, tmp_path: Path
) -> None:
    argv = ["container", "run", "--rm", "--name", "imp", *net, "localhost/busybox:latest", "true"]
    # the engine's first run compiles and caches the seccomp filter (tempfile): the steady state next
    first = subprocess.run([sys.executable, "-m", "composer", *argv], capture_output=True, text=True,
                           cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    modules = _run_probe(argv, tmp_path)
    ours = {m for m in modules if m.split(".")[0] in ("composer", "runtime")}
    assert ours - RUN_MAY_IMPORT == set()
    assert [m for m in modules if m.startswith(RUN_MUST_NOT_IMPORT) or m == "re"] == []

    # nftables' module for published ports only (~0.25 ms), and no MAC address regex (~0.2 ms)
    assert ("runtime.network.nft" in modules) == ("-p" in net)


@pytest.mark.privileged
def test_container_create_start_rm_import_no_openssl_or_tempfile(busybox_image: str, tmp_path: Path) -> None:
    warm = subprocess.run([sys.executable, "-m", "composer", "container", "run", "--rm",
                           "localhost/busybox:latest", "true"], capture_output=True, text=True, timeout=120)
    assert warm.returncode == 0, warm.stderr  # the engine's seccomp filter is compiled and cached
    steps = [["container", "create", "--name", "imp2", "localhost/busybox:latest", "sleep", "60"],
             ["container", "start", "imp2"], ["container", "rm", "-f", "imp2"]]
    for argv in steps:
        modules = _run_probe(argv, tmp_path)
        assert [m for m in modules if m in ("hashlib", "_hashlib", "tempfile", "random")] == [], argv


@pytest.mark.privileged
def test_up_imports_no_openssl_shutil_or_datetime(busybox_image: str, tmp_path: Path) -> None:
    """`up -d` hashes configs and names pod sockets with runtime.digest's sha256: hashlib loads
    OpenSSL (~3 ms); shutil only for secrets and configs copied from files; the network's and a
    volume's creation times come from runtime.logs.rfc3339_nano, not datetime (~1.5 ms); sockets
    are _socket's, not the socket module's (~2.5 ms). `down` removes the containers' and the
    project's directories with runtime.trees, not shutil (with zlib, bz2 and lzma: ~3 ms)."""
    d = tmp_path / "up"
    d.mkdir()
    services = "".join(f"  s{i}:\n    image: {busybox_image}\n    command: sleep 60\n" for i in (1, 2))
    (d / "compose.yaml").write_text("services:\n" + services)
    compose = [sys.executable, "-m", "composer", "-p", "imp"]
    try:  # the first loads the file (the loader fingerprints its validator with hashlib) and caches it
        for argv in (["up", "-d"], ["down", "-t", "0"]):
            res = subprocess.run([*compose, *argv], capture_output=True, text=True, cwd=d, timeout=120)
            assert res.returncode == 0, res.stderr
        modules = _run_probe(["-p", "imp", "up", "-d"], d)
        lean = ("hashlib", "_hashlib", "shutil", "datetime", "socket", "composer.hooks")  # no hooks here
        assert [m for m in modules if m in lean] == []
        modules = _run_probe(["-p", "imp", "down", "-t", "0"], d)
        assert [m for m in modules if m in ("shutil", "zlib", "bz2", "lzma")] == []
    finally:
        subprocess.run([*compose, "down", "-t", "0"], capture_output=True, cwd=d, timeout=120)


# ---- `ps` and `ls` (issue 5: ps <= 60 ms) ---------------------------------------------------------
# Standard modules these read-only commands have no use for (FINDINGS F14): argparse (+gettext,
# locale, shutil's bz2/lzma via its formatter), dataclasses (+inspect, ast, dis, tokenize), signal,
# threading (the state store takes its lock and thread-local from _thread), typing (annotations
# only: each module imports it under TYPE_CHECKING, which is False at run time), datetime (sqlite3's
# dbapi2 imports it for its adapters: the store opens the database through _sqlite3).
LISTING_MUST_NOT_IMPORT = ("argparse", "gettext", "locale", "shutil", "bz2", "lzma", "dataclasses",
                           "inspect", "ast", "tokenize", "signal", "threading", "typing", "datetime",
                           "composer.loader.environment",
                           # the default tables are cut without the Go template engine (~3 ms)
                           "composer.cli.go_text_template", "composer.cli.go_template")

_LISTING_PROBE = (
    "import sys\nfrom composer.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    f"print('@@', rc, ' '.join(m for m in {LISTING_MUST_NOT_IMPORT!r} if m in sys.modules))"
)


@pytest.mark.parametrize("args", [["ps"], ["ps", "-a", "--format", "json"], ["-p", "nosuch", "ps"], ["ls"],
                                  ["ls", "-q"]], ids=" ".join)
def test_listing_commands_import_no_parser_dataclasses_or_signal(
    args: list[str], project10: Path
) -> None:
    def probe() -> list[str]:
        out = subprocess.run([sys.executable, "-c", _LISTING_PROBE, *args], capture_output=True,
                             text=True, cwd=project10, env=dict(os.environ), timeout=60)
        marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
        assert marks, out.stderr
        return marks[-1].split()[1:]

    probe()  # the first load of the file fills the project cache (a miss may import anything)
    assert probe() == ["0"]


@pytest.mark.parametrize("args", [["container", "ls", "-a"], ["container", "ls", "--format", "json"],
                                  ["container", "ls", "--format", "table"]], ids=" ".join)
def test_container_ls_cuts_its_table_and_json_without_the_template_engine(
    args: list[str], tmp_path: Path, engine_paths: tuple[Path, Path]
) -> None:
    engine = ("composer.cli.go_text_template", "composer.cli.go_template")
    code = ("import sys\nfrom composer.cli.main import main\nrc = main(sys.argv[1:])\n"
            f"print('@@', rc, ' '.join(m for m in {engine!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ), timeout=60)
    marks = [line for line in out.stdout.splitlines() if line.startswith("@@")]
    assert marks, out.stderr
    assert marks[-1].split()[1:] == ["0"]


@pytest.mark.parametrize(("arg", "lean"), [
    ("--version", ("argparse", "typing", "composer.cli.context", "re")),
    ("version", ("argparse", "typing", "re", "json")),
])
def test_version_imports_no_parser_and_no_typing(arg: str, lean: tuple[str, ...]) -> None:
    code = (f"import sys\nfrom composer.cli.main import main\nmain([{arg!r}])\n"
            f"print(sorted(m for m in {lean!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from composer import __version__

    assert out.stdout.splitlines() == [f"composer version v{__version__}", "[]"]


def test_entry_skips_the_teardown_but_not_the_output_or_a_thread(tmp_path: Path) -> None:
    """entry() ends the process with os._exit: what was printed is flushed, main()'s code is the
    exit status, and a non-daemon thread still running is waited for (the normal exit)."""
    done = tmp_path / "done"
    code = (
        "import sys, threading, time\nimport composer.cli.main as m\n"
        "def fake(**_):\n"
        "    print('partial line', end='')\n"
        f"    threading.Thread(target=lambda: (time.sleep(0.3), open({str(done)!r}, 'w').close())).start()\n"
        "    return 3\n"
        "m.main = fake\nm.entry()\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (3, "partial line")
    assert done.exists()
    lone = "import composer.cli.main as m\nm.main = lambda **_: print('x', end='') or 5\nm.entry()\n"
    out = subprocess.run([sys.executable, "-c", lone], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (5, "x", "")


def test_entry_leaves_the_collector_alone_at_the_end_but_main_restores_it() -> None:
    """main() raises the young generation's threshold while a command runs; entry(), whose process
    ends, does not restore it (that would collect up to 100k young objects, 4-6 ms CPU, for
    nothing), while an in-process caller of main() gets its threshold back."""
    code = (
        "import gc, os, sys\nimport composer.cli.main as m\n"
        "before = gc.get_threshold()[0]\n"
        "m.main(['--version'])\n"
        "print(before, gc.get_threshold()[0])\n"
        "real = os._exit\n"
        "os._exit = lambda c: (print(gc.get_threshold()[0]), sys.stdout.flush(), real(c))\n"
        "sys.argv = ['composer', '--version']\nm.entry()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stderr
    assert lines[1] == "700 700"
    assert lines[-1] == "100000"


def test_the_monitor_imports_no_socket_module() -> None:
    """Every container start waits for a monitor's start (`python -I -S monitor.py`): its modules
    use _socket, not the socket module (four enums converted at import, ~2.5 ms)."""
    code = ("import sys\nsys.path.insert(0, sys.argv[1])\n"
            "import runtime.executor.podmon, runtime.executor.supervise, runtime.executor.init\n"
            "print(sorted(m for m in ('socket', 'selectors') if m in sys.modules))")
    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, repo], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_venvs_interpreter_starts_without_setuptools_hook() -> None:
    """The console script runs the venv's python with site: setuptools' distutils-precedence.pth
    (a Python 3.11 venv comes with setuptools, which the Makefile's `venv` removes: builds are
    isolated) would import _distutils_hack at every command's start (~0.7 ms)."""
    code = "import sys\nprint(sorted(m for m in ('_distutils_hack', 'setuptools') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", "setuptools is in the venv: `make venv` removes it"

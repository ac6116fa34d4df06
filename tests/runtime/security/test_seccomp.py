from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
from pathlib import Path

import pytest

from runtime.errors import InvalidSpec
from runtime.security.caps import DEFAULT_CAPS, set_no_new_privs
from runtime.security.seccomp import cached_filter, default_profile, load_filter
from runtime.security.seccomp_compile import compile_filter, load_profile_file
from tests.runtime.security.forked import in_child, status_fields

X86_64 = platform.machine() == "x86_64"
NR_KEYCTL, NR_CLONE3 = 250, 435   # x86_64
CLONE_NEWNS, CLONE_NEWUTS = 0x00020000, 0x04000000


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _errno_of(rc: int) -> int:
    return 0 if rc >= 0 else ctypes.get_errno()


def _probe() -> dict[str, object]:
    libc = _libc()
    out: dict[str, object] = dict(status_fields("Seccomp", "NoNewPrivs"))
    out["unshare_ns"] = _errno_of(libc.unshare(CLONE_NEWNS))
    out["keyctl"] = _errno_of(libc.syscall(NR_KEYCTL, 0, 0, 0, 0, 0))
    out["clone3"] = _errno_of(libc.syscall(NR_CLONE3, 0, 0))
    out["getpid"] = os.getpid() > 0
    pid = os.fork()   # clone without namespace flags
    if pid == 0:
        os._exit(7)
    out["fork_exit"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    Path("/tmp").stat()
    return out


def test_default_profile_denies_with_eperm_and_lists_conditionals() -> None:
    p = default_profile()
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == errno.EPERM
    names = {n for r in p["syscalls"] if not r.get("includes") and not r.get("args")
             and r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert {"read", "write", "execve", "openat", "futex"} <= names
    assert not names & {"mount", "unshare", "setns", "keyctl", "add_key", "ptrace", "reboot",
                        "init_module", "clone", "personality", "socket", "bpf"}
    sys_admin = [r for r in p["syscalls"] if r.get("includes", {}).get("caps") == ["CAP_SYS_ADMIN"]]
    assert {"mount", "unshare", "setns", "umount2"} <= set(sys_admin[0]["names"])
    p["syscalls"].clear()
    assert default_profile()["syscalls"], "default_profile returns a copy"


def test_compile_depends_on_caps() -> None:
    plain = compile_filter(default_profile(), DEFAULT_CAPS)
    admin = compile_filter(default_profile(), DEFAULT_CAPS | {"SYS_ADMIN"})
    assert len(plain) % 8 == 0 and len(plain) > 800
    assert plain != admin
    assert compile_filter(default_profile(), DEFAULT_CAPS) == plain


def test_the_default_profiles_digest_is_its_own() -> None:
    from runtime.security import seccomp
    from runtime.security.seccomp_profile import shared_default_profile

    # edited the profile? its digest here too: else its filters' cache keys name the old one
    assert seccomp.profile_digest(shared_default_profile()) == seccomp.DEFAULT_PROFILE_DIGEST
    assert seccomp.profile_digest(default_profile()) == seccomp.DEFAULT_PROFILE_DIGEST


def test_cache_reuses_the_compiled_program(tmp_path: Path) -> None:
    first = cached_filter(tmp_path, default_profile(), DEFAULT_CAPS)
    (path,) = tmp_path.glob("*.bpf")
    assert path.read_bytes() == first
    path.write_bytes(b"\0" * 8)   # a marker: a second call must read the cache, not recompile
    assert cached_filter(tmp_path, default_profile(), DEFAULT_CAPS) == b"\0" * 8
    cached_filter(tmp_path, default_profile(), DEFAULT_CAPS | {"SYS_PTRACE"})
    assert len(list(tmp_path.glob("*.bpf"))) == 2


def test_profile_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidSpec, match="bad.json"):
        load_profile_file(bad)
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_BOGUS"}))
    with pytest.raises(InvalidSpec, match="unsupported action 'SCMP_ACT_BOGUS'"):
        load_profile_file(bad)
    with pytest.raises(InvalidSpec, match="missing.json"):
        load_profile_file(tmp_path / "missing.json")


@pytest.mark.privileged
@pytest.mark.skipif(not X86_64, reason="syscall numbers in this test are x86_64's")
def test_default_filter_denies_namespaces_and_keyctl(tmp_path: Path) -> None:
    bpf = cached_filter(tmp_path, default_profile(), DEFAULT_CAPS)

    def child() -> dict[str, object]:
        set_no_new_privs()
        load_filter(bpf)
        return _probe()
    got = in_child(child)
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "1"
    assert got["unshare_ns"] == errno.EPERM
    assert got["keyctl"] == errno.EPERM
    assert got["clone3"] == errno.ENOSYS     # so that libc falls back to clone
    assert got["getpid"] is True and got["fork_exit"] == 7


@pytest.mark.privileged
@pytest.mark.skipif(not X86_64, reason="syscall numbers in this test are x86_64's")
def test_sys_admin_unlocks_unshare(tmp_path: Path) -> None:
    bpf = compile_filter(default_profile(), DEFAULT_CAPS | {"SYS_ADMIN"})

    def child() -> dict[str, object]:
        set_no_new_privs()
        load_filter(bpf)
        return _probe()
    got = in_child(child)
    assert got["unshare_ns"] == 0 and got["keyctl"] == errno.EPERM


@pytest.mark.privileged
def test_without_a_filter_nothing_is_denied() -> None:
    def child() -> dict[str, object]:
        return _probe() if X86_64 else {}
    got = in_child(child)
    assert got.get("Seccomp", "0") == "0"
    if X86_64:
        assert got["unshare_ns"] == 0   # the probe itself can fail: the filter is what denies


@pytest.mark.privileged
def test_custom_profile_file_is_applied(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }))
    bpf = compile_filter(load_profile_file(prof), DEFAULT_CAPS)
    target = tmp_path / "d"

    def child() -> int:
        set_no_new_privs()
        load_filter(bpf)
        try:
            os.mkdir(target)
        except OSError as exc:
            return exc.errno or 0
        return 0
    assert in_child(child) == errno.EACCES
    assert not target.exists()


@pytest.mark.privileged
def test_without_no_new_privs_the_filter_goes_before_the_identity_switch(tmp_path: Path) -> None:
    """Without no_new_privs only CAP_SYS_ADMIN may load a filter, so it must be loaded while the
    process is still fully privileged, and the default profile must allow the switch itself
    (setgroups, setresuid, capset, prctl), as runc does it."""
    from runtime.errors import ExecError
    from runtime.security.caps import apply_identity

    bpf = compile_filter(default_profile(), DEFAULT_CAPS)

    def late() -> str:
        apply_identity(0, 0, [], DEFAULT_CAPS)
        try:
            load_filter(bpf)
        except ExecError as exc:
            return str(exc)
        return "loaded"

    def early() -> dict[str, str]:
        load_filter(bpf)
        apply_identity(1000, 1000, [1000], DEFAULT_CAPS)
        return status_fields("Seccomp", "NoNewPrivs", "Uid", "CapEff")

    assert in_child(late) == "seccomp: cannot load the filter: Permission denied"
    got = in_child(early)
    assert got["Seccomp"] == "2" and got["NoNewPrivs"] == "0" and got["Uid"].split()[0] == "1000"
    assert got["CapEff"] == "0" * 16


def test_rule_selection_follows_dockers_includes_and_excludes() -> None:
    from runtime.security.seccomp_compile import _applies, _conditions, _kernel_at_least

    rule = {"includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "4.8"}}
    assert _applies(rule, frozenset({"SYS_ADMIN"}), "amd64", "6.1.0-18-amd64")
    assert not _applies(rule, frozenset(), "amd64", "6.1.0")
    assert not _applies(rule, frozenset({"SYS_ADMIN"}), "arm64", "6.1.0")
    assert not _applies(rule, frozenset({"SYS_ADMIN"}), "amd64", "4.4.0")
    assert not _applies({"excludes": {"caps": ["CAP_SYS_ADMIN"]}}, frozenset({"SYS_ADMIN"}), "amd64", "6.1")
    assert _kernel_at_least("4.8", "4.10.0") and not _kernel_at_least("4.10", "4.9.250")
    # conditions on one argument are alternatives (one rule each); on different ones, all apply
    assert len(_conditions([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}])) == 2
    assert len(_conditions([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                            {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}])) == 1


def test_syscalls_unknown_to_libseccomp_are_skipped() -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO",
               "syscalls": [{"names": ["read", "no_such_syscall_at_all"], "action": "SCMP_ACT_ALLOW"}]}
    assert len(compile_filter(profile, frozenset())) % 8 == 0
    with pytest.raises(InvalidSpec, match="unknown operator 'SCMP_CMP_BOGUS'"):
        compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}, frozenset())


def test_cache_is_safe_with_concurrent_compiles(tmp_path: Path) -> None:
    import threading

    results: list[bytes] = []
    errors: list[BaseException] = []

    def compile_one() -> None:
        try:
            results.append(cached_filter(tmp_path, default_profile(), DEFAULT_CAPS))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=compile_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"{p.stem}.bpf" for p in tmp_path.glob("*.bpf")]


WORKLOAD = r"""
import mmap, os, select, signal, socket, subprocess, sys, tempfile, threading, time
t = threading.Thread(target=time.sleep, args=(0.01,)); t.start(); t.join()
assert subprocess.run(["/bin/sh", "-c", "echo ok"], capture_output=True).stdout == b"ok\n"
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0)); s.listen()
a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
ep = select.epoll(); ep.register(a.fileno()); ep.poll(0); ep.close()
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "f"); open(p, "w").write("x"); os.rename(p, p + "2"); os.stat(p + "2")
    list(os.scandir(d))
m = mmap.mmap(-1, 4096); m[:1] = b"y"; m.close()
signal.signal(signal.SIGUSR1, lambda *_: None); os.kill(os.getpid(), signal.SIGUSR1)
os.urandom(8); os.getrandom(8)
try:
    socket.socket(40, socket.SOCK_STREAM)   # AF_VSOCK is refused by the filter
    sys.exit(3)
except OSError as exc:
    assert exc.errno == 1, exc
"""


@pytest.mark.privileged
def test_an_ordinary_program_runs_under_the_default_filter(tmp_path: Path) -> None:
    """The host's Python (threads, fork/exec, sockets, epoll, mmap, signals, getrandom) under the
    default filter: the allow-list must not break ordinary programs."""
    import sys

    bpf = compile_filter(default_profile(), DEFAULT_CAPS)

    def child() -> int:
        set_no_new_privs()
        load_filter(bpf)
        pid = os.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", WORKLOAD])
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    assert in_child(child) == 0


def _run_bpf(program: bytes, data: bytes) -> int:
    """What classic BPF *program* returns for seccomp_data *data* (the opcodes libseccomp emits)."""
    import struct

    ins = [struct.unpack_from("HBBI", program, i) for i in range(0, len(program), 8)]
    a = x = pc = 0
    mem = [0] * 16
    while True:
        code, jt, jf, k = ins[pc]
        pc += 1
        cls, op, src = code & 0x07, code & 0xF0, x if code & 0x08 else k
        if cls == 0x00:    # ld: absolute word, memory, immediate
            mode = code & 0xE0
            a = struct.unpack_from("I", data, k)[0] if mode == 0x20 else mem[k] if mode == 0x60 else k
        elif cls == 0x01:  # ldx
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls in (0x02, 0x03):  # st, stx
            mem[k] = a if cls == 0x02 else x
        elif cls == 0x04:  # alu
            ops = {0x00: a + src, 0x10: a - src, 0x50: a & src, 0x40: a | src, 0xA0: a ^ src,
                   0x60: a << src, 0x70: a >> src}
            a = ops[op] & 0xFFFFFFFF
        elif cls == 0x05:  # jmp
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: a & src != 0}[op]
            pc += jt if taken else jf
        elif cls == 0x06:  # ret
            return a if code & 0x18 == 0x10 else k
        else:              # misc: tax, txa
            x, a = (a, a) if code & 0xF8 == 0x00 else (x, x)


@pytest.mark.skipif(not X86_64, reason="x86_64 syscall numbers and audit arch")
def test_the_tree_filter_decides_every_syscall_as_the_linear_one() -> None:
    """The default filter is compiled as a binary tree (cheaper for the kernel to load and to run):
    for every syscall number of both x86 ABIs (x32's too), with no arguments and with all bits
    set, and on x86_64 with the first argument at values the profile's conditions test (clone's
    namespace flags, personality's, socket's families), it answers as the linear program does."""
    import struct

    tree = compile_filter(default_profile(), DEFAULT_CAPS)
    linear = compile_filter(default_profile(), DEFAULT_CAPS, tree=False)
    assert tree != linear
    cases = [(arch, nr, arg) for arch in (0xC000003E, 0x40000003)  # x86_64, i386
             for nr in [*range(470), *range(0x40000000, 0x40000000 + 550, 11)]
             for arg in (0, 0xFFFFFFFF_FFFFFFFF)]
    cases += [(0xC000003E, nr, arg) for nr in range(470)
              for arg in (1, 8, 16, 40, 0x20000, 0x7E020000, 0x80000000)]
    differ = []
    for arch, nr, arg in cases:
        data = struct.pack("=iIQ6Q", nr, arch, 0, arg, *[0 if arg < 2**32 else arg] * 5)
        if _run_bpf(tree, data) != _run_bpf(linear, data):
            differ.append((hex(arch), nr, hex(arg)))
    assert differ == []

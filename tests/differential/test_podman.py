"""Differential tests: the same container run by composer and by podman 4.3, compared from inside.

Each test runs one busybox shell script in both (`composer container run --rm` and `podman run
--rm`, same image tarball, same flags) and compares what the process sees. Where they differ:
- composer is wrong (not a documented choice): the test asserts podman's behaviour and is marked
  xfail(strict=True) with the difference in its reason;
- composer differs on purpose (DESIGN.md or docker compatibility): the test asserts composer's
  behaviour and says why.
The differences composer should not have are in test_podman_differs.py. Both run with
`--network none` (see tests/differential/podman.py: podman's bridge leaves iptables
tables behind), so the network stack is not compared here.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import composer_cli
from tests.differential.compare import (
    CAP_AUDIT_WRITE,
    CAP_CHOWN,
    CAP_MKNOD,
    CAP_NET_ADMIN,
    CAP_NET_RAW,
    IDS,
    STATUS,
    Result,
    bit,
    dev_entries,
    mount_table,
    probe,
    run_both,
    status,
)
from tests.differential.podman import IMAGE, Podman

pytestmark = [
    pytest.mark.privileged,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman not installed (`make deps` does it)"),
]

# Sections of a probe's output: "== name" lines, then that section's lines.




















# ---- process credentials ---------------------------------------------------------------------


def test_default_capabilities_and_seccomp(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"status": STATUS})
    p, c = status(theirs["status"]), status(ours["status"])
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp"):
        assert c[key] == p[key], key
    # podman's set as DESIGN §6 names it: no NET_RAW, MKNOD, AUDIT_WRITE.
    assert not any(bit(c["CapEff"], n) for n in (CAP_NET_RAW, CAP_MKNOD, CAP_AUDIT_WRITE))
    assert c["Seccomp"] == "2"


def test_no_new_privs_is_set_on_purpose(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"status": STATUS})
    # Deliberate (DESIGN §6 "Security defaults": no_new_privs): podman 4.3 leaves it off unless
    # --security-opt no-new-privileges; composer sets it by default.
    assert status(theirs["status"])["NoNewPrivs"] == "0"
    assert status(ours["status"])["NoNewPrivs"] == "1"


def test_cap_add_and_drop(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, ["--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"], {"status": STATUS})
    p, c = status(theirs["status"]), status(ours["status"])
    for key in ("CapPrm", "CapEff", "CapBnd", "CapInh", "CapAmb"):
        assert c[key] == p[key], key
    assert bit(c["CapEff"], CAP_NET_ADMIN) and not bit(c["CapEff"], CAP_CHOWN)


def test_privileged(podman: Podman, composer: None) -> None:
    parts = {
        "status": STATUS,
        "kcore": "test -s /proc/kcore && echo visible || echo masked",
        "sysrw": "grep -E ' /sys ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1",
        "procsys": "grep -E ' /proc/sys ' /proc/self/mountinfo | wc -l",
    }
    theirs, ours = probe(podman, ["--privileged"], parts)
    p, c = status(theirs["status"]), status(ours["status"])
    for key in ("CapPrm", "CapEff", "CapBnd", "Seccomp"):  # NoNewPrivs: see the test above
        assert c[key] == p[key], key
    assert c["Seccomp"] == "0"
    for name in ("kcore", "sysrw", "procsys"):
        assert ours[name] == theirs[name], name






@pytest.mark.parametrize("user", ["1000:1000", "nobody"])
def test_user(podman: Podman, composer: None, user: str) -> None:
    parts = {"ids": IDS, "home": "echo $HOME", "status": STATUS}
    theirs, ours = probe(podman, ["-u", user], parts)
    p, c = status(theirs["ids"]), status(ours["ids"])
    assert (c["Uid"], c["Gid"]) == (p["Uid"], p["Gid"])
    # podman invents /etc/passwd entries for unknown uids (its --passwd); names are not compared
    assert ours["home"] == theirs["home"]
    p, c = status(theirs["status"]), status(ours["status"])
    for key in ("CapPrm", "CapEff", "CapBnd", "CapInh", "CapAmb"):
        assert c[key] == p[key], key




# ---- masked and read-only paths -----------------------------------------------------------------

MASK_PROBES = {
    "kcore": "test -e /proc/kcore && wc -c < /proc/kcore || echo absent",  # absent on some kernels
    "keys": "wc -c < /proc/keys",
    "timer_list": "wc -c < /proc/timer_list",
    "firmware": "ls -A /sys/firmware | wc -l",
    "acpi": "ls -A /proc/acpi | wc -l",
    "sysctl_write": "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo written || echo refused",
    "sysrq_write": "echo h > /proc/sysrq-trigger 2>/dev/null && echo written || echo refused",
    "sys_write": "echo 1 > /sys/kernel/profiling 2>/dev/null && echo written || echo refused",
}


def test_masked_and_read_only_paths(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], MASK_PROBES)
    for name in MASK_PROBES:
        assert ours[name] == theirs[name], name
    assert ours["kcore"] in (["0"], ["absent"]) and ours["sysctl_write"] == ["refused"]


# ---- mounts ------------------------------------------------------------------------------------





def test_mount_points_and_types(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"mounts": "cat /proc/self/mountinfo"})
    p, c = mount_table(theirs["mounts"]), mount_table(ours["mounts"])
    # Deliberate: with --network none podman leaves the image's /etc/resolv.conf; docker (and
    # composer) still bind their own, so that a compose service sees the same files either way.
    assert "/etc/resolv.conf" not in p and "/etc/resolv.conf" in c
    c.pop("/etc/resolv.conf")
    assert sorted(c) == sorted(p)
    assert {k: v[0] for k, v in c.items()} == {k: v[0] for k, v in p.items()}
    assert {k: "ro" in v[1] for k, v in c.items() if not k.startswith("/proc/")} == {
        k: "ro" in v[1] for k, v in p.items() if not k.startswith("/proc/")
    }






def test_pseudo_filesystem_flags(podman: Podman, composer: None) -> None:
    """Flags of the kernel file systems every container gets (not /dev: see above)."""
    theirs, ours = probe(podman, [], {"mounts": "cat /proc/self/mountinfo"})
    p, c = mount_table(theirs["mounts"]), mount_table(ours["mounts"])
    for point in ("/", "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"):
        assert c[point] == p[point], point


def test_shm_size_follows_docker(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"shm": "df -k /dev/shm | tail -1 | awk '{print $2}'"})
    # Deliberate: compose files are written for docker, whose default shm_size is 64 MiB (65536k);
    # podman's is 64 MB (64000k).
    assert theirs["shm"] == ["64000"]
    assert ours["shm"] == ["65536"]




# ---- /dev ---------------------------------------------------------------------------------------




def test_dev_entries(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"dev": "ls -la /dev"})
    assert dev_entries(ours["dev"]) == dev_entries(theirs["dev"])


# ---- identity and environment -------------------------------------------------------------------


def test_hostname_defaults_to_short_id(podman: Podman, composer: None) -> None:
    parts = {"hostname": "hostname", "env": "echo $HOSTNAME", "file": "cat /etc/hostname"}
    for side in probe(podman, [], parts):
        name = side["hostname"][0]
        assert re.fullmatch(r"[0-9a-f]{12}", name)
        assert side["env"] == [name] and side["file"] == [name]


def test_environment(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"env": "env | sort"})
    p = dict(line.partition("=")[::2] for line in theirs["env"])
    c = dict(line.partition("=")[::2] for line in ours["env"])
    for key in ("PATH", "HOME"):
        assert c[key] == p[key], key
    assert "HOSTNAME" in c
    # Deliberate: without -t docker sets no TERM, and `container=podman` is podman's marker;
    # compose files are written for docker's environment.
    assert p.get("TERM") == "xterm" and p.get("container") == "podman"
    assert "TERM" not in c and "container" not in c


def test_workdir(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, ["-w", "/tmp"], {"pwd": "pwd"})
    assert ours["pwd"] == theirs["pwd"] == ["/tmp"]


def test_process_defaults(podman: Podman, composer: None) -> None:
    parts = {
        "umask": "umask",
        "pwd": "pwd",
        "oom": "cat /proc/self/oom_score_adj",
        "ps": "ps -o pid,comm",
        "sysctls": "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/core/somaxconn",
    }
    theirs, ours = probe(podman, [], parts)
    assert ours == theirs


def test_ping_group_range_opened_on_purpose(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"ping": "cat /proc/sys/net/ipv4/ping_group_range"})
    # Deliberate (DESIGN §6): composer opens ping to every group because it drops NET_RAW (as
    # docker does since 20.10); Debian's containers.conf sets "0 0".
    assert theirs["ping"] == ["0\t0"]
    assert ours["ping"] == ["0\t2147483647"]


def test_cgroup_namespace(podman: Podman, composer: None) -> None:
    theirs, ours = probe(podman, [], {"cgroup": "cat /proc/self/cgroup"})
    # podman (like docker) shares the host's cgroup namespace on a cgroup v1 host, so the container
    # sees its cgroup paths; composer always gives a private one (docker's default on v2 and compose's
    # `cgroup: private`), so every path reads "/". Not a compatibility issue for a compose file.
    assert any(podman.cgroup_parent in line for line in theirs["cgroup"])
    assert ours["cgroup"] and all(line.endswith(":/") for line in ours["cgroup"])


def test_etc_hosts(podman: Podman, composer: None) -> None:
    parts = {"hosts": "cat /etc/hosts", "hostname": "hostname"}
    theirs, ours = probe(podman, [], parts)
    for side in (theirs, ours):
        entries = [line.split() for line in side["hosts"] if line and not line.startswith("#")]
        assert ["127.0.0.1", "localhost"] in entries
        assert any(side["hostname"][0] in e[1:] for e in entries)  # its own name resolves
    # Deliberate: podman copies the host's /etc/hosts entries and adds host.containers.internal;
    # docker (and composer) write only localhost, the IPv6 names and the container's own name.
    assert any("host.containers.internal" in line for line in theirs["hosts"])
    assert not any("host.containers.internal" in line for line in ours["hosts"])


def test_other_default_ulimits(podman: Podman, composer: None) -> None:
    """Every limit but processes (podman.py clamps podman's nproc default for this host)."""
    theirs, ours = probe(podman, [], {"all": "ulimit -a | grep -v '(-u)'"})
    assert ours["all"] == theirs["all"] and len(ours["all"]) > 10


def test_ulimits(podman: Podman, composer: None) -> None:
    flags = ["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=500:1000"]
    parts = {"n": "ulimit -n", "Hn": "ulimit -Hn", "u": "ulimit -u", "Hu": "ulimit -Hu"}
    theirs, ours = probe(podman, flags, parts)
    assert ours == theirs
    assert ours["n"] == ["1024"] and ours["Hu"] == ["1000"]


def test_default_open_files_limit(podman: Podman, composer: None) -> None:
    """podman asks for 1048576 open files; both end up at the host's hard limit here (podman via
    the clamped default_ulimits of podman.py, composer by clamping itself)."""
    import resource

    theirs, ours = probe(podman, [], {"n": "ulimit -n", "Hn": "ulimit -Hn"})
    hard = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
    assert ours == theirs == {"n": [str(hard)], "Hn": [str(hard)]}


# ---- file systems from flags -------------------------------------------------------------------


def test_read_only_rootfs(podman: Podman, composer: None) -> None:
    parts = {
        "root": "touch /probe 2>/dev/null && echo written || echo refused",
        "tmp": "touch /tmp/probe 2>/dev/null && echo written || echo refused",
        "mounts": "cat /proc/self/mountinfo",
    }
    theirs, ours = probe(podman, ["--read-only"], parts)
    assert ours["root"] == theirs["root"] == ["refused"]
    p, c = mount_table(theirs["mounts"]), mount_table(ours["mounts"])
    assert "ro" in c["/"][1]
    # podman's --read-only-tmpfs (default true) adds tmpfs at /tmp, /var/tmp and /run; docker adds
    # none. Deliberate: composer follows docker (a compose `read_only: true` service means the same
    # thing under docker compose), so /tmp stays read-only.
    assert {"/tmp", "/var/tmp", "/run"} <= set(p) and theirs["tmp"] == ["written"]
    assert not {"/tmp", "/var/tmp", "/run"} & set(c) and ours["tmp"] == ["refused"]


def test_tmpfs_with_size(podman: Podman, composer: None) -> None:
    parts = {
        "df": "df -k /x | tail -1 | awk '{print $2}'",
        "mount": "grep ' /x ' /proc/self/mountinfo",
        "write": "echo hi > /x/f && cat /x/f",
    }
    theirs, ours = probe(podman, ["--tmpfs", "/x:size=1m"], parts)
    assert ours["df"] == theirs["df"] == ["1024"]
    assert ours["write"] == theirs["write"] == ["hi"]
    assert mount_table(ours["mount"]) == mount_table(theirs["mount"])


# ---- processes and cgroups ----------------------------------------------------------------------


def test_init(podman: Podman, composer: None) -> None:
    parts = {"pid1": "cat /proc/1/comm", "ppid": "grep PPid /proc/$$/status | cut -f2"}
    theirs, ours = probe(podman, ["--init"], parts)
    # Both run tini-static (podman.py: Debian's podman has no catatonit) under their own name for it.
    assert theirs["pid1"] == ["podman-init"]
    assert ours["pid1"] not in (["sh"], [])
    assert ours["ppid"] == theirs["ppid"] == ["1"]


def test_pids_limit_enforced(podman: Podman, composer: None) -> None:
    # Each `&` forks; busybox sh exits (2) at the first fork the pids limit refuses, so the last
    # number printed is how many children fit beside the shell.
    script = "for i in 1 2 3 4 5 6 7 8; do sleep 3 & echo $i; done 2>/dev/null"
    theirs, ours = run_both(podman, ["--pids-limit", "5"], script)
    assert (theirs.returncode, theirs.stdout.split()) == (2, ["1", "2", "3", "4"])
    assert (ours.returncode, ours.stdout.split()) == (theirs.returncode, theirs.stdout.split())






def test_memory_limit_enforced(podman: Podman, composer: None) -> None:
    # 60 MB into /dev/shm (shmem is charged to the container's memory cgroup; no swap here): the
    # writer is OOM-killed under a 32 MB limit, and not without one.
    script = "dd if=/dev/zero of=/dev/shm/f bs=1M count=60 2>/dev/null; echo $?"
    stray = Path.cwd() / "oom"  # conmon's OOM marker lands in its working directory
    had_stray = stray.exists()
    theirs, ours = run_both(podman, ["--memory", "32m"], script)
    assert theirs.stdout.split() == ["137"]
    assert stray.exists() == had_stray
    assert ours.stdout.split() == theirs.stdout.split()
    theirs, ours = run_both(podman, [], script)
    assert ours.stdout.split() == theirs.stdout.split() == ["0"]


def test_default_pids_limit_follows_docker(podman: Podman, composer: None) -> None:
    """podman 4.3 caps every container at 2048 pids; docker (and composer) set no default limit."""
    script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo none"
    theirs, ours = run_both(podman, [], script)
    assert theirs.stdout.split() == ["2048"]
    # Deliberate: docker compose sets no pids limit unless pids_limit says so.
    assert ours.stdout.split() != ["2048"]


# ---- exit status and stop ------------------------------------------------------------------------


# A PID 1 ignores signals it has no handler for, even SIGKILL from inside its namespace: the
# killed-by-signal cases run under --init so that the shell is not PID 1.
@pytest.mark.parametrize(("flags", "script", "code"), [
    ([], "exit 3", 3),
    ([], "kill -9 $$", 0),
    (["--init"], "kill -9 $$", 137),
    (["--init"], "kill -15 $$; sleep 1", 143),
])
def test_exit_codes(podman: Podman, composer: None, flags: list[str], script: str, code: int) -> None:
    theirs, ours = run_both(podman, flags, script)
    assert theirs.returncode == code, theirs.stderr
    assert ours.returncode == theirs.returncode, ours.stderr


def stop_exit_code(podman: Podman, tool: str, name: str, script: str, flags: list[str]) -> tuple[int, float]:
    """Start *script* detached, stop it with a 3 s grace, return (exit code, seconds stop took)."""
    if tool == "podman":
        def cli(*a: str) -> Result:
            return podman(*a)
        run = ["run", "-d", "--name", name, *podman.run_flags()]
    else:
        def cli(*a: str) -> Result:
            return composer_cli(*a)
        run = ["container", "run", "-d", "--name", name, "--network", "none"]
    prefix = [] if tool == "podman" else ["container"]
    r = cli(*run, *flags, IMAGE, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    try:
        time.sleep(0.5)  # let the shell install its trap
        t0 = time.monotonic()
        r = cli(*prefix, "stop", "-t", "3", name)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        r = cli(*prefix, "inspect", "--format", "{{.State.ExitCode}}", name)
        assert r.returncode == 0, r.stderr
        return int(r.stdout.strip()), took
    finally:
        cli(*prefix, "rm", "-f", name)


@pytest.mark.parametrize(("script", "flags", "code"), [
    ("trap 'exit 7' TERM; while true; do sleep 0.1; done", [], 7),
    ("trap 'exit 9' USR1; while true; do sleep 0.1; done", ["--stop-signal", "USR1"], 9),
    ("while true; do sleep 0.1; done", [], 137),  # PID 1 ignores an untrapped TERM: killed
])
def test_stop_signal(podman: Podman, composer: None, script: str, flags: list[str], code: int) -> None:
    theirs, took_theirs = stop_exit_code(podman, "podman", "difftest-stop", script, flags)
    ours, took_ours = stop_exit_code(podman, "composer", "difftest-stop", script, flags)
    assert theirs == code
    assert ours == theirs
    assert (took_ours >= 2.5) == (took_theirs >= 2.5)  # the grace period ran out in both or neither


def test_kill_exit_code(podman: Podman, composer: None) -> None:
    """`kill` (SIGKILL by default) of a running container: exit code 128+9 in both."""
    script = "trap 'exit 7' TERM; while true; do sleep 0.1; done"
    codes = []
    for tool in ("podman", "composer"):
        if tool == "podman":
            def cli(*a: str) -> Result:
                return podman(*a)
            r = cli("run", "-d", "--name", "difftest-kill", *podman.run_flags(), IMAGE, "sh", "-c", script)
            prefix: list[str] = []
        else:
            def cli(*a: str) -> Result:
                return composer_cli(*a)
            prefix = ["container"]
            r = cli("container", "run", "-d", "--name", "difftest-kill", "--network", "none", IMAGE,
                    "sh", "-c", script)
        assert r.returncode == 0, r.stderr
        try:
            assert cli(*prefix, "kill", "difftest-kill").returncode == 0
            assert cli(*prefix, "wait", "difftest-kill").returncode == 0
            r = cli(*prefix, "inspect", "--format", "{{.State.ExitCode}}", "difftest-kill")
            codes.append(r.stdout.strip())
        finally:
            cli(*prefix, "rm", "-f", "difftest-kill")
    assert codes == ["137", "137"]

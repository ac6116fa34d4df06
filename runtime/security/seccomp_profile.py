"""The default seccomp profile: equivalent to Docker's default, written from its documented
behaviour (docs.docker.com "Seccomp security profiles for Docker"), in Docker's JSON format so that
``security_opt: seccomp=<file>`` profiles and this one go through the same compiler.

Shape: every syscall not listed fails with EPERM. Listed here: what any process needs; the
conditional rules (personality only with the documented personas, clone without namespace flags
and clone3 with ENOSYS unless CAP_SYS_ADMIN, socket except AF_VSOCK); and groups that a capability
unlocks (CAP_SYS_ADMIN: mount, unshare, setns, ...; CAP_SYS_PTRACE; CAP_SYS_MODULE; ...).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

_EPERM: Final = 1
_ENOSYS: Final = 38

# Syscalls every container may use (the kernel's names; names unknown to the installed
# libseccomp or absent on an architecture are skipped by the compiler).
_ALLOWED_TEXT: Final = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64
futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid
getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack
membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap nanosleep newfstatat _newselect open openat openat2 pause
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall
rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid
setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr
shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid
waitpid write writev
"""
_ALLOWED: Final[tuple[str, ...]] = tuple(sorted(set(_ALLOWED_TEXT.split())))

# Docker allows these without any capability on kernels >= 4.8, where ptrace can no longer be
# used to bypass seccomp.
_PTRACE_GROUP: Final = ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                        "process_vm_writev", "ptrace")

# Syscalls a capability unlocks.
_BY_CAP: Final[dict[str, tuple[str, ...]]] = {
    "SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                  "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "name_to_handle_at",
                  "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
                  "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
    "SYS_BOOT": ("reboot",),
    "SYS_CHROOT": ("chroot",),
    "SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "SYS_PACCT": ("acct",),
    "SYS_PTRACE": _PTRACE_GROUP,
    "SYS_RAWIO": ("iopl", "ioperm"),
    "SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "SYS_TTY_CONFIG": ("vhangup",),
    "SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "SYSLOG": ("syslog",),
    "BPF": ("bpf",),
    "PERFMON": ("perf_event_open",),
    "DAC_READ_SEARCH": ("open_by_handle_at",),
}

# The namespace flags clone() may not carry without CAP_SYS_ADMIN: CLONE_NEWNS | NEWCGROUP |
# NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_FLAGS: Final = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 \
    | 0x20000000 | 0x40000000

_AF_VSOCK: Final = 40

# personality(2) personas allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the
# 0xffffffff query.
_PERSONAS: Final = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)


def _rule(names: tuple[str, ...] | list[str], action: str = "SCMP_ACT_ALLOW", **extra: Any) -> dict[str, Any]:
    return {"names": sorted(names), "action": action, **extra}


def _build() -> dict[str, Any]:
    syscalls: list[dict[str, Any]] = [_rule(_ALLOWED)]
    for persona in _PERSONAS:
        syscalls.append(_rule(["personality"],
                              args=[{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}]))
    syscalls.append(_rule(["socket"], args=[{"index": 0, "value": _AF_VSOCK, "op": "SCMP_CMP_NE"}]))
    syscalls.append(_rule(list(_PTRACE_GROUP), includes={"minKernel": "4.8"}))
    syscalls.append(_rule(["arch_prctl", "modify_ldt"], includes={"arches": ["amd64", "x32", "x86"]}))
    syscalls.append(_rule(["breakpoint", "cacheflush", "set_tls", "arm_fadvise64_64",
                           "arm_sync_file_range", "sync_file_range2"],
                          includes={"arches": ["arm", "arm64"]}))
    syscalls.append(_rule(["riscv_flush_icache"], includes={"arches": ["riscv64"]}))
    syscalls.append(_rule(["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
                          includes={"arches": ["s390", "s390x"]}))
    # clone without namespace flags (arg 0 on every arch but s390, where flags are arg 1).
    syscalls.append(_rule(["clone"], args=[{"index": 0, "value": CLONE_NAMESPACE_FLAGS,
                                            "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                          excludes={"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}))
    syscalls.append(_rule(["clone"], args=[{"index": 1, "value": CLONE_NAMESPACE_FLAGS,
                                            "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                          includes={"arches": ["s390", "s390x"]},
                          excludes={"caps": ["CAP_SYS_ADMIN"]}))
    # clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
    syscalls.append(_rule(["clone3"], action="SCMP_ACT_ERRNO", errnoRet=_ENOSYS,
                          excludes={"caps": ["CAP_SYS_ADMIN"]}))
    for cap, names in _BY_CAP.items():
        syscalls.append(_rule(names, includes={"caps": [f"CAP_{cap}"]}))
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": _EPERM,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
            {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]},
            {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": []},
        ],
        "syscalls": syscalls,
    }


_DEFAULT: Final = _build()


def default_profile() -> dict[str, Any]:
    """A fresh copy of the default profile (Docker's JSON format); callers may modify it."""
    import copy  # here: a container run reads the shared profile (copy imports weakref)

    return copy.deepcopy(_DEFAULT)


def shared_default_profile() -> Mapping[str, Any]:
    """The default profile itself, not a copy: for readers only (a deepcopy costs ~1 ms)."""
    return _DEFAULT

"""Container hardening building blocks used by the container init: capabilities, seccomp, default
masked/read-only paths and devices, sysctl checks and rlimits. Standard library only: the init runs
inside the monitor (``python -I -S``). Import the submodules directly; this package imports nothing
so that loading one part does not load the others (libseccomp is only needed by seccomp.py)."""

__all__ = ["caps", "defaults", "rlimits", "seccomp", "seccomp_profile"]

"""The executor: the OCI runtime spec of a container turned into real namespaces and mounts.

Standard library only (the monitor imports it under ``python -I -S``):

- ``syscalls``: ctypes wrappers of the Linux calls Python lacks (unshare, setns, mount, ...).
- ``oci``: PURE, ContainerSpec + image config + network + paths -> an OCI config.json dict.
- ``user``: resolve "name", "uid:gid", ... against the image's /etc/passwd and /etc/group.
- ``init``: the sequence inside the container, from joining cgroups to execve.
- ``enter``: join a running container's namespaces (exec, healthchecks).
"""

__all__ = ["enter", "init", "oci", "syscalls", "user"]

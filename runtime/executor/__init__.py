"""The executor: the OCI runtime spec of a container turned into real namespaces and mounts.

Standard library only (the monitor imports it under ``python -I -S``):

- ``syscalls``: ctypes wrappers of the Linux calls Python lacks (unshare, setns, mount, ...).
- ``oci``: PURE, ContainerSpec + image config + network + paths -> an OCI config.json dict.
- ``user``: resolve "name", "uid:gid", ... against the image's /etc/passwd and /etc/group.
- ``init``: the sequence inside the container, from joining cgroups to execve.
- ``enter``: join a running container's namespaces (exec, healthchecks).
"""

__all__ = ["enter", "init", "oci", "syscalls", "user"]

# The network gate of a `run` (container_create): a FIFO in the container's run dir whose write end
# the command holds while it plugs the network in after asking for the init; the init reads
# NETWORK_READY from it before its workload, and a read of EOF without it (the command failed
# or was killed) ends the init instead.
NET_GATE = "netgate"
NETWORK_READY = b"g"

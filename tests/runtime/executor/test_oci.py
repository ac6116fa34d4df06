"""oci.build_config: image/spec combinations -> config.json (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import InvalidSpec
from runtime.executor import oci
from runtime.executor.user import User
from runtime.spec import ContainerNet, ContainerSpec, Mount, Resources

NET = ContainerNet(
    netns_path="/run/composer/netns/abc", hosts_path="/run/h", resolv_path="/run/r", hostname="web"
)
IMAGE: dict[str, Any] = {
    "Env": ["PATH=/bin", "A=image"],
    "Entrypoint": ["/entry"],
    "Cmd": ["serve", "--port=80"],
    "WorkingDir": "/srv",
    "StopSignal": "SIGQUIT",
}


def inputs(**kw: Any) -> oci.BundleInputs:
    base: dict[str, Any] = dict(
        container_id="c" * 64,
        rootfs="/r",
        user=User(0, 0),
        caps=frozenset({"CHOWN"}),
        net=NET,
        hostname_path="/run/hostname",
    )
    base.update(kw)
    return oci.BundleInputs(**base)


def build(
    image: dict[str, Any] | None = None, inp: oci.BundleInputs | None = None, **kw: Any
) -> dict[str, Any]:
    return oci.build_config(
        ContainerSpec(name="demo-web-1", image="x", **kw), IMAGE if image is None else image, inp or inputs()
    )


@pytest.mark.parametrize(
    ("entrypoint", "command", "expected"),
    [
        (None, None, ["/entry", "serve", "--port=80"]),  # the image's both
        (None, ("run",), ["/entry", "run"]),  # command replaces Cmd only
        (("/other",), None, ["/other"]),  # entrypoint resets the image's Cmd
        (("/other",), ("x",), ["/other", "x"]),
        ((), ("sh",), ["sh"]),  # () clears the image's entrypoint
        ((), None, ["serve", "--port=80"]),  # a cleared entrypoint and no command: the image's Cmd
        ((), (), ["serve", "--port=80"]),  # (moby's merge: len(Entrypoint) == 0, len(Cmd) == 0)
        (None, (), ["/entry", "serve", "--port=80"]),
    ],
)
def test_args_follow_docker_rules(entrypoint: Any, command: Any, expected: list[str]) -> None:
    assert build(entrypoint=entrypoint, command=command)["process"]["args"] == expected


def test_no_command_at_all_is_an_error() -> None:
    with pytest.raises(InvalidSpec, match="container demo-web-1: no command specified"):
        build(image={"Env": []})


def test_env_is_merged_over_the_image_and_hostname_set() -> None:
    env = build(env={"A": "spec", "B": "b"})["process"]["env"]
    assert env[:4] == ["PATH=/bin", "A=spec", "HOSTNAME=web", "B=b"] and "HOME=/" in env


def test_cwd_user_caps_and_rlimits() -> None:
    cfg = build(
        inp=inputs(user=User(33, 33, (100,), "/var/www"), rlimits=[("nofile", 10, 20)]), working_dir="/w"
    )
    p = cfg["process"]
    assert p["cwd"] == "/w" and p["user"] == {"uid": 33, "gid": 33, "additionalGids": [100]}
    assert p["capabilities"]["bounding"] == ["CAP_CHOWN"] and p["noNewPrivileges"] is True
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert "HOME=/var/www" in p["env"]
    assert build()["process"]["cwd"] == "/srv"


def test_namespaces_join_the_network_pin_and_honour_host_modes() -> None:
    ns = build()["linux"]["namespaces"]
    assert {n["type"] for n in ns} == {"mount", "uts", "cgroup", "pid", "ipc", "network"}
    assert {"type": "network", "path": NET.netns_path} in ns
    host = oci.build_config(
        ContainerSpec(name="h", image="x", pid_mode="host", ipc_mode="host", cgroupns_mode="host"),
        IMAGE,
        inputs(net=ContainerNet(netns_path=None, hosts_path="/h", resolv_path="/r", hostname="h")),
    )
    assert {n["type"] for n in host["linux"]["namespaces"]} == {"mount", "uts"}
    [shm] = [m for m in host["mounts"] if m["destination"] == "/dev/shm"]
    assert (shm["type"], shm["source"]) == ("bind", "/dev/shm")  # as docker: the host's /dev/shm
    assert {"rbind", "rprivate", "nosuid", "nodev"} <= set(shm["options"])


def test_mounts_defaults_user_mounts_and_etc_files_in_order() -> None:
    cfg = build(
        shm_size=1 << 20,
        mounts=(
            Mount(type="bind", source="/host", target="/data", read_only=True, propagation="rshared"),
            Mount(type="volume", source="v", target="/v"),
            Mount(type="tmpfs", target="/t", tmpfs_size=4096, tmpfs_mode=0o700),
        ),
        inp=inputs(volume_sources={"/v": "/vols/v/_data"}),
    )
    dests = [m["destination"] for m in cfg["mounts"]]
    assert dests == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/data",
        "/v",
        "/t",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    ]
    by = {m["destination"]: m for m in cfg["mounts"]}
    assert by["/dev/shm"]["options"][-1] == f"size={1 << 20}"
    assert by["/data"]["options"] == ["rbind", "rshared", "rro"]  # docker 25: recursively read-only
    assert by["/v"]["source"] == "/vols/v/_data"
    assert by["/t"]["options"] == ["nosuid", "nodev", "size=4096", "mode=700"]
    assert "ro" in by["/sys"]["options"]


def test_a_volume_that_was_not_prepared_is_an_error() -> None:
    with pytest.raises(InvalidSpec, match="volume for /v was not prepared"):
        build(mounts=(Mount(type="volume", source="v", target="/v"),))


def test_privileged_drops_masks_and_read_only_sys() -> None:
    cfg = build(privileged=True)
    assert cfg["linux"]["maskedPaths"] == [] and cfg["linux"]["readonlyPaths"] == []
    assert "ro" not in {m["destination"]: m for m in cfg["mounts"]}["/sys"]["options"]


def test_resources_sysctls_and_stop_signal() -> None:
    cfg = build(
        resources=Resources(memory=1 << 30, cpus=1.5, pids_limit=100), sysctls={"net.core.somaxconn": "1024"}
    )
    assert cfg["linux"]["resources"] == {
        "memory": {"limit": 1 << 30},
        "cpu": {"period": 100000, "quota": 150000},
        "pids": {"limit": 100},
    }
    assert cfg["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}
    assert cfg["annotations"]["org.opencontainers.image.stopSignal"] == "3"  # SIGQUIT from the image
    spec = ContainerSpec(name="n", image="x", stop_signal="USR1")
    assert oci.stop_signal(spec, IMAGE) == 10
    with pytest.raises(InvalidSpec, match="unknown signal 'SIGNOPE'"):
        oci.parse_signal("SIGNOPE", "n")


def test_signal_names_are_the_signal_modules() -> None:
    """parse_signal reads _signal's numbers (no enum at import) but takes the names signal.Signals
    has, aliases included, and none of the handler constants (SIG_DFL, SIG_IGN)."""
    import signal

    for name, number in signal.Signals.__members__.items():
        assert oci.parse_signal(name.lower(), "n") == number
        assert oci.parse_signal(name[3:], "n") == number
    for bad in ("SIG_DFL", "_IGN", "SIG_BLOCK", "NSIG", "signal"):
        with pytest.raises(InvalidSpec, match="unknown signal"):
            oci.parse_signal(bad, "n")


def test_block_io_for_an_external_runtime() -> None:
    from tests.runtime.test_cgroups import block_device

    dev, num = block_device()
    major, minor = (int(x) for x in num.split(":"))
    cfg = build(resources=Resources(blkio_weight=300, blkio_read_bps=((dev, 1024),)))
    assert cfg["linux"]["resources"] == {"blockIO": {
        "weight": 300, "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1024}]}}


def test_init_wraps_the_command_with_the_bound_init() -> None:
    cfg = build(init=True, inp=inputs(init_path="/usr/bin/tini-static"))
    assert cfg["process"]["args"][:2] == ["/dev/init", "--"]
    assert {
        "destination": "/dev/init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro", "nosuid", "nodev"],
    } in cfg["mounts"]

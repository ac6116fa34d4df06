from __future__ import annotations

import os

import pytest

from runtime.errors import InvalidSpec
from runtime.security.caps import (
    ALL_CAPS,
    DEFAULT_CAPS,
    apply_identity,
    caps_mask,
    resolve_caps,
    set_no_new_privs,
)
from tests.runtime.security.forked import in_child, status_fields


def test_all_caps_run_to_checkpoint_restore() -> None:
    assert ALL_CAPS["CHOWN"] == 0 and ALL_CAPS["SYS_ADMIN"] == 21
    assert ALL_CAPS["CHECKPOINT_RESTORE"] == 40 and len(ALL_CAPS) == 41
    assert sorted(ALL_CAPS.values()) == list(range(41))


def test_default_is_podmans_set() -> None:
    assert {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
            "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"} == DEFAULT_CAPS
    assert resolve_caps([], [], False) == DEFAULT_CAPS


def test_add_accepts_prefix_and_any_case() -> None:
    caps = resolve_caps(["cap_net_admin", "SYS_PTRACE"], ["chown"], False)
    assert caps == DEFAULT_CAPS - {"CHOWN"} | {"NET_ADMIN", "SYS_PTRACE"}


def test_drop_all_then_add_keeps_only_the_added() -> None:
    assert resolve_caps(["NET_BIND_SERVICE"], ["ALL"], False) == {"NET_BIND_SERVICE"}
    assert resolve_caps([], ["all"], False) == frozenset()


def test_add_all_gives_everything_but_the_dropped() -> None:
    assert resolve_caps(["ALL"], ["SYS_ADMIN"], False) == set(ALL_CAPS) - {"SYS_ADMIN"}


def test_privileged_has_every_capability() -> None:
    assert resolve_caps([], [], True) == set(ALL_CAPS)
    assert resolve_caps([], ["MKNOD"], True) == set(ALL_CAPS) - {"MKNOD"}


def test_unknown_capability_is_named() -> None:
    with pytest.raises(InvalidSpec, match='unknown capability "CAP_FOO"'):
        resolve_caps(["CAP_FOO"], [], False)
    with pytest.raises(InvalidSpec, match='"BAR"'):
        resolve_caps([], ["BAR"], False)


def test_caps_mask_matches_kernel_bits() -> None:
    assert caps_mask({"CHOWN", "KILL"}) == 0b100001
    assert caps_mask(ALL_CAPS) == (1 << 41) - 1


def _host_bounding() -> int:
    return int(status_fields("CapBnd")["CapBnd"], 16)


@pytest.mark.privileged
def test_root_gets_the_set_as_bounding_effective_and_permitted() -> None:
    def child() -> dict[str, str]:
        apply_identity(0, 0, [], DEFAULT_CAPS)
        set_no_new_privs()
        return status_fields("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs",
                             "Uid", "Gid")
    st = in_child(child)
    want = f"{caps_mask(DEFAULT_CAPS):016x}"
    assert st["CapEff"] == st["CapPrm"] == st["CapBnd"] == want
    assert st["CapInh"] == st["CapAmb"] == "0" * 16
    assert st["NoNewPrivs"] == "1"
    assert st["Uid"].split() == ["0"] * 4


@pytest.mark.privileged
def test_caps_the_host_withholds_are_left_out() -> None:
    host = _host_bounding()

    def child() -> dict[str, str]:
        apply_identity(0, 0, [], frozenset(ALL_CAPS))
        return status_fields("CapEff", "CapBnd")
    st = in_child(child)
    assert int(st["CapEff"], 16) == host & caps_mask(ALL_CAPS)
    assert int(st["CapBnd"], 16) == host & caps_mask(ALL_CAPS)


@pytest.mark.privileged
def test_non_root_user_has_caps_only_in_bounding() -> None:
    def child() -> dict[str, str]:
        apply_identity(1000, 1000, [1000, 10, 20], DEFAULT_CAPS)
        st = status_fields("CapEff", "CapPrm", "CapBnd", "CapAmb", "Uid", "Gid", "Groups")
        # and after execve too: nothing comes back through a fresh image
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv("/bin/grep", ["grep", "^Cap", "/proc/self/status"])
        os.close(w)
        st["exec"] = os.read(r, 4096).decode()
        os.waitpid(pid, 0)
        return st
    st = in_child(child)
    assert st["Uid"].split() == ["1000"] * 4
    assert st["Gid"].split() == ["1000"] * 4
    assert sorted(st["Groups"].split()) == ["10", "1000", "20"]
    assert st["CapEff"] == st["CapPrm"] == st["CapAmb"] == "0" * 16
    assert st["CapBnd"] == f"{caps_mask(DEFAULT_CAPS):016x}"
    assert "CapEff:\t0000000000000000" in st["exec"]


@pytest.mark.privileged
def test_non_root_user_keeps_explicit_caps_as_ambient_across_execve() -> None:
    def child() -> str:
        apply_identity(1000, 1000, [], DEFAULT_CAPS | {"NET_ADMIN"},
                       user_caps=frozenset({"NET_ADMIN"}))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv("/bin/grep", ["grep", "^CapEff", "/proc/self/status"])
        os.close(w)
        out = os.read(r, 4096).decode()
        os.waitpid(pid, 0)
        return out
    assert in_child(child).split()[1] == f"{caps_mask({'NET_ADMIN'}):016x}"

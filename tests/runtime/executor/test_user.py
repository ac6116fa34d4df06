"""User resolution against an image's /etc/passwd and /etc/group (pure)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from runtime.executor.user import User, UserError, resolve_in_dirs, resolve_user

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/false\n"
    "app:x:1000:1000::/home/app:/bin/sh\n"
)
GROUP = "root:x:0:\ntty:x:5:app\nwww-data:x:33:\nusers:x:100:app,www-data\napp:x:1000:\n"


@pytest.mark.parametrize(
    ("user", "group_add", "expected"),
    [
        (None, (), User(0, 0, (0,), "/root")),
        ("www-data", (), User(33, 33, (33, 100), "/var/www")),
        ("app", ("root",), User(1000, 1000, (1000, 5, 100, 0), "/home/app")),
        ("1000", (), User(1000, 1000, (1000, 5, 100), "/home/app")),
        ("4242", (), User(4242, 0, (0,), "/")),  # unknown uid: gid 0, as docker
        ("app:tty", (), User(1000, 5, (5,), "/home/app")),  # an explicit group: no member groups
        ("33:77", ("9",), User(33, 77, (77, 9), "/var/www")),
    ],
)
def test_users_resolve_as_docker(user: str | None, group_add: tuple[str, ...], expected: User) -> None:
    assert resolve_user(user, group_add, PASSWD, GROUP) == expected


@pytest.mark.parametrize(
    ("user", "group_add", "message"),
    [
        ("nosuch", (), "unable to find user nosuch: no matching entries in passwd file"),
        ("app:nogroup", (), "unable to find group nogroup"),
        ("app", ("wheel",), "unable to find group wheel"),
    ],
)
def test_unknown_names_are_errors(user: str, group_add: tuple[str, ...], message: str) -> None:
    with pytest.raises(UserError, match=message):
        resolve_user(user, group_add, PASSWD, GROUP)


def test_files_come_from_the_first_dir_that_has_them(tmp_path: Path) -> None:
    upper, layer = tmp_path / "upper", tmp_path / "layer"
    (upper / "etc").mkdir(parents=True)
    (layer / "etc").mkdir(parents=True)
    (layer / "etc" / "passwd").write_text(PASSWD)
    (layer / "etc" / "group").write_text(GROUP)
    (upper / "etc" / "passwd").write_text("app:x:2000:2000::/:/bin/sh\n")
    # a link is followed in the image's merged layers, never on the host
    (layer / "etc" / "group").rename(layer / "etc" / "group.real")
    (upper / "etc" / "group").symlink_to("/etc/group.real")
    assert resolve_in_dirs("app", (), [upper, layer]) == User(2000, 2000, (2000, 5, 100), "/")
    (upper / "etc" / "group").unlink()
    (upper / "etc" / "group").symlink_to("/etc/group")  # a loop: no group file
    assert resolve_in_dirs("app", (), [upper, layer]) == User(2000, 2000, (2000,), "/")
    (upper / "etc" / "group").unlink()
    (layer / "etc" / "group.real").rename(layer / "etc" / "group")
    os.mknod(upper / "etc" / "group", stat.S_IFCHR | 0o600, os.makedev(0, 0))  # the upper removed it
    assert resolve_in_dirs("app", (), [upper, layer]) == User(2000, 2000, (2000,), "/")

"""Resolve a container's user ("name", "uid", "uid:gid", "name:group") as docker does.

The files are read on the host before the container starts, from the image's layer dirs (and the
container's upper dir, which wins); the resolution itself is pure over their text. Standard library.
"""

from __future__ import annotations

import os

# enter.py (the exec helper, the monitor's probes) imports this module: no dataclasses (inspect),
# pathlib or typing, ~18 ms of imports per exec.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


class User:
    """A resolved user: frozen, compared and hashed by value (a plain class: no dataclasses)."""

    __slots__ = ("uid", "gid", "additional_gids", "home")
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str

    def __init__(self, uid: int, gid: int, additional_gids: tuple[int, ...] = (), home: str = "/") -> None:
        for name, value in zip(self.__slots__, (uid, gid, tuple(additional_gids), home), strict=True):
            object.__setattr__(self, name, value)

    def _key(self) -> tuple[int, int, tuple[int, ...], str]:
        return (self.uid, self.gid, self.additional_gids, self.home)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: User is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: User is frozen")

    def __eq__(self, other: object) -> bool:
        return other._key() == self._key() if isinstance(other, User) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[type[User], tuple[int, int, tuple[int, ...], str]]:
        return (User, self._key())  # copy, deepcopy and pickle despite the frozen __setattr__

    def __repr__(self) -> str:
        extra = self.additional_gids
        return f"User(uid={self.uid}, gid={self.gid}, additional_gids={extra}, home={self.home!r})"


class _Passwd:
    __slots__ = ("name", "uid", "gid", "home")

    def __init__(self, name: str, uid: int, gid: int, home: str) -> None:
        self.name, self.uid, self.gid, self.home = name, uid, gid, home


class _Group:
    __slots__ = ("name", "gid", "members")

    def __init__(self, name: str, gid: int, members: tuple[str, ...]) -> None:
        self.name, self.gid, self.members = name, gid, members


class UserError(ValueError):
    """The user or a group cannot be resolved; str() is the reason, without the container name."""


def _parse_passwd(text: str) -> list[_Passwd]:
    out = []
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 6 and f[2].isdigit() and f[3].isdigit():
            out.append(_Passwd(f[0], int(f[2]), int(f[3]), f[5] or "/"))
    return out


def _parse_group(text: str) -> list[_Group]:
    out = []
    for line in text.splitlines():
        f = line.split(":")
        if len(f) >= 3 and f[2].isdigit():
            members = tuple(m for m in (f[3].split(",") if len(f) > 3 else []) if m)
            out.append(_Group(f[0], int(f[2]), members))
    return out


def _group_id(ref: str, groups: list[_Group]) -> int:
    if ref.isdigit():
        return int(ref)
    for g in groups:
        if g.name == ref:
            return g.gid
    raise UserError(f"unable to find group {ref}: no matching entries in group file")


def resolve_user(user: str | None, group_add: Sequence[str], passwd_text: str, group_text: str) -> User:
    """Resolve *user* and *group_add* against the given /etc/passwd and /etc/group contents."""
    passwd, groups = _parse_passwd(passwd_text), _parse_group(group_text)
    spec = user or "0"
    name_part, _, group_part = spec.partition(":")
    entry: _Passwd | None = None
    if name_part.isdigit():
        uid = int(name_part)
        entry = next((p for p in passwd if p.uid == uid), None)
    else:
        entry = next((p for p in passwd if p.name == name_part), None)
        if entry is None:
            raise UserError(f"unable to find user {name_part}: no matching entries in passwd file")
        uid = entry.uid
    gid = _group_id(group_part, groups) if group_part else (entry.gid if entry else 0)
    # the primary gid leads the supplementary list, as docker has it since the fix for
    # CVE-2023-25173 (a process that drops its gid must not lose that group's denials)
    extra: list[int] = [gid]
    if entry is not None and not group_part:
        extra += [g.gid for g in groups if entry.name in g.members and g.gid != gid]
    for ref in group_add:
        g = _group_id(ref, groups)
        if g not in extra:
            extra.append(g)
    return User(uid=uid, gid=gid, additional_gids=tuple(extra), home=entry.home if entry else "/")


def read_etc_file(dirs: Sequence[str | Path], name: str) -> str:
    """The text of etc/<name> in the layers *dirs* (upper dir first) merged as the container sees
    them (a whiteout removes it: a lower layer's copy is no longer there); "" if none."""
    from runtime.layer_view import resolve

    # its links followed in the image's layers, never on the host
    kind, found = resolve([os.fspath(d) for d in dirs], f"etc/{name}")
    if kind != "other":
        return ""
    try:
        with open(found[0], errors="replace") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return ""


def resolve_in_dirs(user: str | None, group_add: Sequence[str], dirs: Sequence[str | Path]) -> User:
    """Resolve against the image's files; *dirs* are searched in order (upper dir, top layer first)."""
    return resolve_user(user, group_add, read_etc_file(dirs, "passwd"), read_etc_file(dirs, "group"))

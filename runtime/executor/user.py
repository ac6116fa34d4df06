"""Resolve a container's user ("name", "uid", "uid:gid", "name:group") as docker does.

The files are read on the host before the container starts, from the image's layer dirs (and the
container's upper dir, which wins); the resolution itself is pure over their text. Standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runtime.record import record


@record(kw_only=False)
class User:
    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


@record(kw_only=False)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@record(kw_only=False)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


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
    extra: list[int] = []
    if entry is not None and not group_part:
        extra = [g.gid for g in groups if entry.name in g.members]
    for ref in group_add:
        g = _group_id(ref, groups)
        if g not in extra:
            extra.append(g)
    return User(uid=uid, gid=gid, additional_gids=tuple(extra), home=entry.home if entry else "/")


def read_etc_file(dirs: Sequence[str | Path], name: str) -> str:
    """The text of etc/<name> from the first of *dirs* that has it (upper dir first); "" if none."""
    for d in dirs:
        p = Path(d) / "etc" / name
        if p.is_symlink():
            continue  # never follow an image's symlink out of its tree on the host
        try:
            return p.read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            continue
    return ""


def resolve_in_dirs(user: str | None, group_add: Sequence[str], dirs: Sequence[str | Path]) -> User:
    """Resolve against the image's files; *dirs* are searched in order (upper dir, top layer first)."""
    return resolve_user(user, group_add, read_etc_file(dirs, "passwd"), read_etc_file(dirs, "group"))

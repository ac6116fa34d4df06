"""What every container set-up asks of nftables, apart from nft.py (its renderers, records and
library: ~0.25 ms to import), which only published ports and network changes need: the name of
the engine's table, which also tags every host link it makes (links.owner_alias), and whether the
nft command is there (NetworkManager.nft_ok)."""

from __future__ import annotations

import os

from runtime.digest import sha256

DEFAULT_RUNDIR = "/run/composer"


def table_name(rundir: str) -> str:
    """"composer" for the real run dir; a per-run-dir name otherwise so test engines never clash."""
    # normalised as the Path it once was: "/run/composer/" is the real run dir too, and a run
    # dir's name does not change with how COMPOSER_RUNDIR spells it
    rundir = os.path.normpath(rundir)
    if rundir == DEFAULT_RUNDIR:
        return "composer"
    return "composer_" + sha256(rundir.encode()).hexdigest()[:8]


def which(name: str) -> str | None:
    """shutil.which(*name*) for a bare command name, without shutil's import (~1 ms of
    `container run`)."""
    path = os.environ.get("PATH")
    if path is None:
        path = os.confstr("CS_PATH") or os.defpath
    if not path:
        return None
    for d in path.split(os.pathsep):
        exe = os.path.join(d, name)
        if os.access(exe, os.X_OK) and not os.path.isdir(exe):
            return exe
    return None

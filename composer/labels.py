"""The com.docker.compose.* labels, and the config hash docker compose puts in them.

Labels are how composer finds what a project runs without its compose file (`ps -p NAME`,
`down -p NAME`), and how tools that read docker compose's labels understand composer's containers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from composer import __version__

TYPE_CHECKING = False  # typing (and what it imports) only for mypy: ~5 ms CPU of every command
if TYPE_CHECKING:
    from typing import Any, Final

PREFIX: Final = "com.docker.compose."
PROJECT: Final = PREFIX + "project"
SERVICE: Final = PREFIX + "service"
CONTAINER_NUMBER: Final = PREFIX + "container-number"
CONFIG_HASH: Final = PREFIX + "config-hash"
ONEOFF: Final = PREFIX + "oneoff"
WORKING_DIR: Final = PREFIX + "project.working_dir"
CONFIG_FILES: Final = PREFIX + "project.config_files"
ENVIRONMENT_FILE: Final = PREFIX + "project.environment_file"
DEPENDS_ON: Final = PREFIX + "depends_on"
IMAGE: Final = PREFIX + "image"
VERSION: Final = PREFIX + "version"
NETWORK: Final = PREFIX + "network"
VOLUME: Final = PREFIX + "volume"
SLUG: Final = PREFIX + "slug"
REPLACE: Final = PREFIX + "replace"  # on a recreate's new container: `<service>-<n>` it replaces

# ---- config hash ---------------------------------------------------------------------------------


def config_hash(service: Mapping[str, Any]) -> str:
    """The com.docker.compose.config-hash of one canonical service (as `docker compose config --hash`).

    One implementation serves `config --hash` and `up`: the loader's, checked against docker compose
    on every fixture.
    """
    from composer.loader.hashing import service_hash

    return service_hash(service)


# ---- label sets ----------------------------------------------------------------------------------


def project_labels(project: str) -> dict[str, str]:
    return {PROJECT: project}


def service_labels(
    *,
    project: str,
    service: str,
    number: int,
    config_hash: str,
    image: str,
    working_dir: str,
    config_files: Sequence[str],
    depends_on: Mapping[str, Any],
    oneoff: bool = False,
) -> dict[str, str]:
    """The labels docker compose puts on a service container."""
    deps = ",".join(
        f"{name}:{(d or {}).get('condition', 'service_started')}:{str(bool((d or {}).get('restart'))).lower()}"  # noqa: E501
        for name, d in sorted(depends_on.items())
    )
    return {
        PROJECT: project,
        SERVICE: service,
        CONTAINER_NUMBER: str(number),
        CONFIG_HASH: config_hash,
        ONEOFF: "True" if oneoff else "False",
        WORKING_DIR: working_dir,
        CONFIG_FILES: ",".join(config_files),
        DEPENDS_ON: deps,
        IMAGE: image,
        VERSION: __version__,
    }


def network_labels(project: str, network: str) -> dict[str, str]:
    return {PROJECT: project, NETWORK: network, VERSION: __version__}


def volume_labels(project: str, volume: str) -> dict[str, str]:
    return {PROJECT: project, VOLUME: volume, VERSION: __version__}

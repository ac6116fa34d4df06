"""The one exception tree of composer/. Only composer/cli/main.py catches these.

ComposerError
  ConfigError (where = file and tree path): InterpolationError, SchemaError, MergeError,
                                            ExtendsError, IncludeError, ProfileError
  DependencyCycleError
  ProjectError (where = project name): project lock, no such project
  ServiceError (where = service name; wraps runtime errors)
  UsageError (bad command-line arguments)
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing.TYPE_CHECKING: every command imports this, `version` needs no typing
if TYPE_CHECKING:
    from typing import ClassVar


class ComposerError(Exception):
    """Root of every error composer reports to a user; str(exc) is the one-line message."""

    exit_code: ClassVar[int] = 1


class ConfigError(ComposerError):
    """A compose file is wrong. *where* names the file and/or the tree path."""

    exit_code = 15  # docker compose exits 15 for an invalid compose file

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)
        self.where, self.what = where, what


class InterpolationError(ConfigError):
    pass


class SchemaError(ConfigError):
    pass


class MergeError(ConfigError):
    pass


class ExtendsError(ConfigError):
    pass


class IncludeError(ConfigError):
    pass


class ProfileError(ConfigError):
    pass


class DependencyCycleError(ConfigError):
    pass


class ProjectError(ComposerError):
    def __init__(self, project: str, what: str) -> None:
        super().__init__(f"project {project}: {what}")
        self.project, self.what = project, what


class ServiceError(ComposerError):
    def __init__(self, service: str, what: str) -> None:
        super().__init__(f"service {service}: {what}")
        self.service, self.what = service, what


class UsageError(ComposerError):
    exit_code = 2

"""The one exception tree of runtime/. Messages are one line, lower-case, and name the object.

EngineError
  NotFound        (no such image, container, network, volume, pod)
  Conflict        (name in use, object in use, wrong state for the verb)
  InvalidSpec     (a value the runtime cannot apply: bad capability, bad mount source, ...)
  ImageError      (bad archive, digest mismatch, unsafe layer path)
  NetworkError    (subnet overlap, address taken, port in use)
  ExecError       (the container process could not be set up or started)
  MissingTool     (a host program or library the runtime needs is not installed)
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every runtime error; str(exc) is a user-facing one-line message."""

    exit_code = 125  # as podman: the error is the engine's, not the container's


class NotFound(EngineError):
    exit_code = 125


class Conflict(EngineError):
    pass


class InvalidSpec(EngineError):
    pass


class ImageError(EngineError):
    pass


class NetworkError(EngineError):
    pass


class ExecError(EngineError):
    exit_code = 126


class MissingTool(EngineError):
    def __init__(self, tool: str, package: str) -> None:
        super().__init__(f"{tool} is not installed (Debian package: {package})")
        self.tool, self.package = tool, package

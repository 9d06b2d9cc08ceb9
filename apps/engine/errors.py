"""Errors the engine layer raises. Every docker.errors.* and connection
failure is turned into one of these at the edge of apps.engine, with a message
a user can act on."""

from __future__ import annotations


class EngineError(Exception):
    """Something went wrong talking to the Docker engine."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EngineUnavailable(EngineError):
    """The Docker engine cannot be reached at all."""


class ImageMissing(EngineError):
    """An image Berth needs is not in the engine."""


class ContainerMissing(EngineError):
    """A container Berth expected is gone."""


class PortTaken(EngineError):
    """The host port a container was to publish is taken by another process."""


class RuntimeUnavailable(EngineError):
    """No way to get a runtime image for this Python version here."""

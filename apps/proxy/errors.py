"""The one error the proxy layer raises, with a message that says what to fix."""

from __future__ import annotations


class ProxyError(Exception):
    """The front proxy could not do what was asked; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

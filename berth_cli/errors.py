from __future__ import annotations


class CliError(Exception):
    """A failure to report as one line on stderr, with a non-zero exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

"""How a release or operation step fails: DeployFailed carries a message
for the user, a failure code for machines (apps.core.failures) and its
evidence; failure_of reads the same from an engine error."""

from __future__ import annotations

from apps.core import failures
from apps.engine.errors import EngineError


class DeployFailed(Exception):
    """A release step failed: `message` for the user, `code` for machines
    (apps.core.failures names them), `evidence` a small JSON-able
    dict of what was seen (exit code, status, limit, the proxy's reason)."""

    def __init__(
        self,
        message: str,
        *,
        app_log: str = "",
        code: str = failures.INTERNAL_ERROR,
        evidence: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.app_log = app_log  # the app's own last log lines, secrets masked
        self.code = code
        self.evidence = evidence or {}


def failure_of(error: DeployFailed | EngineError) -> tuple[str, dict]:
    """The failure code and evidence a release step's error carries."""
    if isinstance(error, DeployFailed):
        return error.code, error.evidence
    return failures.engine_code(error), {"error": error.message}

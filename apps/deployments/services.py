"""Deploy, build, release, start, restart: filled in by the deploy work."""

from __future__ import annotations


def restart_app_by_id(app_id: int, *, reason: str = "") -> None:
    raise NotImplementedError("restart is part of the deploy pipeline (issue 3)")

"""Applying a one-click fix. The action is worked out again from fresh
evidence on every POST: the browser only names the detector, never the value."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.databases import connections
from apps.diagnostics import runner
from apps.diagnostics.findings import Action
from apps.webapps import services as webapp_services
from apps.webapps.models import WebApp


class FixError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def pending_action(app: WebApp, detector_id: str) -> Action:
    """The fix a detector offers right now, or FixError saying why there is none."""
    result = runner.diagnose(app).result(detector_id)
    if result is None:
        raise FixError(f"There is no detector named {detector_id!r}.")
    if result.finding is None:
        raise FixError(
            f"{result.detector.title}: nothing to fix any more (the detector is healthy)."
        )
    if result.finding.action is None:
        raise FixError(f"{result.detector.title} has no one-click fix: follow the steps shown.")
    return result.finding.action


def apply_action(app: WebApp, action: Action) -> str:
    """Save the change and restart the app (through the configuration services)."""
    try:
        if action.kind == "startup_command":
            webapp_services.update_general_settings(app, app_command_line=action.value)
            return f"Startup command set to `{action.value}`; the app is restarting."
        if action.kind == "linux_fx_version":
            webapp_services.update_general_settings(app, linux_fx_version=action.value)
            return f"Stack changed to {action.value}; the app is restarting."
        if action.kind == "repair_connection":
            return connections.repair(app, action.value)
    except connections.ConnectionProblem as e:
        raise FixError(e.message) from e
    except ValidationError as e:
        raise FixError("The fix could not be saved: " + "; ".join(e.messages)) from e
    raise FixError(f"Unknown fix {action.kind!r}.")

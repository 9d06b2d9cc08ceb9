"""Service Unavailable: gunicorn is up but its worker cannot load the app, or times out."""

from __future__ import annotations

import re

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Status, Step
from apps.diagnostics.registry import APPLICATION_LOGS, AVAILABILITY, detector

BOOT_FAILURE = (
    r"Worker failed to boot",
    r"Exception in worker process",
    r"Failed to find attribute '",
    r"Failed to find application object",
    r"App failed to load",
    r"Reason: App failed to load",
)
TIMEOUT = r"WORKER TIMEOUT"
_ATTRIBUTE = re.compile(r"Failed to find attribute '(?P<name>[^']+)' in '(?P<module>[^']+)'")


@detector(
    "service_unavailable",
    title="Service Unavailable: the app fails to load in gunicorn",
    category=AVAILABILITY,
    subcategory=APPLICATION_LOGS,
    description="Looks for gunicorn workers that fail to boot, exceptions at import and worker timeouts.",
)
def check(evidence: Evidence) -> Finding | None:
    lines = list(evidence.runtime_lines())
    boot = c.grep(lines, "|".join(BOOT_FAILURE))
    timeouts = c.grep(lines, TIMEOUT, 0)
    if not boot and not timeouts:
        return None
    app = evidence.app.name
    steps = []
    action = None
    facts: dict[str, str] = {}
    if boot:
        first = lines.index(boot[0])
        exc = c.last_exception(lines[max(0, first - 60) :]) or c.last_exception(lines)
        items = list(c.log_items(boot, limit=3))
        if exc is not None:
            items += [c.log_item(ln) for ln in c.traceback_tail(lines, exc)]
            facts["exception"] = exc.text.strip()
        attr = next((m for ln in boot if (m := _ATTRIBUTE.search(ln.text))), None)
        if attr is not None:
            obj = c.app_object(evidence)
            cause = (
                f"gunicorn imported {attr['module']} but it has no object named "
                f"`{attr['name']}`, so every request gets Service Unavailable."
            )
            if obj is not None:
                command = obj.gunicorn_command()
                action = c.startup_action(command)
                cause = cause[:-1] + f"; the app object is `{obj.name}` in {obj.path}."
                steps.append(
                    Step(
                        f"Set the startup command to `{command}`.",
                        links.general_settings(app),
                        "General settings",
                    )
                )
        else:
            what = exc.text.strip() if exc is not None else "an error in the app's code"
            cause = f"gunicorn started, but its worker could not load the app: {what}."
            if exc is not None and "ModuleNotFoundError" in exc.text:
                steps.append(
                    Step(
                        'See "Missing Python package at start-up" on this page for the package to add.'
                    )
                )
            elif exc is not None and "SyntaxError" in exc.text:
                steps.append(Step('See "Python version does not fit the code" on this page.'))
            steps.append(
                Step(
                    "Read the traceback above: the last 'File' line is where it failed. "
                    "Fix it, or try it locally with `gunicorn app:app`, and deploy again.",
                    links.log_stream(app),
                    "Log stream",
                )
            )
        return Finding(Status.CRITICAL, cause, tuple(items), tuple(steps), action, facts)

    # Only timeouts: the app loads, but requests (or start-up work) take too long.
    command = evidence.app.app_command_line
    m = re.search(r"--timeout[= ](\d+)", command)
    timeout = m.group(1) if m else "600"
    obj = c.app_object(evidence)
    cause = (
        f"gunicorn killed a worker that did not answer within {timeout} s (WORKER TIMEOUT): "
        "a request, or work done at import, takes longer than the timeout."
    )
    steps = [
        Step(
            "Move slow work (downloads, model loading, migrations) out of import time and out of requests."
        ),
        Step(
            "If requests are meant to be slow, raise --timeout in the startup command.",
            links.general_settings(app),
            "General settings",
        ),
    ]
    if obj is not None and "--timeout" not in command and command:
        steps.append(Step(f"For example: `{src.GUNICORN} {obj.target}`."))
    return Finding(
        Status.CRITICAL, cause, c.log_items(timeouts), tuple(steps), None, {"timeout": timeout}
    )

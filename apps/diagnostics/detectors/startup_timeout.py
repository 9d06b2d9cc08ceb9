"""Start-up time limit exceeded, or the app listens somewhere the platform does not ping."""

from __future__ import annotations

import re

from apps.core import failures
from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import AVAILABILITY, CONTAINER_ISSUES, detector

# Servers announcing where they listen: gunicorn, Flask/Werkzeug, uvicorn, Django runserver.
LISTEN = re.compile(
    r"(?:Listening at:|Running on|Uvicorn running on|Starting development server at)\s+"
    r"(?:https?://)?(?P<host>\[?[\w.:]+?\]?):(?P<port>\d+)"
)


@detector(
    "startup_timeout",
    title="Start-up time limit exceeded or wrong port",
    category=AVAILABILITY,
    subcategory=CONTAINER_ISSUES,
    description="Checks that the app answers on 0.0.0.0 and the expected port within the start-up time limit.",
)
def check(evidence: Evidence) -> Finding | None:
    lines = list(evidence.runtime_lines())
    latest = evidence.latest
    timed_out = latest is not None and latest.failure_code == failures.START_TIMEOUT
    port = c.expected_port(evidence)
    wrong = []
    for ln in lines:
        if (m := LISTEN.search(ln.text)) is None:
            continue
        host, p = m["host"].strip("[]"), int(m["port"])
        if host in ("127.0.0.1", "localhost", "::1") or p != port:
            wrong.append((ln, host, p))
    # A later correct "Listening at" (after a restart) means it was fixed.
    last_listen = next((ln for ln in reversed(lines) if LISTEN.search(ln.text)), None)
    if wrong and last_listen is not None and last_listen is not wrong[-1][0]:
        wrong = []
    if not timed_out and not wrong:
        return None

    app = evidence.app.name
    items = []
    if timed_out and latest is not None:
        seen = latest.failure_evidence
        items.append(
            Item(
                "deployment",
                f"{failures.START_TIMEOUT}: no healthy answer within {seen.get('limit_s')} s "
                f"({seen.get('last', 'no answer')})",
                f"deployment #{latest.id}",
                latest.finished,
            )
        )
    items += c.log_items([w[0] for w in wrong], limit=5)
    command = evidence.app.app_command_line
    dev_server = None
    for path, text in evidence.source.python_files.items():
        if src.in_venv(path, src.venv_roots(evidence.source.files)):
            continue
        found = src.line_of(text, r"\.run\(")
        if found and ("__main__" in text or path.removesuffix(".py") in command):
            dev_server = (path, found)
            items.append(c.file_item(path, found))
            break
    facts: dict[str, str] = {"expected_port": str(port)}
    if wrong:
        _, host, p = wrong[-1]
        facts.update(host=host, port=str(p))
        if host in ("127.0.0.1", "localhost", "::1"):
            cause = (
                f"The app listens on {host}:{p}, inside its container only, so the platform's "
                f"pings on port {port} never reach it."
            )
        else:
            cause = f"The app listens on port {p}, but the platform sends requests to port {port}."
    else:
        cause = (
            f"The app did not answer HTTP on port {port} within the start-up time limit: "
            "it starts too slowly, or never listens on that port."
        )
    steps = []
    obj = c.app_object(evidence)
    action = None
    if obj is not None and (wrong or dev_server or "python " in command):
        fixed = obj.gunicorn_command()
        action = c.startup_action(fixed)
        steps.append(
            Step(
                f"Start the app with gunicorn on 0.0.0.0:{port}: set the startup command to `{fixed}`.",
                links.general_settings(app),
                "General settings",
            )
        )
    else:
        steps.append(
            Step(
                f"Make the app listen on 0.0.0.0 and the port in $PORT ({port}): "
                f"`--bind=0.0.0.0` for gunicorn, `--host 0.0.0.0 --port {port}` for uvicorn.",
                links.general_settings(app),
                "General settings",
            )
        )
    if timed_out and not wrong:
        steps.append(
            Step(
                "If start-up is slow on purpose, raise WEBSITES_CONTAINER_START_TIME_LIMIT (seconds, up to 1800).",
                links.app_settings(app),
                "Application settings",
            )
        )
    if dev_server:
        steps.append(
            Step(
                f"`app.run()` in {dev_server[0]} starts Flask's development server; "
                'keep it under `if __name__ == "__main__":` and let gunicorn serve the app.'
            )
        )
    return Finding(Status.CRITICAL, cause, tuple(items), tuple(steps), action, facts)

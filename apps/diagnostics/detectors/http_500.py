"""The app answers 500: it starts, but its code fails every request."""

from __future__ import annotations

from apps.core import failures
from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import APPLICATION_LOGS, AVAILABILITY, detector


@detector(
    "http_500",
    title="The app answers 500 (Internal Server Error)",
    category=AVAILABILITY,
    subcategory=APPLICATION_LOGS,
    description="Looks for a release that started but answered only 5xx, and the exception behind it.",
)
def check(evidence: Evidence) -> Finding | None:
    latest = evidence.latest
    if latest is None or latest.failure_code != failures.HTTP_5XX:
        return None
    seen = latest.failure_evidence
    app = evidence.app.name
    status = seen.get("status", "5xx")
    items = [
        Item(
            "deployment",
            f"{failures.HTTP_5XX}: every answer was {status} ({seen.get('last', '')})",
            f"deployment #{latest.id}",
            latest.finished,
        )
    ]
    # The traceback the failure kept, else the one in the app's log now.
    lines = list(evidence.runtime_lines())
    exc = c.last_exception(lines)
    exception = seen.get("exception") or (exc.text.strip() if exc else "")
    if exc is not None:
        items += [c.log_item(ln) for ln in c.traceback_tail(lines, exc)]
    elif seen.get("last_lines"):
        items += [Item("log", line, f"deployment #{latest.id}") for line in seen["last_lines"][-4:]]
    cause = f"The app starts, but every request fails with {status}"
    cause += f": {exception}." if exception else "; its log shows no exception."
    steps = [
        Step(
            "Fix the error the traceback shows and deploy again; until then the previous "
            "release keeps serving.",
        ),
        Step(
            "A setting the code reads at request time may be missing (a database URL, a "
            "secret key): check the Application settings.",
            links.app_settings(app),
            "Application settings",
        ),
        Step(
            "Watch the requests fail live in the Log stream.", links.log_stream(app), "Log stream"
        ),
    ]
    facts = {"status": str(status)}
    if exception:
        facts["exception"] = exception
    return Finding(Status.CRITICAL, cause, tuple(items), tuple(steps), None, facts)

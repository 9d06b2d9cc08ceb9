"""The custom startup command failed and start-up fell through to detection."""

from __future__ import annotations

from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import AVAILABILITY, CONTAINER_ISSUES, detector

# The line Berth's start-up script writes when the startup command fails
# (agreed marker first; then looser wordings, Oryx's included).
MARKERS = (
    r"Falling back to automatic detection",
    r"custom startup command exited with code",
    r"startup command failed",
    r"start-up command failed",
    r"custom startup command .*(failed|exited|error)",
    r"falling back to (start-up )?detection",
    r"falls? through to (start-up )?detection",
)
FALLBACK_RULE = r"Detected: (?P<rule>.+)"


@detector(
    "startup_command_failed",
    title="Startup command failed",
    category=AVAILABILITY,
    subcategory=CONTAINER_ISSUES,
    description="Checks that the custom startup command ran instead of falling through to detection.",
)
def check(evidence: Evidence) -> Finding | None:
    lines = list(evidence.runtime_lines())
    hits = c.grep(lines, "|".join(MARKERS))
    if not hits:
        return None
    app = evidence.app.name
    start = lines.index(hits[0])
    before = [
        ln
        for ln in lines[max(0, start - 6) : start]
        if ln.text.strip() and ln.origin == hits[0].origin
    ]
    items = [Item("setting", evidence.app.app_command_line or "(none)", "startup command")]
    items += [c.log_item(ln) for ln in before[-4:]]
    items += c.log_items(hits, limit=3)
    after = c.grep(lines[start:], FALLBACK_RULE)
    default = c.grep(lines[start:], r"default site|default app|/opt/defaultsite")
    items += c.log_items(after[:1])
    cause = "The custom startup command failed"
    exc = c.last_exception(before) if before else None
    if exc is not None:
        cause += f" ({exc.text.strip()})"
    cause += ", so start-up fell through to detection"
    cause += (
        " and ended at the default site." if default else " and ran what detection found instead."
    )
    steps = [
        Step(
            "Fix the startup command (check the file or module it names exists in the code, "
            "relative to /home/site/wwwroot) or clear it to use detection.",
            links.general_settings(app),
            "General settings",
        ),
        Step(
            "Its output is in the log stream, just before the fall-through line.",
            links.log_stream(app),
            "Log stream",
        ),
    ]
    obj = c.app_object(evidence)
    action = (
        c.startup_action(obj.gunicorn_command())
        if obj is not None and obj.kind != "django"
        else None
    )
    if action is not None and action.value == evidence.app.app_command_line:
        action = None
    return Finding(
        Status.CRITICAL if default else Status.WARNING, cause, tuple(items), tuple(steps), action
    )

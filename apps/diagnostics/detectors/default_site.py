"""The default site answers although code was deployed: no start-up rule matched."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import AVAILABILITY, CONTAINER_ISSUES, detector

# Lines the start-up writes when it falls back to the default site (Berth's
# own marker first, then Oryx's wording).
MARKERS = (
    r"Detected: default\b",
    r"no start-up rule matched",
    r"no framework detected; using default app",
    r"(using|starting|serving) (the )?(built-in )?default (site|app)\b",
    r"/opt/defaultsite",
)

LOOKED_FOR = (
    "a startup command (Configuration > General settings)",
    "Django: wsgi.py in a folder of the project (e.g. mysite/wsgi.py)",
    "Flask: application.py, then app.py, at the root",
)


def _found_instead(evidence: Evidence) -> list[str]:
    files = [
        f
        for f in evidence.source.files
        if not src.in_venv(f, src.venv_roots(evidence.source.files))
    ]
    notes = []
    top = {PurePosixPath(f).parts[0] for f in files}
    if len(top) == 1 and all("/" in f for f in files):
        folder = next(iter(top))
        notes.append(
            f"everything is inside the folder {folder}/: the zip holds the folder, not its contents"
        )
    for obj in src.find_app_objects(evidence.source.python_files)[:3]:
        kind = {
            "flask": "a Flask app",
            "fastapi": "a FastAPI app",
            "django": "a Django WSGI app",
            "factory": "an app factory",
            "wsgi": "a WSGI app",
        }[obj.kind]
        notes.append(f"{kind} named `{obj.name}` in {obj.path} (line {obj.line})")
    if not notes:
        py = sorted(f for f in files if f.endswith(".py"))[:5]
        if py:
            notes.append("Python files without an app object Berth recognises: " + ", ".join(py))
    return notes


@detector(
    "default_site",
    title="Default site shown instead of your app",
    category=AVAILABILITY,
    subcategory=CONTAINER_ISSUES,
    description="Checks that start-up found your app instead of falling back to the default site.",
)
def check(evidence: Evidence) -> Finding | None:
    lines = list(evidence.runtime_lines())
    hits = c.grep(lines, "|".join(MARKERS))
    if evidence.app.app_command_line.strip():
        # The deploy log always says what detection would pick; with a startup
        # command that only matters once start-up actually ran the default site.
        hits = [ln for ln in hits if re.search(r"Running: .*defaultsite", ln.text)]
    code = [f for f in evidence.source.files if f.endswith(".py")]
    detection = c.startup_detection(evidence)
    by_rules = detection.get("rule") == "default" and not evidence.app.app_command_line.strip()
    if not code or not (hits or by_rules):
        return None
    found = _found_instead(evidence)
    items = [*c.log_items(hits, limit=3)]
    if not hits:
        items.append(
            Item(
                "deployment", f"start-up rule: default ({detection.get('reason', '')})", "start-up"
            )
        )
    looked_for = detection.get("looked_for") or LOOKED_FOR
    if not evidence.app.app_command_line.strip() and looked_for is not LOOKED_FOR:
        looked_for = ["a startup command (none is set)", *looked_for]
    items += [Item("file", f"looked for {what}", "start-up rules") for what in looked_for]
    items += [Item("file", f"found {what}", evidence.source.origin) for what in found]
    obj = c.app_object(evidence)
    steps = []
    action = None
    if obj is not None and obj.kind != "django":
        command = obj.gunicorn_command()
        action = c.startup_action(command)
        steps.append(
            Step(
                f"Set the startup command to `{command}` (the button below does it).",
                links.general_settings(evidence.app.name),
                "General settings",
            )
        )
        if obj.kind == "fastapi":
            steps.append(Step("FastAPI needs an ASGI worker: add `uvicorn` to requirements.txt."))
    else:
        steps.append(
            Step(
                "Put app.py or application.py (Flask) or a Django project at the root of the zip, "
                "or set a startup command that starts your app.",
                links.general_settings(evidence.app.name),
                "General settings",
            )
        )
    if found and found[0].startswith("everything is inside"):
        steps.insert(
            0,
            Step(
                "Zip the contents of the folder (cd into it, then zip .) and deploy again.",
                links.deployment_center(evidence.app.name),
                "Deployment Center",
            ),
        )
    cause = "Code was deployed but no start-up rule matched it, so the default site is answering"
    cause += f"; found {found[0]}." if found else "."
    return Finding(
        Status.CRITICAL,
        cause,
        tuple(items),
        tuple(steps),
        action,
        facts={"app_object": obj.target if obj else ""},
    )

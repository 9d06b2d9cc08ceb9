"""Build failures: pip cannot resolve or install, collectstatic fails, the
pre- or post-build command fails."""

from __future__ import annotations

import re

from apps.core import failures
from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence, LogLine
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import DEPLOYMENT, detector

NOT_FOUND = re.compile(
    r"No matching distribution found for (?P<req>\S+)|Could not find a version that satisfies the requirement (?P<req2>\S+)"
)
CONFLICT = r"ResolutionImpossible|conflicting dependencies|Cannot install .* because"
# The build's own output (pip's words) when it dies for memory.
OOM = r"\bKilled\b|MemoryError"
NETWORK = (
    r"Could not fetch URL|Max retries exceeded|Temporary failure in name resolution|"
    r"Failed to establish a new connection|CERTIFICATE_VERIFY_FAILED|Read timed out|"
    r"Network is unreachable|Connection refused"
)
COLLECTSTATIC = r"collectstatic"
PRE_POST = re.compile(
    r"(?P<which>PRE|POST)[_ -]?BUILD[_ ](COMMAND|SCRIPT|SCRIPT_PATH)?.*(fail|exit|error)|"
    r"(?P<which2>pre|post)-build (command|script) (failed|exited)",
    re.IGNORECASE,
)
# The failure codes that say the build failed (apps.core.failures).
BUILD_CODES = (failures.BUILD_FAILED, failures.BUILD_TIMEOUT, failures.QUEUE_TIMEOUT)
ERROR_LINE = r"^(ERROR|error):|\bERROR\b|Traceback|failed"


def _near(lines: tuple[LogLine, ...], hit: LogLine, after: int = 8) -> list[LogLine]:
    i = lines.index(hit)
    return [ln for ln in lines[i : i + after] if ln.text.strip()]


@detector(
    "build_failed",
    title="Build failed",
    category=DEPLOYMENT,
    description="Reads the latest deployment's build log: pip, collectstatic, pre/post build commands.",
)
def check(evidence: Evidence) -> Finding | None:
    latest = evidence.latest
    if latest is None:
        return None
    app = evidence.app.name
    lines = latest.log
    seen = latest.failure_evidence
    build_oom = (latest.failure_code == failures.OOM and seen.get("phase") == "build") or (
        latest.failure_code == failures.BUILD_FAILED and seen.get("exit_code") == 137
    )
    center = links.deployment_center(app)
    requirements_step = Step("Fix requirements.txt and deploy again.", center, "Deployment Center")
    # The deployment's failure code says whether its build failed; nothing
    # after a failed build ran, so its whole log is the build's.
    failed = latest.failure_code in BUILD_CODES or build_oom
    where = f"deployment #{latest.id}"

    # collectstatic is a warning on a build that otherwise went on (Oryx's rule).
    static = [
        ln for ln in c.grep(lines, COLLECTSTATIC) if re.search(r"fail|error|warning", ln.text, re.I)
    ]
    pip_lines = c.grep(lines, r"pip|requirement|distribution|Collecting|Installing")
    pre_post = [ln for ln in lines if PRE_POST.search(ln.text)]

    if failed and (found := [ln for ln in lines if NOT_FOUND.search(ln.text)]):
        m = NOT_FOUND.search(found[-1].text)
        req = (m["req"] or m["req2"]).rstrip(")")
        items = c.log_items([*c.grep(lines, r"Could not find a version"), *found], limit=4)
        cause = (
            f"pip found no release of `{req}` for Python {evidence.app.python_version}: "
            "the name is misspelt, the version does not exist, or it has no release for this Python."
        )
        steps = (
            requirements_step,
            Step(
                f"Check the name and version of {req} (pip index versions {req.split('=')[0].split('<')[0].split('>')[0]})."
            ),
            Step(
                "Or pick a Python version it supports.",
                links.general_settings(app),
                "General settings",
            ),
        )
        return Finding(
            Status.CRITICAL,
            cause,
            items,
            steps,
            facts={"requirement": req, "deployment": str(latest.id)},
        )
    if failed and (found := c.grep(lines, CONFLICT)):
        items = c.log_items(
            [*found, *c.grep(lines, r"The conflict is caused by|depends on")], limit=6
        )
        cause = "pip cannot install requirements.txt: two packages require versions of a third that cannot both be met."
        steps = (
            Step(
                "Loosen one of the pins named above (or upgrade the package that pins the old version)."
            ),
            requirements_step,
        )
        return Finding(Status.CRITICAL, cause, items, steps, facts={"deployment": str(latest.id)})
    if build_oom or (failed and c.grep(lines, OOM)):
        state = f"exit code {seen.get('exit_code')}, memory limit {seen.get('limit', '?')}"
        items = (
            Item("deployment", f"{latest.failure_code}: {state}", where, latest.finished),
            *c.log_items(c.grep(lines, OOM), limit=3),
        )
        cause = "The build ran out of memory (killed with exit code 137) while installing packages."
        steps = (
            Step("Prefer packages with wheels (no compiling), or install fewer at a time."),
            Step("Give the build more memory, then deploy again.", center, "Deployment Center"),
        )
        return Finding(Status.CRITICAL, cause, items, steps, facts={"deployment": str(latest.id)})
    if failed and (found := c.grep(lines, NETWORK)):
        items = c.log_items(found, limit=4)
        cause = "The build could not reach the package index to download packages."
        steps = (
            Step(
                "Check the build machine's network, proxy and pip index settings (BERTH_PIP_INDEX_URL, BERTH_BUILD_CA_BUNDLE)."
            ),
            Step("Deploy again once the index is reachable.", center, "Deployment Center"),
        )
        return Finding(Status.CRITICAL, cause, items, steps, facts={"deployment": str(latest.id)})
    if failed and pre_post:
        hit = pre_post[0]
        m = PRE_POST.search(hit.text)
        which = (m["which"] or m["which2"] or "PRE").upper()
        items = [
            c.setting_item(
                f"{which}_BUILD_COMMAND",
                evidence.app.setting(f"{which}_BUILD_COMMAND")
                or evidence.app.setting(f"{which}_BUILD_SCRIPT_PATH"),
            )
        ]
        i = lines.index(hit)
        items += [c.log_item(ln) for ln in lines[max(0, i - 4) : i + 1] if ln.text.strip()]
        cause = f"The {which.lower()}-build command failed, so the build stopped."
        steps = (
            Step(
                f"Fix {which}_BUILD_COMMAND (a command, or a script path relative to the project root).",
                links.app_settings(app),
                "Application settings",
            ),
        )
        return Finding(
            Status.CRITICAL,
            cause,
            tuple(items),
            steps,
            facts={"which": which, "deployment": str(latest.id)},
        )
    if static:
        items = c.log_items([ln for s in static[:1] for ln in _near(lines, s, 6)], limit=6)
        exc = c.last_exception(list(lines))
        cause = "collectstatic failed, so the app's static files were not collected"
        cause += f": {exc.text.strip()}." if exc else "."
        steps = (
            Step(
                'Set STATIC_ROOT in settings.py (e.g. BASE_DIR / "staticfiles") and check STATICFILES_DIRS exist.'
            ),
            Step(
                "Or set DISABLE_COLLECTSTATIC=true if the app has no static files.",
                links.app_settings(app),
                "Application settings",
            ),
        )
        return Finding(
            Status.CRITICAL if failed else Status.WARNING,
            cause,
            items,
            steps,
            facts={"deployment": str(latest.id)},
        )
    if failed:
        errors = c.grep(lines, ERROR_LINE, 0)[-4:] or pip_lines[-3:]
        items = (
            Item("deployment", latest.status_text, where, latest.finished),
            *c.log_items(errors),
        )
        cause = f"The build of deployment #{latest.id} failed: {latest.status_text.rstrip('.')}."
        return Finding(
            Status.CRITICAL,
            cause,
            items,
            (Step("Read the build log, fix, and deploy again.", center, "Deployment Center"),),
            facts={"deployment": str(latest.id)},
        )
    return None

"""ModuleNotFoundError at start-up: a package missing from requirements.txt, a
build that did not install it, or a virtual environment uploaded with the code."""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import APPLICATION_LOGS, AVAILABILITY, detector

_NO_MODULE = re.compile(
    r"(?:ModuleNotFoundError|ImportError): No module named '?(?P<module>[\w.]+)'?"
)


def _venv_items(evidence: Evidence, roots: list[str]) -> list[Item]:
    items = []
    for root in roots[:3]:
        inside = {
            f.removeprefix(f"{root}/") for f in evidence.source.files if f.startswith(f"{root}/")
        }
        marker = next((f"{root}/{m}" for m in src.VENV_MARKERS if m in inside), f"{root}/")
        items.append(
            Item("file", f"{root}/ is a virtual environment ({marker})", evidence.source.origin)
        )
    return items


@detector(
    "module_not_found",
    title="Missing Python package at start-up",
    category=AVAILABILITY,
    subcategory=APPLICATION_LOGS,
    description="Looks for ModuleNotFoundError in the start-up log and for virtual environments uploaded with the code.",
)
def check(evidence: Evidence) -> Finding | None:
    app = evidence.app.name
    lines = list(evidence.runtime_lines())
    hits = [ln for ln in lines if _NO_MODULE.search(ln.text)]
    roots = src.venv_roots(evidence.source.files)
    if not hits:
        if not roots:
            return None
        return Finding(
            Status.WARNING,
            f"A virtual environment ({roots[0]}/) was uploaded with the code; it was built for "
            "another machine and is not used, so packages must be listed in requirements.txt.",
            tuple(_venv_items(evidence, roots)),
            (
                Step(
                    f"Delete {roots[0]}/ from the upload (add it to .gitignore) and deploy again.",
                    links.deployment_center(app),
                    "Deployment Center",
                ),
                Step(
                    "Make sure requirements.txt lists what the app imports (`pip freeze > requirements.txt` in the venv)."
                ),
            ),
            facts={"venv": roots[0]},
        )

    module = _NO_MODULE.search(hits[-1].text)["module"]
    top = module.split(".")[0]
    dist = src.distribution_for(module)
    requirements = evidence.source.read(src.REQUIREMENTS)
    listed = canonicalize_name(dist) in src.requirement_names(requirements)
    items = [*c.log_items(hits, limit=3)]
    for exc in hits[-1:]:
        items = [*items[:-1], *(c.log_item(ln) for ln in c.traceback_tail(lines, exc, 2))]
    facts = {"module": module, "distribution": dist}
    steps: list[Step] = []
    if roots:
        items += _venv_items(evidence, roots)
        cause = (
            f"`{module}` cannot be imported: a virtual environment ({roots[0]}/) was uploaded with the "
            "code instead of listing packages in requirements.txt, and it does not work on this machine."
        )
        steps.append(
            Step(
                f"Delete {roots[0]}/ from the upload and add it to .gitignore.",
                links.deployment_center(app),
                "Deployment Center",
            )
        )
        if not listed:
            steps.append(
                Step(f"Add the line `{dist}` to requirements.txt (and the app's other packages).")
            )
        facts["venv"] = roots[0]
    elif top in src.local_modules(evidence.source.files) and top not in src.IMPORT_TO_DISTRIBUTION:
        where = sorted(
            f for f in evidence.source.files if f"/{top}" in f"/{f}" and not f.startswith(".")
        )[:1]
        items += [
            Item(
                "file",
                f"{top} is in the code: {where[0] if where else top}",
                evidence.source.origin,
            )
        ]
        cause = f"`{module}` is part of the code but not on the import path: the app is started from another folder."
        steps.append(
            Step(
                "Start gunicorn from the folder holding it with `--chdir <folder>` in the startup command.",
                links.general_settings(app),
                "General settings",
            )
        )
    elif not listed:
        items.append(
            Item(
                "file",
                f"requirements.txt does not list {dist}"
                if requirements or evidence.source.has(src.REQUIREMENTS)
                else "no requirements.txt at the root",
                evidence.source.origin,
            )
        )
        cause = f"The app imports `{module}` but requirements.txt does not list `{dist}`, so it was never installed."
        steps.append(
            Step(
                f"Add the line `{dist}` to requirements.txt and deploy again.",
                links.deployment_center(app),
                "Deployment Center",
            )
        )
        facts["line_to_add"] = dist
    else:
        no_build = evidence.app.app_settings.get("SCM_DO_BUILD_DURING_DEPLOYMENT", "").lower() in (
            "false",
            "0",
            "no",
        )
        if no_build:
            items.append(c.setting_item("SCM_DO_BUILD_DURING_DEPLOYMENT", "false"))
            cause = (
                f"requirements.txt lists `{dist}` but the build was switched off "
                "(SCM_DO_BUILD_DURING_DEPLOYMENT=false), so nothing was installed."
            )
            steps.append(
                Step(
                    "Set SCM_DO_BUILD_DURING_DEPLOYMENT to true and deploy again.",
                    links.app_settings(app),
                    "Application settings",
                )
            )
        else:
            cause = f"requirements.txt lists `{dist}` but `{module}` was not importable: check the build log of the deployment."
            steps.append(
                Step(
                    "Open the deployment's build log and look at the pip install step.",
                    links.deployment_center(app),
                    "Deployment Center",
                )
            )
    return Finding(Status.CRITICAL, cause, tuple(items), tuple(steps), None, facts)

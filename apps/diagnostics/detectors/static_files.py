"""Django static files not served: gunicorn serves no static files, so a
Django app needs WhiteNoise (in MIDDLEWARE and requirements.txt) and STATIC_ROOT."""

from __future__ import annotations

import re

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import CONFIGURATION, detector

MIDDLEWARE_LINE = '"whitenoise.middleware.WhiteNoiseMiddleware",'


def _debug(text: str, evidence: Evidence) -> tuple[bool, tuple[int, str] | None]:
    """Is DEBUG on? A literal True, or read from an app setting that says true."""
    found = src.line_of(text, r"^\s*DEBUG\s*=")
    if found is None:
        return False, None
    value = found[1].split("=", 1)[1]
    if re.match(r"\s*True\b", value):
        return True, found
    if m := re.search(r"""(?:getenv|environ\.get|environ\[)\(?\s*['"](\w+)['"]""", value):
        return evidence.app.setting_true(m.group(1)) or (
            m.group(1) not in evidence.app.app_settings
            and re.search(r",\s*['\"]?(True|1|true)", value) is not None
        ), found
    return False, found


@detector(
    "static_files",
    title="Django static files not served",
    category=CONFIGURATION,
    description="Checks a Django app for WhiteNoise and STATIC_ROOT, which gunicorn needs to serve static files.",
)
def check(evidence: Evidence) -> Finding | None:
    settings_files = src.settings_modules(evidence.source.python_files)
    if not settings_files or "django.contrib.staticfiles" not in evidence.source.read(
        settings_files[0]
    ):
        return None
    path = settings_files[0]
    text = "\n".join(
        evidence.source.read(p) for p in settings_files if p.startswith(path.rsplit("/", 1)[0])
    )
    main = evidence.source.read(path)
    requirements = src.requirement_names(evidence.source.read(src.REQUIREMENTS))
    in_middleware = "whitenoise.middleware.WhiteNoiseMiddleware" in text
    in_requirements = "whitenoise" in requirements
    static_root = src.line_of(text, r"^\s*STATIC_ROOT\s*=")
    debug, debug_line = _debug(main, evidence)
    if in_middleware and in_requirements and static_root:
        return None

    app = evidence.app.name
    items: list[Item] = []
    if debug_line:
        items.append(c.file_item(path, debug_line))
    mw = src.line_of(main, r"^\s*MIDDLEWARE\s*=")
    items.append(c.file_item(path, mw) if mw else Item("file", "no MIDDLEWARE setting", path))
    if not in_middleware:
        items.append(Item("file", "WhiteNoiseMiddleware is not in MIDDLEWARE", path))
    if not in_requirements:
        items.append(Item("file", "whitenoise is not in requirements.txt", "requirements.txt"))
    items.append(
        c.file_item(path, static_root)
        if static_root
        else Item("file", "STATIC_ROOT is not set", path)
    )
    items += c.log_items(
        c.grep(evidence.runtime_lines(), r'"GET /static/\S+ HTTP/[\d.]+" 404'), limit=3
    )

    missing = [
        w
        for w, ok in (
            ("WhiteNoise", in_middleware and in_requirements),
            ("STATIC_ROOT", static_root),
        )
        if not ok
    ]
    cause = (
        f"gunicorn does not serve static files and the app has no {' and no '.join(missing)}, "
        "so CSS, JavaScript and images answer 404"
    )
    cause += " (Django serves them itself only while DEBUG is on)." if debug else "."
    steps = []
    if not in_requirements:
        steps.append(Step("Add the line `whitenoise` to requirements.txt."))
    if not in_middleware:
        steps.append(
            Step(f"In {path}, add {MIDDLEWARE_LINE} to MIDDLEWARE right after SecurityMiddleware.")
        )
    if not static_root:
        steps.append(
            Step(
                f'In {path}, set STATIC_ROOT = BASE_DIR / "staticfiles" so collectstatic runs at build time.'
            )
        )
    steps.append(Step("Deploy again.", links.deployment_center(app), "Deployment Center"))
    return Finding(
        Status.WARNING if debug else Status.CRITICAL,
        cause,
        tuple(items),
        tuple(steps),
        facts={"missing": ",".join(missing), "settings": path},
    )

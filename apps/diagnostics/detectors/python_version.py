"""The Python version does not fit the code: requires-python, runtime.txt, or
a SyntaxError under the chosen version."""

from __future__ import annotations

import re
import tomllib

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from apps.diagnostics import links
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Action, Finding, Item, Status, Step
from apps.diagnostics.registry import CONFIGURATION, detector
from apps.engine import runtimes

# Syntax that needs a newer Python than the line's runtime: (pattern, version).
NEWER_SYNTAX = (
    (r"^\s*type\s+\w+(\[.*\])?\s*=", "3.12"),
    (r"^\s*(def|class)\s+\w+\[", "3.12"),
    (r"except\*", "3.11"),
    (r"^\s*match\s+.+:\s*$", "3.10"),
    (r"^\s*case\s+.+:\s*$", "3.10"),
    (r"^\s*with\s*\(", "3.10"),
)


def offered_versions() -> list[str]:
    return list(runtimes.PYTHON_VERSIONS)


def _wanted(evidence: Evidence) -> tuple[str, Item] | None:
    """The versions the code asks for, as a specifier, and where it says so."""
    src = evidence.source
    if text := src.read("pyproject.toml"):
        try:
            spec = tomllib.loads(text).get("project", {}).get("requires-python")
        except tomllib.TOMLDecodeError:
            spec = None
        if spec:
            n = next((i for i, ln in enumerate(text.splitlines(), 1) if "requires-python" in ln), 0)
            return spec, Item("file", f'requires-python = "{spec}"', f"pyproject.toml:{n}")
    if m := re.search(r"python-(\d+\.\d+)", src.read("runtime.txt")):
        return f"=={m.group(1)}.*", Item("file", src.read("runtime.txt").strip(), "runtime.txt")
    if m := re.match(r"\s*(\d+\.\d+)", src.read(".python-version")):
        return f"=={m.group(1)}.*", Item(
            "file", src.read(".python-version").strip(), ".python-version"
        )
    return None


def _fits(version: str, spec: str) -> bool | None:
    try:
        return SpecifierSet(spec).contains(f"{version}.0", prereleases=True)
    except InvalidSpecifier:
        return None


def _best(spec: str | None, at_least: str | None = None) -> str | None:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    candidates = [v for v in offered_versions() if spec is None or _fits(v, spec)]
    if at_least:
        candidates = [v for v in candidates if key(v) >= key(at_least)]
    # The newest fitting version: most likely to run the code and supported longest.
    return max(candidates, key=key, default=None)


@detector(
    "python_version",
    title="Python version does not fit the code",
    category=CONFIGURATION,
    description="Compares the stack's Python version with requires-python, runtime.txt and syntax errors at start-up.",
)
def check(evidence: Evidence) -> Finding | None:
    version = evidence.app.python_version
    app = evidence.app.name
    wanted = _wanted(evidence)
    lines = list(evidence.runtime_lines())
    syntax = [ln for ln in lines if re.match(r"\s*SyntaxError\b", ln.text)]
    mismatch = wanted is not None and _fits(version, wanted[0]) is False

    needs = None
    items: list[Item] = [
        Item("setting", f"linuxFxVersion = {evidence.app.linux_fx_version}", "General settings")
    ]
    if syntax:
        tail = c.traceback_tail(lines, syntax[-1], 3)
        items += [c.log_item(ln) for ln in tail]
        for ln in tail:
            for pattern, v in NEWER_SYNTAX:
                if re.search(pattern, ln.text) and tuple(map(int, v.split("."))) > tuple(
                    map(int, version.split("."))
                ):
                    needs = v
                    break
    if not mismatch and needs is None:
        return None
    if wanted is not None:
        items.append(wanted[1])
    target = _best(wanted[0] if wanted else None, needs)
    if mismatch:
        cause = f"The code asks for Python {wanted[0]} but the app runs Python {version}."
    else:
        cause = f"The code uses syntax from Python {needs} or newer, and the app runs Python {version} (SyntaxError at start-up)."
    steps = [
        Step(
            f"Change the stack to PYTHON|{target}."
            if target
            else "Change the stack to a Python version the code supports.",
            links.general_settings(app),
            "General settings",
        )
    ]
    action = None
    if target and target != version:
        action = Action(
            "linux_fx_version", f"PYTHON|{target}", f"Change the stack to PYTHON|{target}"
        )
    if wanted is not None and mismatch:
        steps.append(
            Step(
                f"Or, if the code runs on {version}, widen requires-python in {wanted[1].where.split(':')[0]}."
            )
        )
    status = Status.CRITICAL if syntax else Status.WARNING
    return Finding(
        status,
        cause,
        tuple(items),
        tuple(steps),
        action,
        facts={
            "runs": version,
            "wants": wanted[0] if wanted else f">={needs}",
            "suggested": target or "",
        },
    )

"""requirements.txt missing or misnamed: the build installs nothing."""

from __future__ import annotations

import tomllib

from apps.diagnostics import links
from apps.diagnostics import source as src
from apps.diagnostics.detectors import _common as c
from apps.diagnostics.evidence import Evidence
from apps.diagnostics.findings import Finding, Item, Status, Step
from apps.diagnostics.registry import DEPLOYMENT, detector

NOTHING_INSTALLED = r"Could not find setup\.py or requirements\.txt|Not running pip install|Could not find requirements\.txt"


def third_party_imports(evidence: Evidence) -> list[str]:
    roots = src.venv_roots(evidence.source.files)
    local = src.local_modules(evidence.source.files)
    found: set[str] = set()
    for path, text in evidence.source.python_files.items():
        if src.in_venv(path, roots):
            continue
        found |= {m for m in src.imports_of(text) if not src.is_stdlib(m) and m not in local}
    return sorted(found)


def _pyproject_installs(text: str) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return bool(data.get("project", {}).get("dependencies"))


@detector(
    "requirements_file",
    title="requirements.txt missing or misnamed",
    category=DEPLOYMENT,
    description="Checks that requirements.txt is at the root of the code, under that exact name.",
)
def check(evidence: Evidence) -> Finding | None:
    files = evidence.source.files
    if not files or evidence.source.has(src.REQUIREMENTS):
        return None
    app = evidence.app.name
    center = links.deployment_center(app)
    build_lines = c.grep(evidence.build_lines(), NOTHING_INSTALLED)
    items = list(c.log_items(build_lines, limit=2))
    imports = third_party_imports(evidence)
    misnamed = src.misnamed_requirements(files)
    if misnamed:
        name = misnamed[0]
        items.insert(
            0,
            Item("file", f"found {name}; no requirements.txt at the root", evidence.source.origin),
        )
        if "/" in name:
            cause = f"requirements.txt is in {name.rsplit('/', 1)[0]}/, not at the root, so the build installed nothing."
            fix = f"Move {name} to the root of the code (or add a root requirements.txt with the line `-r {name}`)."
        else:
            cause = f"The requirements file is named {name}, not requirements.txt, so the build installed nothing."
            fix = f"Rename {name} to requirements.txt (exactly, lower case)."
        return Finding(
            Status.CRITICAL,
            cause,
            tuple(items),
            (Step(fix), Step("Deploy again.", center, "Deployment Center")),
            facts={"found": name},
        )

    root = src.root_files(files)
    pipfile = "Pipfile" in root
    pyproject = "pyproject.toml" in root
    if pyproject and _pyproject_installs(evidence.source.read("pyproject.toml")):
        return None  # `pip install .` installs [project] dependencies
    if "setup.py" in root:
        return None
    if pipfile or pyproject:
        which = "Pipfile" if pipfile else "pyproject.toml"
        items.insert(
            0, Item("file", f"found {which} only; no requirements.txt", evidence.source.origin)
        )
        cause = (
            f"The dependencies are in {which}, which the build does not install"
            f"{' (no [project] dependencies)' if pyproject and not pipfile else ''}; it needs requirements.txt."
        )
        export = (
            "pipenv requirements > requirements.txt"
            if pipfile
            else "poetry export -f requirements.txt -o requirements.txt"
        )
        return Finding(
            Status.WARNING if not imports else Status.CRITICAL,
            cause,
            tuple(items),
            (
                Step(f"Write requirements.txt from it: `{export}`."),
                Step("Deploy again.", center, "Deployment Center"),
            ),
            facts={"found": which},
        )
    if not imports:
        return None
    items.insert(
        0,
        Item(
            "file",
            "no requirements.txt at the root; the code imports " + ", ".join(imports[:8]),
            evidence.source.origin,
        ),
    )
    lines = ", ".join(f"`{src.distribution_for(m)}`" for m in imports[:8])
    cause = (
        "There is no requirements.txt, so the build installs none of the packages the code imports."
    )
    return Finding(
        Status.WARNING,
        cause,
        tuple(items),
        (
            Step(f"Add requirements.txt at the root listing {lines}."),
            Step("Deploy again.", center, "Deployment Center"),
        ),
        facts={"imports": ",".join(imports)},
    )

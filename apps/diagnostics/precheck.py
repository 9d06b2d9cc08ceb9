"""The check on upload, before building: what will go wrong, said before the
build spends minutes on it. Used by zip deploy intake (and anyone holding a zip)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from apps.diagnostics import source as src
from apps.diagnostics.evidence import SourceFiles, read_zip


@dataclass(frozen=True)
class UploadWarning:
    code: str  # committed_venv | missing_requirements | misnamed_requirements | secret_key_debug
    message: str
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Precheck:
    warnings: tuple[UploadWarning, ...] = ()
    rule: str = ""  # django | flask | default | custom
    command: str = ""
    startup: str = ""  # one paragraph: which start-up rule will match and with what command
    looked_for: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


_SECRET = re.compile(r"""^\s*SECRET_KEY\s*=\s*(?P<q>['"]).{8,}(?P=q)\s*(#.*)?$""")
_DEBUG_ON = re.compile(r"^\s*DEBUG\s*=\s*True\b")


def _settings_secrets(source: SourceFiles) -> list[UploadWarning]:
    out = []
    for path in src.settings_modules(source.python_files):
        text = source.read(path)
        secret = src.line_of(text, _SECRET.pattern)
        debug = src.line_of(text, _DEBUG_ON.pattern)
        if secret and debug:
            out.append(
                UploadWarning(
                    "secret_key_debug",
                    f"{path} hard-codes SECRET_KEY (line {secret[0]}) with DEBUG = True (line {debug[0]}): "
                    "anyone who sees the code can forge sessions, and errors show your settings to "
                    "visitors. Read both from app settings: "
                    "SECRET_KEY = os.environ['SECRET_KEY'] and DEBUG = os.environ.get('DEBUG') == 'true'.",
                    path,
                    secret[0],
                )
            )
    return out


def _startup(source: SourceFiles, app_command_line: str) -> tuple[str, str, str, tuple[str, ...]]:
    """Which start-up rule matches, with the deploy pipeline's own rules."""
    try:
        from apps.deployments.source import SourceTree
        from apps.deployments.startup import classify_custom, detect
    except ImportError:  # the deploy pipeline is not installed
        return "", "", "The start-up rules are not available here.", ()
    tree = SourceTree(frozenset(source.files), dict(source.contents))
    detection = detect(tree)
    looked = tuple(detection.looked_for)
    custom = classify_custom(app_command_line, tree)
    detected = f"{detection.rule} ({detection.reason}): {detection.command}"
    if custom.kind in ("script", "first-line", "command"):
        text = f"Start-up will run the {custom.explain}: {custom.value}. If it exits, it falls back to {detected}."
        return "custom", custom.value, text, looked
    if custom.kind == "missing-file":
        text = f"The {custom.explain}, so start-up will fall back to {detected}."
        return detection.rule, detection.command, text, looked
    if detection.rule == "default":
        text = (
            "No start-up rule will match, so the default site will answer. Looked for: "
            + "; ".join(looked)
            + "."
        )
        objects = [o for o in src.find_app_objects(source.python_files) if o.kind != "django"]
        if objects:
            text += f" Found `{objects[0].name}` in {objects[0].path}: set the startup command to `{objects[0].gunicorn_command()}`."
        return detection.rule, detection.command, text, looked
    return detection.rule, detection.command, f"Start-up will match {detected}.", looked


def check_source(source: SourceFiles, app_command_line: str = "") -> Precheck:
    warnings: list[UploadWarning] = []
    roots = src.venv_roots(source.files)
    for root in roots[:3]:
        warnings.append(
            UploadWarning(
                "committed_venv",
                f"{root}/ is a virtual environment uploaded with the code. It was built for another "
                "machine and will not be used: delete it from the upload (add it to .gitignore) "
                "and list the packages in requirements.txt.",
                root,
            )
        )
    if not source.has(src.REQUIREMENTS):
        misnamed = src.misnamed_requirements(source.files)
        if misnamed:
            where = misnamed[0]
            fix = (
                "move it to the root as requirements.txt"
                if "/" in where
                else "rename it to requirements.txt"
            )
            warnings.append(
                UploadWarning(
                    "misnamed_requirements",
                    f"No requirements.txt at the root, but there is {where}: {fix}, or nothing will be installed.",
                    where,
                )
            )
        elif "setup.py" not in source.files and "pyproject.toml" not in source.files:
            warnings.append(
                UploadWarning(
                    "missing_requirements",
                    "No requirements.txt at the root: the build will install no packages "
                    "(Could not find setup.py or requirements.txt; Not running pip install.). "
                    "Add one listing what the app imports.",
                )
            )
    warnings += _settings_secrets(source)
    rule, command, text, looked = _startup(source, app_command_line)
    return Precheck(tuple(warnings), rule, command, text, looked)


def check_zip(file: str | Path | IO[bytes], app_command_line: str = "") -> Precheck:
    """Read a zip (never extracted) and check it."""
    return check_source(read_zip(file), app_command_line)

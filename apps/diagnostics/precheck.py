"""The check on upload, before building: what will go wrong, said before the
build spends minutes on it. Every intake path runs it (the Deployment Center's
upload, the zipdeploy API and so `berth webapp deploy`/`up`, git push: all
through apps.deployments.services.create_deployment); its findings are kept on
the deployment and written at the top of its build log. Advice only: it never
stops a deployment. No finding quotes a secret: a hard-coded SECRET_KEY is
named by file and line, never by value."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from apps.diagnostics import source as src
from apps.diagnostics.evidence import PRECHECK_PREFIX as LOG_PREFIX
from apps.diagnostics.evidence import SourceFiles, read_zip
from apps.lifecycle.source import SourceTree
from apps.lifecycle.startup import classify_custom, detect


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
    startup: str = ""  # one line: which start-up rule will match and with what command
    looked_for: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)

    def findings(self) -> list[dict]:
        """What a deployment keeps and the API answers: the warnings, then
        the start-up rule (level "info")."""
        out: list[dict] = [
            {
                "level": "warning",
                "code": w.code,
                "message": w.message,
                "path": w.path,
                "line": w.line,
            }
            for w in self.warnings
        ]
        if self.startup:
            out.append(
                {
                    "level": "info",
                    "code": STARTUP_RULE,
                    "message": self.startup,
                    "rule": self.rule,
                    "command": self.command,
                }
            )
        return out


STARTUP_RULE = "startup_rule"


def log_lines(findings: list[dict]) -> list[str]:
    """The build log's first lines, from the findings a deployment keeps."""
    lines = []
    for f in findings:
        if f.get("code") == STARTUP_RULE:
            lines.append(f"{LOG_PREFIX} start-up rule: {f['message']}")
        else:
            lines.append(f"{LOG_PREFIX} {f.get('level', 'warning')}: {f['message']}")
    count = sum(1 for f in findings if f.get("level") == "warning")
    if count:
        noun = "warning" if count == 1 else "warnings"
        lines.append(f"{LOG_PREFIX} {count} {noun}; warnings don't stop the deployment.")
    else:
        lines.append(f"{LOG_PREFIX} no warnings.")
    return lines


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


def _startup(
    source: SourceFiles, app_command_line: str, tree: SourceTree | None = None
) -> tuple[str, str, str, tuple[str, ...]]:
    """Which start-up rule matches, with the deploy pipeline's own rules, and
    the exact command it runs: (rule, command, one line saying so, looked for).
    `tree` is the deployment's own SourceTree when the caller has it, so the
    command is the one the release will run, to the character."""
    if tree is None:
        tree = SourceTree(frozenset(source.files), dict(source.contents))
    detection = detect(tree)
    looked = tuple(detection.looked_for)
    custom = classify_custom(app_command_line, tree)
    detected = f"{detection.rule} ({detection.reason}); command: {detection.command}"
    if custom.kind in ("script", "command"):
        text = (
            f"the {custom.explain} runs first; command: {custom.value}. "
            f"If it exits, it falls back to {detected}"
        )
        return "custom", custom.value, text, looked
    if detection.rule == "default":
        text = (
            "none matches, so the default site will answer; "
            f"command: {detection.command}. Looked for: " + "; ".join(looked) + "."
        )
        objects = [o for o in src.find_app_objects(source.python_files) if o.kind != "django"]
        if objects:
            text += f" Found `{objects[0].name}` in {objects[0].path}: set the startup command to `{objects[0].gunicorn_command()}`."
    else:
        text = f"{detection.rule} ({detection.reason}) will match; command: {detection.command}"
    if custom.kind == "missing-file":
        text += f" (The {custom.explain}, so start-up falls back to this rule.)"
    return detection.rule, detection.command, text, looked


def check_source(
    source: SourceFiles, app_command_line: str = "", tree: SourceTree | None = None
) -> Precheck:
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
    rule, command, text, looked = _startup(source, app_command_line, tree)
    return Precheck(tuple(warnings), rule, command, text, looked)


def check_zip(
    file: str | Path | IO[bytes], app_command_line: str = "", tree: SourceTree | None = None
) -> Precheck:
    """Read a zip (never extracted) and check it. `tree`: the build's own
    apps.lifecycle.source.SourceTree of the same zip, if the caller has one."""
    return check_source(read_zip(file), app_command_line, tree)

"""The Oryx-compatible build, as a bash script generated from the code tree and
the app settings. The steps are App Service's, in App Service's order:

    1. PRE_BUILD_SCRIPT_PATH / PRE_BUILD_COMMAND (the path wins)
    2. pip install -r requirements.txt into antenv (setup.py / pyproject.toml:
       `pip install .`; nothing: the docs' message)
    3. python manage.py collectstatic, when manage.py is at the root and
       Django is in requirements.txt, unless DISABLE_COLLECTSTATIC is true
       (a failure is a WARNING; the build goes on)
    4. POST_BUILD_SCRIPT_PATH / POST_BUILD_COMMAND (the path wins)

SCM_DO_BUILD_DURING_DEPLOYMENT=false skips all of it: the code ships as it is.
Berth builds by default, also for zip deploy (App Service's zip deploy does
not, which is the first cause of `ModuleNotFoundError` at start-up there).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from apps.deployments.source import SourceTree

APP_PATH = "/home/site/wwwroot"
VENV = "antenv"
NO_REQUIREMENTS = "Could not find setup.py or requirements.txt; Not running pip install."
DJANGO_REQUIREMENT = re.compile(r"^\s*django\s*(?:$|[=<>!~\[;#@ ])", re.IGNORECASE | re.MULTILINE)
# The shared cache is a wheelhouse, not only pip's HTTP cache: responses that
# an intercepting proxy marks uncacheable never reach pip's cache, and built
# sdists are kept too. pip prefers a local wheel over the index's file of the
# same version; if anything goes wrong, it is a plain pip install.
WHEELHOUSE = """WHEELS="${PIP_CACHE_DIR:-/tmp/pip-cache}/wheels"
mkdir -p "$WHEELS"
if $PIP wheel --prefer-binary --find-links "$WHEELS" --wheel-dir "$WHEELS" -r requirements.txt; then
  $PIP install --no-index --find-links "$WHEELS" -r requirements.txt \\
    || $PIP install --prefer-binary --find-links "$WHEELS" -r requirements.txt
else
  say "Building wheels failed; installing straight from the index."
  $PIP install --prefer-binary -r requirements.txt
fi"""
FALSE = ("false", "0", "no", "off")
TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class Step:
    title: str
    script: str
    # A failing step fails the build; a failing optional step is a WARNING.
    required: bool = True


def should_build(app_settings: dict[str, str]) -> bool:
    return app_settings.get("SCM_DO_BUILD_DURING_DEPLOYMENT", "").strip().lower() not in FALSE


def build_note(app_settings: dict[str, str]) -> str:
    value = app_settings.get("SCM_DO_BUILD_DURING_DEPLOYMENT", "")
    if not should_build(app_settings):
        return (
            f"SCM_DO_BUILD_DURING_DEPLOYMENT is {value}: no build, the code is deployed as it is "
            "(packages must be in the code, e.g. a committed antenv)."
        )
    if value.strip():
        return f"SCM_DO_BUILD_DURING_DEPLOYMENT is {value}: running the Oryx-compatible build."
    return (
        "SCM_DO_BUILD_DURING_DEPLOYMENT is not set: Berth builds by default "
        "(set it to false to deploy the files as they are)."
    )


def _user_script(name: str, app_settings: dict[str, str]) -> tuple[str, str] | None:
    """(setting name used, value) for PRE_/POST_BUILD: SCRIPT_PATH wins over COMMAND."""
    for setting in (f"{name}_BUILD_SCRIPT_PATH", f"{name}_BUILD_COMMAND"):
        if value := app_settings.get(setting, "").strip():
            return setting, value
    return None


def _run_user_script(value: str) -> str:
    # A value naming a file (relative to the root) is made executable and
    # run; anything else runs as a shell command from the root.
    v = shlex.quote(value)
    path = shlex.quote("./" + value.removeprefix("./"))
    return f"if [ -f {v} ]; then chmod +x {v} && {path}; else bash -c {v}; fi"


def _pip_step(tree: SourceTree) -> Step:
    venv = (
        f'"$PYTHON" -m venv {VENV} || exit 1\n'
        f'PIP="{APP_PATH}/{VENV}/bin/python -m pip"\n'
        f'$PIP --version >/dev/null 2>&1 || PIP="$PYTHON -m pip --python {APP_PATH}/{VENV}/bin/python"\n'
    )
    if tree.has("requirements.txt"):
        return Step(
            "pip install -r requirements.txt",
            venv + 'say "Running: pip install --prefer-binary -r requirements.txt"\n' + WHEELHOUSE,
        )
    if tree.has("setup.py") or tree.has("pyproject.toml"):
        found = "setup.py" if tree.has("setup.py") else "pyproject.toml"
        return Step(
            f"pip install . ({found})",
            venv + f'say "Found {found}; running: pip install --prefer-binary ."\n'
            "$PIP install --prefer-binary .",
        )
    script = f"echo {shlex.quote(NO_REQUIREMENTS)}"
    misnamed = [f for f in tree.top_level() if f.lower() in ("requirements.txt", "requirement.txt")]
    if misnamed:
        script += (
            "\n"
            + "say "
            + shlex.quote(
                f"Found {misnamed[0]}: rename it to requirements.txt (the name is case-sensitive)."
            )
        )
    return Step("pip install", script)


def _collectstatic_step(tree: SourceTree, app_settings: dict[str, str]) -> Step | str:
    """The step, or why it does not run."""
    if not tree.has("manage.py"):
        return "no manage.py at the root: not running collectstatic."
    if not DJANGO_REQUIREMENT.search(tree.read("requirements.txt")):
        return "Django is not in requirements.txt: not running collectstatic."
    if app_settings.get("DISABLE_COLLECTSTATIC", "").strip().lower() in TRUE:
        return "DISABLE_COLLECTSTATIC is true: not running collectstatic."
    return Step(
        "python manage.py collectstatic --noinput",
        f"{APP_PATH}/{VENV}/bin/python manage.py collectstatic --noinput",
        required=False,
    )


def steps(tree: SourceTree, app_settings: dict[str, str]) -> tuple[list[Step], list[str]]:
    """The build steps in order, and notes for the log on what was skipped."""
    result: list[Step] = []
    notes: list[str] = [build_note(app_settings)]
    if not should_build(app_settings):
        return result, notes
    if pre := _user_script("PRE", app_settings):
        result.append(Step(f"{pre[0]}: {pre[1]}", _run_user_script(pre[1])))
    result.append(_pip_step(tree))
    collect = _collectstatic_step(tree, app_settings)
    if isinstance(collect, Step):
        result.append(collect)
    else:
        notes.append(collect)
    if post := _user_script("POST", app_settings):
        result.append(Step(f"{post[0]}: {post[1]}", _run_user_script(post[1])))
    return result, notes


def script(tree: SourceTree, app_settings: dict[str, str]) -> str:
    """The bash script the build container runs, from the code's folder."""
    q = shlex.quote
    build_steps, notes = steps(tree, app_settings)
    out = [
        'say() { echo "[berth-build] $*"; }',
        f"cd {APP_PATH} || exit 1",
        "PYTHON=$(command -v python3 || command -v python)",
        *(f"say {q(note)}" for note in notes),
    ]
    for number, step in enumerate(build_steps, 1):
        out.append(f"say {q(f'Step {number}/{len(build_steps)}: {step.title}')}")
        out.append(f"( {step.script}\n)")
        out.append("RC=$?")
        if step.required:
            failed = f"ERROR: {step.title} failed with exit code"
            out.append(f'if [ $RC -ne 0 ]; then say {q(failed)} "$RC"; exit $RC; fi')
        else:
            warn = f"WARNING: {step.title} failed with exit code"
            out.append(f'if [ $RC -ne 0 ]; then say {q(warn)} "$RC; the build goes on."; fi')
    out.append("say 'Build finished.'")
    return "\n".join(out) + "\n"

"""The Oryx-compatible build, as a bash script generated from the code tree and
the app settings. The steps are App Service's, in App Service's order:

    1. PRE_BUILD_SCRIPT_PATH / PRE_BUILD_COMMAND (the path wins)
    2. pip install -r requirements.txt into antenv; else pyproject.toml (with
       uv.lock: the locked versions; a project with no [build-system], an
       application: its dependencies only; a package: `pip install .`); else
       setup.py: `pip install .`; nothing: the docs' message
    3. python manage.py collectstatic, when manage.py is at the root and
       Django is in requirements.txt, unless DISABLE_COLLECTSTATIC is true
       (a failure is a WARNING; the build goes on)
    4. POST_BUILD_SCRIPT_PATH / POST_BUILD_COMMAND (the path wins)

SCM_DO_BUILD_DURING_DEPLOYMENT=false skips all of it: the code ships as it is.
Berth builds by default, also for zip deploy (App Service's zip deploy does
not, which is the first cause of `ModuleNotFoundError` at start-up there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shlex
from dataclasses import dataclass

from django.conf import settings

from apps.lifecycle.source import SourceTree

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
if $PIP wheel --prefer-binary --find-links "$WHEELS" --wheel-dir "$WHEELS" -r "$REQS"; then
  $PIP install --no-index --find-links "$WHEELS" -r "$REQS" \\
    || $PIP install --prefer-binary --find-links "$WHEELS" -r "$REQS"
else
  say "Building wheels failed; installing straight from the index."
  $PIP install --prefer-binary -r "$REQS"
fi"""
# uv.lock: uv (installed beside the build, from the same index) exports the
# locked versions as a requirements file; pip then installs them through the
# configured index and CA bundle like any other build. `uv sync` would fetch
# from the URLs written in the lock, which a mirror or an air-gapped index
# does not serve.
UV_EXPORT = """UV_TOOL=/tmp/berth-uv
if "$PYTHON" -m venv "$UV_TOOL" >/dev/null && "$UV_TOOL/bin/python" -m pip install -q --prefer-binary --find-links "$WHEELS" uv \\
   && "$UV_TOOL/bin/uv" export --frozen --no-dev --no-hashes --no-emit-project --format requirements-txt -o "$REQS" >/dev/null; then
  say "Exported $(grep -c '==' "$REQS") locked requirements from uv.lock (uv export --frozen --no-dev)."
else
  say "WARNING: could not export uv.lock with uv; installing pyproject.toml's dependencies unpinned."
  "$PYTHON" - > "$REQS" <<'PY'
PYPROJECT_DEPENDENCIES
PY
fi"""
# [project].dependencies of pyproject.toml, one a line (Python 3.11+ has tomllib;
# older runtimes get the tomli that pip vendors).
PYPROJECT_DEPENDENCIES = """try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print("\\n".join(tomllib.load(f).get("project", {}).get("dependencies", [])))"""
UV_EXPORT = UV_EXPORT.replace("PYPROJECT_DEPENDENCIES", PYPROJECT_DEPENDENCIES)
BUILD_SYSTEM = re.compile(r"^\s*\[build-system\]", re.MULTILINE)
# Where the code lands in a build that reuses the previous release's image:
# beside the old code, which the script then replaces (so deleted files go).
# In the build user's own folder (/home/site is its), not /tmp: the upload's
# tar would make /tmp the user's, mode 0755.
STAGING = "home/site/berth-code"
INPUTS_LABEL = "io.berth.build-inputs"
DEPTH_LABEL = "io.berth.reuse-depth"
# A reusing build adds one layer on top of the previous release; past these,
# build from the runtime image again (overlay2 stacks layers; deep stacks
# slow every file lookup and the engine refuses past 128).
REUSE_MAX_DEPTH = 8
REUSE_MAX_LAYERS = 20
# Lines of requirements.txt that pull in other files or the code itself:
# their content is not in the hash, so the venv can't be trusted unchanged.
LOCAL_REQUIREMENT = re.compile(
    r"^\s*(?:-r|-c|--requirement|--constraint|-e|--editable)\b|^\s*(?:\.|file:|/)",
    re.MULTILINE,
)
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
            venv
            + "REQS=requirements.txt\n"
            + 'say "Running: pip install --prefer-binary -r requirements.txt"\n'
            + WHEELHOUSE,
        )
    if tree.has("pyproject.toml") and tree.has("uv.lock"):
        return Step(
            "pip install the versions locked in uv.lock",
            venv
            + 'REQS=/tmp/berth-requirements.txt\nWHEELS="${PIP_CACHE_DIR:-/tmp/pip-cache}/wheels"\nmkdir -p "$WHEELS"\n'
            + UV_EXPORT
            + "\n"
            + WHEELHOUSE
            + _install_project(tree),
        )
    if tree.has("pyproject.toml") and not BUILD_SYSTEM.search(tree.read("pyproject.toml")):
        # An application, not a package (uv calls it a virtual project):
        # `pip install .` would try to package it and fail on a flat layout.
        return Step(
            "pip install pyproject.toml's dependencies",
            venv
            + 'REQS=/tmp/berth-requirements.txt\n"$PYTHON" - > "$REQS" <<\'PY\'\n'
            + PYPROJECT_DEPENDENCIES
            + "\nPY\n"
            + 'say "Found pyproject.toml with no [build-system] (an application, not a package): '
            + 'installing its $(grep -c . "$REQS") [project] dependencies."\n'
            + WHEELHOUSE,
        )
    if tree.has("setup.py") or tree.has("pyproject.toml"):
        found = "pyproject.toml" if tree.has("pyproject.toml") else "setup.py"
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


def _install_project(tree: SourceTree) -> str:
    """After the locked dependencies: the project itself when it is a package."""
    if not BUILD_SYSTEM.search(tree.read("pyproject.toml")):
        return ""
    return (
        '\nsay "pyproject.toml has a [build-system]: installing the project itself '
        '(pip install --no-deps .)."\n$PIP install --no-deps .'
    )


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


def _reuse_step(reason: str) -> Step:
    python = f"{APP_PATH}/{VENV}/bin/python"
    broken = f"ERROR: the reused {VENV} is missing; deploy again with a changed requirements.txt."
    return Step(
        f"pip install: skipped, reusing {VENV}",
        f"say {shlex.quote(reason)}\n[ -x {python} ] || {{ say {shlex.quote(broken)}; exit 1; }}",
    )


def steps(
    tree: SourceTree, app_settings: dict[str, str], reuse: str = ""
) -> tuple[list[Step], list[str]]:
    """The build steps in order, and notes for the log on what was skipped.
    `reuse` (the reuse decision's message) replaces pip install: the build
    runs on the previous release's image, whose antenv is kept."""
    result: list[Step] = []
    notes: list[str] = [build_note(app_settings)]
    if not should_build(app_settings):
        return result, notes
    if pre := _user_script("PRE", app_settings):
        result.append(Step(f"{pre[0]}: {pre[1]}", _run_user_script(pre[1])))
    result.append(_reuse_step(reuse) if reuse else _pip_step(tree))
    collect = _collectstatic_step(tree, app_settings)
    if isinstance(collect, Step):
        result.append(collect)
    else:
        notes.append(collect)
    if post := _user_script("POST", app_settings):
        result.append(Step(f"{post[0]}: {post[1]}", _run_user_script(post[1])))
    return result, notes


def _replace_code() -> list[str]:
    """Shell lines that swap the previous release's code for the staged upload,
    keeping antenv: files deleted from the code don't linger."""
    staged = f"/{STAGING}"
    return [
        "say "
        + shlex.quote(
            f"Replacing the previous release's code with the upload (keeping {VENV}; "
            "files not in the upload are removed)."
        ),
        f"find {APP_PATH} -mindepth 1 -maxdepth 1 ! -name {VENV} -exec rm -rf {{}} + || exit 1",
        f"find {staged} -mindepth 1 -maxdepth 1 -exec mv -t {APP_PATH} {{}} + || exit 1",
        f"rm -rf {staged}",
    ]


def script(tree: SourceTree, app_settings: dict[str, str], reuse: str = "") -> str:
    """The bash script the build container runs, from the code's folder. With
    `reuse`, the container is the previous release's and the upload waits in
    /STAGING (see steps())."""
    q = shlex.quote
    build_steps, notes = steps(tree, app_settings, reuse)
    out = [
        'say() { echo "[berth-build] $*"; }',
        *(_replace_code() if reuse else []),
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


# The build, and the app's container after it, run as this uid/gid
# (apps.lifecycle.containers.RUN_AS): the uploaded code, /home and
# /home/site arrive as its own, and everything the build makes is its own.
APP_UID = 1000

# Run as root (with no capabilities) before the build, on a full build only:
# a name for the uid, so tools and the SSH prompt don't say "I have no name!".
# Root may write its own files without any capability; it runs nothing of
# the app's.
NAME_THE_APP_USER = (
    f"grep -q '^app:' /etc/passwd || echo 'app:x:{APP_UID}:{APP_UID}:App Service app:/home:/bin/bash'"
    f" >> /etc/passwd; grep -q '^app:' /etc/group || echo 'app:x:{APP_UID}:' >> /etc/group"
)


# Reusing the previous release's virtual environment (a code-only redeploy).


def _digest(text: str) -> str:
    # Keyed: the label holds digests of PRE_BUILD_COMMAND and PIP_* settings,
    # which may hold secrets; a plain hash of a short one can be guessed.
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:16]


def build_inputs(
    tree: SourceTree, app_settings: dict[str, str], python_version: str, runtime_id: str
) -> dict[str, str]:
    """What the virtual environment depends on, by name: the requirement files,
    the Python version and runtime image, PRE_BUILD and pip's app settings.
    Stored as a label on each release image; equal inputs mean the previous
    release's antenv is what pip would build now."""
    inputs = {
        name: _digest(tree.read(name))
        for name in ("requirements.txt", "setup.py", "pyproject.toml", "uv.lock")
        if tree.has(name)
    }
    pre = _user_script("PRE", app_settings)
    if pre:
        # A script file's content counts, not only its name.
        inputs[pre[0]] = _digest(pre[1] + "\0" + tree.read(pre[1].removeprefix("./")))
    pip_settings = {k: v for k, v in sorted(app_settings.items()) if k.startswith("PIP_")}
    if pip_settings:
        inputs["PIP_* app settings"] = _digest(json.dumps(pip_settings))
    inputs["Python"] = python_version
    inputs["runtime image"] = runtime_id.removeprefix("sha256:")[:16]
    # Releases built as root hold files the unprivileged build cannot replace.
    inputs["build user"] = f"uid {APP_UID}"
    return inputs


@dataclass(frozen=True)
class PreviousRelease:
    deployment_id: int
    image: str
    inputs: dict[str, str]  # {} when the image predates the label
    depth: int  # reusing builds stacked since the last full build
    layers: int


@dataclass(frozen=True)
class ReuseDecision:
    reuse: bool
    message: str  # one line for the build log: what is reused and why, or why not
    depth: int = 0  # of the new release


def parse_inputs(labels: dict[str, str]) -> tuple[dict[str, str], int]:
    try:
        inputs = json.loads(labels.get(INPUTS_LABEL, "") or "{}")
    except ValueError:
        inputs = {}
    try:
        depth = int(labels.get(DEPTH_LABEL, "0"))
    except ValueError:
        depth = 0
    return (inputs if isinstance(inputs, dict) else {}), depth


def reuse_blocker(tree: SourceTree, app_settings: dict[str, str]) -> str:
    """Why no venv may be reused for this code whatever came before, or ''."""
    if not should_build(app_settings):
        return ""  # no build at all; nothing to say about reuse
    if any(f.startswith(f"{VENV}/") for f in tree.files):
        return f"The code holds {VENV}/: full build."
    if tree.has("requirements.txt"):
        if LOCAL_REQUIREMENT.search(tree.read("requirements.txt")):
            return (
                "requirements.txt refers to other files or to the code itself "
                "(-r, -c, -e, a path): full build."
            )
        return ""
    if tree.has("pyproject.toml") and not BUILD_SYSTEM.search(tree.read("pyproject.toml")):
        return ""  # an application: only its dependencies go into antenv
    if tree.has("setup.py") or tree.has("pyproject.toml"):
        found = "pyproject.toml" if tree.has("pyproject.toml") else "setup.py"
        return f"Found {found}: `pip install .` installs the code itself, so it runs again: full build."
    return "Nothing to install: no virtual environment to reuse."


def needs_network(app_settings: dict[str, str], reuse: bool) -> bool:
    """A reusing build runs no pip; without PRE/POST_BUILD commands (which may
    download things) its container needs no network, and starts faster."""
    return not reuse or bool(
        _user_script("PRE", app_settings) or _user_script("POST", app_settings)
    )


def decide_reuse(
    tree: SourceTree,
    app_settings: dict[str, str],
    inputs: dict[str, str],
    previous: PreviousRelease | None,
) -> ReuseDecision:
    """Build from the previous release's image (its antenv kept, the code
    replaced) when nothing the venv depends on changed; else a full build."""
    if not should_build(app_settings):
        return ReuseDecision(False, "")
    if why := reuse_blocker(tree, app_settings):
        return ReuseDecision(False, why)
    if previous is None:
        return ReuseDecision(False, "No earlier successful release to reuse: full build.")
    since = f"deployment {previous.deployment_id}"
    if not previous.inputs:
        return ReuseDecision(False, f"The release of {since} predates build reuse: full build.")
    changed = [
        name
        for name in sorted(set(inputs) | set(previous.inputs))
        if inputs.get(name) != previous.inputs.get(name)
    ]
    if changed:
        return ReuseDecision(False, f"{', '.join(changed)} changed since {since}: full build.")
    if previous.depth + 1 > REUSE_MAX_DEPTH or previous.layers + 1 > REUSE_MAX_LAYERS:
        return ReuseDecision(
            False,
            f"The release of {since} already stacks {previous.depth} code-only builds "
            f"({previous.layers} layers; limits {REUSE_MAX_DEPTH} and {REUSE_MAX_LAYERS}): "
            "full build from the runtime image to keep the image flat.",
        )
    unchanged = ", ".join(n for n in inputs if n not in ("Python", "runtime image", "build user"))
    return ReuseDecision(
        True,
        f"{unchanged} unchanged since {since}: reusing its virtual environment ({VENV} "
        f"from {previous.image}; same Python {inputs.get('Python')} and runtime image); "
        "only the code is replaced.",
        depth=previous.depth + 1,
    )

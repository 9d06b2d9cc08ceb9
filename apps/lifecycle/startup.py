"""How a release starts, in App Service's order, decided in Python from the
code tree so the portal can show which rule matched and the exact command.

    1. the custom startup command or startup file (app_command_line), if set;
       if it exits (or its file is missing) that is logged and start-up falls
       through to the next rules, as the App Service docs promise
    2. Django: the first immediate subfolder of the root (not a virtual
       environment) holding wsgi.py -> `<folder>.wsgi`; one level deeper
       (backend/config/wsgi.py) -> `--chdir backend config.wsgi`
    3. Flask: application.py, app.py, then run.py, index.py, server.py,
       wsgi.py, main.py -> `<file>:<object>`, where the object is the
       `Flask(...)` the file assigns (Oryx assumes `app`)
    4. the built-in default site

gunicorn always gets `--bind=0.0.0.0:$PORT` (without it, gunicorn binds
127.0.0.1 when PORT is unset) and a root gunicorn.conf.py is passed with `-c`
(Oryx's own `-c` silently hides it today). App Service's `--timeout 600
--access-logfile - --error-logfile -` are passed for each setting that file
leaves unset (a command-line argument beats the file), and reach a gunicorn
the custom startup command runs through GUNICORN_CMD_ARGS (its own
arguments beat those).
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from apps.lifecycle.source import SourceTree

APP_PATH = "/home/site/wwwroot"
DEFAULT_SITE = "/opt/defaultsite"
# Oryx's default gunicorn arguments.
GUNICORN_ARGS = "--timeout 600 --access-logfile - --error-logfile -"
BIND = "--bind=0.0.0.0:$PORT"
GUNICORN_CONF = "gunicorn.conf.py"
# Folders that are never the app's Django project.
NOT_PROJECT = {"antenv", "venv", ".venv", "env", ".env", "node_modules", "__pycache__", ".git"}
FLASK_FILES = ["application.py", "app.py", "run.py", "index.py", "server.py", "wsgi.py", "main.py"]


@dataclass
class Detection:
    rule: str  # "django" | "flask" | "default"
    reason: str
    command: str
    looked_for: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Detection:
        return cls(**data)


# App Service's gunicorn defaults, each with the gunicorn.conf.py setting that
# replaces it: a command-line argument beats the config file, so only those
# the file leaves unset are passed.
GUNICORN_DEFAULTS = {
    "timeout": "--timeout 600",
    "accesslog": "--access-logfile -",
    "errorlog": "--error-logfile -",
}


def conf_settings(source: str) -> set[str]:
    """The names a gunicorn.conf.py assigns at its top level (it is Python)."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in module.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            names.update(e.id for e in elements if isinstance(e, ast.Name))
    return names


def gunicorn_defaults(tree: SourceTree) -> str:
    """App Service's default arguments the app's gunicorn.conf.py does not set."""
    own = conf_settings(tree.read(GUNICORN_CONF)) if tree.has(GUNICORN_CONF) else set()
    return " ".join(arg for name, arg in GUNICORN_DEFAULTS.items() if name not in own)


def _gunicorn(tree: SourceTree, target: str, *, chdir: str = "") -> str:
    parts = ["gunicorn", BIND]
    if tree.has(GUNICORN_CONF):
        # The user's config wins for what it sets; the bind stays ours.
        parts += ["-c", f"{APP_PATH}/{GUNICORN_CONF}"]
    if defaults := gunicorn_defaults(tree):
        parts.append(defaults)
    if chdir:
        parts += ["--chdir", chdir]
    parts.append(shlex.quote(target))  # create_app() needs quoting
    return " ".join(parts)


def _project_folders(tree: SourceTree) -> list[str]:
    folders = sorted({f.split("/", 1)[0] for f in tree.files if "/" in f})
    return [f for f in folders if f not in NOT_PROJECT and not tree.is_venv_dir(f)]


def detect_django(tree: SourceTree, looked_for: list[str]) -> Detection | None:
    folders = _project_folders(tree)
    looked_for.append("Django: <folder>/wsgi.py in an immediate subfolder of the root")
    for folder in folders:
        if tree.has(f"{folder}/wsgi.py"):
            return Detection(
                "django",
                f"found {folder}/wsgi.py",
                _gunicorn(tree, f"{folder}.wsgi"),
            )
    looked_for.append("Django: <folder>/<project>/wsgi.py one level deeper (uses --chdir)")
    for folder in folders:
        nested = sorted(
            f
            for f in tree.files
            if f.startswith(f"{folder}/") and f.endswith("/wsgi.py") and f.count("/") == 2
        )
        for path in nested:
            project = path.split("/")[1]
            if project in NOT_PROJECT:
                continue
            return Detection(
                "django",
                f"found {path}",
                _gunicorn(tree, f"{project}.wsgi", chdir=folder),
            )
    return None


def flask_object(source: str) -> str:
    """The name the file binds a Flask(...) to; `create_app()` for a factory;
    else `app` (Oryx's guess)."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return "app"
    assigned: list[str] = []
    names: set[str] = set()
    factory = False
    for node in module.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.FunctionDef) and node.name == "create_app":
            factory = True
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
                if _is_flask_call(value):
                    assigned.append(target.id)
    if "app" in assigned or (not assigned and "app" in names):
        return "app"
    if assigned:
        return assigned[0]
    if factory:
        return "create_app()"
    if "application" in names:
        return "application"
    return "app"


def _is_flask_call(node: ast.expr | None) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "Flask"
    return isinstance(func, ast.Attribute) and func.attr == "Flask"


def detect_flask(tree: SourceTree, looked_for: list[str]) -> Detection | None:
    looked_for.append("Flask: " + ", ".join(FLASK_FILES) + " at the root")
    for filename in FLASK_FILES:
        if tree.has(filename):
            module = filename.removesuffix(".py")
            obj = flask_object(tree.read(filename))
            why = f"found {filename}" + (f", object {obj}" if obj != "app" else "")
            return Detection("flask", why, _gunicorn(tree, f"{module}:{obj}"))
    return None


def default_site(tree: SourceTree, looked_for: list[str]) -> Detection:
    return Detection(
        "default",
        "no app found: serving the default site",
        f"gunicorn {BIND} {GUNICORN_ARGS} --chdir {DEFAULT_SITE} app:app",
    )


# App Service's order, top to bottom (the custom command comes first, at run time).
RULES: list[Callable[[SourceTree, list[str]], Detection | None]] = [
    detect_django,
    detect_flask,
    default_site,
]


def detect(tree: SourceTree) -> Detection:
    looked_for: list[str] = []
    for rule in RULES:
        found = rule(tree, looked_for)
        if found:
            found.looked_for = looked_for
            return found
    raise AssertionError("default_site always matches")


# The custom startup command (appCommandLine)


@dataclass(frozen=True)
class Custom:
    kind: str  # "" (none) | "script" | "missing-file" | "command"
    value: str
    explain: str


def classify_custom(command: str, tree: SourceTree) -> Custom:
    """App Service's rules: a single word naming a file in the code is a
    startup file, run whole with bash whatever its extension (startup.sh,
    startup.txt, a file with none); anything else is the command."""
    command = command.strip()
    if not command:
        return Custom("", "", "no startup command set")
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if len(words) == 1:
        path = words[0].removeprefix("./").removeprefix(f"{APP_PATH}/")
        if tree.has(path):
            return Custom("script", path, f"startup file {path} (run with bash)")
        if path.endswith((".sh", ".txt")) or "/" in path:
            return Custom("missing-file", path, f"startup file {path} is not in the deployed code")
    return Custom("command", command, "startup command")


CONFIG_FLAG = re.compile(r"(?:^|\s)(?:-c|--config)(?:\s|=)")


def custom_gunicorn_args(custom: Custom, tree: SourceTree) -> str:
    """App Service's gunicorn defaults for a gunicorn the startup command or
    file runs (as GUNICORN_CMD_ARGS, which its own arguments override), less
    what the root gunicorn.conf.py sets; none when the command names a
    config file of its own (GUNICORN_CMD_ARGS would override that file)."""
    text = custom.value
    if custom.kind == "script":
        text = tree.read(custom.value)
    if CONFIG_FLAG.search(text):
        return ""
    return gunicorn_defaults(tree)


def describe(detection: Detection, app_command_line: str, tree: SourceTree | None = None) -> str:
    """What the portal and the start-up log say about how the app starts."""
    lines = []
    custom = classify_custom(app_command_line, tree or SourceTree(frozenset()))
    if custom.kind:
        lines.append(f"1. {custom.explain}: {custom.value}")
        lines.append("   if it exits, start-up falls through to the detected command:")
    lines.append(f"Detected: {detection.rule} ({detection.reason})")
    lines.append("Looked for: " + "; ".join(detection.looked_for))
    lines.append(f"Command: {detection.command}")
    return "\n".join(lines)


def script(detection: Detection, app_command_line: str = "", tree: SourceTree | None = None) -> str:
    """The bash start-up script the app's container runs."""
    q = shlex.quote
    custom = classify_custom(app_command_line, tree or SourceTree(frozenset()))
    out = [
        'say() { echo "[berth-startup] $*"; }',
        f"cd {APP_PATH} || exit 1",
        f"SITE_PACKAGES=$(ls -d {APP_PATH}/antenv/lib/python*/site-packages 2>/dev/null | head -n 1)",
        'if [ -n "$SITE_PACKAGES" ]; then',
        '  export PYTHONPATH="$SITE_PACKAGES${PYTHONPATH:+:$PYTHONPATH}"',
        f'  export PATH="{APP_PATH}/antenv/bin:$PATH"',
        "fi",
        'export PORT="${PORT:-8000}"',
        # gunicorn lives in the runtime image (or the app's antenv).
        'GUNICORN=$(command -v gunicorn || echo "python3 -m gunicorn")',
    ]
    if custom.kind in ("script", "command"):
        if custom.kind == "script":
            run = f"bash {q(custom.value)}"
            out.append(f"say {q('Custom startup: ' + custom.explain)}")
        else:
            run = f"bash -c {q(custom.value)}"
            out.append(f"say {q('Custom startup command: ' + custom.value)}")
        if defaults := custom_gunicorn_args(custom, tree or SourceTree(frozenset())):
            # A gunicorn the command starts gets them too; its own arguments win.
            run = f'GUNICORN_CMD_ARGS="${{GUNICORN_CMD_ARGS-{defaults}}}" {run}'
        out += [
            "STARTED=$(date +%s)",
            # Pass a stop on to the command, and don't fall through while stopping.
            'trap \'kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD"; exit 143\' TERM INT',
            f"{run} &",
            "CHILD=$!",
            'wait "$CHILD"; RC=$?',
            "trap - TERM INT",
            'say "The custom startup command exited with code $RC after $(( $(date +%s) - STARTED ))s.'
            ' It must keep a server running in the foreground. Falling back to automatic detection."',
        ]
    elif custom.kind == "missing-file":
        out.append(
            f"say {q('Custom startup: ' + custom.explain + '. Falling back to automatic detection.')}"
        )
    out.append(f"say {q(f'Detected: {detection.rule} ({detection.reason})')}")
    out.append(f"say {q('Looked for: ' + '; '.join(detection.looked_for))}")
    if detection.rule == "default":
        out.append(
            f"[ -d {DEFAULT_SITE} ] || {{ say 'The runtime image has no default site at {DEFAULT_SITE}.'; exit 1; }}"
        )
    out.append(f"say {q('Running: ' + detection.command)}")
    out.append("exec " + detection.command.replace("gunicorn ", "$GUNICORN ", 1))
    return "\n".join(out) + "\n"

"""Reading an app's source the way a person would when it does not start:
where the requirements are, which object is the app, what settings.py says,
whether a virtual environment came along. Pure functions over file names and
file contents, shared by the detectors and the pre-build check."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

GUNICORN = "gunicorn --bind=0.0.0.0 --timeout 600"

# Import names whose distribution is called something else. The usual
# suspects from "ModuleNotFoundError: No module named ..." reports.
IMPORT_TO_DISTRIBUTION = {
    "yaml": "PyYAML",
    "PIL": "Pillow",
    "dotenv": "python-dotenv",
    "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "jwt": "PyJWT",
    "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "magic": "python-magic",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "google.protobuf": "protobuf",
    "attr": "attrs",
    "serial": "pyserial",
    "usb": "pyusb",
    "win32api": "pywin32",
    "jose": "python-jose",
    "multipart": "python-multipart",
    "slugify": "python-slugify",
    "decouple": "python-decouple",
    "environ": "django-environ",
    "rest_framework": "djangorestframework",
    "corsheaders": "django-cors-headers",
    "crispy_forms": "django-crispy-forms",
    "debug_toolbar": "django-debug-toolbar",
    "storages": "django-storages",
    "flask_sqlalchemy": "Flask-SQLAlchemy",
    "flask_login": "Flask-Login",
    "flask_wtf": "Flask-WTF",
    "flask_migrate": "Flask-Migrate",
    "flask_cors": "Flask-Cors",
    "azure.storage.blob": "azure-storage-blob",
    "azure.identity": "azure-identity",
    "azure.keyvault.secrets": "azure-keyvault-secrets",
    "skimage": "scikit-image",
    "fitz": "PyMuPDF",
    "Levenshtein": "python-Levenshtein",
    "telegram": "python-telegram-bot",
    "git": "GitPython",
    "markdown": "Markdown",
    "lxml": "lxml",
}

REQUIREMENTS = "requirements.txt"
VENV_MARKERS = ("pyvenv.cfg", "bin/activate", "Scripts/activate")
_SITE_PACKAGES = re.compile(r"(^|/)lib/python3\.\d+/site-packages/")


def distribution_for(module: str) -> str:
    """The name to put in requirements.txt for an import name."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if (dist := IMPORT_TO_DISTRIBUTION.get(".".join(parts[:n]))) is not None:
            return dist
    return parts[0]


def requirement_names(text: str) -> set[str]:
    """Canonical distribution names in a requirements file (options and URLs skipped)."""
    names = set()
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            names.add(canonicalize_name(Requirement(line).name))
        except InvalidRequirement:
            if m := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line):
                names.add(canonicalize_name(m.group(0)))
    return names


def is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


# Files


def root_files(files: list[str] | tuple[str, ...]) -> set[str]:
    return {f for f in files if "/" not in f}


def venv_roots(files: list[str] | tuple[str, ...]) -> list[str]:
    """Folders that are virtual environments (pyvenv.cfg, bin/activate or a
    lib/python3.X/site-packages inside), outermost first."""
    roots: set[str] = set()
    for f in files:
        for marker in VENV_MARKERS:
            if f == marker or f.endswith("/" + marker):
                roots.add(f[: -len(marker)].rstrip("/") or ".")
        if m := _SITE_PACKAGES.search(f):
            roots.add(f[: m.start()].rstrip("/") or ".")
    return sorted(roots, key=lambda r: (r.count("/"), r))


def in_venv(path: str, roots: list[str]) -> bool:
    return any(r == "." or path == r or path.startswith(r + "/") for r in roots)


def misnamed_requirements(files: list[str] | tuple[str, ...]) -> list[str]:
    """Files that look meant as requirements.txt but are not at the root under
    that exact name: requirement.txt, Requirements.txt, src/requirements.txt,
    requirements/base.txt."""
    roots = venv_roots(files)
    found = []
    for f in files:
        if in_venv(f, roots) or "site-packages" in f or "node_modules" in f:
            continue
        p = PurePosixPath(f)
        name = p.name.lower()
        if f == REQUIREMENTS:
            continue
        if (
            name in ("requirements.txt", "requirement.txt", "requirements.text", "requirements")
        ) or (p.parent.name.lower() == "requirements" and name.endswith(".txt")):
            found.append(f)
    return sorted(found, key=lambda f: (f.count("/"), f))


# Python code


@dataclass(frozen=True)
class AppObject:
    """A WSGI/ASGI application object found in the code."""

    path: str  # website/hello.py
    name: str  # myapp
    kind: str  # flask | fastapi | django | wsgi | factory
    line: int

    @property
    def folder(self) -> str:
        parent = str(PurePosixPath(self.path).parent)
        return "" if parent == "." else parent

    @property
    def module(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def target(self) -> str:
        call = "()" if self.kind == "factory" else ""
        return f"{self.module}:{self.name}{call}"

    def gunicorn_command(self) -> str:
        parts = [GUNICORN]
        if self.kind == "fastapi":
            parts.append("-k uvicorn.workers.UvicornWorker")
        if self.folder:
            parts.append(f"--chdir {self.folder}")
        parts.append(self.target)
        return " ".join(parts)


_CONSTRUCTORS = {
    "Flask": "flask",
    "Quart": "flask",
    "FastAPI": "fastapi",
    "Starlette": "fastapi",
    "get_wsgi_application": "django",
    "get_asgi_application": "django",
    "Bottle": "wsgi",
    "App": "wsgi",  # falcon.App
    "API": "wsgi",  # falcon.API
    "Pyramid": "wsgi",
}


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name):
            return f.id
        if isinstance(f, ast.Attribute):
            return f.attr
    return ""


def find_app_objects(contents: dict[str, str]) -> list[AppObject]:
    """Module-level `x = Flask(...)` / `FastAPI(...)` / `get_wsgi_application()`
    assignments and `def create_app()` factories, shallowest file first."""
    found: list[AppObject] = []
    for path, text in contents.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text, filename=path)
        except (SyntaxError, ValueError):
            continue
        has_object = False
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                kind = _CONSTRUCTORS.get(_call_name(node.value) if node.value else "")
                falcon = _call_name(node.value) in ("App", "API")
                if kind == "wsgi" and falcon and "falcon" not in text:
                    continue
                if not kind:
                    continue
                for t in targets:
                    if isinstance(t, ast.Name):
                        found.append(AppObject(path, t.id, kind, node.lineno))
                        has_object = True
        if not has_object:
            for node in tree.body:
                factory = isinstance(node, ast.FunctionDef) and node.name in (
                    "create_app",
                    "make_app",
                )
                if factory and ("Flask" in text or "FastAPI" in text):
                    found.append(AppObject(path, node.name, "factory", node.lineno))
    # Django's wsgi.py is found by the start-up rules; prefer frameworks' objects.
    return sorted(found, key=lambda o: (o.kind == "django", o.path.count("/"), o.path, o.line))


def imports_of(text: str) -> set[str]:
    """Top-level module names a file imports (absolute imports only)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def local_modules(files: list[str] | tuple[str, ...]) -> set[str]:
    """Names importable from somewhere in the tree (files and packages at any depth)."""
    names = set()
    for f in files:
        p = PurePosixPath(f)
        if p.suffix == ".py":
            names.add(p.stem)
        names.update(p.parts[:-1])
    return names


def line_of(text: str, pattern: str) -> tuple[int, str] | None:
    """The first line matching a regex: (1-based number, the line)."""
    rx = re.compile(pattern)
    for n, line in enumerate(text.splitlines(), 1):
        if rx.search(line):
            return n, line.rstrip()
    return None


def settings_modules(contents: dict[str, str]) -> list[str]:
    """Django settings files: settings.py or settings/*.py with INSTALLED_APPS."""
    out = [
        p
        for p, text in contents.items()
        if (p.endswith("settings.py") or "/settings/" in p) and "INSTALLED_APPS" in text
    ]
    return sorted(out, key=lambda p: (p.count("/"), p))


def python_version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in version.split("."))
    except ValueError:
        return ()

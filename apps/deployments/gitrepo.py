"""Local Git: bare repositories under DATA_DIR/repos, served by
`git http-backend` (CGI), and a deployment for each push to the app's branch."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.deployments import intake, services
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)
DEFAULT_BRANCHES = ("main", "master")


def repos_root() -> Path:
    path = settings.DATA_DIR / "repos"
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_path(app: WebApp) -> Path:
    return repos_root() / f"{app.name}.git"


def _git(repo: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def ensure_repo(app: WebApp) -> Path:
    repo = repo_path(app)
    if not (repo / "HEAD").exists():
        subprocess.run(["git", "init", "--bare", "-q", str(repo)], check=True, timeout=30)
        _git(repo, "config", "http.receivepack", "true")
        branch = app.deployment_branch or DEFAULT_BRANCHES[0]
        _git(repo, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return repo


def branches(app: WebApp) -> tuple[str, ...]:
    return (app.deployment_branch,) if app.deployment_branch else DEFAULT_BRANCHES


def _heads(repo: Path, names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        sha = _git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{name}", check=False)
        found[name] = sha
    return found


def serve(request: HttpRequest, app: WebApp, path: str, *, user=None) -> HttpResponse:
    repo = ensure_repo(app)
    pushing = path == "git-receive-pack"
    before = _heads(repo, branches(app)) if pushing else {}
    body = request.read()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(repos_root()),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "PATH_INFO": f"/{repo.name}/{path}",
        "REQUEST_METHOD": request.method or "GET",
        "QUERY_STRING": request.META.get("QUERY_STRING", ""),
        "CONTENT_TYPE": request.META.get("CONTENT_TYPE", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": app.publishing_username,
        "REMOTE_ADDR": request.META.get("REMOTE_ADDR", ""),
        "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
    }
    result = subprocess.run(
        ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=600, check=False
    )
    answer = _cgi_response(result.stdout)
    if result.returncode != 0 and result.stderr:
        logger.warning(
            "git http-backend for %s: %s", app.name, result.stderr.decode(errors="replace")
        )
    if pushing and answer.status_code == 200:
        after = _heads(repo, branches(app))
        for branch in branches(app):
            if after.get(branch) and after[branch] != before.get(branch):
                deploy_commit(app, repo, after[branch], user=user)
                break
    return answer


def _cgi_response(output: bytes) -> HttpResponse:
    head, sep, body = output.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = output.partition(b"\n\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    answer = HttpResponse(body, status=status)
    for key, value in headers.items():
        answer[key] = value
    return answer


def deploy_commit(app: WebApp, repo: Path, sha: str, *, user=None) -> Deployment | None:
    """Export the commit's tree with `git archive` and deploy it."""
    author = _git(repo, "log", "-1", "--format=%an <%ae>", sha)
    message = _git(repo, "log", "-1", "--format=%B", sha)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "source.zip"
        _git(repo, "archive", "--format=zip", "-o", str(archive), sha)
        try:
            deployment = services.create_deployment(
                app,
                archive,
                source=Deployment.Source.GIT,
                deployer=user,
                author=author,
                message=message,
                commit_id=sha,
            )
        except intake.BadZip as e:
            logger.warning("Push to %s not deployed: %s", app.name, e.message)
            return None
    services.enqueue(deployment)
    return deployment

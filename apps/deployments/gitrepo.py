"""Local Git: bare repositories under DATA_DIR/repos, served by
`git http-backend` (CGI), and a deployment for each push to the app's branch."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import subprocess
import tempfile
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse

from apps.core import bodylimit, hooks
from apps.deployments import intake, services, tasks
from apps.deployments.models import Deployment
from apps.webapps.models import WebApp

logger = logging.getLogger(__name__)
DEFAULT_BRANCHES = ("main", "master")
CHUNK = 256 * 1024


def _root() -> Path:
    return settings.DATA_DIR / "repos"


def repos_root() -> Path:
    path = _root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def has_repo(app: WebApp) -> bool:
    """Has the app's repository been made (a clone, a push, or
    `berth webapp deployment source config-local-git`)?"""
    return (_root() / f"{app.name}.git" / "HEAD").exists()


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


def max_push_bytes() -> int:
    return settings.BERTH_MAX_PUSH_MB * 1024 * 1024


def _cgi_env(request: HttpRequest, app: WebApp, repo: Path, path: str) -> dict[str, str]:
    """What `git http-backend` reads from its environment (CGI/1.1)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(repos_root()),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "PATH_INFO": f"/{repo.name}/{path}",
        "REQUEST_METHOD": request.method or "GET",
        "QUERY_STRING": request.META.get("QUERY_STRING", ""),
        "CONTENT_TYPE": request.META.get("CONTENT_TYPE", ""),
        "REMOTE_USER": app.publishing_username,
        "REMOTE_ADDR": request.META.get("REMOTE_ADDR", ""),
        "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
        # receive-pack refuses a pack over the limit as it arrives and drops
        # what it received (its quarantine): the repository keeps nothing.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "receive.maxInputSize",
        "GIT_CONFIG_VALUE_0": str(max_push_bytes()),
    }
    if length := request.META.get("CONTENT_LENGTH"):
        env["CONTENT_LENGTH"] = length  # else http-backend reads to the end
    return env


def serve(request: HttpRequest, app: WebApp, path: str, *, user=None) -> HttpResponseBase:
    repo = ensure_repo(app)
    if path != "git-receive-pack":
        return _serve_fetch(request, app, repo, path)
    return _serve_push(request, app, repo, path, user=user)


def _serve_push(
    request: HttpRequest, app: WebApp, repo: Path, path: str, *, user=None
) -> HttpResponse:
    before = _heads(repo, branches(app))
    env = _cgi_env(request, app, repo, path)
    head, over = b"", False
    # The body goes to git as it is read, never whole in memory; git's
    # answer to a push is a short report (we add our lines to it).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            ["git", "http-backend"], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env
        )
        assert proc.stdin is not None
        sent = 0
        try:
            while chunk := request.read(CHUNK):
                if len(head) < CHUNK:
                    head += chunk[: CHUNK - len(head)]  # for the capabilities below
                sent += len(chunk)
                if sent > max_push_bytes() + bodylimit.ENVELOPE:
                    over = True  # git stops before this; don't feed it further
                    break
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # git stopped reading: it said why on stdout
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        try:
            proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.seek(0)
        answer = _cgi_response(out.read())
        err.seek(0)
        stderr = err.read()
    if over:
        return bodylimit.refusal(request.path_info)
    if proc.returncode != 0 and stderr:
        logger.warning("git http-backend for %s: %s", app.name, stderr.decode(errors="replace"))
    if answer.status_code == 200:
        after = _heads(repo, branches(app))
        for branch in branches(app):
            if after.get(branch) and after[branch] != before.get(branch):
                deployment, notes = deploy_commit(app, repo, after[branch], user=user)
                if deployment is not None:
                    url = reverse("deployments:deployment", args=[app.name, deployment.pk])
                    notes.append(f"Log: {request.build_absolute_uri(url)}")
                band = sideband_limit(head, request.headers.get("Content-Encoding", ""))
                if band:
                    answer.content = with_remote_messages(answer.content, notes, band)
                break
    return answer


# A clone or fetch: git's answer (the pack) streams to the client as git
# writes it, never whole in memory or on disk. The request (wants and haves)
# is fed from a thread, so git may answer while it still reads.


def _serve_fetch(request: HttpRequest, app: WebApp, repo: Path, path: str) -> HttpResponseBase:
    # Closed by GitOutput.close() when the response ends.
    err = tempfile.TemporaryFile()  # noqa: SIM115
    proc = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        env=_cgi_env(request, app, repo, path),
    )
    # Under ASGI a plain iterator would be read whole before the first byte.
    kind = GitOutputAsync if isinstance(request, ASGIRequest) else GitOutput
    output = kind(proc, err, app.name)
    try:
        threading.Thread(target=_feed, args=(request, proc), daemon=True).start()
        status, headers = _cgi_head(output.stdout)
    except BaseException:
        output.close()
        raise
    answer = StreamingHttpResponse(output, status=status)
    for key, value in headers:
        answer[key] = value
    return answer


def _feed(request: HttpRequest, proc: subprocess.Popen) -> None:
    """Copy the request body to git's stdin, then close it."""
    assert proc.stdin is not None
    try:
        while chunk := request.read(CHUNK):
            proc.stdin.write(chunk)
    except (BrokenPipeError, OSError) as e:
        logger.debug("git http-backend stopped reading its request: %s", e)
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.close()


CGI_HEAD_LIMIT = 64 * 1024


def _cgi_head(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
    """Read a CGI answer's header lines (up to the blank line) from `stdout`."""
    status, headers, size = 200, [], 0
    while line := stdout.readline(CGI_HEAD_LIMIT):
        size += len(line)
        if size > CGI_HEAD_LIMIT:
            raise RuntimeError("git http-backend sent headers that do not end")
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        key, _, value = text.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers.append((key.strip(), value.strip()))
    return status, headers


class _GitAnswer:
    """git http-backend's stdout after the headers, as a response body.

    close() (Django calls it when the response is done, or the client went
    away) stops git if it still runs, reaps it and logs what it said on
    stderr when it failed: nothing is left running.
    """

    def __init__(self, proc: subprocess.Popen, stderr: IO[bytes], app_name: str) -> None:
        assert proc.stdout is not None
        self.proc, self.stdout, self.stderr, self.app_name = proc, proc.stdout, stderr, app_name
        self.finished = False  # git's stdout reached its end
        self.closed = False

    def read(self) -> bytes:
        chunk = self.stdout.read1(CHUNK)
        if not chunk:
            self.finished = True
        return chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        stopped = not self.finished and self.proc.poll() is None
        if stopped:
            self.proc.kill()  # the client went away mid-answer
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()
        self.stderr.seek(0)
        said = self.stderr.read(CGI_HEAD_LIMIT).decode(errors="replace").strip()
        self.stderr.close()
        if stopped:
            logger.info("git http-backend for %s: stopped, the client went away", self.app_name)
        elif self.proc.returncode != 0:
            logger.warning(
                "git http-backend for %s exited %s: %s", self.app_name, self.proc.returncode, said
            )


class GitOutput(_GitAnswer):
    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self.read():
                yield chunk
        finally:
            self.close()


class GitOutputAsync(_GitAnswer):
    """For ASGI: each read waits in a thread, never in the event loop. (No
    __iter__: Django would take it and read the whole answer first.)"""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while chunk := await sync_to_async(self.read, thread_sensitive=False)():
                yield chunk
        finally:
            self.close()


# What a push says back: git's side band. When the client asked for
# side-band(-64k) (every git since 1.6 does), the receive-pack answer is a
# stream of pkt-lines whose first byte is the band: 1 the report, 2 progress
# and messages (printed as "remote: ..."), ending with a flush packet. Our
# lines go in band 2 just before that flush, after git's own.


def _capabilities(body: bytes, encoding: str) -> set[str]:
    """The capabilities on the first command of a receive-pack request."""
    if encoding.lower() in ("gzip", "x-gzip"):
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 256 * 1024)
        except zlib.error:
            return set()
    while len(body) >= 4:
        try:
            size = int(body[:4], 16)
        except ValueError:
            return set()
        if size < 4:  # flush/delimiter: no command carried capabilities
            return set()
        line = body[4:size]
        if b"\0" in line:
            return set(line.split(b"\0", 1)[1].decode("ascii", "replace").split())
        body = body[size:]  # e.g. a "shallow <sha>" line
    return set()


def sideband_limit(body: bytes, encoding: str = "") -> int:
    """The largest packet the pushing client takes on the side band, or 0 if
    it did not ask for one (then there is nowhere to send messages)."""
    caps = _capabilities(body, encoding)
    if "side-band-64k" in caps:
        return 65520
    if "side-band" in caps:
        return 1000
    return 0


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def with_remote_messages(output: bytes, lines: list[str], limit: int) -> bytes:
    """receive-pack's side-band output with `lines` added on band 2."""
    if not lines:
        return output
    data = "".join(_CONTROL.sub("", line) + "\n" for line in lines).encode()
    step = limit - 5  # 4 bytes of length, 1 of band
    packets = b"".join(
        b"%04x\x02" % (len(chunk) + 5) + chunk
        for chunk in (data[i : i + step] for i in range(0, len(data), step))
    )
    end = _last_flush(output)
    if end is None:
        return output  # not pkt-lines we understand: leave git's answer alone
    return output[:end] + packets + output[end:]


def _last_flush(output: bytes) -> int | None:
    """Where the closing flush packet of a pkt-line stream starts (the end if
    there is none), or None if the stream does not parse."""
    pos, flush = 0, None
    while pos < len(output):
        try:
            size = int(output[pos : pos + 4], 16)
        except ValueError:
            return None
        flush = pos if size == 0 else None
        pos += size if size >= 4 else 4
    if pos != len(output):
        return None
    return len(output) if flush is None else flush


def _cgi_response(output: bytes) -> HttpResponse:
    stream = io.BytesIO(output)
    status, headers = _cgi_head(stream)
    answer = HttpResponse(stream.read(), status=status)
    for key, value in headers:
        answer[key] = value
    return answer


def deploy_commit(
    app: WebApp, repo: Path, sha: str, *, user=None
) -> tuple[Deployment | None, list[str]]:
    """Export the commit's tree with `git archive` and deploy it. Returns the
    deployment (None if refused) and what to tell the pusher: the
    pre-deployment check's lines (as in the build log) or why not."""
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
            return None, [f"Berth: the push was kept but not deployed: {e.message}"]
    notes = [f"Berth: deployment {deployment.pk} of {app.name} from {sha[:8]}."]
    notes += hooks.precheck_log_lines(deployment.precheck)
    tasks.enqueue(deployment)
    # Without a worker (eager Celery) it has already run; with one it is queued.
    deployment.refresh_from_db(fields=["status", "status_text"])
    notes.append(
        f"Berth: deployment {deployment.pk}: {deployment.get_status_display().lower()}"
        + (f". {deployment.status_text}" if deployment.status_text else ".")
    )
    return deployment, notes

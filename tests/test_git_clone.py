"""Cloning and fetching through the portal's git smart HTTP: git's answer
streams to the client, so the portal never holds a repository in memory."""

from __future__ import annotations

import base64
import os
import subprocess
import tracemalloc
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.test import AsyncClient

from apps.deployments import gitrepo
from apps.webapps.models import WebApp
from tests.deploy_helpers import git_in

MB = 1024 * 1024


@pytest.fixture
def cloned_app(transactional_db, alice, tmp_path, settings) -> WebApp:
    settings.DATA_DIR = tmp_path / "data"
    return WebApp.objects.create(name="clone-me", owner=alice)


def _fill(app: WebApp, work: Path, size: int) -> bytes:
    """Commit `size` random bytes (git cannot compress them) straight into the
    app's repository, without the portal."""
    work.mkdir()
    data = os.urandom(size)
    (work / "data.bin").write_bytes(data)
    git = git_in(work)
    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "Big")
    git("push", "-q", str(gitrepo.ensure_repo(app)), "main")
    return data


def _clone(base_url: str, app: WebApp, target: Path) -> subprocess.CompletedProcess:
    user = quote(app.publishing_username, safe="")
    url = base_url.replace("http://", f"http://{user}:{app.publishing_password}@")
    return subprocess.run(
        ["git", "clone", "-q", f"{url}/git/{app.name}.git", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0", "HOME": str(target.parent)},
        check=False,
    )


def test_a_large_repository_clones_in_little_memory(live_server, cloned_app, tmp_path):
    size = 8 * MB
    data = _fill(cloned_app, tmp_path / "work", size)
    # A first clone warms the portal (imports, URL resolver); then measure.
    assert _clone(live_server.url, cloned_app, tmp_path / "warm").returncode == 0
    # live_server answers in a thread of this process: tracemalloc sees it.
    tracemalloc.start()
    try:
        cloned = _clone(live_server.url, cloned_app, tmp_path / "clone")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "clone" / "data.bin").read_bytes() == data
    print(f"peak {peak / MB:.2f} MB for an {size / MB:.0f} MB clone")
    assert peak < size / 8, f"the portal held {peak / MB:.1f} MB for an {size / MB:.0f} MB clone"


def _basic(app: WebApp) -> str:
    pair = f"{app.publishing_username}:{app.publishing_password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def test_under_asgi_the_answer_streams_without_being_read_first(cloned_app, tmp_path):
    _fill(cloned_app, tmp_path / "work", 1024)

    async def go() -> tuple[StreamingHttpResponse, bytes]:
        response = await AsyncClient().get(
            f"/git/{cloned_app.name}.git/info/refs",
            {"service": "git-upload-pack"},
            headers={"Authorization": _basic(cloned_app)},
        )
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response, body

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        response, body = async_to_sync(go)()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert body.startswith(b"001e# service=git-upload-pack\n")
    assert b"refs/heads/main" in body
    # Django warns when it must read a sync iterator whole under ASGI.
    assert not [w for w in warned if "synchronous iterators" in str(w.message)]


def test_a_client_that_goes_away_leaves_no_git_running(db, tmp_path):
    # A process that would write for ever, read as git's answer is.
    proc = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
    err = (tmp_path / "stderr").open("w+b")
    response = StreamingHttpResponse(gitrepo.GitOutput(proc, err, "clone-me"))
    chunks = iter(response)
    assert next(chunks)
    response.close()  # what Django does when the client disconnects (or the answer ends)
    assert proc.poll() is not None
    assert err.closed


def test_it_reads_the_cgi_headers_and_leaves_the_body():
    import io

    stream = io.BytesIO(b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nPACK...")
    assert gitrepo._cgi_head(stream) == (403, [("Content-Type", "text/plain")])
    assert stream.read() == b"PACK..."

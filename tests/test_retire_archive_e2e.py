"""A retired container's last lines stay in the archive, against the real
engine: v1 of an app prints a known line, v2 is deployed (v1 is stopped and
removed by cutover.retire_others), and the line is in DATA_DIR/logs/<app>/app.log
exactly once, whether no archiver was running (retire_others writes it) or
one was (it writes it; retire_others waits and writes nothing).

Each test prints how long retire_others took (the step after the new version
serves), for the report of what keeping the lines costs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import requests

from apps.deployments import services
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import cutover
from apps.logs import archive
from apps.webapps.models import WebApp
from tests.deploy_helpers import zip_files
from tests.test_app_delete_e2e import archiving

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

# Flask comes with the runtime image: no requirements, a quick build.
APP = """
from flask import Flask, request

app = Flask(__name__)
VERSION = "{version}"


@app.route("/")
def index():
    return {{"version": VERSION}}


@app.route("/say")
def say():
    print("said " + request.args["text"], flush=True)
    return {{"said": request.args["text"], "version": VERSION}}
"""


@pytest.fixture
def app(make_app, deploy_settings) -> WebApp:
    return make_app("retire")


@pytest.fixture
def retire_times(monkeypatch, request) -> Iterator[list[float]]:
    """Seconds each retire_others call took, and of that keeping the last
    lines (swap() and retire_others look both up at call time); printed at
    the end of the test (pytest -s shows them)."""
    times: dict[str, list[float]] = {"retire_others": [], "keep_last_lines": []}

    def timed(module, name: str) -> None:
        real = getattr(module, name)

        def run(*args, **kwargs):
            started = time.monotonic()
            try:
                return real(*args, **kwargs)
            finally:
                times[name].append(round(time.monotonic() - started, 3))

        monkeypatch.setattr(module, name, run)

    timed(cutover, "retire_others")
    timed(archive, "keep_last_lines")
    yield times["retire_others"]
    print(f"\n{request.node.name}: {times} (seconds)")


def deploy(app: WebApp, version: str) -> Deployment:
    source = zip_files({"app.py": APP.format(version=version)})
    d = services.run_deployment(services.create_deployment(app, source).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    return d


def get(port: int, path: str) -> dict:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only
    answer = session.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def archived(app: WebApp) -> list[archive.ArchivedLine]:
    return archive.tail(app.name, 100_000)


def redeploy_after_a_known_line(app: WebApp) -> tuple[Deployment, Deployment, str]:
    """v1 serves and prints a known line; v2 replaces it."""
    v1 = deploy(app, "v1")
    known = f"known-{secrets.token_hex(6)}"
    assert get(v1.host_port, f"/say?text={known}") == {"said": known, "version": "v1"}
    v2 = deploy(app, "v2")
    assert get(v2.host_port, "/")["version"] == "v2"
    assert v1.container not in engine.find_containers({"io.berth.app": app.name})
    return v1, v2, known


def test_without_an_archiver_retire_writes_the_retired_containers_last_lines_once(
    app, retire_times
):
    with archive.single_archiver() as alone:
        assert alone  # nobody archives this DATA_DIR
    v1, v2, known = redeploy_after_a_known_line(app)

    lines = archived(app)
    said = [a for a in lines if a.text == f"said {known}"]
    assert len(said) == 1, lines
    assert (said[0].container, said[0].stream) == (v1.container, "stdout")
    started = [a for a in lines if a.stream == "marker" and a.container == v1.container]
    assert [a.text for a in started] == [f"container {v1.container} started"]
    assert lines.index(started[0]) < lines.index(said[0])
    # gunicorn's own lines of v1 too, up to its shutdown on the stop.
    v1_text = "\n".join(a.text for a in lines if a.container == v1.container)
    assert "Booting worker" in v1_text and "Shutting down" in v1_text
    # Where it got to is saved: an archiver started now writes nothing of v1 again.
    state = archive.load_state(app.name)
    assert state[v1.container] == archive.to_ns(lines[-1].timestamp)
    assert "WARNING" not in v2.log, v2.log

    # Deploying again retires v2 the same way; v1's lines stay single.
    v3 = deploy(app, "v3")
    lines = archived(app)
    assert len([a for a in lines if a.text == f"said {known}"]) == 1
    assert any(a.container == v2.container for a in lines)
    assert "WARNING" not in v3.log, v3.log


def test_with_an_archiver_running_retire_leaves_no_duplicate(app, retire_times):
    with archiving(app.name):
        v1, v2, known = redeploy_after_a_known_line(app)
        with archive.single_archiver() as alone:
            assert not alone  # the archiver holds the lock while it runs

    lines = archived(app)
    said = [a for a in lines if a.text == f"said {known}"]
    assert len(said) == 1, lines
    assert said[0].container == v1.container
    markers = [a for a in lines if a.stream == "marker" and a.container == v1.container]
    assert len(markers) == 1
    # Each v1 line once: no line written by both the archiver and retire_others.
    v1_lines = [(a.timestamp, a.stream, a.text) for a in lines if a.container == v1.container]
    assert len(v1_lines) == len(set(v1_lines))
    assert "Shutting down" in "\n".join(text for _, _, text in v1_lines)
    # The archiver caught up within the wait: nothing to warn about.
    assert "WARNING" not in v2.log, v2.log

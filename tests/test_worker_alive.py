"""Saying when no worker takes deployments: the worker's alive file
(apps.core.worker), the Deployment Center's progress, the deployment API
and `berth webapp up`'s status lines."""

from __future__ import annotations

import base64
import json
import time

import pytest

from apps.core import worker
from apps.deployments.models import Deployment
from apps.deployments.views_center import progress
from apps.webapps import operations
from apps.webapps.models import Operation
from berth_cli import commands

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def data(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def beat(data, ago: float) -> None:
    (data / "worker-alive.json").write_text(json.dumps({"at": time.time() - ago, "host": "h"}))


def test_no_file_means_no_worker_has_run(data):
    state = worker.worker_state()
    assert not state.running and state.last_seen is None
    assert state.message == f"{worker.NO_WORKER} (none has run yet)"


def test_a_fresh_file_means_a_worker_runs(data):
    worker.write_alive()
    state = worker.worker_state()
    assert state.running and state.message == ""


def test_a_stale_file_says_when_the_worker_was_last_seen(data):
    beat(data, worker.STALE_AFTER + 12)
    state = worker.worker_state()
    assert not state.running
    assert "the last one was seen 4" in state.message  # 42 s ago


def test_a_broken_file_counts_as_no_worker(data):
    (data / "worker-alive.json").write_text("{not json")
    assert not worker.worker_state().running


def test_a_queued_deployment_says_no_worker_takes_it(data, webapp):
    d = Deployment.objects.create(app=webapp)
    assert progress(d).label.startswith(worker.NO_WORKER)
    beat(data, 1)
    assert progress(d).label == "Waiting for a worker"


def test_the_api_says_it_in_the_status_text(data, webapp, client, alice):
    d = Deployment.objects.create(app=webapp)
    auth = base64.b64encode(f"{webapp.publishing_username}:{webapp.publishing_password}".encode())
    headers = {"Authorization": f"Basic {auth.decode()}"}
    answer = client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}", headers=headers).json()
    assert answer["status"] == "queued"
    assert answer["status_text"].startswith(worker.NO_WORKER)
    beat(data, 1)
    answer = client.get(f"/api/apps/{webapp.name}/deployments/{d.pk}", headers=headers).json()
    assert answer["status_text"] == ""


class FakeClient:
    url = "http://127.0.0.1:1"

    def __init__(self, answers: list[dict]) -> None:
        self.answers = answers

    def request(self, method, path, **kwargs):
        class Answer:
            @staticmethod
            def json():
                return self.answers.pop(0)

        return Answer()

    def call(self, method, path, **kwargs):
        return self.answers.pop(0)


def test_up_prints_what_the_portal_says_about_the_queue(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(commands, "POLL_EVERY", 0)
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK")
    waiting = {"id": 3, "status": "queued", "status_text": worker.NO_WORKER, "complete": False}
    done = {"id": 3, "status": "success", "status_text": "", "complete": True}
    client = FakeClient([waiting, waiting, {**waiting, "status_text": ""}, done])
    commands._deploy_zip(client, "app", archive, wait=True, timeout=60)
    err = capsys.readouterr().err
    assert err.count(worker.NO_WORKER) == 1  # said once, not at every poll
    assert "Status: queued...\n" in err


def test_the_deployment_center_says_it_above_the_list(data, webapp, alice_client):
    Deployment.objects.create(app=webapp)
    page = alice_client.get(f"/apps/{webapp.name}/deployment-center/").content.decode()
    assert 'id="no-worker"' in page and worker.NO_WORKER in page
    beat(data, 1)
    page = alice_client.get(f"/apps/{webapp.name}/deployment-center/").content.decode()
    assert 'id="no-worker"' not in page


def test_a_queued_restart_says_no_worker_takes_it(data, webapp):
    op = operations.begin(webapp, Operation.Trigger.RESTART)
    assert operations.progress(op)["label"].startswith(worker.NO_WORKER)
    beat(data, 0)
    assert operations.progress(op)["label"].startswith("Waiting to start")

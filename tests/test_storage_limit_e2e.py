"""The /home storage limit against the real engine (issue 14, item 4): an app
writes past a small limit; the periodic task measures /home in its
container, stops it with the cause storage_full, and keeps every byte;
the detector names it; raising the limit and starting brings the app back
with its file."""

from __future__ import annotations

import time

import pytest

from apps.core import failures
from apps.deployments import services, tasks
from apps.deployments.models import Deployment
from apps.diagnostics import evidence as diagnostics_evidence
from apps.diagnostics.detectors import storage_full
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle import quota, storage
from apps.webapps import services as config
from apps.webapps.models import WebApp
from tests.deploy_helpers import app_json, zip_files

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
APP = """
import hashlib
import os
from pathlib import Path

from flask import Flask, request

app = Flask(__name__)
BLOB = Path("/home/data/blob")


@app.route("/")
def index():
    return {"ok": True}


@app.route("/write")
def write():
    BLOB.parent.mkdir(exist_ok=True)
    with open(BLOB, "wb") as f:
        for _ in range(int(request.args["mb"])):
            f.write(os.urandom(1024 * 1024))
    return {"sha": hashlib.sha256(BLOB.read_bytes()).hexdigest()}


@app.route("/read")
def read():
    return {"sha": hashlib.sha256(BLOB.read_bytes()).hexdigest(), "size": BLOB.stat().st_size}
"""


def http(app: WebApp, path: str) -> dict:
    return app_json(app, path, timeout=60)


def test_an_app_writing_past_its_limit_is_stopped_with_the_reason_and_keeps_its_data(
    make_app, deploy_settings
):
    deploy_settings.BERTH_STORAGE_INTERVAL = 0  # every periodic pass measures
    app = make_app("quota")
    d = services.run_deployment(
        services.create_deployment(app, zip_files({"app.py": APP, "requirements.txt": ""})).pk
    )
    assert d.status == Deployment.Status.SUCCESS, d.log

    started = time.monotonic()
    assert quota.check(app, force=True) == ""
    took = time.monotonic() - started
    app.refresh_from_db()
    base = app.home_used_bytes
    assert base is not None and base > 0
    print(f"/home after deploy: {base} bytes; one measurement (du in the container) {took:.2f} s")

    # A limit 4 MB above what the code takes, saved the General settings way.
    limit_mb = base // MB + 4
    config.update_general_settings(app, storage_limit_mb=limit_mb)
    app.refresh_from_db()
    assert app.state == WebApp.State.RUNNING  # no restart for the limit
    tasks.health_check_all()
    app.refresh_from_db()
    assert app.state == WebApp.State.RUNNING

    sha = http(app, "/write?mb=8")["sha"]
    tasks.health_check_all()  # the periodic pass: measures and stops

    app.refresh_from_db()
    assert app.state == WebApp.State.STOPPED
    assert not engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
    op = app.operations.first()
    assert (op.trigger, op.status, op.failure_code) == ("stop", "success", failures.STORAGE_FULL)
    assert op.failure_evidence["limit_bytes"] == limit_mb * MB
    assert op.failure_evidence["used_bytes"] > limit_mb * MB
    assert op.message.startswith("Stopped by Berth: /home holds ")
    assert app.home_used_bytes == op.failure_evidence["used_bytes"]

    # Nothing was deleted: the volume still holds the 8 MB.
    kept = storage.usage(app)
    assert kept.exists and kept.size_bytes >= base + 8 * MB, kept

    # Diagnose and solve problems names it.
    finding = storage_full.check(diagnostics_evidence.collect(app))
    assert finding is not None and finding.facts["stopped"] == "yes"
    assert finding.cause.startswith(f"Berth stopped {app.name}: its /home held ")

    # Raise the limit, start: the same file is there, and the next pass leaves it running.
    config.update_general_settings(app, storage_limit_mb=limit_mb + 64)
    assert lifecycle_ops.start_app(app).ok
    assert http(app, "/read") == {"sha": sha, "size": 8 * MB}
    tasks.health_check_all()
    app.refresh_from_db()
    assert app.state == WebApp.State.RUNNING
    assert storage_full.check(diagnostics_evidence.collect(app)) is None

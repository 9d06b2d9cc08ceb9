"""A real Celery worker consumes tasks from each broker Berth supports: the
server-less file broker (embedded default) and Redis (production)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _redis_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("broker", ["filesystem://", "redis://127.0.0.1:6379/15"])
def test_a_worker_consumes_tasks_from_the_broker(tmp_path, broker):
    if broker.startswith("redis") and not _redis_up() and not os.getenv("CI"):
        pytest.skip("Redis is not running on 127.0.0.1:6379 (make test starts it)")
    env = {**os.environ, "BERTH_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": broker}
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            f"t-{uuid.uuid4().hex}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    queue = worker.args[-1]
    token = uuid.uuid4().hex
    send = (
        "import django; django.setup();"
        "from apps.core.tasks import heartbeat;"
        f"heartbeat.apply_async(kwargs={{'token': '{token}'}}, queue='{queue}')"
    )
    try:
        subprocess.run(
            [sys.executable, "-c", send],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
            check=True,
            timeout=60,
        )
        beat = tmp_path / "worker-heartbeat.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if beat.exists() and token in beat.read_text():
                break
            time.sleep(0.2)
        else:
            worker.terminate()
            pytest.fail(
                "the worker did not run the task in 60 s:\n" + worker.communicate(timeout=10)[0]
            )
        # While it consumes, the worker says it is alive (apps.core.worker),
        # whatever its slots are doing: the portal reads this file.
        alive = tmp_path / "worker-alive.json"
        assert alive.exists(), "the consumer bootstep wrote no worker-alive.json"
        first = json.loads(alive.read_text())["at"]
        deadline = time.monotonic() + 30
        while json.loads(alive.read_text())["at"] == first:
            assert time.monotonic() < deadline, "worker-alive.json was not written again"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=20)

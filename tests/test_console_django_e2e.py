"""The issue's "done when": deploy a Django app through the real pipeline,
open an SSH session to it and run `python manage.py migrate`."""

from __future__ import annotations

import re
import secrets

import pytest
from asgiref.sync import async_to_sync

from apps.deployments import services as deployments
from apps.webapps.models import WebApp
from tests.console_helpers import communicator, read_until, session_headers
from tests.deploy_helpers import SAMPLES, cleanup_app, zip_sample

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

# The sample with a database and the apps that have migrations.
SETTINGS = (
    (SAMPLES / "django_app" / "mysite" / "settings.py")
    .read_text()
    .replace(
        'INSTALLED_APPS = ["django.contrib.staticfiles"]',
        'INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", '
        '"django.contrib.staticfiles"]',
    )
    .replace(
        "DATABASES = {}",
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/db.sqlite3"}}',
    )
)


@pytest.fixture
def deployed(alice, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BERTH_PROXY_ROUTING = False
    settings.BERTH_START_TIME_LIMIT = 60
    app = WebApp.objects.create(name=f"ssh-dj-{secrets.token_hex(3)}", owner=alice)
    try:
        d = deployments.create_deployment(
            app, zip_sample("django_app", {"mysite/settings.py": SETTINGS})
        )
        d = deployments.run_deployment(d.pk)
        assert d.status == "success", d.log
        yield app
    finally:
        cleanup_app(app.name)


def test_it_runs_migrate_for_a_deployed_django_app(client, alice, deployed):
    headers = session_headers(client, alice)

    async def scenario():
        comm = communicator(deployed.name, headers)
        assert (await comm.connect(timeout=20))[0]
        await read_until(comm, "SSH CONNECTION ESTABLISHED")
        await comm.send_to(bytes_data=b"python manage.py migrate --noinput; echo migrate-exit=$?\r")
        out = await read_until(comm, "migrate-exit=", timeout=60)
        out += await read_until(
            comm, "wwwroot"
        )  # the prompt (the app runs as uid 1000: "$", not "#")
        await comm.send_to(bytes_data=b"which python\r")
        out += await read_until(comm, "antenv/bin/python")
        await comm.disconnect(timeout=10)
        return out

    # Colours and all, as Django prints them on a terminal; compared without.
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", async_to_sync(scenario)())
    assert "Applying auth.0001_initial... OK" in out, out
    assert "migrate-exit=0" in out
    assert "app@" in out and "I have no name" not in out, out


def test_the_cli_runs_migrate_over_berth_webapp_ssh(deployed, tmp_path):
    """`berth webapp ssh -n NAME` with piped input, as a user at a terminal
    would type it; the portal is a real uvicorn with its own database that
    knows an app of the same name (containers are found by label)."""
    import os
    import subprocess
    import sys

    from tests.console_helpers import ROOT, start_portal, stop_portal

    live = start_portal(tmp_path / "portal", deployed.name)
    try:
        env = {**os.environ, "BERTH_URL": live.url, "BERTH_TOKEN": live.token}
        env["BERTH_CONFIG_DIR"] = str(tmp_path / "cli")
        done = subprocess.run(
            [sys.executable, "-m", "berth_cli", "webapp", "ssh", "-n", deployed.name],
            input="python manage.py migrate --noinput; echo migrate-exit=$?\n",
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
        )
    finally:
        stop_portal(live)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stdout)
    assert "SSH CONNECTION ESTABLISHED" in out, (out, done.stderr)
    assert "Applying auth.0001_initial... OK" in out, (out, done.stderr)
    assert "migrate-exit=0" in out

"""Persistent storage at /home (issue 14), against the real engine: a Django
app keeping its SQLite database beside manage.py (as the quickstart does),
a file under /home/data and an upload inside wwwroot keep every byte across
restart, stop/start, a settings change, a startup command change, a
redeploy, a failed deploy and a rollback; a release that ships a file at
the same path replaces it and the log says so; an SSH session sees the same
/home; deleting the app removes the volume. With
WEBSITES_ENABLE_APP_SERVICE_STORAGE=false, /home starts fresh each time."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
import requests
from asgiref.sync import async_to_sync

from apps.deployments import services, tasks, teardown
from apps.deployments.models import Deployment
from apps.engine import client as engine
from apps.lifecycle import operations as lifecycle_ops
from apps.lifecycle import storage
from apps.webapps import services as config
from apps.webapps.models import WebApp
from apps.webapps.services import SettingInput
from tests.console_helpers import communicator, read_until, session_headers
from tests.deploy_helpers import SAMPLES, app_json, zip_files, zip_sample

pytestmark = [pytest.mark.docker, pytest.mark.runtime, pytest.mark.django_db(transaction=True)]

# The sample Django app with SQLite beside manage.py, as Django's default.
SETTINGS = (
    (SAMPLES / "django_app" / "mysite" / "settings.py")
    .read_text()
    .replace(
        "DATABASES = {}",
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", '
        '"NAME": BASE_DIR / "db.sqlite3"}}',
    )
)
# Writes a row, a file under /home/data and an upload in wwwroot/media;
# reads them back with the release's version. GET / writes nothing (the
# health check's path).
URLS = """
import json
import os
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.urls import path

from mysite.version import VERSION

WWW = Path(settings.BASE_DIR)
DATA = Path("/home/data")


def index(request):
    return JsonResponse({"framework": "django"})


def write(request):
    note = request.GET["note"]
    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
        c.execute("INSERT INTO notes VALUES (%s)", [note])
    DATA.mkdir(exist_ok=True)
    with open(DATA / "notes.txt", "a") as f:
        f.write(note + "\\n")
    (WWW / "media").mkdir(exist_ok=True)
    (WWW / "media" / "upload.txt").write_text("uploaded " + note)
    return JsonResponse({"ok": True})


def read(request):
    with connection.cursor() as c:
        c.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
        c.execute("SELECT text FROM notes")
        rows = [r[0] for r in c.fetchall()]
    upload = WWW / "media" / "upload.txt"
    notes = DATA / "notes.txt"
    return JsonResponse({
        "rows": rows,
        "home": notes.read_text() if notes.exists() else None,
        "upload": upload.read_text() if upload.exists() else None,
        "version": VERSION,
        "uid": os.getuid(),
    })


urlpatterns = [path("", index), path("write", write), path("read", read)]
"""
BROKEN_WSGI = "raise SystemExit('this release is broken on purpose')\n"


def probe_zip(version: str, extra: dict[str, str] | None = None) -> bytes:
    # In code, same size each time: a stale bytecode cache would show the old one.
    files = {
        "mysite/settings.py": SETTINGS,
        "mysite/urls.py": URLS,
        "mysite/version.py": f"VERSION = {version!r}\n",
    }
    return zip_sample("django_app", {**files, **(extra or {})})


def http(app: WebApp, path: str) -> dict:
    return app_json(app, path, timeout=20)


def deploy(app: WebApp, data: bytes) -> Deployment:
    d = services.run_deployment(services.create_deployment(app, data).pk)
    assert d.status == Deployment.Status.SUCCESS, d.log
    # What the copy into /home took, for the report (pytest -rP shows it).
    print(*(line for line in d.log.splitlines() if "Persistent storage:" in line), sep="\n")
    return d


@pytest.fixture
def worker():
    """Restarts a settings save asks for run here and now, as the worker would."""
    with mock.patch(
        "apps.deployments.tasks.restart.delay", side_effect=lambda **kw: tasks.restart(**kw)
    ):
        yield


def test_what_the_app_writes_under_home_survives_everything_short_of_deleting_it(
    make_app, deploy_settings, alice, client, worker
):
    deploy_settings.BERTH_START_TIME_LIMIT = 60
    app = make_app("home")
    first = deploy(app, probe_zip("v1"))
    assert "Persistent storage: a new volume at /home" in first.log
    http(app, "/write?note=a")
    expected = {"rows": ["a"], "home": "a\n", "upload": "uploaded a"}

    def kept(version: str) -> dict:
        seen = http(app, "/read")
        assert {k: seen[k] for k in expected} == expected, seen
        assert seen["version"] == version
        return seen

    assert kept("v1")["uid"] == 1000

    started = time.monotonic()
    outcome = lifecycle_ops.restart_app(app, reason="test")
    assert outcome.ok, outcome.message
    print(f"restart with /home (copy included): {time.monotonic() - started:.1f} s")
    kept("v1")

    assert lifecycle_ops.stop_app(app).ok
    assert not engine.find_containers({"io.berth.app": app.name, "io.berth.role": "app"})
    assert lifecycle_ops.start_app(app).ok
    kept("v1")

    config.set_app_settings(app, [SettingInput("GREETING", "hello")])  # restarts
    kept("v1")
    config.update_general_settings(  # a new container with another command
        app, app_command_line="gunicorn --bind=0.0.0.0:$PORT --timeout 600 mysite.wsgi"
    )
    kept("v1")

    second = deploy(app, probe_zip("v2"))
    kept("v2")
    http(app, "/write?note=b")
    expected = {"rows": ["a", "b"], "home": "a\nb\n", "upload": "uploaded b"}
    kept("v2")

    # A release that does not start changes nothing the serving one sees:
    # its code goes back, and the upload it would have replaced too.
    broken = services.run_deployment(
        services.create_deployment(
            app, probe_zip("v3", {"mysite/wsgi.py": BROKEN_WSGI, "media/upload.txt": "shipped"})
        ).pk
    )
    assert broken.status == Deployment.Status.FAILED
    assert "media/upload.txt" in broken.log
    assert "Put release" in broken.log and "code back" in broken.log, broken.log
    kept("v2")

    # Rollback: the first release's code, today's data.
    rollback = services.run_deployment(services.redeploy(first).pk)
    assert rollback.status == Deployment.Status.SUCCESS, rollback.log
    kept("v1")

    # A release shipping a file where the app wrote one replaces it, says so,
    # and keeps the app's copy.
    shipping = deploy(app, probe_zip("v4", {"media/upload.txt": "shipped by v4"}))
    assert re.search(r"WARNING: this release ships 1 file.*media/upload\.txt", shipping.log)
    seen = http(app, "/read")
    assert seen["upload"] == "shipped by v4" and seen["rows"] == ["a", "b"]
    assert seen["home"] == "a\nb\n" and seen["version"] == "v4"
    container = lifecycle_ops.active_deployment(app).container
    code, out = engine.exec_quick(
        container, ["cat", f"/home/.berth/replaced/{shipping.pk}/media/upload.txt"]
    )
    assert (code, out.strip()) == (0, "uploaded b")

    # An SSH session sees the same /home.
    headers = session_headers(client, alice)

    async def ssh() -> str:
        comm = communicator(app.name, headers)
        assert (await comm.connect(timeout=20))[0]
        await read_until(comm, "SSH CONNECTION ESTABLISHED")
        # The echo of the typed line has "$((6*7))", the output "42".
        await comm.send_to(bytes_data=b"cat /home/data/notes.txt; echo ssh-$((6*7))-done\r")
        out = await read_until(comm, "ssh-42-done", timeout=30)
        await comm.disconnect(timeout=10)
        return out

    # Without the terminal's escapes (colours, bracketed paste).
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", async_to_sync(ssh)())
    assert "\ra\r\nb\r\nssh-42-done" in out, out
    assert second.pk < shipping.pk

    # Deleting the app removes its storage.
    volume = storage.volume_name(app)
    assert volume in engine.find_volumes({"io.berth.app": app.name})
    teardown.delete_app(app)
    assert volume not in engine.find_volumes({"io.berth.app": app.name})


WSGI = """
import os

WWW = os.path.dirname(os.path.abspath(__file__))


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/write":
        os.makedirs("/home/data", exist_ok=True)
        with open("/home/data/x.txt", "w") as f:
            f.write("written")
        with open(os.path.join(WWW, "db.txt"), "w") as f:
            f.write("rows")
    found = [os.path.exists(p) for p in ("/home/data/x.txt", os.path.join(WWW, "db.txt"))]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(found).encode()]
"""


def get(app: WebApp, path: str) -> str:
    port = lifecycle_ops.active_deployment(app).host_port
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only
    return session.get(f"http://127.0.0.1:{port}{path}", timeout=10).text


def test_with_app_service_storage_off_home_starts_fresh_each_time(make_app, deploy_settings):
    app = make_app("nohome")
    app.app_settings.create(name=storage.SETTING, value="false")
    d = deploy(app, zip_files({"app.py": WSGI}))
    assert "Persistent storage is off" in d.log

    assert get(app, "/write") == "[True, True]"
    assert lifecycle_ops.restart_app(app, reason="test").ok
    assert get(app, "/") == "[False, False]"
    assert storage.volume_name(app) not in engine.find_volumes({"io.berth.app": app.name})


def test_turning_storage_on_keeps_what_the_serving_container_wrote(make_app, deploy_settings):
    """Also what an upgrade from a Berth without persistent storage does: the
    first start with the volume copies the serving container's /home in."""
    app = make_app("adopt")
    setting = app.app_settings.create(name=storage.SETTING, value="false")
    deploy(app, zip_files({"app.py": WSGI}))
    assert get(app, "/write") == "[True, True]"
    setting.delete()
    assert lifecycle_ops.restart_app(app, reason="storage on").ok
    assert get(app, "/") == "[True, True]"
    # Its db.txt is the app's, not the release's: a new release keeps it.
    d = deploy(app, zip_files({"app.py": WSGI + "# v2\n"}))
    assert "a new volume" not in d.log and "ships" not in d.log, d.log
    assert get(app, "/") == "[True, True]"
